"""Index benchmark: upsert rate, flush/optimize time and query latency through the ``Index`` seam.

Synthetic data shaped like ours: 384-d unit vectors (e5-small size), sparse vectors of ~30 terms
drawn from a Zipf vocabulary (like fugashi lemmas), payloads with a ~400-character text and the
filter fields. Every query carries the access filter, as in production.

Scenarios: Qdrant Edge at 10k and 100k points (dense, sparse, hybrid, filtered hybrid), and hybrid
on qdrant-client local mode at 10k for comparison (the server stand-in, brute force in Python).

Usage: .venv/bin/python bench/index_speed.py [--sizes 10000 100000] [--queries 200] [--local 10000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.types import DOC_TYPES, Access, Chunk, Filters, Query, SearchMode, SparseVector  # noqa: E402

DIM = 384
VOCAB = 50_000
TERMS = 30
TEXT = (ROOT / "data_samples" / "white_paper" / "r05_chapter5_soumu_ict_policy.txt")
ACCESS = Access(clearance=2, groups=["soumu"])
FILTERED = Filters(doc_types=["diet_speech", "faq"], date_from="2020-01-01", date_to="2023-12-31")


def sparse_sample(rng: np.random.Generator) -> SparseVector:
    ids = np.unique(np.minimum(rng.zipf(1.3, size=TERMS), VOCAB) - 1)
    return SparseVector(indices=ids.tolist(), values=rng.integers(1, 4, size=len(ids)).astype(float).tolist())


def make_chunks(n: int, seed: int = 0) -> list[Chunk]:
    rng = np.random.default_rng(seed)
    text = TEXT.read_text(encoding="utf-8") if TEXT.exists() else "行政文書の本文です。" * 100
    dense = rng.standard_normal((n, DIM), dtype=np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    chunks = []
    for i in range(n):
        start = int(rng.integers(0, max(1, len(text) - 400)))
        doc = i // 8
        chunks.append(Chunk(
            doc_id=f"doc{doc}", ordinal=i % 8, text=text[start:start + 400], title=f"文書{doc}",
            doc_type=DOC_TYPES[int(rng.integers(0, len(DOC_TYPES)))],
            date=f"{int(rng.integers(2015, 2025))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}",
            confidentiality=int(rng.choice([1, 1, 1, 2, 3])), groups=["all"] if rng.random() < 0.9 else ["finance"],
            content_hash=f"h{doc}", doc_chunks=8,
            extra={"house": "衆議院" if rng.random() < 0.5 else "参議院", "meeting": "予算委員会", "speaker": f"議員{doc % 50}"},
            dense=dense[i].tolist(), sparse=sparse_sample(rng),
        ))
    return chunks


def queries(n: int, seed: int = 1) -> list[Query]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = rng.standard_normal(DIM).astype(np.float32)
        out.append(Query(dense=(d / np.linalg.norm(d)).tolist(), sparse=sparse_sample(rng)))
    return out


def latency(index, qs: list[Query], mode: SearchMode, filters: Filters | None = None) -> tuple[float, float]:
    """p50 and p95 in milliseconds of ``index.search`` (k=10) over ``qs``."""
    times = []
    for q in qs:
        q.mode = mode
        t = time.perf_counter()
        index.search(q, ACCESS, filters, k=10)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def upsert_all(index, chunks: list[Chunk]) -> float:
    t = time.perf_counter()
    for start in range(0, len(chunks), 1024):
        index.upsert(chunks[start:start + 1024])
    return time.perf_counter() - t


def bench_edge(n: int, nq: int, work: Path) -> dict:
    from retrieval.index.edge import EdgeIndex

    chunks = make_chunks(n)
    path = work / f"edge{n}"
    index = EdgeIndex(path, DIM)
    up = upsert_all(index, chunks)
    del chunks
    qs = queries(nq)
    before = latency(index, qs[: max(20, nq // 10)], SearchMode.HYBRID)  # unindexed segments
    t = time.perf_counter()
    index.flush()
    flush = time.perf_counter() - t
    index.close()
    t = time.perf_counter()
    index = EdgeIndex(path, DIM, read_only=True)
    reopen = time.perf_counter() - t
    row = {"backend": "edge", "n": n, "upsert_per_s": n / up, "flush_s": flush, "reopen_s": reopen,
           "hybrid_before_flush": before}
    for name, mode, flt in (("dense", SearchMode.DENSE, None), ("sparse", SearchMode.SPARSE, None),
                            ("hybrid", SearchMode.HYBRID, None), ("hybrid_filtered", SearchMode.HYBRID, FILTERED)):
        row[name] = latency(index, qs, mode, flt)
    # Blocks actually used: Edge preallocates sparse files (two 32 MiB WAL files, mmap storages).
    row["disk_mb"] = sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 1e6
    info = index._shard.info()  # diagnostics only: vectors in indexed segments (dense + sparse counted)
    row["indexed_vecs"] = f"{info.indexed_vectors_count}/{info.points_count}"
    index.close()
    return row


def bench_local(n: int, nq: int) -> dict:
    from qdrant_client import QdrantClient

    from retrieval.index.qdrant import QdrantIndex

    chunks = make_chunks(n)
    index = QdrantIndex(QdrantClient(":memory:"), "bench", DIM, close_client=True)
    up = upsert_all(index, chunks)
    qs = queries(nq)
    row = {"backend": "qdrant-client :memory:", "n": n, "upsert_per_s": n / up,
           "hybrid": latency(index, qs, SearchMode.HYBRID)}
    index.close()
    return row


def fmt(v) -> str:
    if isinstance(v, tuple):
        return f"{v[0]:.2f} / {v[1]:.2f}"
    if isinstance(v, float):
        return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"
    return str(v) if v is not None else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--local", type=int, default=10_000, help="points for qdrant-client local (0: skip)")
    parser.add_argument("--local-queries", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gyosei-index-bench-"))
    rows = []
    try:
        for n in args.sizes:
            rows.append(bench_edge(n, args.queries, work))
            print(f"edge {n}: done", file=sys.stderr)
        if args.local:
            rows.append(bench_local(args.local, args.local_queries))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cols = ["backend", "n", "upsert_per_s", "flush_s", "reopen_s", "disk_mb", "indexed_vecs", "hybrid_before_flush",
            "dense", "sparse", "hybrid", "hybrid_filtered"]
    print("latencies: p50 / p95 ms, k=10, access filter always on")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(fmt(row.get(c)) for c in cols) + " |")


if __name__ == "__main__":
    main()
