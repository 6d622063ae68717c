"""Findings 3 and 4: tokens and UI sessions end when the user is removed or changed or signs out;
the sign-in throttle counts the name the way sign-in reads it."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from app.api import ApiError, GyoseiApi
from app.auth import LoginThrottle, UserStore, sign_in
from retrieval.settings import Settings

from ..app_testing import PASSWORD, app, app_env, texts  # noqa: F401  (fixture)


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    users = UserStore(tmp_path / "users.json")
    users.add("sec", PASSWORD, clearance=3, groups=["kikaku"])
    users.add("low", PASSWORD, clearance=1)
    return GyoseiApi(Settings(), users, answerer=None), users


def _token(api: GyoseiApi, name: str, password: str = PASSWORD) -> str:
    return api.handle("POST", "/api/login", {"user": name, "password": password}, None)["token"]


def _refused(api: GyoseiApi, token: str) -> bool:
    try:
        api.user_for(token)
    except ApiError as exc:
        assert exc.status == HTTPStatus.UNAUTHORIZED
        return True
    return False


def test_a_token_ends_when_its_user_is_replaced_with_a_lower_clearance(api):
    api, users = api
    token = _token(api, "sec")
    assert api.user_for(token).clearance == 3
    users.add("sec", PASSWORD, clearance=1, replace=True)  # gyosei user add sec --replace --clearance 1
    assert _refused(api, token)
    assert api.user_for(_token(api, "sec")).clearance == 1  # a new sign-in gets the new clearance


def test_a_token_ends_when_its_user_is_removed_or_the_password_changes(api):
    api, users = api
    low, sec = _token(api, "low"), _token(api, "sec")
    users.remove("low")
    assert _refused(api, low)
    users.set_password("sec", "another-password-1")
    assert _refused(api, sec)


def test_sign_out_ends_the_token_at_once(api):
    api, _users = api
    token = _token(api, "low")
    assert api.handle("POST", "/api/logout", {}, token) == {"status": "signed_out"}
    assert _refused(api, token)


def test_a_stored_session_user_is_checked_against_the_users_file(api):
    """What the UI does on every run (``UserStore.current``): the user object kept in the session
    is never trusted as it is."""
    _api, users = api
    kept = users.authenticate("sec", PASSWORD)
    assert users.current(kept).clearance == 3
    users.add("sec", PASSWORD, clearance=1, groups=["all"], replace=True)
    assert users.current(kept) is None
    forged = type(kept)("sec", 3, ["kikaku"], [], "local", revision="")
    assert users.current(forged) is None


@pytest.mark.parametrize("variant", ["victim2 ", " victim2", "\u3000victim2", "victim2\u3000", "ｖｉｃｔｉｍ２", "VICTIM2", "\tvictim2\n"])
def test_spelling_the_name_another_way_does_not_reset_the_throttle(tmp_path, variant):
    users = UserStore(tmp_path / "users.json")
    users.add("victim2", PASSWORD)
    throttle = LoginThrottle(max_failures=5, lockout_s=300)
    for _ in range(4):
        assert sign_in(users, throttle, "victim2", "wrong-guess").outcome == "denied"
    assert sign_in(users, throttle, variant, "wrong-guess").outcome == "denied"  # the fifth guess counts too
    for name in ("victim2", variant):
        assert sign_in(users, throttle, name, PASSWORD).outcome == "blocked"  # even with the right password


def test_a_guesser_elsewhere_cannot_lock_the_real_user_out_but_many_addresses_are_still_bounded(tmp_path):
    users = UserStore(tmp_path / "users.json")
    users.add("victim3", PASSWORD)
    throttle = LoginThrottle(max_failures=5, lockout_s=300)
    for _ in range(5):
        assert sign_in(users, throttle, "victim3", "wrong-guess", source="203.0.113.9").outcome == "denied"
    assert sign_in(users, throttle, "victim3", PASSWORD, source="203.0.113.9").outcome == "blocked"  # the guesser's address
    assert sign_in(users, throttle, "victim3", PASSWORD, source="10.1.2.3").outcome == "ok"  # the real user's own
    for n in range(50):  # spread over 50 addresses: the name itself locks at 10x the limit
        sign_in(users, throttle, "victim3", "wrong-guess", source=f"198.51.100.{n}")
    attempt = sign_in(users, throttle, "victim3", PASSWORD, source="10.1.2.3")
    assert attempt.outcome == "blocked" and attempt.wait_s > 0


def test_the_ui_ends_a_session_whose_user_changed(app_env):
    """The Streamlit gate re-reads the users file on every run."""
    users = UserStore(app_env / "var/users.json")
    at = app(users.get("admin"))
    at.run()
    assert not at.exception and "機密性2まで" in texts(at)
    users.add("admin", PASSWORD, clearance=1, groups=["all"], roles=["admin"], replace=True)  # clearance lowered
    at.run()
    assert "user" not in at.session_state and not at.chat_input
    assert any("ログアウトしました" in w.value for w in at.warning)
