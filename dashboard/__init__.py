"""Operators' dashboard: sales totals, delivery, settlement, reports and exports."""
