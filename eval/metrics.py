"""Document-level retrieval metrics with binary relevance: Recall@k, MRR@k, nDCG@k.

Retrievers return chunks; a document is ranked by its best chunk. :func:`rank_documents` turns a
list of (doc_id, score) hits into a ranked list of distinct documents. Equal scores (common with
RRF fusion, whose scores are sums of 1/(60+rank)) are ordered by document id: the engine returns
tied points in no fixed order, and a run must give the same numbers every time. The metric
functions then take that ranked list and the set of relevant documents. A query without any
relevant document has no defined score: the functions raise ``ValueError`` for it, and the
evaluation leaves such queries out (and says how many).

>>> ranked = rank_documents([("a", 0.9), ("b", 0.8), ("a", 0.7), ("c", 0.6)])
>>> ranked
['a', 'b', 'c']
>>> recall_at_k(ranked, {"b", "z"}, 2), mrr_at_k(ranked, {"b"}, 10)
(0.5, 0.5)
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

TIE_DECIMALS = 9

__all__ = [
    "rank_documents",
    "dedupe",
    "recall_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "first_relevant_rank",
    "query_metrics",
    "mean_metrics",
    "metric_names",
]


def dedupe(doc_ids: Iterable[str]) -> list[str]:
    """Distinct ids in order of first occurrence (a document counts at its best position)."""
    return list(dict.fromkeys(doc_ids))


def rank_documents(hits: Iterable[tuple[str, float]]) -> list[str]:
    """Distinct documents ranked by their best chunk score; equal scores by document id."""
    best: dict[str, float] = {}
    for doc_id, score in hits:
        # Rounding makes sums that differ only in their last bits (summation order) a tie too.
        score = round(float(score), TIE_DECIMALS)
        if doc_id not in best or score > best[doc_id]:
            best[doc_id] = score
    return sorted(best, key=lambda d: (-best[d], d))


def _check(relevant: Iterable[str], k: int) -> set[str]:
    rel = set(relevant)
    if not rel:
        raise ValueError("relevant set is empty: the metric is undefined for this query")
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    return rel


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant documents found in the top ``k`` (duplicates counted once)."""
    rel = _check(relevant, k)
    return len(rel.intersection(dedupe(ranked)[:k])) / len(rel)


def first_relevant_rank(ranked: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first relevant document in the whole list, or None."""
    rel = set(relevant)
    for rank, doc_id in enumerate(dedupe(ranked), start=1):
        if doc_id in rel:
            return rank
    return None


def mrr_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Reciprocal rank of the first relevant document if it is in the top ``k``, else 0."""
    rel = _check(relevant, k)
    rank = first_relevant_rank(ranked, rel)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Binary nDCG: sum of 1/log2(rank+1) over relevant hits in the top ``k``, divided by the
    best possible sum (all relevant documents first, at most ``k`` of them)."""
    rel = _check(relevant, k)
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(dedupe(ranked)[:k]) if d in rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
    return dcg / ideal


def metric_names(k: int, recall_cutoffs: Sequence[int] = (1, 5)) -> list[str]:
    """Names in report order: recall@1, recall@5, recall@k, mrr@k, ndcg@k."""
    cutoffs = sorted({c for c in recall_cutoffs if c < k} | {k})
    return [f"recall@{c}" for c in cutoffs] + [f"mrr@{k}", f"ndcg@{k}"]


def query_metrics(ranked: Sequence[str], relevant: Iterable[str], k: int, recall_cutoffs: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Every metric of :func:`metric_names` for one query."""
    rel = _check(relevant, k)
    out: dict[str, float] = {}
    for name in metric_names(k, recall_cutoffs):
        kind, cutoff = name.split("@")
        fn = {"recall": recall_at_k, "mrr": mrr_at_k, "ndcg": ndcg_at_k}[kind]
        out[name] = fn(ranked, rel, int(cutoff))
    return out


def mean_metrics(per_query: Iterable[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over queries (an empty input gives an empty dict)."""
    rows = list(per_query)
    if not rows:
        return {}
    return {name: sum(r[name] for r in rows) / len(rows) for name in rows[0]}
