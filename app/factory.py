"""Build the real components from settings. Only faces (CLI, Streamlit) call this."""

from __future__ import annotations

from retrieval.embedder import Embedder, embedder_from_settings
from retrieval.index import open_index
from retrieval.index.base import Index
from retrieval.search import Searcher
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder


def build_embedder(settings: Settings) -> Embedder:
    """The configured dense embedder (the built-in e5 is built offline on first use)."""
    return embedder_from_settings(settings.embedding)


def build_index(settings: Settings, embedder: Embedder, read_only: bool = False) -> Index:
    """Open (or create) the configured index for the embedder's dimension."""
    return open_index(settings.index, embedder.dimension, read_only=read_only)


def build_searcher(settings: Settings, embedder: Embedder, index: Index) -> Searcher:
    return Searcher(index, embedder, SparseEncoder())
