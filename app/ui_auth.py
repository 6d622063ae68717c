"""The sign-in gate of the Streamlit app: nothing else renders until a user is signed in.

Local users (the users file) by default; single sign-on through ``st.login`` when
``auth.oidc`` is on. The signed-in ``app.auth.User`` lives in ``st.session_state["user"]``.
"""

from __future__ import annotations

import json
import logging

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app import resources
from app.sessions import COOKIE
from app.auth import DEMO_USER, AuthError, User, demo_password_file, ensure_demo_user, sign_in, user_from_claims
from retrieval.errors import GyoseiError
from retrieval.settings import Settings

log = logging.getLogger(__name__)
USER_KEY = "user"
CODE_KEY = "session_code"  # a one-time code the browser trades for the session cookie
CLEAR_KEY = "session_clear"  # the cookie of a session that ended: let the browser drop it
SESSION_KEY = "session_id"  # the server-side session of this tab (app/sessions.py)


def _cookie_script(path: str, body: str = "") -> None:
    """Let the browser call one of our cookie endpoints (app/session_routes.py): the response
    sets or clears the HttpOnly cookie, which no script can read."""
    st.html(f"<script>fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin', "
            f"body: {json.dumps(body)}}});</script>", unsafe_allow_javascript=True)


def _cookie() -> str | None:
    """The session cookie the browser sent with this tab's connection, if any."""
    try:
        cookie = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (AppTest, bare mode)
        return None
    return cookie if isinstance(cookie, str) and cookie else None


def _from_cookie(s: Settings) -> User | None:
    """The user of the session the browser's cookie names (a reload), if still open and valid."""
    cookie = _cookie()
    if not cookie:
        return None
    sessions = resources.session_store(s)
    info = sessions.check(cookie)
    if info is None:
        return None
    try:
        fresh = resources.user_store(s).current(User(info.user, revision=info.revision))
    except AuthError:
        log.exception("users file unreadable")
        return None
    if fresh is None:  # the user's entry changed since: this session is over
        sessions.end(cookie)
    else:
        st.session_state[SESSION_KEY] = info.id
    return fresh


def _audit_sign_in(s: Settings, name: str, outcome: str, via: str) -> None:
    try:
        resources.audit_log(s).record(name or "(空欄)", "sign_in", {"via": via, "page": "ログイン"}, outcome=outcome)
    except GyoseiError:
        log.exception("could not record a sign-in in the audit log")


def _local_form(s: Settings) -> User | None:
    store = resources.user_store(s)
    try:
        created = None if store.exists() else ensure_demo_user(store, clearance=s.security.max_confidentiality)
    except (AuthError, OSError) as exc:
        log.exception("could not create the demo user")
        st.error(f"利用者ファイル {s.auth.users_file} を作成できません（{exc}）。gyosei user add で利用者を登録してください。")
        st.stop()
    if created:
        # Printed once on the server's console; the same password is in a 0600 file next to the users file.
        log.warning("利用者 %s を作成しました。パスワード: %s （%s にも保存）", DEMO_USER, created, demo_password_file(store))
    if demo_password_file(store).exists() and store.names() == [DEMO_USER]:
        # Where the password is kept is the operator's business: the terminal says it, never this page.
        st.info(f"初期利用者「{DEMO_USER}」のパスワードは、サーバーを起動した端末に表示されています。"
                "ログイン後、`gyosei user passwd demo` で変更し、`gyosei user add` で利用者を登録してください。")
    with st.form("login"):
        name = st.text_input("利用者名", autocomplete="username")
        password = st.text_input("パスワード", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("ログイン", type="primary")
    if not submitted:
        return None
    name = name.strip()
    try:
        attempt = sign_in(store, resources.login_throttle(s), name, password, source=str(st.context.ip_address or ""))
    except AuthError as exc:
        log.exception("users file unreadable")
        st.error(str(exc))
        return None
    _audit_sign_in(s, attempt.user.name if attempt.user else name, attempt.outcome, "local")
    if attempt.outcome == "blocked":
        st.error(f"ログインの失敗が続いたため、この利用者名は一時的に使えません。約 {max(1, round(attempt.wait_s / 60))} 分後に再度お試しください。")
    elif attempt.user is None:
        st.error("利用者名またはパスワードが違います。")
    return attempt.user


def _oidc(s: Settings) -> User | None:
    if not st.user.is_logged_in:
        st.write("組織のアカウントでログインしてください。")
        if st.button("シングルサインオンでログイン", type="primary"):
            try:
                st.login(s.auth.oidc_provider) if s.auth.oidc_provider else st.login()
            except StreamlitAPIException as exc:  # no [auth] in secrets.toml, or Authlib missing
                log.error("OIDC sign-in is not usable: %s", exc)
                st.error("シングルサインオンが構成されていません。.streamlit/secrets.toml の [auth] と Authlib の導入を"
                         "管理者に確認してください。")
        return None
    try:
        user = user_from_claims(st.user.to_dict(), s.auth)
    except AuthError as exc:
        st.error(str(exc))
        return None
    _audit_sign_in(s, user.name, "ok", "oidc")
    return user


def require_user(s: Settings) -> User:
    """The signed-in user; otherwise draw the sign-in form and stop the run (nothing else renders)."""
    user = st.session_state.get(USER_KEY)
    ended = False
    if isinstance(user, User):
        if user.via == "oidc" and not st.user.is_logged_in:  # signed out at the provider
            st.session_state.pop(USER_KEY, None)
        else:
            # Re-read on every run: a removed user, or a changed password, clearance, group or
            # role, ends the session now, not when the browser tab closes.
            try:
                fresh = resources.user_store(s).current(user)
            except AuthError:
                log.exception("users file unreadable")
                fresh = None
            session_id = st.session_state.get(SESSION_KEY)
            if fresh is not None and session_id and not resources.session_store(s).is_open(session_id):
                fresh = None  # signed out in another tab, or the session expired
            if fresh is not None:
                st.session_state[USER_KEY] = fresh
                code = st.session_state.pop(CODE_KEY, None)
                if code:
                    from app.session_routes import SESSION_PATH

                    _cookie_script(SESSION_PATH, code)
                return fresh
            for key in list(st.session_state.keys()):
                del st.session_state[key]
            ended = True
    if not ended and not st.session_state.get(CLEAR_KEY) and not s.auth.oidc:
        user = _from_cookie(s)
        if user is not None:  # a reload: the session goes on
            st.session_state[USER_KEY] = user
            return user
    if st.session_state.pop(CLEAR_KEY, None):
        from app.session_routes import SIGNOUT_PATH

        _cookie_script(SIGNOUT_PATH)
    st.title("行政文書・国会答弁 検索")
    st.subheader("ログイン")
    if ended:
        st.warning("利用者の登録内容の変更、別のタブでのログアウトまたは有効期限により、ログアウトしました。もう一度ログインしてください。")
    user = _oidc(s) if s.auth.oidc else _local_form(s)
    if user is None:
        st.stop()
    st.session_state[USER_KEY] = user
    if user.via == "local":
        try:
            st.session_state[CODE_KEY], st.session_state[SESSION_KEY] = resources.session_store(s).open(user.name, user.revision)
        except Exception:  # noqa: BLE001 - the sign-in still holds for this tab
            log.exception("could not open a session that survives a reload")
    st.rerun()
    raise AssertionError("unreachable")  # st.rerun() does not return


def sign_out(s: Settings | None = None) -> None:
    """Forget the user, end their session server-side (a kept cookie then opens nothing), and
    end the provider session when signed in with OIDC."""
    user = st.session_state.pop(USER_KEY, None)
    session_id = st.session_state.get(SESSION_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if s is not None:
        cookie = _cookie()
        try:
            if cookie:
                resources.session_store(s).end(cookie)
            resources.session_store(s).end_id(session_id)
            if isinstance(user, User):
                resources.audit_log(s).record(user.name, "sign_out", {"via": user.via, "page": "ログアウト"})
        except Exception:  # noqa: BLE001 - the tab is signed out all the same
            log.exception("could not end the session server-side")
    st.session_state[CLEAR_KEY] = True
    if isinstance(user, User) and user.via == "oidc":
        st.logout()
    st.rerun()
