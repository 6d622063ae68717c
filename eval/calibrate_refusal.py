"""Calibrate the answer's relevance threshold (``answer.min_relevance``) on the dev sets.

An answer is given only when some retrieved passage's cosine with the question (the embedder's
own vectors) reaches the threshold. The threshold trades answering against refusing:

* positives: each dev set's own queries against its own corpus, counted when a gold document is
  among the passages an answer would use (top ``passages`` hybrid hits): these should be answered;
* negatives: the other dev sets' queries against the corpus (a different domain: tax FAQ vs Diet
  speeches vs financial law), and the hand-written out-of-scope questions against every corpus:
  these should be refused.

For each candidate threshold it prints the answer rate on positives and the refusal rate on
negatives, and recommends the one with the best balanced accuracy (ties: the higher threshold,
since no answer beats a wrong one).

Usage: .venv/bin/python -m eval.calibrate_refusal [--per-set 150] [--out eval/reports/calibration.json]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from eval.beir import load_beir
from eval.embed_cache import embedder_key
from eval.retrieval_eval import default_work_dir, ensure_index
from retrieval.answer import relevance
from retrieval.embedder import embedder_from_settings
from retrieval.index.edge import EdgeIndex
from retrieval.search import Searcher
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access

DATASETS = Path(__file__).resolve().parent / "datasets"
SETS = ("nta_faq", "diet_qa", "lawqa")
ACCESS = Access(clearance=3, groups=["all"])
SEED = 20261122


def top_relevance(searcher: Searcher, question: str, passages: int) -> tuple[float, list[str]]:
    """Best question-passage cosine among the passages an answer would use, and their record ids."""
    qv = list(searcher.embedder.embed_query(question))
    plan = searcher.plan(question)
    hits = searcher.search_plan(plan, ACCESS, "hybrid", passages, with_dense=True, query_vector=qv)
    ids = [str(h.payload.get("record_id") or h.payload.get("doc_id")) for h in hits]
    return max((relevance(qv, h) for h in hits), default=0.0), ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=150, help="queries sampled from each dev set")
    parser.add_argument("--out", type=Path, default=Path("eval/reports/calibration.json"))
    args = parser.parse_args()

    settings = Settings.load()
    embedder = embedder_from_settings(settings.embedding)
    sparse = SparseEncoder()
    rng = random.Random(SEED)
    sets = {name: load_beir(DATASETS / name, name) for name in SETS}
    samples = {name: rng.sample(ds.judged_queries, min(args.per_set, len(ds.judged_queries))) for name, ds in sets.items()}
    oos = [json.loads(line)["text"] for line in (DATASETS / "out_of_scope" / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]

    positives: list[float] = []
    negatives: list[float] = []
    missed = 0
    for name, ds in sets.items():
        info = ensure_index(ds, settings, embedder, sparse, default_work_dir(settings), embedder_key(settings.embedding))
        index = EdgeIndex(info.path, embedder.dimension, read_only=True)
        searcher = Searcher(index, embedder, sparse, rrf_k=settings.search.rrf_k)
        try:
            for q in samples[name]:
                score, ids = top_relevance(searcher, q.text, settings.answer.passages)
                if ds.relevant.get(q.query_id, set()) & set(ids):
                    positives.append(score)
                else:
                    missed += 1  # retrieval missed: neither a fair positive nor a negative
            for other, qs in samples.items():
                if other != name:
                    negatives += [top_relevance(searcher, q.text, settings.answer.passages)[0] for q in qs[: args.per_set // 2]]
            negatives += [top_relevance(searcher, q, settings.answer.passages)[0] for q in oos]
        finally:
            index.close()

    rows = []
    for i in range(0, 31):
        t = round(0.80 + i * 0.005, 3)
        answered = sum(p >= t for p in positives) / len(positives)
        refused = sum(n < t for n in negatives) / len(negatives)
        rows.append({"threshold": t, "answer_rate_positives": round(answered, 3), "refusal_rate_negatives": round(refused, 3),
                     "balanced_accuracy": round((answered + refused) / 2, 3)})
    best = max(rows, key=lambda r: (r["balanced_accuracy"], r["threshold"]))
    print(f"positives {len(positives)} (retrieval missed {missed}), negatives {len(negatives)}")
    print("threshold  answered(pos)  refused(neg)  balanced")
    for r in rows:
        mark = "  <- recommended" if r is best else ""
        print(f"  {r['threshold']:.3f}      {r['answer_rate_positives']:.3f}         {r['refusal_rate_negatives']:.3f}      "
              f"{r['balanced_accuracy']:.3f}{mark}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": embedder_key(settings.embedding), "positives": len(positives),
                                    "negatives": len(negatives), "missed": missed, "rows": rows, "recommended": best},
                                   ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
