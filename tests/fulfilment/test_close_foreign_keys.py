"""The close's bulk writes keep PostgreSQL's foreign keys: a unit another session deletes while the close runs makes
the close fail whole and a rerun end like a clean close; a unit a pick line being written names cannot be deleted."""

import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from accounts.models import Unit
from backends import BASE_DATABASE_URL
from dashboard.models import OpenBuyer
from extensions import db
from factories import make_order, make_pooling_campaign, make_pooling_people, make_unit, pooling_state
from fulfilment import closing
from fulfilment.models import PickLine
from orders.models import Order, OrderLine

pytestmark = pytest.mark.skipif(not (BASE_DATABASE_URL or "").startswith("postgres"), reason="PostgreSQL only (DATABASE_URL)")


@pytest.fixture
def people(app):
    return make_pooling_people()


@pytest.fixture
def other_session(app):
    engine = sa.create_engine(db.engine.url)
    yield engine
    engine.dispose()


def _order_from_a_unit_of_its_own(people, s):
    """An order a coordinator placed for a colleague of a unit nothing else refers to; returns (order id, unit id)."""
    unit = make_unit()
    order = make_order(
        s.campaign,
        [(s.chicken, 5)],
        user=people.chen,
        unit=unit,
        buyer_name="赵六",
        buyer_phone="13700000006",
        source="coordinator",
    )
    order.user_id = None
    db.session.commit()
    return order.id, unit.id


def _delete_unit_and_its_order(connection, order_id, unit_id):
    connection.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
    connection.execute(sa.delete(OrderLine.__table__).where(OrderLine.__table__.c.order_id == order_id))
    connection.execute(sa.delete(Order.__table__).where(Order.__table__.c.id == order_id))
    # The open figures' buyer rows name the unit too (a foreign key like the orders').
    connection.execute(sa.delete(OpenBuyer.__table__).where(OpenBuyer.__table__.c.unit_id == unit_id))
    connection.execute(sa.delete(Unit.__table__).where(Unit.__table__.c.id == unit_id))


def _without(state, *keys):
    return {key: value for key, value in state.items() if key not in keys}


def test_a_unit_deleted_while_the_close_runs_fails_the_close_whole_and_a_rerun_ends_like_a_clean_close(people, other_session):
    clean = make_pooling_campaign(people)
    hit = make_pooling_campaign(people)
    order_id, unit_id = _order_from_a_unit_of_its_own(people, hit)
    untouched = pooling_state(clean.campaign.id)
    closing.close_campaign(clean.campaign.id)

    def delete_meanwhile(_app, campaign_id, step):
        # After the close counted the unit's demand, before it writes the pick lines that name the unit.
        if step == "below_minimum":
            with other_session.begin() as connection:
                _delete_unit_and_its_order(connection, order_id, unit_id)

    with closing.close_step_done.connected_to(delete_meanwhile), pytest.raises(psycopg.errors.ForeignKeyViolation) as error:
        closing.close_campaign(hit.campaign.id)
    assert "fk_pick_line_unit_id_unit" in str(error.value)

    half = pooling_state(hit.campaign.id)
    assert half["campaign"] == ("closed", True, False)
    # "items" keeps the deleted order in each item's ordered count: the other session deleted rows, not orders.
    assert _without(half, "campaign", "items") == _without(untouched, "campaign", "items")
    assert closing.campaigns_to_close() == [hit.campaign.id]

    assert closing.close_campaign(hit.campaign.id) == "allocated"
    assert _without(pooling_state(hit.campaign.id), "items") == _without(pooling_state(clean.campaign.id), "items")


def test_another_session_cannot_delete_a_unit_a_pick_line_being_written_names(people, other_session):
    s = make_pooling_campaign(people)
    order_id, unit_id = _order_from_a_unit_of_its_own(people, s)
    unnamed_id = make_unit().id
    outcome = {}

    def delete_unit():
        try:
            with other_session.begin() as connection:
                outcome["pid"] = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                _delete_unit_and_its_order(connection, order_id, unit_id)
            outcome["deleted"] = True
        except sa.exc.DBAPIError as failure:
            outcome["error"] = failure

    def delete_meanwhile(_app, campaign_id, step):
        # The pick lines are written, not yet committed: the deletion waits for the close.
        if step == "allocated":
            outcome["deleter"] = threading.Thread(target=delete_unit)
            outcome["deleter"].start()
            outcome["waited"] = _waits_for_a_lock(other_session, outcome)

    with closing.close_step_done.connected_to(delete_meanwhile):
        assert closing.close_campaign(s.campaign.id) == "allocated"
    outcome["deleter"].join(30)

    assert outcome["waited"], outcome
    assert isinstance(outcome.get("error"), sa.exc.IntegrityError), outcome
    assert "fk_pick_line_unit_id_unit" in str(outcome["error"])
    db.session.expire_all()
    assert db.session.get(Unit, unit_id) is not None and db.session.get(Order, order_id) is not None
    assert db.session.scalars(sa.select(PickLine.quantity).where(PickLine.unit_id == unit_id)).all() == [5]
    with other_session.begin() as connection:  # a unit no pick line names is deleted as before
        assert connection.execute(sa.delete(Unit.__table__).where(Unit.__table__.c.id == unnamed_id)).rowcount == 1


def _waits_for_a_lock(engine, outcome, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as watcher:
            waiting = "pid" in outcome and watcher.scalar(
                sa.text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": outcome["pid"]}
            )
        if waiting:
            return True
        time.sleep(0.05)
    return False
