"""Build the real components from settings. Only faces (CLI, Streamlit) call this."""

from __future__ import annotations

from retrieval.answer import Answerer
from retrieval.embedder import Embedder, embedder_from_settings
from retrieval.llm import chat_model_from_settings
from retrieval.index import open_index
from retrieval.index.base import Index
from retrieval.search import Searcher
from retrieval.settings import Settings
from retrieval.support import SupportScorer
from retrieval.text.sparse import SparseEncoder


def build_embedder(settings: Settings) -> Embedder:
    """The configured dense embedder (the built-in e5 is built offline on first use)."""
    return embedder_from_settings(settings.embedding)


def build_index(settings: Settings, embedder: Embedder, read_only: bool = False) -> Index:
    """Open (or create) the configured index for the embedder's dimension."""
    return open_index(settings.index, embedder.dimension, read_only=read_only)


def build_searcher(settings: Settings, embedder: Embedder, index: Index) -> Searcher:
    return Searcher(index, embedder, SparseEncoder(), rrf_k=settings.search.rrf_k)


def build_answerer(settings: Settings, embedder: Embedder, index: Index) -> Answerer:
    """The answerer: extractive by default, with the configured LLM when there is one."""
    searcher = build_searcher(settings, embedder, index)
    scorer = SupportScorer(embedder, searcher.sparse)
    llm = expand = None
    chat_model = chat_model_from_settings(settings.llm)
    if chat_model is not None:
        from retrieval.answer_llm import LLMAnswerer, expand_query  # langchain only when an LLM is set

        llm = LLMAnswerer(chat_model, scorer, timeout_s=settings.llm.timeout_s)
        if settings.llm.expand_queries:
            timeout = min(settings.llm.timeout_s, 15.0)
            expand = lambda question: expand_query(question, chat_model, timeout)  # noqa: E731
    return Answerer(searcher, embedder, scorer, settings.answer, llm=llm, expand=expand)
