"""The sign-in gate, driven headless by AppTest: nothing but the sign-in form before sign-in,
wrong passwords refused (and audited), the user's role decides the pages, OIDC claims map to
access. No index or model is touched before a question is asked."""

from __future__ import annotations

import pytest

from app.audit import AuditLog
from app.auth import User

from .app_testing import CLERK, PASSWORD, app, app_env, texts, widget_labels  # noqa: F401  (fixture)


def _sign_in(at, name: str, password: str):
    inputs = {t.label: t for t in at.text_input}
    inputs["利用者名"].input(name)
    inputs["パスワード"].input(password)
    at.button[0].click()
    return at.run()


def test_nothing_but_the_sign_in_form_before_sign_in(app_env):
    at = app().run()
    assert not at.exception
    assert sorted(widget_labels(at)) == sorted(["利用者名", "パスワード", "ログイン"])
    assert not at.sidebar.children  # no filters, no navigation, no user box
    assert not at.chat_input and "ログイン" in texts(at)
    assert "user" not in at.session_state


def test_wrong_password_is_refused_and_audited(app_env):
    at = app().run()
    at = _sign_in(at, "clerk", "not-the-password")
    assert [e.value for e in at.error] == ["利用者名またはパスワードが違います。"]
    assert "user" not in at.session_state and not at.chat_input
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        events = log.query(action="sign_in")
    assert [(e.user, e.outcome) for e in events] == [("clerk", "denied")]


def test_sign_in_shows_the_question_page_and_role_decides_the_pages(app_env):
    at = _sign_in(app().run(), "clerk", PASSWORD)
    assert not at.exception
    user = at.session_state["user"]
    assert (user.name, user.clearance, user.is_admin) == ("clerk", 1, False)
    assert at.chat_input and "行政文書・国会答弁 検索" in texts(at)
    assert "機密性1まで" in texts(at)
    # The administrators' pages are not even registered for a clerk.
    for page in ("ui_usage.py", "ui_documents.py", "ui_evaluation.py", "ui_governance.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    at.switch_page("ui_draft.py").run()
    assert not at.exception and "答弁作成" in texts(at)


def test_sign_out_returns_to_the_form(app_env):
    at = _sign_in(app().run(), "admin", PASSWORD)
    at.sidebar.button(key="logout").click()
    at.run()
    assert "user" not in at.session_state and sorted(widget_labels(at)) == sorted(["利用者名", "パスワード", "ログイン"])


def test_first_run_creates_the_demo_user(app_env):
    (app_env / "var/users.json").unlink()
    at = app().run()
    password = (app_env / "var/demo-password.txt").read_text().strip()
    shown = texts(at)
    assert "demo-password.txt" not in shown and str(app_env) not in shown and password not in shown  # the terminal says where
    assert "サーバーを起動した端末" in shown
    at = _sign_in(at, "demo", password)
    assert at.session_state["user"].is_admin and at.chat_input


def test_oidc_claims_become_the_users_access(app_env, monkeypatch):
    monkeypatch.setenv("GYOSEI_AUTH__OIDC", "true")
    monkeypatch.setenv("GYOSEI_AUTH__CLEARANCE_BY_GROUP", '{"kimitsu2": 2}')
    at = app()
    at.user = {"is_logged_in": False}
    at.run()
    assert widget_labels(at) == ["シングルサインオンでログイン"]
    at = app()
    at.user = {"is_logged_in": True, "email": "tanaka@example.go.jp", "groups": ["soumu", "kimitsu2"]}
    at.run()
    assert not at.exception
    user: User = at.session_state["user"]
    assert (user.name, user.clearance, user.via) == ("tanaka@example.go.jp", 2, "oidc")
    assert user.access.groups == ["all", "kimitsu2", "soumu"]
    assert at.chat_input


def test_signed_in_session_reaches_the_page_directly(app_env):
    at = app(CLERK).run()
    assert at.chat_input and not at.exception


def test_sign_in_opens_a_server_side_session_and_sign_out_ends_it(app_env):
    from app.sessions import SessionStore

    at = _sign_in(app().run(), "clerk", PASSWORD)
    session_id = at.session_state["session_id"]
    store = SessionStore(app_env / "var")
    assert store.is_open(session_id)
    # The browser was handed its one-time code once (the cookie endpoint trades it).
    assert "session_code" not in at.session_state and any("/_gyosei/session" in str(h.proto) for h in at.get("html"))
    at.sidebar.button(key="logout").click()
    at.run()
    assert not store.is_open(session_id) and "user" not in at.session_state
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        assert [(e.user, e.action) for e in log.query(action="sign_out")] == [("clerk", "sign_out")]


def test_a_session_ended_elsewhere_ends_this_tab_too(app_env):
    from app.sessions import SessionStore

    at = _sign_in(app().run(), "clerk", PASSWORD)
    SessionStore(app_env / "var").end_id(at.session_state["session_id"])  # signed out in another tab
    at.run()
    assert "user" not in at.session_state and "ログアウトしました" in texts(at)
