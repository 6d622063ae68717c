"""Small pieces every page shares: the signed-in user, labels, errors, source cards."""

from __future__ import annotations

import logging

import streamlit as st

from app import resources
from app.answer_view import DOC_TYPE_LABELS, FLAG_LABELS  # noqa: F401  (the pages import them from here)
from app.auth import User
from app.safe_text import html_block, md_inline, safe_url
from retrieval.answer_types import Source
from retrieval.errors import GyoseiError
from retrieval.settings import Settings

log = logging.getLogger(__name__)

MODE_LABELS = {"hybrid": "ハイブリッド（推奨）", "dense": "意味検索", "sparse": "キーワード検索"}
HOUSES = ("衆議院", "参議院")
GENERIC_ERROR = "処理中にエラーが発生しました。時間をおいて再度お試しください。解決しない場合は管理者に連絡してください（詳細はサーバーのログにあります）。"


def current_user() -> User:
    """The signed-in user; a page reached without one stops here (Home.py signs users in)."""
    user = st.session_state.get("user")
    if not isinstance(user, User):
        st.warning("ログインしてください。")
        st.stop()
    return user


def require_admin(user: User) -> None:
    """Stop the page for users without the admin role."""
    if not user.is_admin:
        st.warning("このページは管理者のみ利用できます。")
        st.stop()


def settings_or_stop() -> Settings:
    """The settings; a configuration error is shown in Japanese and stops the page."""
    try:
        return resources.settings()
    except GyoseiError as exc:
        st.error(str(exc))
        st.stop()
        raise


def shared(s: Settings) -> resources.Resources:
    """The process's shared components; an error (index in use, no model) stops the page."""
    try:
        return resources.resources(s)
    except GyoseiError as exc:
        log.exception("could not build the shared components")
        st.error(str(exc))
        st.stop()
        raise
    except Exception:
        log.exception("could not build the shared components")
        st.error(GENERIC_ERROR)
        st.stop()
        raise


def show_error(exc: BaseException) -> None:
    """A short Japanese message for the user; the details go to the log."""
    if isinstance(exc, GyoseiError):
        log.warning("user-facing error: %s", exc)
        st.error(str(exc))
    else:
        log.exception("unexpected error", exc_info=exc)
        st.error(GENERIC_ERROR)


def source_anchor(turn: int, n: int) -> str:
    """The id of source [n]'s card in answer ``turn`` (the [n] markers link to it)."""
    return f"src-{turn}-{n}"


def highlighted(source: Source) -> str:
    """The passage as HTML with the spans the answer used in <mark> (its text escaped, its line
    breaks as <br>: see ``app.safe_text.html_block``)."""
    out, pos = [], 0
    for start, end in sorted(source.highlights):
        if start < pos:
            continue
        out += [html_block(source.text[pos:start]), "<mark>", html_block(source.text[start:end]), "</mark>"]
        pos = end
    out.append(html_block(source.text[pos:]))
    return "".join(out)


def source_card(source: Source, used: bool = True, note: str | None = None, anchor: str | None = None) -> None:
    """One numbered source: label, the passage with the used spans highlighted, metadata, link.
    ``note`` follows the label (default: 「回答では未使用」 for a source the answer did not use);
    ``anchor``: the element id that the answer's [n] links jump to (ours, never document text)."""
    with st.container(border=True):
        if note is None:
            note = "" if used else "（回答では未使用）"
        number = f"[{source.n}] " if source.n else ""  # follow-ups and low-relevance candidates have none
        target = f"<span id='{anchor}'></span>" if anchor else ""
        st.markdown(f"**{number}{md_inline(source.label)}**{note}{target}", unsafe_allow_html=bool(anchor))
        st.markdown(f"<div style='white-space: pre-wrap'>{highlighted(source)}</div>", unsafe_allow_html=True)
        p = source.payload
        meta = [DOC_TYPE_LABELS.get(p.get("doc_type"), str(p.get("doc_type") or ""))]
        if p.get("confidentiality"):
            meta.append(f"機密性{int(p['confidentiality'])}")
        if p.get("section"):
            meta.append(str(p["section"]))
        if p.get("page"):
            meta.append(f"{p['page']}ページ")
        if p.get("date"):
            meta.append(str(p["date"])[:10])
        if p.get("doc_type") == "diet_speech":
            meta.append("・".join(str(p[k]) for k in ("house", "meeting") if p.get(k)))
            if p.get("speaker"):
                meta.append(f"発言者 {p['speaker']}（{p.get('speaker_position') or '発言者'}）")
        if p.get("relevance") is not None:
            meta.append(f"関連度 {float(p['relevance']):.3f}")
        line = "　".join(md_inline(m) for m in meta if m)
        url = safe_url(source.url)  # http(s) only: never a javascript: or data: link
        if url:
            line += f"　[原文を開く](<{url}>)"
        st.caption(line)
