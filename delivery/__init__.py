"""Delivery day: receipts of what arrived, the shortfall shared by the fair rule, weights, and the line ledger."""
