"""Work units, users, roles, logging in, API tokens and the audit log."""
