"""Turn a Japanese question into index queries: the same normalization as ingestion, explicit
date phrases turned into a date filter, then dense (the embedder's query prompt) and/or sparse
(fugashi lemmas) vectors for the chosen mode, fused by the index. Overlapping chunks of one
document (neighbours share an overlap) are collapsed so one passage is not shown twice.

Usage::

    searcher = Searcher(index, embedder, SparseEncoder())
    hits = searcher.search("行政手続法の目的は何か", Access(clearance=1, groups=["all"]), k=5)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from retrieval.embedder import Embedder
from retrieval.index.base import Index
from retrieval.query_dates import DateHint, parse_date_phrases
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder
from retrieval.types import DEFAULT_RRF_K, Access, Filters, Hit, Query, SearchMode

# Fetch this many more chunks than asked so that collapsing duplicates still fills ``k``.
OVERFETCH = 2


@dataclass
class QueryPlan:
    """What a question becomes before it reaches the index (shown to the user when dates apply)."""

    text: str  # normalized question
    filters: Filters | None
    date_hint: DateHint | None = None  # the date phrase that became a filter, if any
    # Extra phrasings/terms from the LLM's query expansion: they widen the sparse (keyword) side
    # only, so the dense vector and the relevance gate still judge the question as asked.
    expansions: list[str] = field(default_factory=list)


class Searcher:
    """Searches the index on behalf of one user (``access`` is required on every call)."""

    def __init__(self, index: Index, embedder: Embedder, sparse: SparseEncoder, *, rrf_k: int = DEFAULT_RRF_K) -> None:
        self.index = index
        self.embedder = embedder
        self.sparse = sparse
        self.rrf_k = rrf_k  # hybrid fusion constant (eval/fusion_variants.py)

    def plan(self, question: str, filters: Filters | None = None, today: dt.date | None = None) -> QueryPlan:
        """Normalize; turn an unambiguous date phrase into a date filter unless dates were given."""
        text = normalize(question)
        given = filters is not None and (filters.date_from or filters.date_to)
        hint = None if given else parse_date_phrases(text, today or dt.date.today())
        if hint is not None:
            base = filters or Filters()
            filters = replace(base, date_from=hint.date_from, date_to=hint.date_to, keep_undated=True)
        return QueryPlan(text=text, filters=filters, date_hint=hint)

    def search(
        self,
        question: str,
        access: Access,
        filters: Filters | None = None,
        mode: SearchMode | str = SearchMode.HYBRID,
        k: int = 10,
        *,
        dates: bool = True,
        with_dense: bool = False,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``question`` that ``access`` may read, best first.

        ``dates=False`` keeps date phrases as plain words (no automatic date filter).
        """
        plan = self.plan(question, filters) if dates else QueryPlan(normalize(question), filters)
        return self.search_plan(plan, access, mode, k, with_dense=with_dense)

    def search_plan(
        self, plan: QueryPlan, access: Access, mode: SearchMode | str = SearchMode.HYBRID, k: int = 10,
        *, with_dense: bool = False, query_vector: list[float] | None = None,
    ) -> list[Hit]:
        """Search for an already planned question (see ``plan``); ``query_vector`` saves
        re-embedding when the caller already has the question's dense vector."""
        mode = SearchMode(mode)
        if not plan.text.strip():
            return []
        query = Query(mode=mode, with_dense=with_dense, rrf_k=self.rrf_k)
        if mode in (SearchMode.DENSE, SearchMode.HYBRID):
            query.dense = list(query_vector) if query_vector is not None else list(self.embedder.embed_query(plan.text))
        if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
            query.sparse = self.sparse.encode_query(" ".join([plan.text, *map(normalize, plan.expansions)]))
            if not query.sparse.indices:
                if mode == SearchMode.SPARSE:
                    return []
                query.mode, query.sparse = SearchMode.DENSE, None
        hits = self.index.search(query, access, plan.filters, k * OVERFETCH)
        return collapse_overlaps(hits)[:k]


def collapse_overlaps(hits: list[Hit]) -> list[Hit]:
    """Drop near-duplicates of better-ranked hits: a span of the same document that overlaps one
    already kept, or the very same text under another document (a file indexed twice)."""
    kept: list[Hit] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    texts: set[str] = set()
    for hit in hits:
        doc = hit.payload.get("doc_id", "")
        start, end = int(hit.payload.get("char_start") or 0), int(hit.payload.get("char_end") or 0)
        if end > start and any(start < e and s < end for s, e in spans.get(doc, ())):
            continue
        if hit.text and hit.text in texts:
            continue
        spans.setdefault(doc, []).append((start, end))
        texts.add(hit.text)
        kept.append(hit)
    return kept
