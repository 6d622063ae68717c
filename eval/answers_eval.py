"""Answer evaluation: answer each query of a BEIR set with the product's Answerer over the set's
evaluation index, then measure how well the answers stand on their citations.

The index is the one retrieval evaluation builds and caches (:func:`eval.retrieval_eval.ensure_index`,
opened read-only afterwards); the Answerer comes from the caller (the CLI passes
``app.factory.build_answerer``), so what is measured is exactly what users get. Metrics:

* groundedness: share of answer sentences backed by a passage they cite: the product's support
  judge (:class:`retrieval.support_judge.SupportJudge`, at its shipped threshold; or, with an LLM
  judge, "entailment") says supported and no contradiction with that passage (the rule checker,
  :class:`retrieval.verify.ContradictionChecker`);
* citation precision: share of (sentence, cited passage) pairs where the passage backs the sentence;
* citation recall: share of answered queries whose gold document is among the cited sources
  (document level: payload ``record_id``, else ``doc_id``, as in retrieval evaluation);
* answer / refusal rate; latency p50/p95 of ``Answer.timings["total"]``.

Usage::

    report = evaluate_answers(Path("eval/datasets/nta_faq"), settings, build_answerer, limit=100)
    report["metrics"]["groundedness"]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from eval.beir import BeirDataset, BeirQuery, load_beir
from eval.embed_cache import CachedEmbedder, embedder_key
from eval.report import SCHEMA_VERSION, package_versions, settings_summary
from eval.retrieval_eval import EVAL_ACCESS, _Partial, default_work_dir, ensure_index, index_key, query_today
from retrieval.answer import Answerer
from retrieval.answer_types import Answer, Source
from retrieval.embedder import Embedder
from retrieval.errors import GyoseiError, LLMError
from retrieval.index.base import Index
from retrieval.nli import NLIJudge
from retrieval.settings import IndexSettings, Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.verify import ContradictionChecker

__all__ = ["evaluate_answers", "answer_row", "summarize", "markdown_answers", "build_answers_report", "METRIC_NAMES",
           "METRIC_LABELS", "ANSWERS_FORMAT", "ANSWERS_SCHEMA_PATH"]

Progress = Callable[[str, int, "int | None"], None]
BuildAnswerer = Callable[[Settings, Embedder, Index], Answerer]

ANSWERS_SCHEMA_PATH = Path(__file__).with_name("schemas") / "answers_report.schema.json"
ANSWERS_FORMAT = 1  # bump when this module changes how an answer is judged
SYSTEM = "answers"  # the partial file's system column
METRIC_NAMES = ("groundedness", "citation_precision", "citation_recall", "gold_cited_all", "gold_in_sources",
                "answer_rate", "refusal_rate", "sentences_per_answer", "latency_p50_s", "latency_p95_s")


def _doc_of(source: Source) -> str:
    """The BEIR document id of a source (the records reader keeps it as ``record_id``)."""
    return str(source.payload.get("record_id") or source.doc_id)


def _short_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:10]


class _PairJudge:
    """Do cited passages back their sentences? Support score + rule checker, or the LLM judge."""

    def __init__(self, answerer: Answerer, checker: ContradictionChecker | None, llm_judge: NLIJudge | None) -> None:
        self.scorer, self.checker, self.llm_judge = answerer.scorer, checker, llm_judge
        self.fallbacks = 0  # LLM judge failures answered by the support score instead

    def judge_source(self, sentences: list[str], source: Source) -> list[dict[str, Any]]:
        """One verdict per sentence citing ``source`` (the checker sees them in one call: the
        passage's sentences are embedded once)."""
        conflicts = self.checker.check(sentences, [source]) if self.checker is not None else []
        out = []
        for sentence in sentences:
            backed = self.scorer.judge(sentence, source.text)
            mine = [c for c in conflicts if c.claim == sentence]
            verdict: dict[str, Any] = {"n": source.n, "doc": _doc_of(source), "support": backed.probability,
                                       "support_label": backed.label, "note": backed.note,
                                       "conflicts": [{"kind": c.kind, "reason": c.reason, "evidence": c.evidence} for c in mine]}
            supported = backed.supported
            if self.llm_judge is not None:
                try:
                    label, prob = self.llm_judge.judge(source.text, sentence)
                    verdict["judge"] = {"label": label, "prob": round(float(prob), 4)}
                    supported = label == "entailment"
                except LLMError as exc:
                    self.fallbacks += 1
                    verdict["judge"] = {"error": str(exc)}
            verdict["supports"] = bool(supported and not mine)
            out.append(verdict)
        return out


def answer_row(query: BeirQuery, gold: set[str], answer: Answer, judge: _PairJudge) -> dict[str, Any]:
    """One per-item row: the answer, each sentence's cited passages judged, the gold documents' fate."""
    started = time.perf_counter()
    by_n = {s.n: s for s in answer.sources}
    verdicts: dict[tuple[int, int], dict[str, Any]] = {}  # (sentence index, source number) -> verdict
    for n, source in by_n.items():
        citing = [i for i, s in enumerate(answer.sentences) if n in s.citations]
        if citing:
            # An attributed quote (「…」と定めています) is judged on the source's words it quotes: the
            # frame around them is the source's own metadata (law, article, speaker).
            texts = [answer.sentences[i].quote or answer.sentences[i].text for i in citing]
            for i, verdict in zip(citing, judge.judge_source(texts, source)):
                verdicts[(i, n)] = verdict
    sentences = []
    for i, sent in enumerate(answer.sentences):
        cited = [verdicts[(i, n)] for n in sent.citations if (i, n) in verdicts]
        sentences.append({
            "text": sent.text, "citations": list(sent.citations), "support": sent.support, "flags": list(sent.flags),
            "cited": cited, "grounded": bool(cited) and any(c["supports"] for c in cited),
        })
    cited_docs = sorted({_doc_of(s) for s in answer.cited_sources})
    source_docs = list(dict.fromkeys(_doc_of(s) for s in answer.sources))
    return {
        "system": SYSTEM,
        "query_id": query.query_id,
        "gold": sorted(gold),
        "refused": answer.refused,
        "method": answer.method,
        "text": answer.text,
        "sentences": sentences,
        "cited_docs": cited_docs,
        "source_docs": source_docs,
        "gold_cited": bool(gold & set(cited_docs)),
        "gold_in_sources": bool(gold & set(source_docs)),
        "warnings": list(answer.warnings),
        "timings": {k: round(v, 4) for k, v in answer.timings.items()},
        "latency_s": round(answer.timings.get("total", 0.0), 4),
        "judge_s": round(time.perf_counter() - started, 4),
    }


def _share(num: int, den: int) -> float:
    return num / den if den else 0.0


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The metrics of :data:`METRIC_NAMES` from per-item rows (micro averages over sentences/pairs)."""
    answered = [r for r in rows if not r["refused"]]
    sentences = [s for r in answered for s in r["sentences"]]
    pairs = [c for s in sentences for c in s["cited"]]
    latencies = np.asarray([r["latency_s"] for r in rows], dtype=np.float64)
    return {
        "groundedness": _share(sum(s["grounded"] for s in sentences), len(sentences)),
        "citation_precision": _share(sum(c["supports"] for c in pairs), len(pairs)),
        "citation_recall": _share(sum(r["gold_cited"] for r in answered), len(answered)),
        "gold_cited_all": _share(sum(r["gold_cited"] for r in rows), len(rows)),
        "gold_in_sources": _share(sum(r["gold_in_sources"] for r in rows), len(rows)),
        "answer_rate": _share(len(answered), len(rows)),
        "refusal_rate": _share(len(rows) - len(answered), len(rows)),
        "sentences_per_answer": _share(len(sentences), len(answered)),
        # numpy's default (linear interpolation between order statistics)
        "latency_p50_s": float(np.percentile(latencies, 50)) if len(rows) else 0.0,
        "latency_p95_s": float(np.percentile(latencies, 95)) if len(rows) else 0.0,
    }


def _llm_judge(settings: Settings) -> NLIJudge | None:
    from retrieval.llm import chat_model_from_settings
    from retrieval.nli import LLMJudge

    chat_model = chat_model_from_settings(settings.llm)
    return LLMJudge(chat_model) if chat_model is not None else None


def evaluate_answers(
    dataset_dir: Path,
    settings: Settings,
    build_answerer: BuildAnswerer,
    limit: int | None = None,
    progress: Progress | None = None,
    *,
    embedder: Embedder | None = None,
    sparse: SparseEncoder | None = None,
    work_dir: Path | None = None,
    use_checker: bool = True,
    llm_judge: NLIJudge | None | bool = True,
) -> dict[str, Any]:
    """Answer the first ``limit`` judged queries (file order) and return the answers report.

    ``build_answerer(settings, embedder, index)`` makes the product's Answerer over the evaluation
    index. ``llm_judge``: True = the configured LLM when there is one, False = never, or a judge.
    Progress stages: ``index`` and ``answer``. Interrupted runs resume from a partial file.
    """
    if limit is not None and limit < 1:
        raise GyoseiError(f"--limit は1以上にしてください（指定: {limit}）。")
    ds: BeirDataset = load_beir(Path(dataset_dir))
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(settings)
    sparse = sparse or SparseEncoder()
    if embedder is None:
        from retrieval.embedder import embedder_from_settings

        embedder = embedder_from_settings(settings.embedding)
    model_key = embedder_key(settings.embedding) if type(embedder).__name__ == "SentenceTransformerEmbedder" \
        else f"{type(embedder).__name__}-{embedder.dimension}"
    if isinstance(llm_judge, bool):
        judge_obj = _llm_judge(settings) if llm_judge else None
    else:
        judge_obj = llm_judge
    judge_name = "none" if judge_obj is None else type(judge_obj).__name__
    queries = ds.judged_queries[:limit] if limit else ds.judged_queries
    # Answering embeds with the real model (latency as users see it); only the corpus vectors of
    # the index come from the retrieval evaluation's cache.
    cached = CachedEmbedder(embedder, work_dir / "embeddings" / model_key / f"{ds.name}.npz")
    info = ensure_index(ds, settings, cached, sparse, work_dir, model_key, progress)
    cached.save()
    run_key = _short_hash({"index": index_key(ds, settings, sparse, model_key), "queries": ds.fingerprint,
                           "answer": settings.answer.model_dump(), "llm": settings_summary(settings)["llm"],
                           "checker": use_checker, "judge": judge_name, "format": ANSWERS_FORMAT})
    from retrieval.index import open_index

    index = open_index(IndexSettings(backend="edge", path=info.path), embedder.dimension, read_only=True)
    partial = _Partial(work_dir / "runs" / f"{ds.name}-answers-{run_key}.partial.jsonl")
    rows: list[dict[str, Any]] = []
    resumed, finished, started = 0, False, time.perf_counter()
    try:
        answerer = build_answerer(settings, embedder, index)
        checker = ContradictionChecker(embedder, sparse) if use_checker else None
        pair_judge = _PairJudge(answerer, checker, judge_obj)
        for n, query in enumerate(queries, start=1):
            row = partial.done.get((SYSTEM, query.query_id))
            if row is not None:
                resumed += 1
            else:
                answer = answerer.answer(query.text, EVAL_ACCESS, today=query_today(query))
                row = answer_row(query, ds.relevant[query.query_id], answer, pair_judge)
                partial.add(row)
            rows.append(row)
            if progress is not None:
                progress("answer", n, len(queries))
        finished = True
    finally:
        index.close()
        partial.close(remove=finished)
    config = {
        "limit": limit, "queries": "first judged queries in queries.jsonl order", "support_threshold": answerer.scorer.threshold,
        "judge": judge_name, "checker": "ContradictionChecker(rules)" if use_checker else None,
        "method": sorted({r["method"] for r in rows}), "embedder": {"class": type(embedder).__name__, "key": model_key},
        "access": {"clearance": EVAL_ACCESS.clearance, "groups": EVAL_ACCESS.groups}, "settings": settings_summary(settings),
    }
    return build_answers_report(ds, config, rows, info, {"answer_s": round(time.perf_counter() - started, 3),
                                                        "index_s": round(info.seconds, 3), "resumed_queries": resumed,
                                                        "judge_fallbacks": pair_judge.fallbacks})


def build_answers_report(ds: BeirDataset, config: dict[str, Any], rows: list[dict[str, Any]], index_info: Any,
                         timings: dict[str, Any]) -> dict[str, Any]:
    """Assemble the answers report (``eval/schemas/answers_report.schema.json``)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "answers",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"name": ds.name, "path": str(ds.path), "fingerprint": ds.fingerprint,
                    "corpus_fingerprint": ds.corpus_fingerprint, "documents": len(ds.corpus),
                    "queries": len(ds.queries), "queries_evaluated": len(rows)},
        "config": config,
        "versions": package_versions(),
        "index": {"path": str(index_info.path), "key": index_info.key, "documents": index_info.documents,
                  "chunks": index_info.chunks, "new_chunks": index_info.new_chunks},
        "metric_names": list(METRIC_NAMES),
        "metrics": {m: round(v, 6) for m, v in summarize(rows).items()},
        "timings": timings,
        "per_item": rows,
    }


METRIC_LABELS = {
    "groundedness": "根拠のある文の割合", "citation_precision": "引用の適合率", "citation_recall": "正解文書の引用率（回答のみ）",
    "gold_cited_all": "正解文書の引用率（全質問）", "gold_in_sources": "正解文書が資料に含まれる率", "answer_rate": "回答率",
    "refusal_rate": "回答拒否率", "sentences_per_answer": "回答あたりの文数", "latency_p50_s": "応答時間 p50（秒）",
    "latency_p95_s": "応答時間 p95（秒）",
}


def markdown_answers(report: dict[str, Any], worst: int = 5) -> str:
    """A Markdown page: dataset, metric table, and the least grounded answers."""
    ds, cfg = report["dataset"], report["config"]
    lines = [f"# 回答評価: {ds['name']}", "", f"- 作成: {report['created']}",
             f"- データセット: `{ds['path']}`（文書 {ds['documents']}、評価した質問 {ds['queries_evaluated']}/{ds['queries']}、"
             f"指紋 `{ds['fingerprint'][:12]}`）",
             f"- 判定: 支持スコア ≥ {cfg['support_threshold']}"
             + ("、矛盾チェック（ルール）" if cfg.get("checker") else "")
             + (f"、LLM判定（{cfg['judge']}）" if cfg.get("judge") not in (None, "none") else "")
             + f"、回答方式 {', '.join(cfg.get('method') or ['-'])}",
             "", "| 指標 | 値 |", "|---|---:|"]
    for name in report["metric_names"]:
        lines.append(f"| {METRIC_LABELS.get(name, name)} (`{name}`) | {report['metrics'][name]:.3f} |")
    answered = [r for r in report["per_item"] if not r["refused"] and r["sentences"]]
    weak = [r for r in answered if not r["gold_cited"] or not all(s["grounded"] for s in r["sentences"])]
    weak.sort(key=lambda r: (sum(s["grounded"] for s in r["sentences"]) / len(r["sentences"]), r["gold_cited"], r["query_id"]))
    lines += ["", "## 根拠の弱い回答（根拠のない文がある、または正解文書を引用していない）", ""]
    if not weak:
        lines.append("該当なし: すべての回答文に根拠があり、正解文書を引用しています。")
    else:
        lines += ["| 質問ID | 根拠のある文 | 正解文書を引用 | 回答（冒頭） |", "|---|---:|:---:|---|"]
        for r in weak[:worst]:
            ok = sum(s["grounded"] for s in r["sentences"])
            text = " ".join(r["text"].split()).replace("|", "｜")[:80]
            lines.append(f"| {r['query_id']} | {ok}/{len(r['sentences'])} | {'○' if r['gold_cited'] else '×'} | {text} |")
    t = report["timings"]
    lines += ["", "## 所要時間（秒）", "", f"- 索引の確認: {t['index_s']:.1f}", f"- 回答と判定: {t['answer_s']:.1f}"
              + (f"（再開 {t['resumed_queries']} 件）" if t.get("resumed_queries") else "")]
    return "\n".join(lines) + "\n"
