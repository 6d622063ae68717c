"""Sessions that survive a reload (issue 17): the cookie is signed and expiring, its one-time
code works once, sign-out ends the session server-side, and the endpoint sets it HttpOnly."""

from __future__ import annotations

import pytest

from app.sessions import COOKIE, SessionStore


@pytest.fixture
def store(tmp_path):
    return SessionStore(tmp_path / "var", ttl_s=3600)


def test_a_code_is_traded_once_for_a_cookie_that_names_the_session(store):
    code, _ = store.open("tanaka", "rev1", now=1000)
    cookie = store.redeem(code, now=1010)
    assert cookie and store.redeem(code, now=1011) is None  # one time only
    info = store.check(cookie, now=1020)
    assert (info.user, info.revision) == ("tanaka", "rev1")
    assert (store.path.stat().st_mode & 0o777, store.key_path.stat().st_mode & 0o777) == (0o600, 0o600)


def test_forged_expired_and_ended_sessions_open_nothing(store):
    cookie = store.redeem(store.open("tanaka", "rev1", now=1000)[0], now=1000)
    token, expires, sig = cookie.split(".")
    assert store.check(f"{token}.{int(expires) + 99999}.{sig}", now=1000) is None  # a longer life, unsigned
    assert store.check(f"{token}.{expires}.{'0' * len(sig)}", now=1000) is None
    assert store.check(cookie, now=1000 + 3601) is None  # expired
    assert store.redeem(store.open("x", "r", now=1000)[0], now=1000 + 61) is None  # an old code
    assert store.end(cookie) and store.check(cookie, now=1001) is None  # signed out: over on the server
    assert not store.end(cookie)


def test_the_endpoint_sets_an_httponly_strict_cookie(tmp_path, monkeypatch):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from app import session_routes

    store = SessionStore(tmp_path / "var")
    monkeypatch.setattr(session_routes, "_store", lambda: store)
    client = TestClient(Starlette(routes=session_routes.routes()))
    assert client.post(session_routes.SESSION_PATH, content="wrong").status_code == 403
    response = client.post(session_routes.SESSION_PATH, content=store.open("tanaka", "rev1")[0])
    header = response.headers["set-cookie"]
    assert response.status_code == 204 and header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in header and "SameSite=strict" in header and "Max-Age=" in header
    cleared = client.post(session_routes.SIGNOUT_PATH).headers["set-cookie"]
    assert cleared.startswith(f'{COOKIE}=""') or "Max-Age=0" in cleared
