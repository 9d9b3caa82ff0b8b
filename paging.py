"""Long lists a page at a time, in SQL (LIMIT/OFFSET and a COUNT): one helper for the HTML pages and the JSON API."""

from flask import request
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from extensions import db

# A phone screen's worth of rows: enough to scroll, few enough to load fast on a weak connection.
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000


class RowPagination(SelectPagination):
    """flask-sqlalchemy's pagination for a select of several columns: its items are rows, not first columns."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def _whole(value, default, highest):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return default if number < 1 else min(number, highest)


def page_of(query, page=None, per_page=None, *, rows=False) -> Pagination:
    """One page of ``query`` (a SQLAlchemy select, ordered so pages do not overlap).

    :param page: 1-based; None reads ``?page=`` of the request (a missing, bad or non-positive value is page 1).
    :param per_page: None reads ``?per_page=`` (default DEFAULT_PER_PAGE, at most MAX_PER_PAGE).
    :param rows: the select names columns, not one model: the items are rows.
    :returns: a flask-sqlalchemy Pagination (items, page, per_page, total, pages, iter_pages()).
    """
    has_request = bool(request)
    if page is None:
        page = request.args.get("page") if has_request else None
    if per_page is None:
        per_page = request.args.get("per_page") if has_request else None
    kind = RowPagination if rows else SelectPagination
    return kind(
        select=query,
        session=db.session(),
        page=_whole(page, 1, MAX_PAGE),
        per_page=_whole(per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE),
        max_per_page=MAX_PER_PAGE,
        error_out=False,
    )


def envelope(pagination, items=None) -> dict:
    """The API's list answer: ``{items, page, per_page, total}`` (``items`` replaces the page's own when given)."""
    return {
        "items": pagination.items if items is None else items,
        "page": pagination.page,
        "per_page": pagination.per_page,
        "total": pagination.total,
    }
