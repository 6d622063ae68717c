"""Past-answer retrieval on diet_qa: is the real government answer among the top past answers?

Each query is a member's speech; its gold document is the government answer that followed it.
For every query the product's question analysis splits it into 論点 and
``PastAnswerFinder.find_for_question`` fuses the whole-question search with each point's search
(policy terms weighted up). The query's own date, house and committee are never used (that would
look the answer up). Reported: the share of questions whose answer is in the top ``k`` (target
>= 0.70 at k=5) and MRR@10, next to the plain hybrid search of the whole question (the baseline
the finder must not lose to).

The corpus is indexed once by :func:`eval.retrieval_eval.ensure_index` (cached under var/eval,
reused when unchanged); vectors come from the shared embedding cache.

Usage: .venv/bin/python -m eval.past_answers_eval --dataset eval/datasets/diet_qa [--limit N] [--out report.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

from eval.beir import BeirQuery, load_beir
from eval.embed_cache import CachedEmbedder, LazyEmbedder, embedder_key
from eval.metrics import first_relevant_rank
from eval.retrieval_eval import EVAL_ACCESS, default_work_dir, ensure_index
from retrieval.past_answers import PastAnswerFinder
from retrieval.question_analysis import analyze_question
from retrieval.search import QueryPlan, Searcher
from retrieval.settings import IndexSettings, Settings
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder

__all__ = ["evaluate_past_answers"]


def _record_id(payload: dict[str, Any]) -> str:
    return str(payload.get("record_id") or payload.get("doc_id"))


def evaluate_past_answers(dataset_dir: Path, settings: Settings, *, limit: int | None = None, k: int = 5,
                          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Top-``k`` share and MRR@10 of the finder and of the plain whole-question hybrid search."""
    from retrieval.index import open_index

    ds = load_beir(Path(dataset_dir))
    work_dir = default_work_dir(settings)
    model_key = embedder_key(settings.embedding)
    sparse = SparseEncoder()


    cached = CachedEmbedder(LazyEmbedder(settings.embedding), work_dir / "embeddings" / model_key / f"{ds.name}.npz")
    info = ensure_index(ds, settings, cached, sparse, work_dir, model_key)
    index = open_index(IndexSettings(backend="edge", path=info.path), cached.dimension, read_only=True)
    queries: list[BeirQuery] = ds.judged_queries[:limit] if limit else ds.judged_queries
    rows = []
    started = time.perf_counter()
    try:
        searcher = Searcher(index, cached, sparse, rrf_k=settings.search.rrf_k)
        finder = PastAnswerFinder(searcher, speech_types=None)  # the corpus: answers stored as records
        for n, query in enumerate(queries, start=1):
            gold = ds.relevant[query.query_id]
            analysis = analyze_question(query.text)
            found = finder.find_for_question(analysis, EVAL_ACCESS, k=10)
            ranked = [_record_id(pa.answer.payload) for pa in found]
            # Baseline: the product's hybrid search of the whole speech, no date phrases applied.
            hits = searcher.search_plan(QueryPlan(normalize(query.text), None), EVAL_ACCESS, "hybrid", 30)
            base = list(dict.fromkeys(_record_id(h.payload) for h in hits))[:10]
            rows.append({"query_id": query.query_id, "points": len(analysis.points),
                         "finder_rank": first_relevant_rank(ranked, gold), "hybrid_rank": first_relevant_rank(base, gold),
                         "via": next((pa.via for pa in found if _record_id(pa.answer.payload) in gold), None),
                         "gold_relevance": next((pa.answer.payload.get("relevance") for pa in found
                                                 if _record_id(pa.answer.payload) in gold), None),
                         "top_relevance": found[0].answer.payload.get("relevance") if found else None})
            if progress is not None:
                progress(n, len(queries))
    finally:
        index.close()
        cached.save()
    seconds = time.perf_counter() - started

    def summary(key: str) -> dict[str, float]:
        ranks = [r[key] for r in rows]
        return {f"top{k}": round(sum(1 for x in ranks if x and x <= k) / len(ranks), 4),
                "top1": round(sum(1 for x in ranks if x == 1) / len(ranks), 4),
                "mrr@10": round(sum(1 / x for x in ranks if x and x <= 10) / len(ranks), 4)}

    return {"dataset": ds.name, "queries": len(rows), "limit": limit, "k": k, "index": str(info.path),
            "finder": summary("finder_rank"), "hybrid_whole_question": summary("hybrid_rank"),
            "mean_points": round(sum(r["points"] for r in rows) / max(1, len(rows)), 2),
            "seconds": round(seconds, 1), "rows": rows}


def main(argv: list[str] | None = None) -> None:
    """Command line: print the metrics (and write the whole report with ``--out``)."""
    parser = argparse.ArgumentParser(description="過去答弁検索の評価（diet_qa: 実際の答弁が上位k件に入る割合とMRR）")
    parser.add_argument("--dataset", type=Path, default=Path("eval/datasets/diet_qa"))
    parser.add_argument("--limit", type=int, default=None, help="最初のN問だけ評価する")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    def progress(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            print(f"  {done}/{total} 問", flush=True)

    report = evaluate_past_answers(args.dataset, Settings.load(), limit=args.limit, k=args.k, progress=progress)
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}, ensure_ascii=False, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
