"""The sign-in gate of the Streamlit app: nothing else renders until a user is signed in.

Local users (the users file) by default; single sign-on through ``st.login`` when
``auth.oidc`` is on. The signed-in ``app.auth.User`` lives in ``st.session_state["user"]``.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app import resources
from app.auth import DEMO_USER, AuthError, User, demo_password_file, ensure_demo_user, sign_in, user_from_claims
from retrieval.errors import GyoseiError
from retrieval.settings import Settings

log = logging.getLogger(__name__)
USER_KEY = "user"


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
            if fresh is not None:
                st.session_state[USER_KEY] = fresh
                return fresh
            for key in list(st.session_state.keys()):
                del st.session_state[key]
            ended = True
    st.title("行政文書・国会答弁 検索")
    st.subheader("ログイン")
    if ended:
        st.warning("利用者の登録内容が変更されたため、ログアウトしました。もう一度ログインしてください。")
    user = _oidc(s) if s.auth.oidc else _local_form(s)
    if user is None:
        st.stop()
    st.session_state[USER_KEY] = user
    st.rerun()
    raise AssertionError("unreachable")  # st.rerun() does not return


def sign_out() -> None:
    """Forget the user (and end the provider session when signed in with OIDC)."""
    user = st.session_state.pop(USER_KEY, None)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if isinstance(user, User) and user.via == "oidc":
        st.logout()
    st.rerun()
