"""`flask check-totals`: recompute every total from the raw rows and report any mismatch."""

import click
from flask.cli import with_appcontext


@click.command("check-totals")
@with_appcontext
def check_totals_command():
    """Recompute every total from the raw rows; exit 1 on any mismatch."""
