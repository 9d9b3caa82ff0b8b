"""The login page sends a user back where they came from (a campaign's cart), and never to another site."""

from urllib.parse import quote

import pytest

from factories import make_user


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example/x",
        "/\\/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "https://evil.example/x",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(client, target):
    user = make_user()
    response = client.post(f"/accounts/login?next={quote(target)}", data={"login": user.phone, "password": "password123"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"  # the buyer's home, not the target
    # Already logged in: the same answer.
    again = client.get(f"/accounts/login?next={quote(target)}")
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_next_on_this_site_is_followed_with_its_query(client):
    user = make_user()
    target = "/c/abc123/cart?from=poster"
    response = client.post(f"/accounts/login?next={quote(target)}", data={"login": user.phone, "password": "password123"})
    assert response.headers["Location"] == target
    assert client.get(f"/accounts/login?next={quote(target)}").headers["Location"] == target
