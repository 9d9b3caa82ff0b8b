"""Who may see and change a unit's orders: its coordinator for their own unit, operators for any."""

from flask_babel import gettext as _

from accounts.models import Unit
from errors import Forbidden, NotFound
from extensions import db
from orders.models import Order
from shop import catalogue as shop_catalogue
from shop.models import Campaign


def require_coordinator(user) -> None:
    """:raises Forbidden: the user is not a unit's coordinator."""
    if not user.is_coordinator:
        raise Forbidden(_("Only a unit's coordinator may do this."))


def coordinator_campaign(user, campaign_id) -> Campaign:
    """A campaign the coordinator's unit may order in.

    :raises Forbidden: not a coordinator.
    :raises NotFound: no such campaign, a draft, or one not open to the unit.
    """
    require_coordinator(user)
    return shop_catalogue.get_visible_campaign(user, campaign_id)


def visible_unit(user, unit_id) -> Unit:
    """A unit whose orders the user may see: their own as its coordinator, any as an operator.

    :raises Forbidden: neither a coordinator nor an operator.
    :raises NotFound: no such unit, or another unit (for a coordinator).
    """
    if user.role != "operator":
        require_coordinator(user)
        if unit_id != user.unit_id:
            raise NotFound(_("No such unit."))
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(_("No such unit."))
    return unit


def unit_order(user, order_id) -> Order:
    """An order of the user's unit (coordinator) or any order (operator).

    :raises Forbidden: neither a coordinator nor an operator.
    :raises NotFound: no such order, or another unit's.
    """
    if user.role != "operator":
        require_coordinator(user)
    order = db.session.get(Order, order_id)
    if order is None or (user.role != "operator" and order.unit_id != user.unit_id):
        raise NotFound(_("No such order."))
    return order
