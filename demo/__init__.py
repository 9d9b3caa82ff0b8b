"""Demo data drawn from the 2020 Lechang report (shared/seed)."""
