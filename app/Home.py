"""Streamlit entry point: search the indexed documents and see each passage with its source.

Run: ``streamlit run app/Home.py`` (``make run`` does this after indexing data_samples).
"""

from __future__ import annotations

import html

import streamlit as st

from app.factory import build_embedder, build_index, build_searcher
from retrieval.citation import describe_source
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


@st.cache_resource(show_spinner="検索エンジンを準備しています…")
def _searcher():
    settings = Settings.load()
    embedder = build_embedder(settings)
    index = build_index(settings, embedder, read_only=True)
    return build_searcher(settings, embedder, index)


def main() -> None:
    st.set_page_config(page_title="行政文書検索 — gyosei-rag", page_icon="📚", layout="wide")
    st.title("行政文書・国会答弁 検索")
    st.caption("質問を入力すると、関係する箇所を出典（文書名・条・ページ・日付・発言者）付きで表示します。")

    with st.sidebar:
        st.header("絞り込み")
        doc_types = st.multiselect("文書種別", list(DOC_TYPE_LABELS), format_func=DOC_TYPE_LABELS.get, placeholder="すべての種別")
        date_from = st.date_input("この日付以降", value=None)
        date_to = st.date_input("この日付以前", value=None)
        mode = st.radio("検索方式", list(MODE_LABELS), format_func=MODE_LABELS.get)
        k = st.slider("表示件数", 1, 20, 5)

    with st.form("search"):
        question = st.text_input("質問", placeholder="例: 行政手続法の目的は何ですか")
        submitted = st.form_submit_button("検索")
    if not submitted or not question.strip():
        return

    filters = Filters(
        doc_types=doc_types or None,
        date_from=date_from.isoformat() if date_from else None,
        date_to=date_to.isoformat() if date_to else None,
    )
    try:
        hits = _searcher().search(question, Access(clearance=1, groups=["all"]), filters, mode, k)
    except GyoseiError as exc:
        st.error(str(exc))
        return
    if not hits:
        st.info("該当する資料が見つかりませんでした")
        return
    for n, hit in enumerate(hits, 1):
        payload = hit.payload
        with st.container(border=True):
            st.markdown(f"**[{n}] {html.escape(describe_source(payload))}**")
            st.markdown(f"<div style='white-space: pre-wrap'>{html.escape(hit.text)}</div>", unsafe_allow_html=True)
            meta = f"{DOC_TYPE_LABELS.get(payload.get('doc_type'), payload.get('doc_type'))}　スコア {hit.score:.3f}"
            if payload.get("source_url"):
                meta += f"　[原文を開く]({payload['source_url']})"
            st.caption(meta)


main()
