"""Text written to xlsx or csv that no spreadsheet will run as a formula (names like `=HYPERLINK(...)` stay text)."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value):
    """Text starting like a formula gets a leading apostrophe; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
