"""答弁作成: a question -> its 論点 -> candidate past answers and documents per 論点 (keep/drop; those
below the relevance gate listed apart, never used) -> the draft, editable in place, with the
公用文チェック under it (findings at their spans, one-click fixes and undo) -> 矛盾チェック, re-run on
every edit and always stated -> 再質問予測 with the exchange each came from -> redraft of the points
whose choices changed (edits kept) or of one point -> .docx / Markdown (findings as comments)."""

from __future__ import annotations

import dataclasses
import io
import time

import streamlit as st

from app import resources
from app.draft_confirm import confirm_draft, confirm_point, confirmed_line, record_revoked, unconfirmable
from app.draft_check import CheckCache, check_status, phrase, recheck, recheck_all
from app.draft_edit import apply_choices, apply_text, choices_of, points_to_redraft
from app.draft_export import CONFLICT_LABELS, draft_to_docx, draft_to_markdown, listed_sources
from app.draft_service import make_draft
from app.feedback import RATING_VALUES, record_feedback
from app.factory import build_style_checker
from app.question_file import read_question_upload
from app.safe_text import md_inline
from app.style_view import findings_panel
from app.ui_common import FLAG_LABELS, current_user, settings_or_stop, shared, show_error, source_card
from app.ui_startup import partial_index_notice, wait_until_searchable
from retrieval.errors import GyoseiError
from retrieval.query_limits import check_draft_question

PAGE = "答弁作成"
DRAFT = "draft_current"
CHECKS = "draft_checks"  # the 矛盾チェック results of this session's draft (app.draft_check.CheckCache)
CONFIRM = "draft_confirm_redraft"  # (version, point) whose edits the drafter is asked to discard
QUESTION_KINDS = {"shitsumon_shuisho": "質問主意書", "committee": "委員会質疑", "plain": "質問"}

user = current_user()
settings = settings_or_stop()
style_checker = build_style_checker(settings)
st.title("答弁作成")
st.caption("質問を貼り付けるかファイルを選ぶと、論点ごとに過去の答弁と根拠資料を探し、出典付きの答弁案を作ります。")


wait_until_searchable()

with st.form("draft_input"):
    question = st.text_area("質問（質問主意書・委員会での質問）", height=180, placeholder="例: デジタル行政の推進について、政府の見解を問う。…")
    upload = st.file_uploader("またはファイルから（.txt / .md / .docx）", type=["txt", "md", "docx"])
    go = st.form_submit_button("論点を分析して答弁案を作成", type="primary")

def run_draft(text: str) -> None:
    """Draft with progress; the result replaces the page's current draft."""
    submitted = time.perf_counter()  # the time shown is what the user waited, model loading included
    try:
        check_draft_question(text, settings.limits)
        with st.status("答弁案を作成しています…", expanded=True) as status:
            status.write("埋め込みモデルと索引を準備しています（初回は数十秒かかります）")
            res = shared(settings)
            with resources.audit_log(settings).track(user.name, "draft", {"page": PAGE, "question": text,
                                                                          "redraft": False}) as event:
                res = shared(settings)  # inside the record: its latency is the wait the user saw
                draft = make_draft(res.drafter(), res.followups(), text, user.access, on_progress=status.write)
                event.doc_ids = [s.doc_id for s in draft.sources]
                event.parameters.update(points=len(draft.points), method=draft.method,
                                        flagged=sum(pd.needs_review or any(s.flags for s in pd.sentences) for pd in draft.points))
            notice = partial_index_notice()
            if notice:
                draft.warnings.append(notice)
            status.update(label=f"答弁案を作成しました（論点 {len(draft.points)} 件、送信から {time.perf_counter() - submitted:.1f} 秒）",
                          state="complete", expanded=False)
    except Exception as exc:  # noqa: BLE001 - short Japanese message, details in the log
        show_error(exc)
        st.stop()
    st.session_state[CHECKS] = CheckCache()
    _remember(draft, event.id, [choices_of(pd) for pd in draft.points])


def _remember(draft, event_id: int, drafted_with: list, notice: str = "") -> None:
    """The page's draft state. The texts become the (versioned) text areas' first values; edits
    then live in the text areas and in the draft. ``drafted_with``: each point's choices when it
    was last drafted (a redraft rewrites a point only when they changed)."""
    st.session_state[DRAFT] = {"draft": draft, "event": event_id, "version": time.time_ns(),
                               "initial": [pd.text for pd in draft.points], "choices": drafted_with, "notice": notice}


def redraft(indices: list[int], notice: str = "") -> None:
    """Draft again only the points at ``indices`` (0-based) from their ticked candidates; edited
    points elsewhere keep their text (renumbered with the sources) and every choice is kept."""
    state = st.session_state[DRAFT]
    draft = state["draft"]
    try:
        res = shared(settings)
        with st.spinner("答弁案を作り直しています…"):
            with resources.audit_log(settings).track(user.name, "draft", {
                    "page": PAGE, "question": draft.question, "redraft": True,
                    "points": [i + 1 for i in indices]}) as event:
                res.drafter().redraft(draft, indices)
                event.doc_ids = [s.doc_id for s in draft.sources]
    except Exception as exc:  # noqa: BLE001
        show_error(exc)
        st.stop()
    drafted_with = list(state["choices"])
    for i in indices:
        drafted_with[i] = choices_of(draft.points[i])
    done = phrase("redraft.done", points="、".join(str(i + 1) for i in indices),
                  seconds=f"{draft.timings.get('redraft', 0.0):.1f}")
    _remember(draft, state["event"], drafted_with, " ".join(x for x in (done, notice) if x))
    st.rerun()


def _checker():
    """The drafter's own ContradictionChecker (None: the 矛盾チェック stays 「未確認」)."""
    try:
        return shared(settings).drafter().checker
    except Exception as exc:  # noqa: BLE001
        show_error(exc)
        return None


def _as_gated(src, relevance: float):
    """``src`` for display with the relevance it was gated on for this point (a chunk found for
    two points is one source, whose payload holds the first point's)."""
    return dataclasses.replace(src, payload={**src.payload, "relevance": relevance})


def conflicts_panel(pd) -> None:
    """The point's 矛盾チェック, always stated: none (with what was compared), the conflicts side
    by side, or 「未確認」."""
    status = check_status(pd)
    st.markdown("**矛盾チェック**")
    {"none": st.success, "found": st.error}.get(status.state, st.info)(status.line)
    for c in status.conflicts:
        with st.container(border=True):
            st.caption(f"⚠️ {md_inline(c.reason)}（{CONFLICT_LABELS.get(c.kind, c.kind)}、確からしさ {c.score:.2f}）")
            l, r = st.columns(2)
            l.markdown(f"**答弁案**\n\n{md_inline(c.claim)}")
            name = c.evidence_source.label if c.evidence_source is not None else "資料"
            number = f"[{c.evidence_source.n}] " if c.evidence_source is not None and c.evidence_source.n else ""
            r.markdown(f"**{number}{md_inline(name)}**\n\n{md_inline(c.evidence)}")


def followups_panel(pd) -> None:
    """再質問予測, each mined one with the exchange it came after."""
    if not pd.followups:
        return
    st.markdown("**再質問予測**")
    for f in pd.followups:
        if f.generated:
            st.markdown(f"- {md_inline(f.question)}（LLM による想定）")
            continue
        st.markdown(f"- {md_inline(f.question)}")
        with st.expander(phrase("followups.exchange", similarity=f"{f.similarity:.2f}")):
            if f.after is not None:
                st.caption(phrase("followups.answer"))
                source_card(f.after, used=False, note="")
            if f.source is not None:
                st.caption(phrase("followups.next_question"))
                source_card(f.source, used=False, note="")


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
notice = state.pop("notice", "")  # shown once, after the redraft that produced it
if notice:
    st.success(notice)
for w in draft.warnings:
    st.warning(w)
if draft.notice is not None:  # the AI-output notice (retrieval.ai_notice)
    st.caption("  \n".join(md_inline(line) for line in draft.notice.lines))
status_slot = st.empty()  # the confirmation state, filled in once this run's edits are applied
st.markdown("\n".join(f"{i}. **{md_inline(pd.point.label or '論点')}** — {md_inline(pd.point.text)}"
                      for i, pd in enumerate(draft.points, 1)))

checker = _checker()
cache = st.session_state.setdefault(CHECKS, CheckCache())
confirming = st.session_state.get(CONFIRM)
for i, pd in enumerate(draft.points, 1):
    st.divider()
    title = f"論点{i}" + (f"（{pd.point.label}）" if pd.point.label else "")
    st.subheader(title)
    left, right = st.columns([1, 1])
    with left:
        # One gate decision per candidate (PastAnswer.relevant, DocumentCandidate.relevant): only
        # the relevant ones can be ticked; the others are listed apart, never used.
        answers = [pa for pa in pd.past_answers if pa.relevant]
        docs = [d for d in pd.documents if d.relevant]
        st.markdown(f"**{phrase('candidates.answers')}**")
        kept_answers = []
        for j, pa in enumerate(answers):
            kept_answers.append(st.checkbox(f"[{pa.answer.n}] {md_inline(pa.answer.label)}", value=pa.kept,
                                            key=f"pa_{version}_{i}_{j}"))
            with st.expander("本文", expanded=False):
                source_card(_as_gated(pa.answer, pa.relevance))
                if pa.question is not None:
                    st.caption("直前の質問")
                    source_card(pa.question, used=False)
        if not answers:
            st.caption(phrase("candidates.none_relevant" if pd.past_answers else "candidates.none_found"))
        st.markdown(f"**{phrase('candidates.documents')}**")
        kept_docs = []
        for j, doc in enumerate(docs):
            kept_docs.append(st.checkbox(f"[{doc.source.n}] {md_inline(doc.source.label)}", value=doc.kept,
                                         key=f"doc_{version}_{i}_{j}"))
        if not docs:
            st.caption(phrase("candidates.none_relevant" if pd.documents else "candidates.none_found"))
        apply_choices(pd, kept_answers, kept_docs)
        low = [_as_gated(pa.answer, pa.relevance) for pa in pd.past_answers if not pa.relevant] + [
            _as_gated(d.source, d.relevance) for d in pd.documents if not d.relevant]
        if low:
            with st.expander(phrase("candidates.low_relevance", count=len(low)), expanded=False):
                st.caption(phrase("candidates.low_relevance_note", gate=f"{settings.answer.min_relevance:.2f}"))
                for src in low:
                    source_card(src, used=False, note=phrase("candidates.low_relevance_card"))
    with right:
        st.markdown("**答弁案（直接編集できます。[n] は出典番号）**")
        text_key = f"text_{version}_{i}"
        if text_key not in st.session_state:  # the first text; fixes and edits then live in the state
            st.session_state[text_key] = state["initial"][i - 1]
        edited = st.text_area(title, height=220, key=text_key, label_visibility="collapsed")
        was_confirmed = pd.confirmed or draft.confirmed
        if apply_text(draft, pd, edited, shared(settings).drafter().judge) and was_confirmed:
            record_revoked(draft, i - 1, user.name, resources.audit_log(settings))  # back to 未確認
        if pd.confirmed:
            st.success(phrase("confirmation.point_done", user=pd.confirmed_by, at=pd.confirmed_at[:16].replace("T", " ")))
        elif pd.needs_review:
            st.caption(phrase("confirmation.point_needs_text"))
        elif st.button(phrase("confirmation.point_button"), key=f"confirm_{version}_{i}",
                       help=phrase("confirmation.point_help")):
            confirm_point(draft, i - 1, user.name, resources.audit_log(settings), settings.export.timezone)
            st.rerun()
        flagged = [s for s in pd.sentences if s.flags]
        if pd.needs_review or flagged:
            st.warning("\n".join(["【要確認】出典のない文、または裏付けの弱い文があります。"]
                                 + [f"- 「{md_inline(s.text)}」: {md_inline('、'.join(s.flag_notes(FLAG_LABELS)))}" for s in flagged]))
        if not pd.needs_review:
            with st.expander("公用文チェック", expanded=True):
                findings_panel(style_checker, text_key, edited)
        if confirming == (version, i):
            st.warning(phrase("redraft.confirm"))
            yes, no = st.columns(2)
            if yes.button(phrase("redraft.confirm_yes"), key=f"redraft_yes_{version}_{i}"):
                st.session_state.pop(CONFIRM, None)
                redraft([i - 1])
            if no.button(phrase("redraft.confirm_no"), key=f"redraft_no_{version}_{i}"):
                st.session_state.pop(CONFIRM, None)
                st.rerun()
        elif st.button(phrase("redraft.point"), key=f"redraft_{version}_{i}", help=phrase("redraft.point_help")):
            if pd.edited:
                st.session_state[CONFIRM] = (version, i)
                st.rerun()
            redraft([i - 1])
    # After the edit and the choices of this run: the result is for the text shown above.
    recheck(pd, checker, cache)
    conflicts_panel(pd)
    followups_panel(pd)

st.divider()
if st.button(phrase("redraft.all"), key="redraft", help=phrase("redraft.all_help")):
    indices = points_to_redraft(draft, state["choices"])
    kept_edited = [i + 1 for i, pd in enumerate(draft.points)
                   if pd.edited and choices_of(pd) != state["choices"][i]]
    notice = phrase("redraft.kept_edited", points="、".join(map(str, kept_edited))) if kept_edited else ""
    if indices:
        redraft(indices, notice)
    state["notice"] = " ".join(x for x in (phrase("redraft.nothing"), notice) if x)
    st.rerun()
st.subheader("出典一覧")
listed = listed_sources(draft)
with st.expander(f"出典（{len(listed)} 件）"):
    for s in listed:
        source_card(s)

(status_slot.success if draft.confirmed else status_slot.warning)(phrase("confirmation.state", line=confirmed_line(draft)))
st.subheader(phrase("confirmation.heading"))
if draft.confirmed:
    st.success(confirmed_line(draft))
else:
    st.caption(phrase("confirmation.draft_note"))
    if st.button(phrase("confirmation.draft_button"), key="confirm_draft", type="primary", disabled=bool(unconfirmable(draft))):
        confirm_draft(draft, user.name, resources.audit_log(settings), settings.export.timezone)
        st.rerun()

st.subheader("ダウンロード")

buf = io.BytesIO()
recheck_all(draft, checker, cache)  # an export states a result only for the text it was computed on
try:
    draft_to_docx(draft, buf, style=style_checker, author=user.name, body_font=settings.export.body_font,
                  heading_font=settings.export.heading_font)
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
