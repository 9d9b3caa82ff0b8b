"""The close's bulk writes: COPY and one statement over arrays on PostgreSQL, plain executemany elsewhere."""

from itertools import islice

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from extensions import db

# SQLite refuses statements with more than 32,766 parameters; chunks stay well below.
CHUNK = 1000
COPY_BATCH = 5000


def on_postgresql() -> bool:
    return db.session.connection().dialect.name == "postgresql"


def integers(values):
    """A list of integers as one PostgreSQL array parameter."""
    return sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.Integer))


def among(column, ids):
    """Conditions that together match ``column`` against many ids: one array parameter on PostgreSQL (thousands of
    placeholders cost more to build and parse than the statement to run), chunks of CHUNK elsewhere."""
    ids = sorted(ids)
    if not ids:
        return
    if on_postgresql():
        yield column == sa.any_(integers(ids))
        return
    for start in range(0, len(ids), CHUNK):
        yield column.in_(ids[start : start + CHUNK])


def copy_rows(table, columns, rows) -> None:
    """Insert rows (any iterable of tuples of ``columns`` integers, consumed as it is written) in the session's
    transaction: COPY on PostgreSQL, its text formatted here a batch at a time (psycopg's write_row adapts each value
    in Python), executemany elsewhere. Constraints and foreign keys are checked as for any insert."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        rows = [dict(zip(columns, row, strict=True)) for row in rows]
        if rows:
            connection.execute(table.insert(), rows)
        return
    name = connection.dialect.identifier_preparer.format_table(table)
    line = "\t".join(["%d"] * len(columns)) + "\n"
    rows = iter(rows)
    with connection.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            while batch := "".join([line % row for row in islice(rows, COPY_BATCH)]):
                copy.write(batch)


def update_by_id(table, column, rows) -> None:
    """Set ``column`` of many rows of ``table``, ``rows`` being (id, value) integer pairs: one UPDATE … FROM
    unnest(ids, values) on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        ids, values = zip(*rows, strict=True)
        given = sa.func.unnest(integers(ids), integers(values)).table_valued("id", "value").render_derived(name="given")
        connection.execute(table.update().where(table.c.id == given.c.id).values({column: given.c.value}))
        return
    connection.execute(
        table.update().where(table.c.id == sa.bindparam("b_id")).values({column: sa.bindparam("b_value")}),
        [{"b_id": row_id, "b_value": value} for row_id, value in rows],
    )
