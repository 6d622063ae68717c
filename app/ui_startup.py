"""The warm start as every page shows it: a progress banner while the model loads and the samples
are indexed, refreshed every two seconds, and the notice under answers given meanwhile."""

from __future__ import annotations

import streamlit as st

from app import startup

REFRESH_S = 2.0


def startup_banner() -> None:
    """Show the warm start's progress (nothing once it is done, or when none was started)."""
    job = startup.current()
    if job is None or job.status().phase == "ready":
        return
    _banner()


@st.fragment(run_every=REFRESH_S)
def _banner() -> None:
    job = startup.current()
    if job is None:
        return
    status = job.status()
    # The page was drawn in an earlier state: when questions become possible, or all is ready,
    # draw the whole page again (a fragment's own reruns redraw only this banner).
    state = (status.searchable, status.phase == "ready")
    before = st.session_state.get("_startup_state", state)
    st.session_state["_startup_state"] = state
    if state != before and (state[1] or (state[0] and not before[0])):
        st.rerun()
    if status.phase == "ready":
        return
    if status.phase == "failed":
        st.error(status.line())
        return
    if status.phase == "indexing" and status.files_total:
        st.progress(min(status.files_done / status.files_total, 1.0), text=status.line())
    else:
        st.info(status.line(), icon=":material/hourglass_top:")


def wait_until_searchable() -> None:
    """Stop the page (with the banner above it) until the model and the index are open."""
    job = startup.current()
    if job is None or job.status().searchable or job.status().phase == "failed":
        return
    st.caption("準備が終わると、このページは自動で切り替わります。")
    st.stop()


def partial_index_notice() -> str | None:
    """The notice under an answer given while the samples are still being indexed."""
    job = startup.current()
    if job is None:
        return None
    status = job.status()
    if status.phase != "indexing":
        return None
    return (f"索引の作成中です（{status.files_done}/{status.files_total or '?'} 件取り込み済み）。"
            "この回答は、取り込みが終わった文書だけから作成しています。")
