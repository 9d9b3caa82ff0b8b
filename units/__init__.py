"""A work unit's coordinator pages: the grid, sign-up sheets, the distribution list and payments."""
