"""NLI evaluation runs: pick a judge, load labelled pairs (a JSONL file, one of the classifier's
training files restricted to its held-out premises, or the generated altered-sentence set), score
them with :func:`eval.nli_eval.evaluate_nli`, and assemble the ``nli`` report.

Judges (``JUDGES``):

* ``classifier``: :func:`retrieval.nli.classifier_from_cache` (trained on first use);
* ``rules``: the :class:`retrieval.verify.ContradictionChecker` as a judge (contradiction or neutral);
* ``llm``: the configured chat model (:class:`retrieval.nli.LLMJudge`).

Answers are appended to a partial file as they come, so an interrupted run (slow with an LLM)
continues where it stopped.

Usage::

    report = evaluate_nli_run("retrieval/data/nli/jsick.jsonl", "classifier", settings, held_out=True)
    report["metrics"]["accuracy"]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

from eval.nli_eval import NLIEvalError, evaluate_nli, load_pairs
from eval.report import SCHEMA_VERSION, package_versions
from retrieval.embedder import Embedder
from retrieval.errors import GyoseiError
from retrieval.settings import Settings

__all__ = ["JUDGES", "ALTERED", "NLI_SCHEMA_PATH", "evaluate_nli_run", "make_judge", "altered_records", "held_out_records", "markdown_nli"]

JUDGES = ("classifier", "rules", "llm")
NLI_SCHEMA_PATH = Path(__file__).with_name("schemas") / "nli_report.schema.json"
ALTERED = "altered"  # the --dataset value that generates the altered-sentence set


def make_judge(name: str, settings: Settings, embedder: Callable[[], Embedder]) -> tuple[Any, dict[str, Any]]:
    """The judge called ``name`` and its description for the report; ``embedder`` is called only
    when the judge needs the model."""
    if name == "classifier":
        from retrieval.nli import classifier_from_cache

        judge = classifier_from_cache(embedder(), settings.embedding.cache_dir)
        return judge, {"name": name, "folder": judge.folder.name, "trained": {k: judge.report.get(k) for k in ("seed", "test_size", "C", "embedder", "train_pairs")}}
    if name == "rules":
        from retrieval.text.sparse import SparseEncoder
        from retrieval.verify import ContradictionChecker

        # judge() never embeds: the checker's vectors only serve check() on whole documents.
        return ContradictionChecker(None, SparseEncoder()), {"name": name, "labels": ["contradiction", "neutral"]}
    if name == "llm":
        from retrieval.llm import chat_model_from_settings, describe_endpoint
        from retrieval.nli import LLMJudge

        chat_model = chat_model_from_settings(settings.llm)
        if chat_model is None:
            raise GyoseiError("LLM が設定されていないため --judge llm は使えません。GYOSEI_LLM__PROVIDER などを設定するか、classifier / rules を選んでください。")
        return LLMJudge(chat_model), {"name": name, "endpoint": describe_endpoint(settings.llm), "model": settings.llm.model}
    raise GyoseiError(f"判定方法 {name!r} は使えません（{', '.join(JUDGES)} から選んでください）。")


def altered_records(seed: int | None = None) -> list[dict]:
    """The altered-sentence set (:mod:`eval.altered_pairs`), generated deterministically."""
    from eval.altered_pairs import SEED, generate_altered_pairs, load_government_sentences

    return generate_altered_pairs(load_government_sentences(), seed if seed is not None else SEED)


def held_out_records(records: list[dict]) -> list[dict]:
    """The pairs whose premise the classifier did not see: the same premise-grouped split
    (seed, 30%) as :func:`retrieval.nli.train_classifier`."""
    from retrieval.nli import SEED, _split

    return [records[i] for i in _split(records, SEED, 0.3)[1]]


def _fingerprint(records: list[dict]) -> str:
    digest = hashlib.sha256()
    for rec in records:
        digest.update(json.dumps(rec, ensure_ascii=False, sort_keys=True).encode() + b"\n")
    return digest.hexdigest()


class _ResumableJudge:
    """Wraps a judge; every verdict goes to a JSONL file, read back by the next run."""

    def __init__(self, judge: Any, path: Path) -> None:
        self.judge_impl, self.path = judge, path
        self.done: dict[tuple[str, str], tuple[str, float]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # cut by a crash: judged again
                self.done[(row["p"], row["h"])] = (row["label"], row["prob"])
        self.resumed = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")

    def judge(self, premise: str, hypothesis: str) -> tuple[str, float]:
        key = (premise, hypothesis)
        if key in self.done:
            self.resumed += 1
            return self.done[key]
        label, prob = self.judge_impl.judge(premise, hypothesis)
        self._fh.write(json.dumps({"p": premise, "h": hypothesis, "label": label, "prob": float(prob)}, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.done[key] = (label, float(prob))
        return label, float(prob)

    def close(self, remove: bool) -> None:
        self._fh.close()
        if remove:
            self.path.unlink(missing_ok=True)


def evaluate_nli_run(dataset: str | Path, judge_name: str, settings: Settings, *, held_out: bool = False,
                     embedder: Embedder | None = None, judge: Any = None, work_dir: Path | None = None) -> dict[str, Any]:
    """Score ``judge_name`` (or the given ``judge``) on a pair file or ``"altered"``; return the report."""
    if judge_name not in JUDGES:
        raise GyoseiError(f"判定方法 {judge_name!r} は使えません（{', '.join(JUDGES)} から選んでください）。")
    started = time.perf_counter()
    if str(dataset) == ALTERED:
        records, name, path = altered_records(), ALTERED, "eval.altered_pairs (generated)"
    else:
        path = str(dataset)
        if not Path(dataset).is_file():
            raise GyoseiError(f"{dataset}: NLI の評価ファイル（JSONL）が見つかりません。")
        try:
            load_pairs(Path(dataset))  # checks every record before any judging (the message names the line)
        except NLIEvalError as exc:
            raise GyoseiError(str(exc)) from exc
        records = [json.loads(line) for line in Path(dataset).read_text(encoding="utf-8").splitlines() if line.strip()]
        name = Path(dataset).stem
    total = len(records)
    if held_out:
        records = held_out_records([{**r, "premise": r.get("premise", r.get("source"))} for r in records])
    if not records:
        raise GyoseiError(f"{path}: 評価するペアがありません。")
    if judge is None:
        if embedder is None:
            from retrieval.embedder import embedder_from_settings

            def get_embedder() -> Embedder:
                return embedder_from_settings(settings.embedding)
        else:
            def get_embedder() -> Embedder:
                return embedder
        judge, judge_config = make_judge(judge_name, settings, get_embedder)
    else:
        judge_config = {"name": judge_name, "class": type(judge).__name__}
    pairs = load_pairs(records)
    if hasattr(judge, "probabilities"):  # the classifier: embed every text in batches up front
        judge.probabilities([p["premise"] for p in pairs], [p["hypothesis"] for p in pairs])
    fingerprint = _fingerprint(records)
    run_key = hashlib.sha256(json.dumps([fingerprint, judge_config], sort_keys=True, default=str).encode()).hexdigest()[:10]
    work_dir = Path(work_dir) if work_dir is not None else Path(settings.index.path).parent / "eval"
    resumable = _ResumableJudge(judge, work_dir / "runs" / f"nli-{name}-{judge_name}-{run_key}.partial.jsonl")
    finished = False
    try:
        result = evaluate_nli(records, resumable)
        finished = True
    finally:
        resumable.close(remove=finished)
    items = result.pop("items")
    for item, rec in zip(items, records):
        item["premise"], item["hypothesis"] = rec.get("premise", rec.get("source")), rec.get("hypothesis", rec.get("claim"))
        if "kind" in rec:
            item["kind"] = rec["kind"]
    judge_seconds = result.pop("seconds")
    metrics = _rounded(result)
    kinds = sorted({i["kind"] for i in items if "kind" in i})
    if kinds:  # the altered set: is each kind of alteration flagged (contradiction) exactly when it should be?
        flag_ok = lambda i: (i["gold"] == "contradiction") == (i["pred"] == "contradiction")  # noqa: E731
        metrics["by_kind"] = {k: round(sum(flag_ok(i) for i in items if i.get("kind") == k)
                                       / sum(1 for i in items if i.get("kind") == k), 6) for k in kinds}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "nli",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"name": name, "path": path, "fingerprint": fingerprint, "pairs": len(records),
                    "pairs_in_file": total, "split": "held_out" if held_out else "all"},
        "config": {"judge": judge_config, "held_out": {"seed": 20261121, "test_size": 0.3, "grouped_by": "premise"} if held_out else None},
        "versions": package_versions(),
        "metric_names": ["accuracy", "macro_f1"],
        "metrics": metrics,
        "timings": {"total_s": round(time.perf_counter() - started, 3), "judge_s": judge_seconds,
                    "resumed_pairs": resumable.resumed},
        "per_item": items,
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def markdown_nli(report: dict[str, Any]) -> str:
    """A Markdown page: dataset, accuracy, per-label P/R/F1, confusion matrix (and per kind)."""
    ds, m = report["dataset"], report["metrics"]
    lines = [f"# NLI 評価: {ds['name']}（判定: {report['config']['judge']['name']}）", "",
             f"- 作成: {report['created']}",
             f"- データ: `{ds['path']}`（{ds['pairs']} 組" + ("、分類器の学習に使っていない前提文のみ" if ds["split"] == "held_out" else "")
             + f"、指紋 `{ds['fingerprint'][:12]}`）",
             f"- 正解率 {m['accuracy']:.3f}、マクロF1 {m['macro_f1']:.3f}、含意かそれ以外の正解率 {m['entailment_vs_not']['accuracy']:.3f}",
             "", "| ラベル | 適合率 | 再現率 | F1 | 件数 |", "|---|---:|---:|---:|---:|"]
    for label, v in m["per_label"].items():
        lines.append(f"| {label} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    labels = list(m["confusion"])
    lines += ["", "## 混同行列（行: 正解、列: 予測）", "", "| 正解＼予測 | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for gold in labels:
        lines.append(f"| {gold} | " + " | ".join(str(m["confusion"][gold][p]) for p in labels) + " |")
    if report["config"]["judge"]["name"] == "rules":
        lines += ["", "rules は contradiction と neutral しか返さないため、「矛盾かそれ以外」の適合率・再現率・F1 "
                  f"（{m['contradiction_vs_not']['precision']:.3f} / {m['contradiction_vs_not']['recall']:.3f} / "
                  f"{m['contradiction_vs_not']['f1']:.3f}）で見てください。"]
    if m.get("by_kind"):
        lines += ["", "## 改変の種類ごとの正解率（矛盾として警告すべきかどうか）", "", "| 種類 | 正解率 |", "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in m["by_kind"].items()]
    lines += ["", f"所要時間: {report['timings']['total_s']:.1f} 秒（判定 {report['timings']['judge_s']:.1f} 秒）"]
    return "\n".join(lines) + "\n"
