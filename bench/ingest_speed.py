"""Ingestion benchmark: documents/s, chunks/s, peak RSS and index size, from scratch.

Scenarios (each in a fresh process so peak RSS is its own):
  samples  - data_samples/
  dev      - the three dev corpora of eval/datasets together (nta_faq, diet_qa, lawqa)

Usage: .venv/bin/python bench/ingest_speed.py [samples|dev|all] [--precision auto|bf16|onnx-int8|int8|fp32]
       [--no-fused] [--no-overlap]   (the sentence-transformers bf16 forward; embedding and the
                                      rest of the pipeline one after the other: to compare)
The load average at the start of each run is in the table: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "eval" / "datasets"  # copies of the shared dev sets


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_one(scenario: str, precision: str, fused: bool = True, overlap: bool = True) -> dict:
    """Ingest one scenario into a new index in this process; return the measurements."""
    from ingest.pipeline import Ingestor
    from retrieval.embedder import embedder_from_settings
    from retrieval.index import open_index
    from retrieval.settings import Settings
    from retrieval.text.sparse import SparseEncoder

    work = Path(tempfile.mkdtemp(prefix="gyosei-bench-"))
    try:
        settings = Settings.load(index={"path": str(work / "index")}, embedding={"precision": precision})
        embedder = embedder_from_settings(settings.embedding)
        embedder.fused = fused  # type: ignore[attr-defined]  # read when the model loads
        embedder.embed_query("準備")  # load the model outside the timing
        if scenario == "samples":
            paths = [ROOT / "data_samples"]
        else:
            paths = []
            for name in ("nta_faq", "diet_qa", "lawqa"):
                # The records reader names documents by file stem: give each corpus its own name.
                link = work / "dev" / f"{name}.jsonl"
                link.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(EVAL / name / "corpus.jsonl", link)
            paths = [work / "dev"]
        index = open_index(settings.index, embedder.dimension)
        ingestor = Ingestor(index, embedder, SparseEncoder(), settings.chunk, settings.security, settings.data_dir, overlap=overlap)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        report = ingestor.ingest(paths)
        seconds = time.perf_counter() - started
        index.close()
        return {
            "scenario": scenario,
            "precision": getattr(embedder, "path", precision) + ("" if fused else " st") + ("" if overlap else " serial"),
            "files": len(report.files),
            "failed": report.failed,
            "documents": report.documents,
            "chunks": report.chunks,
            "seconds": round(seconds, 1),
            "docs_per_s": round(report.documents / seconds, 1),
            "chunks_per_s": round(report.chunks / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "index_mb": round(_dir_size(work / "index") / 2**20, 1),
            "load_avg": round(load, 1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", default="all", choices=["samples", "dev", "all"])
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "onnx-int8", "int8", "fp32"])
    parser.add_argument("--no-fused", action="store_true", help="bf16 through sentence-transformers' forward")
    parser.add_argument("--no-overlap", action="store_true", help="embed and write batches one after the other")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.scenario, args.precision, not args.no_fused, not args.no_overlap), ensure_ascii=False))
        return
    scenarios = ["samples", "dev"] if args.scenario == "all" else [args.scenario]
    rows = []
    for scenario in scenarios:
        flags = ["--no-fused"] * args.no_fused + ["--no-overlap"] * args.no_overlap
        out = subprocess.run([sys.executable, __file__, scenario, "--precision", args.precision, *flags, "--child"],
                             check=True, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
