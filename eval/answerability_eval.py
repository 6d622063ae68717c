"""Does the product answer what its documents answer, and refuse what they do not?

Two kinds of evidence, both through the product's search and its relevance gate
(:class:`retrieval.relevance.RelevanceGate`, the settings' thresholds):

* the answerability set (``eval/datasets/answerability``): short typed questions over
  data_samples, written by a reader of the corpus (not by this code), labelled answerable or not;
  an answerable one counts as answered when the gate passes, and as answered *from the right
  file* when the passages it passes include the file that holds the answer;
* the dev sets (nta_faq, diet_qa, lawqa): each set's queries against its own corpus when
  retrieval found a gold document (should be answered), other sets' queries and the
  out-of-scope questions against it (should be refused), as ``eval/calibrate_refusal.py``.

Usage: .venv/bin/python -m eval.answerability_eval [--per-set 100] [--no-dev] [--grid]
Writes eval/reports/answerability.json and .md. ``--grid`` prints the rates for a grid of
thresholds (for calibrating a new model; report the chosen row, and that it was chosen on these sets).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from pathlib import Path

from retrieval.answer import relevance
from retrieval.relevance import RelevanceGate, judged_text
from retrieval.settings import Settings
from retrieval.types import Access

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "eval" / "datasets"
SETS = ("nta_faq", "diet_qa", "lawqa")
ACCESS = Access(clearance=3, groups=["all"])
SEED = 20261202


def passages(searcher, question: str, k: int) -> list[tuple[float, str, str, str]]:
    """(cosine, judged text, record id, file) of the passages an answer would consider."""
    qv = list(searcher.embedder.embed_query(question))
    hits = searcher.search_plan(searcher.plan(question), ACCESS, "hybrid", k, with_dense=True, query_vector=qv)
    return [(relevance(qv, h), judged_text(h.text, h.payload),
             str(h.payload.get("record_id") or h.payload.get("doc_id")), str(h.payload.get("source_path") or "")) for h in hits]


def sample_index(settings: Settings, embedder, sparse, work: Path):
    """data_samples indexed through the product's Ingestor (unchanged files are skipped)."""
    from ingest.pipeline import Ingestor
    from retrieval.index import open_index
    from retrieval.settings import IndexSettings

    index = open_index(IndexSettings(backend="edge", path=work / "data_samples-index"), embedder.dimension)
    Ingestor(index, embedder, sparse, settings.chunk, settings.security, ROOT / "data_samples").ingest([ROOT / "data_samples"])
    index.flush()
    return index


def collect(settings: Settings, per_set: int, dev: bool) -> dict:
    """Every question's passages, once (the gate is then cheap to re-run)."""
    from eval.beir import load_beir
    from eval.embed_cache import embedder_key
    from eval.retrieval_eval import default_work_dir, ensure_index
    from retrieval.embedder import embedder_from_settings
    from retrieval.index.edge import EdgeIndex
    from retrieval.search import Searcher
    from retrieval.text.sparse import SparseEncoder

    embedder = embedder_from_settings(settings.embedding)
    sparse = SparseEncoder()
    k = settings.answer.passages
    work = default_work_dir(settings)
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {"answerability": []}
    index = sample_index(settings, embedder, sparse, work)
    try:
        searcher = Searcher(index, embedder, sparse, rrf_k=settings.search.rrf_k)
        for line in (DATASETS / "answerability" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                rows["answerability"].append({"id": q["_id"], "text": q["text"], "answerable": q["answerable"],
                                              "kind": q["kind"], "file": q.get("file") or "",
                                              "passages": passages(searcher, q["text"], k)})
    finally:
        index.close()
    if not dev:
        return rows
    rng = random.Random(SEED)
    sets = {name: load_beir(DATASETS / name, name) for name in SETS}
    samples = {name: rng.sample(ds.judged_queries, min(per_set, len(ds.judged_queries))) for name, ds in sets.items()}
    oos = [json.loads(x)["text"] for x in (DATASETS / "out_of_scope" / "queries.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows["dev"] = []
    for name, ds in sets.items():
        info = ensure_index(ds, settings, embedder, sparse, work, embedder_key(settings.embedding))
        index = EdgeIndex(info.path, embedder.dimension, read_only=True)
        try:
            searcher = Searcher(index, embedder, sparse, rrf_k=settings.search.rrf_k)
            for q in samples[name]:
                found = passages(searcher, q.text, k)
                if ds.relevant.get(q.query_id, set()) & {p[2] for p in found}:
                    rows["dev"].append({"set": name, "text": q.text, "answerable": True, "passages": found})
            for other, qs in samples.items():
                if other != name:
                    rows["dev"] += [{"set": name, "from": other, "text": q.text, "answerable": False,
                                     "passages": passages(searcher, q.text, k)} for q in qs[: per_set // 2]]
            rows["dev"] += [{"set": name, "from": "out_of_scope", "text": t, "answerable": False,
                             "passages": passages(searcher, t, k)} for t in oos]
        finally:
            index.close()
    return rows


def rates(rows: list[dict], gate: RelevanceGate) -> dict:
    """Answer rate on answerable rows, refusal rate on the others, and the right-file rate."""
    answered = refused = right = 0
    pos = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    errors = []
    for r in rows:
        j = gate.judge(r["text"], [(p[0], p[1]) for p in r["passages"]])
        r["verdict"], r["reason"] = j.answerable, j.reason
        if r["answerable"] and j.answerable:
            answered += 1
            if r.get("file"):
                right += any(ok and r["file"] in p[3] for ok, p in zip(j.relevant, r["passages"]))
        elif not r["answerable"] and not j.answerable:
            refused += 1
        else:
            errors.append(r)
    with_file = [r for r in pos if r.get("file")]
    return {"answerable": len(pos), "unanswerable": len(neg),
            "answer_rate": round(answered / len(pos), 3) if pos else None,
            "refusal_rate": round(refused / len(neg), 3) if neg else None,
            "right_file_rate": round(right / len(with_file), 3) if with_file else None,
            "errors": [{"text": e["text"], "answerable": e["answerable"], "reason": e["reason"]} for e in errors]}


def gate_of(settings: Settings) -> RelevanceGate:
    a = settings.answer
    return RelevanceGate(floor=a.floor_relevance, mid=a.mid_relevance, sure=a.min_relevance, min_coverage=a.min_coverage)


def markdown(report: dict) -> str:
    g = report["gate"]
    lines = ["# 回答可否の評価（関連性の判定）", "",
             f"判定のしきい値: 下限 {g['floor']} / 中間 {g['mid']} / 基準 {g['sure']}、基準以上で必要な内容語の割合 {g['min_coverage']}（モデル {report['model']}）", "",
             "| セット | 答えられる質問 | 答えた割合 | 答えられない質問 | 答えなかった割合 | 正しい資料から |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in report["sets"].items():
        rf = "" if r["right_file_rate"] is None else f"{r['right_file_rate']:.1%}"
        lines.append(f"| {name} | {r['answerable']} | {r['answer_rate']:.1%} | {r['unanswerable']} | {r['refusal_rate']:.1%} | {rf} |")
    lines += ["", "## 判定を誤った質問（回答可否セット）", ""]
    for e in report["sets"]["answerability"]["errors"]:
        lines.append(f"- {'答えるべきなのに拒否' if e['answerable'] else '拒否すべきなのに回答'}: 「{e['text']}」 — {e['reason']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=100, help="queries sampled from each dev set")
    parser.add_argument("--no-dev", action="store_true", help="the answerability set only")
    parser.add_argument("--grid", action="store_true", help="print rates for a grid of thresholds")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "answerability.json")
    parser.add_argument("--rows", type=Path, default=None,
                        help="reuse (or write) the searched passages here: re-running the gate is then instant")
    args = parser.parse_args()
    settings = Settings.load()
    started = time.perf_counter()
    if args.rows is not None and args.rows.exists():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect(settings, args.per_set, not args.no_dev)
        if args.rows is not None:
            args.rows.parent.mkdir(parents=True, exist_ok=True)
            args.rows.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    if args.grid:
        for floor, mid, sure in itertools.product((0.84, 0.845, 0.85, 0.86), (0.88, 0.885, 0.89), (0.895, 0.9, 0.905, 0.91)):
            gate = RelevanceGate(floor=floor, mid=mid, sure=sure)
            got = {name: rates(r, gate) for name, r in rows.items()}
            print(floor, mid, sure, "  ".join(f"{n}: {g['answer_rate']:.3f}/{g['refusal_rate']:.3f}" for n, g in got.items()))
    gate = gate_of(settings)
    from eval.embed_cache import embedder_key

    report = {"model": embedder_key(settings.embedding), "gate": {"floor": gate.floor, "mid": gate.mid, "sure": gate.sure, "min_coverage": gate.min_coverage},
              "sets": {name: rates(r, gate) for name, r in rows.items()}, "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
