"""質問: a chat that answers with [n] citations and shows each cited passage highlighted.
Follow-up questions carry the previous topic (shown to the user); answers can be rated."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

import streamlit as st

from app import resources
from app.conversation import Contextualized, Turn, contextualize
from app.history import recheck
from app.feedback import RATING_LABELS, RATING_VALUES, record_feedback
from app.ui_startup import partial_index_notice, wait_until_searchable
from app.safe_text import md_inline
from app.ui_common import DOC_TYPE_LABELS, FLAG_LABELS, HOUSES, MODE_LABELS, current_user, settings_or_stop, shared, show_error, source_anchor, source_card
from retrieval.answer_types import Answer
from retrieval.query_limits import check_query
from retrieval.types import Filters

log = logging.getLogger(__name__)
PAGE = "質問"
TURNS = "ask_turns"
CONVERSATION = "ask_conversation"  # the id of the conversation shown, in the history store

user = current_user()
settings = settings_or_stop()
st.title("行政文書・国会答弁 検索")
st.caption("質問を入力すると、出典番号付きの回答と、その根拠箇所（文書名・条・ページ・日付・発言者）を表示します。")
wait_until_searchable()

with st.sidebar:
    st.header("絞り込み")
    doc_types = st.multiselect("文書種別", list(DOC_TYPE_LABELS), format_func=DOC_TYPE_LABELS.get, placeholder="すべての種別")
    date_from = st.date_input("この日付以降", value=None, format="YYYY-MM-DD")
    date_to = st.date_input("この日付以前", value=None, format="YYYY-MM-DD")
    house = st.selectbox("院", ["", *HOUSES], format_func=lambda h: h or "すべて")
    meeting = st.text_input("会議名", placeholder="例: 予算委員会")
    speaker = st.text_input("発言者", placeholder="例: 岸田文雄")
    mode = st.radio("検索方式", list(MODE_LABELS), format_func=MODE_LABELS.get)
    carry = st.checkbox("前の質問の話題を引き継ぐ", value=True, help="「その期限は？」のような短い質問に、前の質問の話題を補って検索します。")
    if st.button("新しい会話", key="ask_new", help="今の会話は履歴に残ります。"):
        st.session_state[TURNS], st.session_state[CONVERSATION] = [], None

history = resources.history_store(settings)


def reopen(conversation: int) -> None:
    """Show one of the user's past conversations, its sources checked against their access now."""
    past = history.turns(user.name, conversation)
    if past:
        with st.spinner("過去の会話を開いています（出典を現在の閲覧権限で確認中）…"):
            readable = set(shared(settings).index.documents(user.access))
        st.session_state[TURNS] = [recheck(t, readable) for t in past]
        st.session_state[CONVERSATION] = conversation


if TURNS not in st.session_state:  # a new browser session (a reload): the latest conversation again
    st.session_state[TURNS], st.session_state[CONVERSATION] = [], None
    latest = history.conversations(user.name, limit=1)
    if latest:
        reopen(latest[0].id)

with st.sidebar:
    past = history.conversations(user.name)
    if past:
        st.header("会話の履歴")
        chosen = st.selectbox("過去の会話", [c.id for c in past], key="ask_history", placeholder="会話を選んでください",
                              index=None, format_func=lambda cid: next(f"{c.updated[:16].replace('T', ' ')}　{c.title}"
                                                                        f"（{c.turns} 件）" for c in past if c.id == cid))
        if st.button("この会話を開く", key="ask_reopen", disabled=chosen is None):
            reopen(chosen)

turns: list[Turn] = st.session_state[TURNS]


def show_answer(answer: Answer, turn: int) -> None:
    """The answer sentences with [n] markers (links to their source cards) and flags."""
    for note in answer.notes:
        st.caption(md_inline(note))
    for warning in answer.warnings:
        st.warning(warning)
    if answer.notice is not None:  # the AI-output notice (retrieval.ai_notice), on every answer
        st.caption("  \n".join(md_inline(line) for line in answer.notice.lines))
    if answer.refused:
        st.info(answer.text)
        if answer.gate_reason:
            st.caption(f"判定の理由: {md_inline(answer.gate_reason)}")
        if answer.sources:
            st.caption("参考: 関連性が基準に達しなかった資料（開いて確認できます）")
            for source in answer.sources:
                with st.expander(f"[{source.n}] {md_inline(source.label)}"):
                    source_card(source, used=False)
        return
    lines = []
    for s in answer.sentences:
        # Our links (target _self: Markdown links open a new tab), never the document's.
        marks = "".join(f"<a href='#{source_anchor(turn, n)}' target='_self'>[{n}]</a>" for n in s.citations)
        flag = f" ⚠️（要確認: {md_inline('、'.join(s.flag_notes(FLAG_LABELS)))}）" if s.flags else ""
        lines.append(f"{md_inline(s.text)}**{marks}**{flag}")  # document text: never a link, image or HTML
    st.markdown("  \n".join(lines), unsafe_allow_html=True)  # md_inline escapes the document's HTML
    waited = answer.timings.get("waited") or answer.timings.get("total")
    st.caption(("抽出型回答" if answer.method == "extractive" else "LLM による回答")
               + (f"　送信から表示まで {waited:.1f} 秒" if waited else ""))
    with st.expander("回答をコピー・保存"):
        st.code(answer_markdown(answer), language=None, wrap_lines=True)  # the code block has a copy button
        st.download_button("Markdown で保存", answer_markdown(answer), file_name=f"回答_{turn + 1}.md",
                           mime="text/markdown", key=f"ask_save_{turn}")


def answer_markdown(answer: Answer) -> str:
    """The answer with its numbered sources, as plain Markdown (copy / download)."""
    lines = [f"# 質問\n\n{answer.question}\n", f"# 回答\n\n{answer.text}\n", "# 出典\n"]
    lines += [f"[{s.n}] {s.label}" + (f" {s.url}" if s.url else "") for s in answer.cited_sources or answer.sources]
    return "\n".join(lines) + "\n"


def show_sources(answer: Answer, turn: int) -> None:
    cited = {n for s in answer.sentences for n in s.citations}
    for source in answer.sources:
        source_card(source, used=source.n in cited, anchor=source_anchor(turn, source.n))


def feedback_form(i: int, turn: Turn) -> None:
    if turn.feedback:
        st.caption(f"評価「{RATING_LABELS[turn.feedback]}」を受け付けました。ありがとうございました。")
        return
    with st.form(f"feedback_{i}", border=False):
        cols = st.columns([2, 5, 1.3])
        rating = cols[0].radio("この回答は役に立ちましたか", list(RATING_VALUES), index=None, horizontal=True)
        comment = cols[1].text_input("コメント（任意）", key=f"fb_comment_{i}")
        sent = cols[2].form_submit_button("評価を送信")
    if sent:
        if rating is None:
            st.warning("「良い」か「悪い」を選んでから送信してください。")
            return
        rating = RATING_VALUES[rating]
        try:
            record_feedback(resources.audit_log(settings), user, PAGE, question=turn.question, rating=rating, comment=comment,
                            question_event=turn.event_id, doc_ids=[s.doc_id for s in turn.answer.sources])
        except Exception as exc:  # noqa: BLE001 - shown short, logged in full
            show_error(exc)
            return
        turn.feedback = rating
        st.caption(f"評価「{RATING_LABELS[rating]}」を受け付けました。ありがとうございました。")


def show_turn(i: int, turn: Turn, latest: bool) -> None:
    with st.chat_message("user"):
        st.markdown(md_inline(turn.question))
    with st.chat_message("assistant"):
        if turn.carried:
            st.caption(f":material/link: {Contextualized(turn.searched, turn.carried, _previous(i)).note}　検索した文: 「{md_inline(turn.searched)}」")
        show_answer(turn.answer, i)
        if not turn.answer.refused:
            if latest:
                st.subheader("出典")
                show_sources(turn.answer, i)
            else:
                with st.expander(f"出典（{len(turn.answer.sources)} 件）"):
                    show_sources(turn.answer, i)
        feedback_form(i, turn)


def _previous(i: int) -> str:
    return turns[i - 1].question if i > 0 else ""


def ask(question: str, submitted: float) -> None:
    filters = Filters(doc_types=doc_types or None, date_from=date_from.isoformat() if date_from else None,
                      date_to=date_to.isoformat() if date_to else None, house=house or None,
                      meeting=meeting.strip() or None, speaker=speaker.strip() or None)
    ctx = contextualize(question, turns, enabled=carry)
    with st.chat_message("user"):
        st.markdown(md_inline(question))
    with st.chat_message("assistant"):
        if ctx.carried:
            st.caption(f":material/link: {ctx.note}　検索した文: 「{md_inline(ctx.searched)}」")
        status = st.status("回答を準備しています…", expanded=True)
        placeholder = st.empty()
        streamed: list[str] = []

        def on_delta(text: str) -> None:  # an LLM's answer appears as it is written
            streamed.append(text)
            placeholder.markdown(md_inline("".join(streamed)))  # the model may repeat a document's link

        started = time.perf_counter()
        try:
            check_query(ctx.searched, settings.limits)
            with resources.audit_log(settings).track(user.name, "question", {
                "page": PAGE, "question": question, "searched": ctx.searched, "carried": ctx.carried,
                "filters": asdict(filters), "mode": mode, "access": asdict(user.access),
            }) as event:
                # Inside the record: its latency is the wait the user saw, a first model load included.
                status.write("埋め込みモデルと索引を準備しています（初回は数十秒かかります）")
                res = shared(settings)
                status.write("資料を検索し、回答を作成しています")
                answer = res.answerer.answer(ctx.searched, user.access, filters, mode, on_delta=on_delta)
                event.note_answer(answer)
            notice = partial_index_notice()
            if notice:
                answer.notes.append(notice)
        except Exception as exc:  # noqa: BLE001 - a short Japanese message, details in the log
            placeholder.empty()
            status.update(label="回答できませんでした", state="error", expanded=False)
            show_error(exc)
            return
        placeholder.empty()
        status.update(label=f"回答しました（送信から {time.perf_counter() - submitted:.1f} 秒）", state="complete", expanded=False)
    # The answer object's question is what was searched; the chat shows what the user typed.
    turn = Turn(question, ctx.searched, ctx.carried, answer, event.id)
    turn.answer.timings.setdefault("total", time.perf_counter() - started)
    turn.answer.timings["waited"] = time.perf_counter() - submitted  # what the user waited, model loading included
    turns.append(turn)
    try:
        st.session_state[CONVERSATION] = history.add_turn(user.name, st.session_state.get(CONVERSATION), turn)
    except Exception:  # noqa: BLE001 - the answer is shown all the same
        log.exception("could not keep the question in the history")
    st.rerun()


for i, turn in enumerate(turns):
    show_turn(i, turn, latest=i == len(turns) - 1)

question = st.chat_input("質問を入力してください（例: 行政手続法の目的は何ですか）")
if question and question.strip():
    ask(question.strip(), time.perf_counter())
