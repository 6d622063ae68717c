"""答弁作成: a question -> its 論点 -> candidate past answers and documents per 論点 (keep/drop) ->
the draft, editable in place -> 矛盾チェック side by side -> 再質問予測 -> .docx / Markdown."""

from __future__ import annotations

import html
import io
import time

import streamlit as st

from app import resources
from app.draft_edit import apply_choices, apply_text
from app.draft_export import CONFLICT_LABELS, draft_to_docx, draft_to_markdown
from app.draft_service import kept_choices, make_draft
from app.feedback import RATING_VALUES, record_feedback
from app.question_file import read_question_upload
from app.ui_common import FLAG_LABELS, current_user, settings_or_stop, shared, show_error, source_card
from retrieval.errors import GyoseiError
from retrieval.query_limits import check_draft_question

PAGE = "答弁作成"
DRAFT = "draft_current"
QUESTION_KINDS = {"shitsumon_shuisho": "質問主意書", "committee": "委員会質疑", "plain": "質問"}

user = current_user()
settings = settings_or_stop()
st.title("答弁作成")
st.caption("質問を貼り付けるかファイルを選ぶと、論点ごとに過去の答弁と根拠資料を探し、出典付きの答弁案を作ります。")


with st.form("draft_input"):
    question = st.text_area("質問（質問主意書・委員会での質問）", height=180, placeholder="例: デジタル行政の推進について、政府の見解を問う。…")
    upload = st.file_uploader("またはファイルから（.txt / .md / .docx）", type=["txt", "md", "docx"])
    go = st.form_submit_button("論点を分析して答弁案を作成", type="primary")

def run_draft(text: str, kept: dict[str, bool] | None = None) -> None:
    """Draft (again) with progress; the result replaces the page's current draft."""
    try:
        check_draft_question(text, settings.limits)
        res = shared(settings)
        with st.status("答弁案を作成しています…", expanded=True) as status:
            with resources.audit_log(settings).track(user.name, "draft", {"page": PAGE, "question": text,
                                                                          "redraft": kept is not None}) as event:
                draft = make_draft(res.drafter(), res.followups(), text, user.access, kept=kept, on_progress=status.write)
                event.doc_ids = [s.doc_id for s in draft.sources]
                event.parameters.update(points=len(draft.points), method=draft.method)
            status.update(label=f"答弁案を作成しました（論点 {len(draft.points)} 件、{draft.timings.get('total', 0):.1f} 秒）",
                          state="complete", expanded=False)
    except Exception as exc:  # noqa: BLE001 - short Japanese message, details in the log
        show_error(exc)
        st.stop()
    # The first texts stay the widgets' defaults; edits live in the text areas and in the draft.
    st.session_state[DRAFT] = {"draft": draft, "event": event.id, "version": time.time_ns(),
                               "initial": [pd.text for pd in draft.points]}


if go:
    text = question.strip()
    if upload is not None:
        try:
            text = read_question_upload(upload.name, upload.getvalue(), settings.limits).strip() or text
        except GyoseiError as exc:
            st.error(f"{exc} テキストを貼り付けることもできます。")
            st.stop()
    if not text:
        st.warning("質問を入力するか、ファイルを選んでください。")
        st.stop()
    run_draft(text)

state = st.session_state.get(DRAFT)
if not state:
    st.stop()
draft, version = state["draft"], state["version"]
a = draft.analysis
meta = [QUESTION_KINDS.get(a.kind, a.kind)] + [v for v in (a.member, a.party, a.committee, a.house) if v]
st.subheader("論点")
st.caption("　".join(meta) + f"　作成方法: {'LLM' if draft.method == 'llm' else '定型文（LLMなし）'}")
for w in draft.warnings:
    st.warning(w)
st.markdown("\n".join(f"{i}. **{html.escape(pd.point.label or '論点')}** — {html.escape(pd.point.text)}"
                      for i, pd in enumerate(draft.points, 1)))

for i, pd in enumerate(draft.points, 1):
    st.divider()
    title = f"論点{i}" + (f"（{pd.point.label}）" if pd.point.label else "")
    st.subheader(title)
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**過去の答弁（使うものにチェック）**")
        kept_answers = []
        for j, pa in enumerate(pd.past_answers):
            kept_answers.append(st.checkbox(f"[{pa.answer.n}] {pa.answer.label}", value=pa.kept, key=f"pa_{version}_{i}_{j}"))
            with st.expander("本文", expanded=False):
                source_card(pa.answer)
                if pa.question is not None:
                    st.caption("直前の質問")
                    source_card(pa.question, used=False)
        if not pd.past_answers:
            st.caption("見つかりませんでした。")
        st.markdown("**根拠資料（使うものにチェック）**")
        kept_docs = []
        for j, doc in enumerate(pd.documents):
            kept_docs.append(st.checkbox(f"[{doc.n}] {doc.label}", value=True, key=f"doc_{version}_{i}_{j}"))
        if not pd.documents:
            st.caption("見つかりませんでした。")
        apply_choices(pd, kept_answers, kept_docs)
    with right:
        st.markdown("**答弁案（直接編集できます。[n] は出典番号）**")
        edited = st.text_area(title, value=state["initial"][i - 1], height=220, key=f"text_{version}_{i}", label_visibility="collapsed")
        apply_text(draft, pd, edited, shared(settings).drafter().judge)
        flagged = [s for s in pd.sentences if s.flags]
        if pd.needs_review or flagged:
            st.warning("\n".join(["【要確認】出典のない文、または裏付けの弱い文があります。"]
                                 + [f"- 「{s.text}」: {'、'.join(s.flag_notes(FLAG_LABELS))}" for s in flagged]))
    if pd.conflicts:
        st.markdown("**矛盾チェック**")
        for c in pd.conflicts:
            with st.container(border=True):
                st.caption(f"⚠️ {c.reason}（{CONFLICT_LABELS.get(c.kind, c.kind)}、確からしさ {c.score:.2f}）")
                l, r = st.columns(2)
                l.markdown(f"**答弁案**\n\n{html.escape(c.claim)}")
                name = c.evidence_source.label if c.evidence_source is not None else "資料"
                r.markdown(f"**{html.escape(name)}**\n\n{html.escape(c.evidence)}")
    if pd.followups:
        st.markdown("**再質問予測**")
        for f in pd.followups:
            origin = "（LLM による想定）" if f.generated else (f" — {f.source.label}" if f.source is not None else "")
            st.markdown(f"- {html.escape(f.question)}{html.escape(origin)}")

st.divider()
if st.button("チェックした候補だけで答弁案を作り直す", key="redraft", help="外した過去答弁・資料を使わずに、もう一度作成します（編集した文は作り直されます）。"):
    run_draft(draft.question, kept_choices(draft))
    st.rerun()
st.subheader("出典一覧")
with st.expander(f"出典（{len(draft.sources)} 件）"):
    for s in draft.sources:
        source_card(s)

st.subheader("ダウンロード")

buf = io.BytesIO()
try:
    draft_to_docx(draft, buf)
    markdown = draft_to_markdown(draft)
except Exception as exc:  # noqa: BLE001
    show_error(exc)
    st.stop()
stamp = time.strftime("%Y%m%d-%H%M")


def _exported(fmt: str) -> None:
    try:
        resources.audit_log(settings).record(user.name, "export", {"page": PAGE, "format": fmt, "question": draft.question},
                                             doc_ids=[s.doc_id for s in draft.sources])
    except Exception:  # noqa: BLE001 - the download already happened; the log says why recording failed
        import logging

        logging.getLogger(__name__).exception("could not record an export")


c1, c2 = st.columns(2)
c1.download_button("Word（.docx）でダウンロード", buf.getvalue(), file_name=f"答弁案-{stamp}.docx",
                   mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                   on_click=_exported, args=("docx",), key="dl_docx")
c2.download_button("Markdown でダウンロード", markdown.encode("utf-8"), file_name=f"答弁案-{stamp}.md", mime="text/markdown",
                   on_click=_exported, args=("markdown",), key="dl_md")

with st.form("draft_feedback", border=False):
    rating = st.radio("この答弁案は役に立ちましたか", list(RATING_VALUES), index=None, horizontal=True)
    comment = st.text_input("コメント（任意）", key="draft_fb_comment")
    if st.form_submit_button("評価を送信") and rating:
        try:
            record_feedback(resources.audit_log(settings), user, PAGE, question=draft.question, rating=RATING_VALUES[rating],
                            comment=comment, question_event=state["event"])
            st.caption("評価を受け付けました。ありがとうございました。")
        except Exception as exc:  # noqa: BLE001
            show_error(exc)
