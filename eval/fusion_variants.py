"""Measure fusion and query variants on the three dev sets together (issue 20): the RRF constant,
the sparse side's weight and query term weights, each variant's document-level nDCG@10 and
Recall@10 per set, from the cached eval indexes and query vectors.

A variant is kept only if it helps on at least two sets and hurts none by more than 0.5 points
(the rule of eval/README.md); this script only measures, it chooses nothing.

Usage: .venv/bin/python -m eval.fusion_variants [--sets nta_faq diet_qa lawqa]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from eval.beir import load_beir
from eval.embed_cache import CachedEmbedder, embedder_key
from eval.metrics import mean_metrics, query_metrics, rank_documents
from eval.retrieval_eval import EVAL_ACCESS, default_work_dir, ensure_index
from retrieval.embedder import embedder_from_settings
from retrieval.index.edge import EdgeIndex
from retrieval.settings import Settings
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder, term_id
from retrieval.types import Query, SearchMode, SparseVector

DATASETS = Path(__file__).resolve().parent / "datasets"
DEPTH = 50


def tf_query(sparse: SparseEncoder, text: str) -> SparseVector:
    """Query terms weighted 1 + ln(tf): a long question's repeated terms carry its topic."""
    counts = Counter(sparse.terms(text))
    ids = {term_id(t): 1.0 + math.log(n) for t, n in counts.items()}
    keys = sorted(ids)
    return SparseVector(indices=keys, values=[ids[k] for k in keys])


def variants() -> dict[str, Callable[[list[float], SparseVector, SparseVector], Query]]:
    out: dict[str, Callable] = {
        "dense": lambda d, s, t: Query(dense=d, mode=SearchMode.DENSE),
        "sparse": lambda d, s, t: Query(sparse=s, mode=SearchMode.SPARSE),
        "sparse tf": lambda d, s, t: Query(sparse=t, mode=SearchMode.SPARSE),
    }
    for k in (60, 30, 20, 10, 5, 2):
        out[f"rrf k={k}"] = lambda d, s, t, k=k: Query(dense=d, sparse=s, rrf_k=k)
        for w in (1.5, 2.0):
            out[f"rrf k={k} sparse x{w}"] = lambda d, s, t, k=k, w=w: Query(dense=d, sparse=s, rrf_k=k, sparse_weight=w)
            out[f"rrf k={k} sparse x{w} tf"] = lambda d, s, t, k=k, w=w: Query(dense=d, sparse=t, rrf_k=k, sparse_weight=w)
        out[f"rrf k={k} tf"] = lambda d, s, t, k=k: Query(dense=d, sparse=t, rrf_k=k)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=["nta_faq", "diet_qa", "lawqa"])
    parser.add_argument("--only", nargs="*", default=None, help="variant names to run (default: all)")
    args = parser.parse_args()
    settings = Settings.load()
    model_key = embedder_key(settings.embedding)
    base = embedder_from_settings(settings.embedding)
    sparse = SparseEncoder()
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name in args.sets:
        ds = load_beir(DATASETS / name, name)
        info = ensure_index(ds, settings, base, sparse, default_work_dir(settings), model_key)
        cache = CachedEmbedder(base, default_work_dir(settings) / "embeddings" / model_key / f"{name}-tune-queries.npz")
        queries = ds.judged_queries
        texts = [normalize(q.text) for q in queries]
        dense = [cache.embed_query(t) for t in texts]
        cache.save()
        plain = [sparse.encode_query(t) for t in texts]
        tf = [tf_query(sparse, t) for t in texts]
        index = EdgeIndex(info.path, base.dimension, read_only=True)
        try:
            for label, make in variants().items():
                if args.only and label not in args.only:
                    continue
                rows, times = [], []
                for q, d, s, t in zip(queries, dense, plain, tf):
                    started = time.perf_counter()
                    hits = index.search(make(d, s, t), EVAL_ACCESS, None, DEPTH)
                    times.append(time.perf_counter() - started)
                    ranked = rank_documents((str(h.payload.get("record_id") or h.payload["doc_id"]), h.score) for h in hits)
                    rows.append(query_metrics(ranked, ds.relevant[q.query_id], 10))
                m = mean_metrics(rows)
                p95 = sorted(times)[int(0.95 * (len(times) - 1))] * 1000
                table.setdefault(label, {})[name] = (m["ndcg@10"], m["recall@10"], p95)
                print(f"{name:8s} {label:28s} nDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}  index p95 {p95:.1f} ms", flush=True)
        finally:
            index.close()
    print("\n| variant | " + " | ".join(f"{s} nDCG@10 / R@10" for s in args.sets) + " |")
    print("|---|" + "---:|" * len(args.sets))
    for label, per in table.items():
        print(f"| {label} | " + " | ".join(f"{per[s][0]:.4f} / {per[s][1]:.4f}" if s in per else "" for s in args.sets) + " |")


if __name__ == "__main__":
    main()
