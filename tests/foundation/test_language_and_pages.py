"""Chinese by default, English on request, kept per session and per user; error pages in both languages."""

import re

from factories import make_user


def test_login_page_is_chinese_by_default(client):
    page = client.get("/accounts/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    assert "手机号或邮箱" in page and "登录" in page


def test_english_on_request(client):
    page = client.get("/accounts/login?lang=en").get_data(as_text=True)
    assert "Phone or email" in page and 'lang="en"' in page


def test_english_from_the_browser(client):
    page = client.get("/accounts/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Phone or email" in page
    page = client.get("/accounts/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "手机号或邮箱" in page


def test_choice_is_kept_in_the_session_then_saved_for_the_user(client, auth):
    client.post("/accounts/language/en", data={"next": "/accounts/login"})
    assert "Phone or email" in client.get("/accounts/login").get_data(as_text=True)
    user = make_user()
    auth.login(user.phone)
    from extensions import db

    db.session.refresh(user)
    assert user.locale == "en"
    client.post("/accounts/language/zh_CN")
    db.session.refresh(user)
    assert user.locale == "zh_CN"


def test_404_page_in_both_languages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "未找到" in response.get_data(as_text=True)
    assert "Not found" in client.get("/no-such-page?lang=en").get_data(as_text=True)


def test_403_page_is_html_and_translated(client, auth):
    user = make_user(role="buyer")
    auth.login(user.phone)
    response = client.get("/accounts/users")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "您无权进行此操作" in response.get_data(as_text=True)


def test_500_page_hides_the_error(fresh_app):
    @fresh_app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = fresh_app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "系统出错了" in page and "secret internals" not in page


def test_bootstrap_is_served_locally(client):
    page = client.get("/accounts/login").get_data(as_text=True)
    linked = re.search(r'href="(/bootstrap/static/css/bootstrap\.min\.[0-9a-f]{12}\.css)"', page)
    assert linked, "Bootstrap's stylesheet is linked by its versioned name"
    assert "cdn" not in page.lower()
    assert client.get(linked.group(1)).status_code == 200
    assert client.get("/bootstrap/static/css/bootstrap.min.css").status_code == 200


def test_navigation_depends_on_role(client, auth):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    page = client.get("/accounts/operator").get_data(as_text=True)
    assert "/accounts/users" in page
    auth.logout()
    buyer = make_user(role="buyer")
    auth.login(buyer.phone)
    page = client.get("/campaigns").get_data(as_text=True)
    assert "/accounts/users" not in page


def test_security_headers(client):
    response = client.get("/accounts/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_catalogue_is_complete(tmp_path):
    """Every string marked for translation has a Chinese translation."""
    import subprocess
    import sys

    from babel.messages.pofile import read_po

    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(tmp_path / "check.pot"),
            ".",
        ],
        check=True,
    )
    with open(tmp_path / "check.pot", "rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with open("translations/zh_Hans_CN/LC_MESSAGES/messages.po", "rb") as f:
        have = {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in read_po(f) if m.id}
    missing = sorted(msgid for msgid in wanted if not have.get(msgid))
    assert missing == []
