"""Evaluation of template drafts (``gyosei eval drafts``): the ``drafts`` report.

On question -> answer pairs of diet_qa (a member's speech and the government answer that followed
it), each question is drafted by the product's :class:`retrieval.draft.Drafter` (no LLM, no
矛盾チェック) from the speeches dated **before** the question (a ``date_to`` filter on every search:
the answer itself and everything said that day are out of reach). Per question:

* similarity to the answer the government really gave: embedding cosine (the product's embedder,
  passage prompt) and character ROUGE-L (F1, with precision and recall);
* the baseline: the single most similar past answer (the finder's best for the whole question,
  same date cut-off), pasted as is;
* whether the real answering ministry's past answers are among the draft's sources (any past
  answer found for it) and among the cited ones;
* spoken forms left per 1,000 characters (:meth:`retrieval.draft_style.DraftStyle.findings`, the
  rules of ``prompts/draft_style.yaml``), for the draft and for the pasted baseline, and as an
  independent count the 公用文チェック's 話し言葉 findings (rules ``hanashi-*``);
* the share of 論点 left 【要確認】.

Usage::

    report = evaluate_drafts(Path("eval/datasets/diet_qa"), Settings.load(), limit=30)
    save_report(report, Path("eval/reports"), markdown_drafts)
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from eval.beir import BeirQuery, load_beir
from eval.embed_cache import CachedEmbedder, LazyEmbedder, embedder_key
from eval.report import SCHEMA_VERSION, package_versions, settings_summary
from eval.retrieval_eval import EVAL_ACCESS, default_work_dir, ensure_index, query_today
from retrieval.draft_style import DraftStyle, load_draft_style
from retrieval.draft_types import Draft
from retrieval.past_answers import PastAnswerFinder
from retrieval.settings import IndexSettings
from retrieval.support import cosine
from retrieval.text.normalize import normalize
from retrieval.types import Access, Filters

__all__ = ["evaluate_drafts", "markdown_drafts", "lcs_length", "rouge_l", "BeforeDate", "draft_text",
           "METRIC_NAMES", "METRIC_LABELS", "SYSTEM_LABELS"]

DEFAULT_LIMIT = 30
DEFAULT_MIN_PRIOR = 300  # answers dated before a question, for it to be evaluated (the corpus starts 2024-07-30)
METRIC_NAMES = ["cosine", "rouge_l_f1", "rouge_l_precision", "rouge_l_recall", "ministry_in_sources",
                "ministry_cited", "spoken_per_1000", "checker_spoken_per_1000", "needs_review_share", "chars"]
METRIC_LABELS = {
    "cosine": "実際の答弁との埋め込み類似度（平均）",
    "rouge_l_f1": "文字ROUGE-L F1（平均）",
    "rouge_l_precision": "文字ROUGE-L 適合率（平均）",
    "rouge_l_recall": "文字ROUGE-L 再現率（平均）",
    "ministry_in_sources": "実際の答弁府省の過去答弁が出典にある割合",
    "ministry_cited": "実際の答弁府省の過去答弁を引用した割合",
    "spoken_per_1000": "話し言葉の残り（1,000字あたり）",
    "checker_spoken_per_1000": "公用文チェックの話し言葉の指摘（1,000字あたり）",
    "needs_review_share": "【要確認】の論点の割合",
    "chars": "文字数（平均）",
}
SYSTEM_LABELS = {"draft": "答弁案（定型文）", "baseline": "最も近い過去答弁の貼り付け（ベースライン）",
                 "draft_drafted": "答弁案（作成できた質問）", "baseline_drafted": "貼り付け（同じ質問）"}
LOWER_IS_BETTER = ("spoken_per_1000", "checker_spoken_per_1000", "needs_review_share")
SPOKEN_CHECKER_RULES = "hanashi-"  # the 公用文チェック's 話し言葉 rules (prompts/style_rules.yaml): an independent count


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (bit-parallel, Hyyrö 2004:
    one big-integer step per character of ``b``)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(candidate: str, reference: str) -> dict[str, float]:
    """Character ROUGE-L of ``candidate`` against ``reference`` (whitespace ignored)."""
    c, r = "".join(candidate.split()), "".join(reference.split())
    lcs = lcs_length(c, r)
    p = lcs / len(c) if c else 0.0
    rec = lcs / len(r) if r else 0.0
    return {"precision": p, "recall": rec, "f1": 2 * p * rec / (p + rec) if p + rec else 0.0}


def draft_text(draft: Draft) -> str:
    """The drafted sentences of every point, without source markers (【要確認】 points add nothing)."""
    return "".join(s.text for pd in draft.points if not pd.needs_review for s in pd.sentences)


class BeforeDate:
    """A past-answer finder that sees only speeches dated up to ``date_to`` (inclusive): each
    question of the evaluation is drafted from what had been said before it."""

    def __init__(self, finder: PastAnswerFinder) -> None:
        self.finder = finder
        self.date_to: str | None = None

    def _filters(self, filters: Filters | None) -> Filters:
        f = Filters(**vars(filters)) if filters is not None else Filters()
        f.date_to = self.date_to
        return f

    def find(self, point: Any, access: Access, filters: Filters | None = None, k: int = 5, *,
             context: str | None = None) -> list:
        """:meth:`PastAnswerFinder.find` with the date cut-off."""
        return self.finder.find(point, access, self._filters(filters), k, context=context)

    def find_for_question(self, question: Any, access: Access, filters: Filters | None = None, k: int = 5) -> list:
        """:meth:`PastAnswerFinder.find_for_question` with the date cut-off."""
        return self.finder.find_for_question(question, access, self._filters(filters), k)

    def find_documents(self, point: Any, access: Access, k: int = 3, filters: Filters | None = None) -> list:
        """:meth:`PastAnswerFinder.find_documents` with the date cut-off."""
        return self.finder.find_documents(point, access, k, self._filters(filters))


def _position(payload: dict[str, Any]) -> str | None:
    return payload.get("speaker_position") or payload.get("position")


def _record_id(payload: dict[str, Any]) -> str:
    return str(payload.get("record_id") or payload.get("doc_id"))


def _per_1000(count: int, chars: int) -> float:
    return 1000.0 * count / chars if chars else 0.0


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def evaluate_drafts(dataset_dir: Path, settings: Any, *, limit: int | None = DEFAULT_LIMIT, style: Any = None,
                    draft_style: DraftStyle | None = None, embedder: Any = None, min_prior: int = DEFAULT_MIN_PRIOR,
                    progress: Callable[[str, int, int | None], None] | None = None) -> dict[str, Any]:
    """Draft the first ``limit`` judged questions of ``dataset_dir`` and score them (see the module).

    ``style``: the 公用文チェック whose certain fixes the drafts get (the product's default), or None;
    ``min_prior``: questions with fewer answers dated before their day are skipped (nothing to
    draft from: the first meetings of the corpus); ``embedder``: None for the configured model (loaded only for texts the cache lacks), or a
    stand-in such as ``HashEmbedder`` for tests."""
    from retrieval.draft import Drafter
    from retrieval.support_judge import SupportJudge
    from retrieval.style import StyleChecker
    from retrieval.index import open_index
    from retrieval.search import Searcher
    from retrieval.text.sparse import SparseEncoder

    ds = load_beir(Path(dataset_dir))
    rules = draft_style or load_draft_style()
    checker = style if style is not None else StyleChecker()
    work_dir = default_work_dir(settings)
    sparse = SparseEncoder()


    if embedder is None:
        model_key, embedder = embedder_key(settings.embedding), LazyEmbedder(settings.embedding)
    else:
        model_key = f"{type(embedder).__name__}-{embedder.dimension}"
    cached = CachedEmbedder(embedder, work_dir / "embeddings" / model_key / f"{ds.name}.npz")
    started = time.perf_counter()
    info = ensure_index(ds, settings, cached, sparse, work_dir, model_key, progress=progress)
    index_s = time.perf_counter() - started
    index = open_index(IndexSettings(backend="edge", path=info.path), cached.dimension, read_only=True)
    corpus = {doc.doc_id: doc for doc in ds.corpus}
    dates = sorted(str(doc.metadata.get("date") or "")[:10] for doc in ds.corpus)
    # Only questions with a history: at least ``min_prior`` answers dated before their day.
    queries = [q for q in ds.judged_queries if bisect.bisect_left(dates, query_today(q).isoformat()) >= min_prior]
    skipped = len(ds.judged_queries) - len(queries)
    if limit and len(queries) > limit:  # spread over the whole period (many meetings), not one meeting
        queries = queries[:: len(queries) // limit][:limit]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        searcher = Searcher(index, cached, sparse, rrf_k=settings.search.rrf_k)
        finder = BeforeDate(PastAnswerFinder(searcher, speech_types=None))  # the corpus: answers stored as records
        # Template drafts quote their sources: the quote check alone judges them (no model to train).
        drafter = Drafter(finder, cached, sparse, None, min_relevance=settings.answer.min_relevance,  # type: ignore[arg-type]
                          style=style, draft_style=rules, judge=SupportJudge(cached, sparse, None))  # type: ignore[arg-type]
        for n, query in enumerate(queries, start=1):
            row = _score_one(query, ds.relevant[query.query_id], corpus, finder, drafter, cached, rules)
            for system in ("draft", "baseline"):
                row[system]["checker_spoken"] = [] if checker is None else [
                    f.rule_id for f in checker.check(row[system]["text"]) if f.rule_id.startswith(SPOKEN_CHECKER_RULES)]
            rows.append(row)
            if progress is not None:
                progress("draft", n, len(queries))
    finally:
        index.close()
        cached.save()
    draft_s = time.perf_counter() - started
    drafted = [r for r in rows if r["draft"]["chars"]]
    metrics = {system: _summary(rows, system) for system in ("draft", "baseline")}
    # The same comparison on the questions the drafter answered (the rest are 【要確認】: a human writes them).
    metrics["draft_drafted"] = _summary(drafted, "draft")
    metrics["baseline_drafted"] = _summary(drafted, "baseline")
    wins = sum(r["draft"]["cosine"] > r["baseline"]["cosine"] for r in drafted)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "drafts",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"name": ds.name, "path": str(ds.path), "fingerprint": ds.fingerprint, "documents": len(ds.corpus),
                    "queries": len(ds.queries), "queries_evaluated": len(rows), "queries_without_history": skipped},
        "config": {"limit": limit, "min_prior": min_prior, "method": "template", "checker": False, "style_fixes": style is not None,
                   "cutoff": "speeches dated before the question (date_to = the day before)",
                   "min_relevance": settings.answer.min_relevance, "settings": settings_summary(settings)},
        "versions": package_versions(),
        "index": {"path": str(info.path), "key": info.key, "documents": info.documents, "chunks": info.chunks},
        "systems": ["draft", "baseline", "draft_drafted", "baseline_drafted"],
        "metric_names": METRIC_NAMES,
        "metrics": metrics,
        "targets": {"beats_baseline_cosine": metrics["draft"]["cosine"] > metrics["baseline"]["cosine"],
                    "beats_baseline_rouge_l": metrics["draft"]["rouge_l_f1"] > metrics["baseline"]["rouge_l_f1"],
                    "spoken_below_1_per_1000": metrics["draft"]["spoken_per_1000"] < 1.0,
                    "drafted_questions": len(drafted),
                    "drafted_beats_baseline_cosine": metrics["draft_drafted"]["cosine"] > metrics["baseline_drafted"]["cosine"],
                    "drafted_beats_baseline_rouge_l": metrics["draft_drafted"]["rouge_l_f1"] > metrics["baseline_drafted"]["rouge_l_f1"],
                    "drafted_cosine_wins": wins},
        "timings": {"index_s": round(index_s, 1), "draft_s": round(draft_s, 1)},
        "per_query": rows,
    }


def _score_one(query: BeirQuery, gold_ids: set[str], corpus: dict[str, Any], finder: BeforeDate, drafter: Any,
               embedder: Any, rules: DraftStyle) -> dict[str, Any]:
    cutoff = query_today(query) - dt.timedelta(days=1)
    finder.date_to = cutoff.isoformat()
    gold_id = sorted(gold_ids)[0]
    gold = corpus[gold_id]
    gold_text = normalize(gold.text)
    gold_ministry = rules.ministry_of_position(gold.metadata.get("position"))
    draft = drafter.draft(query.text, EVAL_ACCESS)
    text = draft_text(draft)
    best = finder.find_for_question(draft.analysis, EVAL_ACCESS, k=1)
    base_id = _record_id(best[0].answer.payload) if best else None
    base_text = normalize(corpus[base_id].text) if base_id in corpus else ""
    vectors = embedder.embed_documents([t or "。" for t in (gold_text, text, base_text)])
    sources = [pa.answer for pd in draft.points for pa in pd.past_answers]
    cited = {n for pd in draft.points for s in pd.sentences for n in s.citations}
    cited_sources = [s for s in draft.sources if s.n in cited]
    in_sources = any(rules.ministry_of_position(_position(s.payload)) == gold_ministry for s in sources)
    in_cited = any(rules.ministry_of_position(_position(s.payload)) == gold_ministry for s in cited_sources)
    base_ministry = rules.ministry_of_position(_position(best[0].answer.payload)) if best else None
    later = [s for s in sources if str(s.payload.get("date") or "") > cutoff.isoformat()]
    row: dict[str, Any] = {"query_id": query.query_id, "date": cutoff.isoformat(), "gold": gold_id,
                           "gold_ministry": gold_ministry, "points": len(draft.points),
                           "needs_review": sum(pd.needs_review for pd in draft.points), "leaked_sources": len(later),
                           "marked_period": sum(s.text.count("【時点確認】") for pd in draft.points for s in pd.sentences)}
    for system, candidate, vector, ministry_ok, cited_ok in (
            ("draft", text, vectors[1], in_sources, in_cited),
            ("baseline", base_text, vectors[2], base_ministry == gold_ministry, base_ministry == gold_ministry)):
        rouge = rouge_l(candidate, gold_text)
        row[system] = {"text": candidate, "chars": len(candidate),
                       "cosine": round(cosine(vectors[0], vector), 4) if candidate else 0.0,
                       "rouge_l_f1": round(rouge["f1"], 4), "rouge_l_precision": round(rouge["precision"], 4),
                       "rouge_l_recall": round(rouge["recall"], 4),
                       "ministry_in_sources": ministry_ok, "ministry_cited": cited_ok,
                       "spoken": [f.rule for f in rules.findings(candidate)]}
    row["baseline"]["source"] = base_id
    return row


def _summary(rows: list[dict[str, Any]], system: str) -> dict[str, float]:
    items = [r[system] for r in rows]
    chars = sum(i["chars"] for i in items)
    points = sum(r["points"] for r in rows)
    out = {name: _mean([float(i[name]) for i in items]) for name in
           ("cosine", "rouge_l_f1", "rouge_l_precision", "rouge_l_recall", "ministry_in_sources", "ministry_cited", "chars")}
    out["spoken_per_1000"] = round(_per_1000(sum(len(i["spoken"]) for i in items), chars), 3)
    out["checker_spoken_per_1000"] = round(_per_1000(sum(len(i.get("checker_spoken", [])) for i in items), chars), 3)
    out["needs_review_share"] = round(sum(r["needs_review"] for r in rows) / points, 4) if system == "draft" and points else 0.0
    if not rows:
        out = {k: 0.0 for k in out}
    out["empty_share"] = _mean([0.0 if i["chars"] else 1.0 for i in items])
    return {k: out[k] for k in METRIC_NAMES + ["empty_share"]}


def markdown_drafts(report: dict[str, Any], examples: int = 3) -> str:
    """A Markdown page: dataset, the draft against the pasted baseline, targets, a few examples."""
    ds, m = report["dataset"], report["metrics"]
    lines = [f"# 答弁案の評価: {ds['name']}", "", f"- 作成: {report['created']}",
             f"- データセット: `{ds['path']}`（答弁 {ds['documents']}、評価した質問 {ds['queries_evaluated']}/{ds['queries']}、"
             f"指紋 `{ds['fingerprint'][:12]}`）",
             "- 答弁案: 定型文による組立て（LLMなし、矛盾チェックなし）。各質問の前日までの答弁だけを検索"
             f"（前日までの答弁が {report['config']['min_prior']} 件未満の質問 {ds.get('queries_without_history', 0)} 件は対象外）",
             "- 平均は全質問で取る（答弁案が空＝全論点【要確認】の質問は類似度 0）",
             "- 比較: 実際の政府答弁との類似度。ベースラインは最も近い過去答弁をそのまま貼り付けたもの",
             "", "| 指標 | " + " | ".join(SYSTEM_LABELS[s] for s in report["systems"]) + " |",
             "|---|" + "---:|" * len(report["systems"])]
    for name in report["metric_names"]:
        cells = []
        for s in report["systems"]:
            value = m[s][name]
            cells.append("—" if s != "draft" and name == "needs_review_share" else f"{value:.3f}")
        lines.append(f"| {METRIC_LABELS.get(name, name)} (`{name}`) | " + " | ".join(cells) + " |")
    t = report["targets"]
    ok = lambda b: "達成" if b else "未達"  # noqa: E731
    lines += ["", "## 目標", "", f"- 類似度（埋め込み）でベースラインを上回る: {ok(t['beats_baseline_cosine'])}",
              f"- 類似度（文字ROUGE-L）でベースラインを上回る: {ok(t['beats_baseline_rouge_l'])}",
              f"- 話し言葉の残りが1,000字あたり1件未満: {ok(t['spoken_below_1_per_1000'])}",
              f"- 作成できた {t['drafted_questions']} 問での類似度（埋め込み）: {ok(t['drafted_beats_baseline_cosine'])}"
              f"（答弁案が上回った質問 {t['drafted_cosine_wins']}/{t['drafted_questions']}）、"
              f"（文字ROUGE-L）: {ok(t['drafted_beats_baseline_rouge_l'])}", "", "## 例", ""]
    for row in [r for r in report["per_query"] if r["draft"]["chars"]][:examples]:
        lines += [f"### {row['query_id']}（実際の答弁: {row['gold_ministry'] or '不明'}）", "",
                  f"- 答弁案（類似度 {row['draft']['cosine']:.3f}、ROUGE-L {row['draft']['rouge_l_f1']:.3f}）: "
                  + row["draft"]["text"][:400].replace("|", "｜"),
                  f"- 貼り付け（類似度 {row['baseline']['cosine']:.3f}、ROUGE-L {row['baseline']['rouge_l_f1']:.3f}）: "
                  + row["baseline"]["text"][:200].replace("|", "｜") + "…", ""]
    tm = report["timings"]
    lines += ["## 所要時間（秒）", "", f"- 索引の確認: {tm['index_s']:.1f}", f"- 答弁案の作成と採点: {tm['draft_s']:.1f}"]
    return "\n".join(lines) + "\n"
