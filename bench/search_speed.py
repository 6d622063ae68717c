"""Search and answer latency on a real ~10k-chunk index, query embedding included.

The index is data_samples plus the three dev corpora (nta_faq, diet_qa, lawqa), merged without
re-embedding from indexes that already exist: the app's index (``make run``) and the eval
harness's cached ones (``gyosei eval retrieval``). Queries are the dev sets' own queries, cut
to 200 characters (a typed question, not a pasted speech), shuffled with a fixed seed.

Measured per query, after a warm-up: hybrid search (normalize, embed, sparse, Edge RRF query),
and the extractive answer end to end (search + relevance gate + sentence selection).
Growth with 10x more points is in bench/index_speed.py (synthetic vectors).

Usage: .venv/bin/python bench/search_speed.py [--queries 200] [--sources var/index var/eval/<set>-<hash>/index ...]
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import qdrant_edge as qe  # noqa: E402

from retrieval.index.base import DENSE_VECTOR, SPARSE_VECTOR  # noqa: E402


def merge_indexes(sources: list[Path], target: Path, dimension: int) -> int:
    """Copy every point (vectors and payload) of ``sources`` into a new Edge index at ``target``."""
    from retrieval.index.edge import EdgeIndex

    merged = EdgeIndex(target, dimension)
    total = 0
    for src in sources:
        shard = qe.EdgeShard.load(str(src))
        offset = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=512, with_payload=True, with_vector=True)
            records, offset = shard.scroll(request)
            points = [
                qe.Point(id=r.id, vector={DENSE_VECTOR: r.vector[DENSE_VECTOR], SPARSE_VECTOR: r.vector[SPARSE_VECTOR]},
                         payload=r.payload)
                for r in records
            ]
            if points:
                merged._shard.update(qe.UpdateOperation.upsert_points(points))
                total += len(points)
            if offset is None:
                break
        shard.close()
    merged.flush()
    merged.close()
    return total


def latest_eval_indexes() -> list[str]:
    """The newest cached eval index of each dev set (older configs leave stale copies behind)."""
    newest: dict[str, Path] = {}
    for folder in map(Path, glob.glob("var/eval/*-*/index")):
        name = folder.parent.name.rsplit("-", 1)[0]
        if name not in newest or folder.stat().st_mtime > newest[name].stat().st_mtime:
            newest[name] = folder
    return [str(p) for _, p in sorted(newest.items())]


def dev_queries(n: int) -> list[str]:
    texts = []
    for name in ("nta_faq", "diet_qa", "lawqa"):
        path = ROOT / "eval" / "datasets" / name / "queries.jsonl"
        texts += [json.loads(line)["text"][:200] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(20261122).shuffle(texts)
    return texts[:n]


def percentiles(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {
        "p50_ms": round(1000 * statistics.median(xs), 1),
        "p95_ms": round(1000 * xs[min(len(xs) - 1, int(0.95 * len(xs)))], 1),
        "mean_ms": round(1000 * statistics.fmean(xs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sources", nargs="*", default=None)
    args = parser.parse_args()

    from app.factory import build_answerer, build_embedder
    from retrieval.index.edge import EdgeIndex
    from retrieval.settings import Settings
    from retrieval.types import Access

    sources = [Path(p) for p in (args.sources or ["var/index", *latest_eval_indexes()])]
    sources = [p for p in sources if (p / "edge_config.json").exists()]
    settings = Settings.load()
    embedder = build_embedder(settings)
    work = Path(tempfile.mkdtemp(prefix="gyosei-search-bench-"))
    try:
        started = time.perf_counter()
        points = merge_indexes(sources, work / "index", embedder.dimension)
        print(f"merged {points} points from {len(sources)} indexes in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        index = EdgeIndex(work / "index", embedder.dimension, read_only=True)
        answerer = build_answerer(settings, embedder, index)
        access = Access(clearance=1, groups=["all"])
        queries = dev_queries(args.queries)
        for q in queries[:10]:  # warm-up: model, tagger, Edge caches
            answerer.answer(q, access)
        search_t, answer_t, refused = [], [], 0
        for q in queries:
            t = time.perf_counter()
            answerer.searcher.search(q, access, k=10)
            search_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            result = answerer.answer(q, access)
            answer_t.append(time.perf_counter() - t)
            refused += result.refused
        index.close()
        report = {
            "points": points,
            "queries": len(queries),
            "hybrid_search": percentiles(search_t),
            "extractive_answer": percentiles(answer_t),
            "refused": refused,
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
