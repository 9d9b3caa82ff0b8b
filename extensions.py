"""Flask extensions, created unbound so models and services never import the app."""

import sqlalchemy as sa
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def pipelined_row(statement: str, params: dict, *, commit: bool = False):
    """PostgreSQL: one statement (psycopg placeholders, prepared) on the session's connection, with the BEGIN
    before it and, with ``commit``, the COMMIT after it sent back to back in psycopg's pipeline mode: one round
    trip, no ORM. With ``commit`` the statement is its own transaction and the session's is over afterwards.

    :returns: the first row, a tuple, or None.
    :raises sqlalchemy.exc.DBAPIError: the driver's error as SQLAlchemy's (IntegrityError, OperationalError …); a
        connection the database dropped is discarded from the pool, as SQLAlchemy does.
    """
    import psycopg

    session = db.session()
    connection = session.connection()
    driver = connection.connection.driver_connection
    try:
        with driver.pipeline():
            cursor = driver.execute(statement, params, prepare=True)
            if commit:
                driver.commit()
        row = cursor.fetchone()
    except psycopg.Error as error:
        if driver.broken or driver.closed:
            connection.invalidate()
        raise sa.exc.DBAPIError.instance(statement[:60], None, error, psycopg.Error) from error
    if commit:
        session.expire_on_commit = False  # nothing changed in the session: what it holds is still current
        try:
            session.commit()
        finally:
            session.expire_on_commit = True
    return row
