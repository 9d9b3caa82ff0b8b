"""`flask create-user`."""

from accounts.models import User
from extensions import db
from factories import make_unit


def test_create_operator_from_the_command_line(runner):
    result = runner.invoke(
        args=["create-user", "--role", "operator", "--name", "李勇", "--phone", "13900001234", "--password", "long-password"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).where(User.phone == "13900001234"))
    assert user.role == "operator" and user.check_password("long-password")


def test_create_coordinator_with_unit(runner):
    unit = make_unit()
    result = runner.invoke(
        args=[
            "create-user",
            "--role",
            "buyer",
            "--name",
            "王芳",
            "--phone",
            "13900001235",
            "--password",
            "long-password",
            "--unit-id",
            str(unit.id),
            "--coordinator",
            "--email",
            "wf@example.cn",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).where(User.phone == "13900001235"))
    assert user.is_coordinator and user.email == "wf@example.cn"


def test_bad_input_is_reported_and_nothing_saved(runner):
    result = runner.invoke(args=["create-user", "--role", "buyer", "--name", "x", "--phone", "42", "--password", "short"])
    assert result.exit_code == 1
    assert "phone" in result.output and "unit_id" in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0
