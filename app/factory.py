"""Build the real components from settings. Only faces (CLI, Streamlit) call this."""

from __future__ import annotations

from retrieval.embedder import Embedder, open_embedder
from retrieval.index import open_index
from retrieval.index.base import Index
from retrieval.search import Searcher
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder


def build_embedder(settings: Settings) -> Embedder:
    """The configured dense embedder (the built-in e5 is built offline on first use)."""
    cfg = settings.embedding
    return open_embedder(
        cfg.model,
        query_prompt=cfg.query_prompt,
        passage_prompt=cfg.passage_prompt,
        precision=cfg.precision,
        batch_size=cfg.batch_size,
        max_seq_length=cfg.max_seq_length,
        cache_dir=cfg.cache_dir,
    )


def build_index(settings: Settings, embedder: Embedder, read_only: bool = False) -> Index:
    """Open (or create) the configured index for the embedder's dimension."""
    return open_index(settings.index, embedder.dimension, read_only=read_only)


def build_searcher(settings: Settings, embedder: Embedder, index: Index) -> Searcher:
    return Searcher(index, embedder, SparseEncoder())
