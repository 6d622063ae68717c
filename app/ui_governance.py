"""ガバナンス (administrators): the CAIO's record from live facts (``app.governance``) — models and
paths, where data goes, what is indexed, users, audit, the newest evaluations and the four
viewpoints of the 高リスク判定シート — shown and downloadable as Word or Markdown."""

from __future__ import annotations

import io
import time

import pandas as pd
import streamlit as st

from app import resources
from app.governance import gather, wording
from app.governance_export import governance_to_docx, governance_to_markdown
from app.eval_view import DEFAULT_REPORTS_DIR
from app.safe_text import md_inline
from app.ui_common import current_user, require_admin, settings_or_stop, shared, show_error
from retrieval.embedder import embedder_path

user = current_user()
require_admin(user)
settings = settings_or_stop()
w = wording()
st.title("ガバナンス")
st.caption(w["intro"])

try:
    res = shared(settings)
    # Counts are readable content too: the page counts what this administrator may read (the CLI, all).
    scope = w["labels"]["scope_value"].format(clearance=user.clearance, groups="、".join(user.groups))
    report = gather(settings, docs=res.index.documents(user.access), users=resources.user_store(settings),
                    audit=resources.audit_log(settings), reports_dir=DEFAULT_REPORTS_DIR,
                    embedding_path=embedder_path(res.embedder), scope=scope)
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()

for section in report.sections:
    st.subheader(section.title)
    st.markdown("\n".join(f"- **{md_inline(k)}**：{md_inline(v)}" if k else f"- {md_inline(v)}" for k, v in section.facts))
    if section.table:
        st.dataframe(pd.DataFrame(section.table[1:], columns=section.table[0]), hide_index=True, width="stretch")

st.subheader(w["sections"]["viewpoints"])
for i, v in enumerate(report.viewpoints, 1):
    with st.container(border=True):
        st.markdown(f"**{i}. {md_inline(v.title)}**　{md_inline(v.question)}")
        st.markdown(f"{w['labels']['facts']}：{md_inline(v.facts)}")
        st.caption(f"{w['labels']['judgement']}・{w['labels']['reason']}は、ダウンロードした記録に CAIO が記入します。")


def _exported(fmt: str) -> None:
    try:
        resources.audit_log(settings).record(user.name, "export", {"page": "ガバナンス", "format": fmt, "report": "governance"})
    except Exception:  # noqa: BLE001 - the download already happened
        import logging

        logging.getLogger(__name__).exception("could not record a governance export")


buf = io.BytesIO()
governance_to_docx(report, buf, author=user.name, body_font=settings.export.body_font,
                   heading_font=settings.export.heading_font)
stamp = time.strftime("%Y%m%d")
c1, c2 = st.columns(2)
c1.download_button("Word（.docx）でダウンロード", buf.getvalue(), file_name=f"ガバナンス記録-{stamp}.docx",
                   mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                   on_click=_exported, args=("docx",), key="gov_docx")
c2.download_button("Markdown でダウンロード", governance_to_markdown(report).encode("utf-8"),
                   file_name=f"ガバナンス記録-{stamp}.md", mime="text/markdown", on_click=_exported, args=("markdown",),
                   key="gov_md")
