"""Turn a Japanese question into index queries: the same normalization as ingestion, then
dense (the embedder's query prompt) and/or sparse (fugashi lemmas) vectors for the chosen mode.

Usage::

    searcher = Searcher(index, embedder, SparseEncoder())
    hits = searcher.search("行政手続法の目的は何か", Access(clearance=1, groups=["all"]), k=5)
"""

from __future__ import annotations

from retrieval.embedder import Embedder
from retrieval.index.base import Index
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, Filters, Hit, Query, SearchMode


class Searcher:
    """Searches the index on behalf of one user (``access`` is required on every call)."""

    def __init__(self, index: Index, embedder: Embedder, sparse: SparseEncoder) -> None:
        self.index = index
        self.embedder = embedder
        self.sparse = sparse

    def search(
        self,
        question: str,
        access: Access,
        filters: Filters | None = None,
        mode: SearchMode | str = SearchMode.HYBRID,
        k: int = 10,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``question`` that ``access`` may read, best first."""
        mode = SearchMode(mode)
        text = normalize(question)
        if not text.strip():
            return []
        query = Query(mode=mode)
        if mode in (SearchMode.DENSE, SearchMode.HYBRID):
            query.dense = list(self.embedder.embed_query(text))
        if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
            query.sparse = self.sparse.encode_query(text)
            if not query.sparse.indices:
                if mode == SearchMode.SPARSE:
                    return []
                query.mode, query.sparse = SearchMode.DENSE, None
        return self.index.search(query, access, filters, k)
