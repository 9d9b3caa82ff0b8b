"""`flask create-user`: make an account from the command line (the first operator, say)."""

import click
from flask.cli import with_appcontext

from accounts import services
from accounts.models import ROLES
from errors import ValidationFailed


@click.command("create-user")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True)
@click.option("--phone", required=True)
@click.option("--password", required=True)
@click.option("--email", default=None)
@click.option("--unit-id", type=int, default=None)
@click.option("--coordinator", is_flag=True, default=False)
@click.option("--producer-id", type=int, default=None)
@with_appcontext
def create_user_command(role, name, phone, password, email, unit_id, coordinator, producer_id):
    """Create a user account."""
    try:
        user = services.create_user(
            None,
            name=name,
            phone=phone,
            password=password,
            role=role,
            email=email,
            unit_id=unit_id,
            coordinator=coordinator,
            producer_id=producer_id,
        )
    except ValidationFailed as error:
        for field, messages in error.fields.items():
            for message in messages:
                click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Created {user.role} #{user.id} {user.name} ({user.phone})")
