"""Tune hybrid fusion on the dev sets: the RRF constant, per set, from cached
indexes and cached query vectors (each variant is index queries only: seconds per set).

Prints document-level nDCG@10 for dense, sparse and each hybrid variant. Dev sets only: the
defaults chosen from this (``SearchSettings``) must hold on every set, not win one of them.

Usage: .venv/bin/python -m eval.tune_fusion [--sets nta_faq diet_qa lawqa]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.beir import load_beir
from eval.embed_cache import CachedEmbedder, embedder_key
from eval.metrics import mean_metrics, query_metrics, rank_documents
from eval.retrieval_eval import EVAL_ACCESS, default_work_dir, ensure_index
from retrieval.embedder import embedder_from_settings
from retrieval.index.edge import EdgeIndex
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder
from retrieval.settings import Settings
from retrieval.types import Query, SearchMode

DATASETS = Path(__file__).resolve().parent / "datasets"
DEPTH = 50
RRF_KS = (60, 30, 20, 10, 5, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=["nta_faq", "diet_qa", "lawqa"])
    args = parser.parse_args()
    settings = Settings.load()
    model_key = embedder_key(settings.embedding)
    base = embedder_from_settings(settings.embedding)
    sparse = SparseEncoder()
    for name in args.sets:
        ds = load_beir(DATASETS / name, name)
        info = ensure_index(ds, settings, base, sparse, default_work_dir(settings), model_key)
        cache = CachedEmbedder(base, default_work_dir(settings) / "embeddings" / model_key / f"{name}-tune-queries.npz")
        queries = ds.judged_queries
        texts = [normalize(q.text) for q in queries]
        dense = [cache.embed_query(t) for t in texts]
        cache.save()
        sparse_q = [sparse.encode_query(t) for t in texts]
        index = EdgeIndex(info.path, base.dimension, read_only=True)
        try:
            def run(make_query) -> float:
                rows = []
                for q, d, s in zip(queries, dense, sparse_q):
                    hits = index.search(make_query(d, s), EVAL_ACCESS, None, DEPTH)
                    ranked = rank_documents((str(h.payload.get("record_id") or h.payload["doc_id"]), h.score) for h in hits)
                    rows.append(query_metrics(ranked, ds.relevant[q.query_id], 10))
                return mean_metrics(rows)["ndcg@10"]

            print(f"== {name} ({len(queries)} queries)")
            print(f"  dense            {run(lambda d, s: Query(dense=d, mode=SearchMode.DENSE)):.4f}")
            print(f"  sparse           {run(lambda d, s: Query(sparse=s, mode=SearchMode.SPARSE)):.4f}")
            for k in RRF_KS:
                score = run(lambda d, s: Query(dense=d, sparse=s, mode=SearchMode.HYBRID, rrf_k=k))
                print(f"  hybrid rrf_k={k:<3d}    {score:.4f}")
        finally:
            index.close()


if __name__ == "__main__":
    main()
