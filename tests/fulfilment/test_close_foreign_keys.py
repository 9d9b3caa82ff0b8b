"""On PostgreSQL the close checks its bulk rows' foreign keys once per referenced key instead of once per row
(fulfilment.closing._foreign_keys_checked): it pools exactly as the per-row checks do, refuses a reference that does not
exist, and another session still cannot delete a unit that a pick line being written names."""

import threading
import time

import pytest
import sqlalchemy as sa

from backends import BASE_DATABASE_URL
from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_unit, pooling_state
from fulfilment import closing
from orders.models import Allocation, PickLine

pytestmark = pytest.mark.skipif(not (BASE_DATABASE_URL or "").startswith("postgres"), reason="PostgreSQL only (DATABASE_URL)")


@pytest.fixture
def people(app):
    return make_pooling_people()


def _write_pick_line(allocation_id, unit_id, references):
    with closing._foreign_keys_checked(references):
        closing._copy_rows(closing.pick_t, ("allocation_id", "unit_id", "quantity"), [(allocation_id, unit_id, 1)])


def test_only_a_role_allowed_to_set_session_replication_role_skips_the_per_row_checks(app):
    connection = db.session.connection()
    assert closing._may_skip_row_triggers(connection)  # the tests connect as a superuser
    connection.exec_driver_sql("SET LOCAL ROLE pg_monitor")
    assert not closing._may_skip_row_triggers(connection)
    db.session.rollback()


def test_a_role_that_must_check_each_row_pools_exactly_the_same(people, monkeypatch):
    by_key = make_pooling_campaign(people)
    per_row = make_pooling_campaign(people)

    assert closing.close_campaign(by_key.campaign.id) == "allocated"
    monkeypatch.setattr(closing, "_may_skip_row_triggers", lambda connection: False)
    assert closing.close_campaign(per_row.campaign.id) == "allocated"

    pooled = pooling_state(by_key.campaign.id)
    assert pooled["allocations"] and pooled == pooling_state(per_row.campaign.id)


def test_a_reference_that_does_not_exist_stops_the_write(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    allocation_id = db.session.scalars(sa.select(Allocation.id).where(Allocation.campaign_id == s.campaign.id)).first()
    spare = make_unit()
    missing = spare.id + 1000

    with pytest.raises(RuntimeError, match="1 of the unit rows"):
        _write_pick_line(allocation_id, spare.id, {closing.allocation_t: [allocation_id], closing.unit_t: [spare.id, missing]})
    db.session.rollback()

    assert db.session.scalar(sa.select(sa.func.count()).select_from(PickLine).where(PickLine.unit_id == spare.id)) == 0


def test_another_session_cannot_delete_a_unit_a_pick_line_being_written_names(app, people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    allocation_id = db.session.scalars(sa.select(Allocation.id).where(Allocation.campaign_id == s.campaign.id)).first()
    named, unnamed = make_unit(), make_unit()
    named_id, unnamed_id = named.id, unnamed.id

    _write_pick_line(allocation_id, named_id, {closing.allocation_t: [allocation_id], closing.unit_t: [named_id]})
    other = sa.create_engine(db.engine.url)
    outcome = {}

    def delete_unit():
        try:
            with other.begin() as connection:
                connection.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
                outcome["pid"] = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                connection.execute(sa.text("DELETE FROM unit WHERE id = :id"), {"id": named_id})
            outcome["deleted"] = True
        except sa.exc.DBAPIError as error:
            outcome["error"] = error

    deleter = threading.Thread(target=delete_unit)
    deleter.start()
    try:
        # The deletion waits for the lock the close took on the unit until the pick line is committed.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with other.connect() as watcher:
                waiting = "pid" in outcome and watcher.scalar(
                    sa.text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": outcome["pid"]}
                )
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, outcome
        db.session.commit()
    finally:
        deleter.join(30)
    other.dispose()

    assert isinstance(outcome.get("error"), sa.exc.IntegrityError), outcome
    assert "fk_pick_line_unit_id_unit" in str(outcome["error"])
    assert db.session.get(type(named), named_id) is not None
    with db.engine.begin() as connection:  # a unit no pick line names is deleted as before
        assert connection.execute(sa.text("DELETE FROM unit WHERE id = :id"), {"id": unnamed_id}).rowcount == 1
