"""Streamlit entry point: ask a question, get a cited answer (streamed when an LLM writes it)
and every source passage with the sentences the answer used highlighted.

Run: ``streamlit run app/Home.py`` (``make run`` does this after indexing data_samples).
"""

from __future__ import annotations

import html

import streamlit as st

from app.factory import build_answerer, build_embedder, build_index
from retrieval.answer_types import Answer, Source
from retrieval.errors import GyoseiError
from retrieval.settings import Settings
from retrieval.types import Access, Filters

DOC_TYPE_LABELS = {
    "law": "法令",
    "diet_speech": "国会会議録",
    "faq": "質疑応答",
    "guideline": "ガイドライン",
    "notice": "通知",
    "white_paper": "白書",
    "other": "その他",
}
MODE_LABELS = {"hybrid": "ハイブリッド（推奨）", "dense": "意味検索", "sparse": "キーワード検索"}


FLAG_LABELS = {"uncited": "出典なし", "invalid_citation": "存在しない出典番号を削除", "unsupported": "出典で裏付けられません"}


@st.cache_resource(show_spinner="検索エンジンを準備しています…")
def _answerer():
    settings = Settings.load()
    embedder = build_embedder(settings)
    index = build_index(settings, embedder, read_only=True)
    return build_answerer(settings, embedder, index)


def highlighted(source: Source) -> str:
    """The passage as HTML with the spans the answer used in <mark>."""
    out, pos = [], 0
    for start, end in sorted(source.highlights):
        if start < pos:
            continue
        out += [html.escape(source.text[pos:start]), "<mark>", html.escape(source.text[start:end]), "</mark>"]
        pos = end
    out.append(html.escape(source.text[pos:]))
    return "".join(out)


def show_answer(answer: Answer) -> None:
    for note in answer.notes:
        st.caption(note)
    for warning in answer.warnings:
        st.warning(warning)
    if answer.refused:
        st.info(answer.text)
        if answer.sources:
            st.caption("参考: 関連性が基準に達しなかった資料 — " + "、".join(s.label for s in answer.sources))
        return
    lines = []
    for s in answer.sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        flag = f" ⚠️（要確認: {'、'.join(FLAG_LABELS.get(f, f) for f in s.flags)}）" if s.flags else ""
        lines.append(f"{html.escape(s.text)}**{marks}**{flag}")
    st.markdown("  \n".join(lines), unsafe_allow_html=True)
    total = answer.timings.get("total")
    st.caption(("抽出型回答" if answer.method == "extractive" else "LLM による回答") + (f"　{total:.2f} 秒" if total else ""))


def main() -> None:
    st.set_page_config(page_title="行政文書検索 — gyosei-rag", page_icon="📚", layout="wide")
    st.title("行政文書・国会答弁 検索")
    st.caption("質問を入力すると、出典番号付きの回答と、その根拠箇所（文書名・条・ページ・日付・発言者）を表示します。")

    with st.sidebar:
        st.header("絞り込み")
        doc_types = st.multiselect("文書種別", list(DOC_TYPE_LABELS), format_func=DOC_TYPE_LABELS.get, placeholder="すべての種別")
        date_from = st.date_input("この日付以降", value=None)
        date_to = st.date_input("この日付以前", value=None)
        mode = st.radio("検索方式", list(MODE_LABELS), format_func=MODE_LABELS.get)

    with st.form("search"):
        question = st.text_input("質問", placeholder="例: 行政手続法の目的は何ですか")
        submitted = st.form_submit_button("質問する")
    if not submitted or not question.strip():
        return

    filters = Filters(
        doc_types=doc_types or None,
        date_from=date_from.isoformat() if date_from else None,
        date_to=date_to.isoformat() if date_to else None,
    )
    st.subheader("回答")
    placeholder = st.empty()
    streamed: list[str] = []

    def on_delta(text: str) -> None:  # an LLM's answer appears as it is written
        streamed.append(text)
        placeholder.markdown("".join(streamed))

    try:
        answer = _answerer().answer(question, Access(clearance=1, groups=["all"]), filters, mode, on_delta=on_delta)
    except GyoseiError as exc:
        placeholder.empty()
        st.error(str(exc))
        return
    placeholder.empty()
    show_answer(answer)
    if answer.refused:
        return
    st.subheader("出典")
    cited = {n for s in answer.sentences for n in s.citations}
    for source in answer.sources:
        with st.container(border=True):
            used = "" if source.n in cited else "（回答では未使用）"
            st.markdown(f"**[{source.n}] {html.escape(source.label)}**{used}")
            st.markdown(f"<div style='white-space: pre-wrap'>{highlighted(source)}</div>", unsafe_allow_html=True)
            payload = source.payload
            meta = f"{DOC_TYPE_LABELS.get(payload.get('doc_type'), payload.get('doc_type'))}　関連度 {payload.get('relevance', 0):.3f}"
            if source.url:
                meta += f"　[原文を開く]({source.url})"
            st.caption(meta)


main()
