"""`flask check-totals`: recompute every total from the raw rows and report any mismatch (exit code 1)."""

import click
from flask.cli import with_appcontext

from dashboard.checks import check_totals
from dashboard.kept_figures import rebuild_figures
from database import transaction


@click.command("check-totals")
@click.option("--campaign-id", type=int, default=None, help="Check this campaign (and the platform-wide totals) only.")
@with_appcontext
def check_totals_command(campaign_id):
    """Recompute every sales total, stored counter and settlement figure from the raw rows; exit 1 on any mismatch."""
    checker = check_totals(campaign_id)
    for mismatch in checker.mismatches:
        click.echo(str(mismatch), err=True)
    click.echo(f"{checker.checked} figures checked, {len(checker.mismatches)} mismatches")
    if checker.mismatches:
        raise SystemExit(1)


@click.command("rebuild-figures")
@click.option("--campaign-id", type=int, default=None, help="Rebuild this campaign's kept figures only.")
@with_appcontext
def rebuild_figures_command(campaign_id):
    """Recompute the kept figures of every pooled campaign (or one) from the raw rows: after a migration, or to repair."""
    with transaction(write=True):
        kept = rebuild_figures(campaign_id)
    click.echo(f"figures kept for {kept} campaigns")
