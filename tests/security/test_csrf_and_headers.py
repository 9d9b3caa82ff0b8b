"""CSRF on every HTML form, and the security headers on every answer, with CSRF protection on as in production.

- every POST route outside the API refuses a post without a token (400) and changes nothing, even from the
  user who may post there; the same post with the page's token goes through;
- every page that every role can open is crawled: each ``<form method="post">`` carries a csrf_token, there is
  no inline script (no ``<script>`` without src, no on* handler attributes, no javascript: URLs), and every
  answer — pages, API, errors, redirects, files — has a Content-Security-Policy without unsafe-inline and
  with frame-ancestors, and X-Content-Type-Options: nosniff.
"""

import re

import pytest
import sqlalchemy as sa
from security.test_authorization_matrix import READS, TABLE, L
from security.world import ROLES, bearer_headers, build_world, session_client

FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def check_headers(response, where):
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives, f"{where}: no Content-Security-Policy"
    for name, sources in directives.items():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, f"{where}: {name} {sources}"
    assert "script-src" in directives or "default-src" in directives, where
    assert directives.get("frame-ancestors") in (["'none'"], ["'self'"]), (
        f"{where}: frame-ancestors {directives.get('frame-ancestors')}"
    )
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where


def _snapshot():
    """Every row of every table (the world is small), to show that a refused post changed nothing."""
    from extensions import db

    db.session.expire_all()
    with db.engine.connect() as connection:
        return {table.name: sorted(map(repr, connection.execute(sa.select(table)).all())) for table in db.metadata.sorted_tables}


HTML_POSTS = sorted((m, r) for m, r in TABLE if m == "POST" and not r.startswith("/api/"))


def _allowed_role(statuses):
    """The first role the route serves (the one whose post would count), else anonymous."""
    for role, status in zip(ROLES, statuses, strict=True):
        if status not in (L, 403, 404):
            return role
    return "anonymous"


def test_every_html_post_without_a_token_is_refused_and_changes_nothing(csrf_app):
    world = build_world()
    before = _snapshot()
    failures = []
    for method, rule in HTML_POSTS:
        path, statuses, _extra = TABLE[(method, rule)]
        role = _allowed_role(statuses)
        client = session_client(csrf_app, None if role == "anonymous" else world.users[role])
        response = client.post(path.format(**world.ids), data={"name": "x", "quantity": "1", "reason": "x"})
        if response.status_code != 400:
            failures.append(f"{rule} as {role}: {response.status_code}")
        elif "表单已过期" not in response.get_data(as_text=True):
            failures.append(f"{rule} as {role}: 400 without the expired-form page")
    assert not failures, failures
    assert _snapshot() == before


def test_a_post_with_the_pages_token_goes_through(csrf_app):
    from extensions import db
    from shop.models import Campaign

    world = build_world()
    client = session_client(csrf_app, world.users["operator"])
    page = client.get(f"/fulfilment/campaigns/{world.ids['open']}/close").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(f"/fulfilment/campaigns/{world.ids['open']}/close", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Campaign, world.ids["open"]).status != "published"


def test_the_api_needs_no_csrf_token(csrf_app):
    world = build_world()
    response = csrf_app.test_client().post(
        "/api/v1/units", json={"name": "新单位", "address": "新地址"}, headers=bearer_headers(world.users["operator"])
    )
    assert response.status_code == 201
    check_headers(response, "POST /api/v1/units")


@pytest.mark.parametrize("role", ROLES)
def test_pages_carry_csrf_tokens_no_inline_script_and_security_headers(csrf_app, role):
    world = build_world()
    client = session_client(csrf_app, None if role == "anonymous" else world.users[role])
    index = ROLES.index(role)
    failures, forms_seen = [], 0
    for method, rule in READS:
        path, statuses, _extra = TABLE[(method, rule)]
        url = path.format(**world.ids)
        response = client.get(
            url, headers=bearer_headers(world.users[role]) if url.startswith("/api/") and role != "anonymous" else {}
        )
        where = f"GET {url} as {role} ({response.status_code})"
        try:
            check_headers(response, where)
        except AssertionError as error:
            failures.append(str(error))
        if not response.mimetype == "text/html" or statuses[index] in (L,):
            continue
        page = response.get_data(as_text=True)
        for form in FORM.findall(page):
            if re.search(r"""method\s*=\s*["']?post""", form[:300], re.I):
                forms_seen += 1
                if 'name="csrf_token"' not in form:
                    failures.append(f"{where}: a post form without csrf_token: {form[:200]}")
        for pattern, what in ((INLINE_SCRIPT, "inline <script>"), (HANDLER, "an on* handler"), (JS_URL, "a javascript: URL")):
            found = pattern.search(page)
            if found:
                failures.append(f"{where}: {what}: {page[max(0, found.start() - 80) : found.end() + 80]}")
    assert not failures, "\n".join(failures)
    if role in ("buyer", "coordinator", "producer", "operator"):
        assert forms_seen > 0  # the crawl reached pages with forms


def test_error_pages_and_redirects_carry_the_headers(csrf_app):
    client = csrf_app.test_client()
    for url, status in (("/no-such-page", 404), ("/accounts/users", 302), ("/api/v1/no-such", 404), ("/api/v1/me", 401)):
        response = client.get(url)
        assert response.status_code == status
        check_headers(response, url)
