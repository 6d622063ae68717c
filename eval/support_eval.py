"""Support-judge evaluation: labelled claim/source pairs -> the ``support`` report.

Input: JSONL with ``claim``, ``source`` and ``label`` (``supported``, ``unsupported`` or
``contradicted``; ``kind`` optional, e.g. ``eval/datasets/support/test.jsonl`` built by
:mod:`eval.support_pairs`). Each pair is judged by the product's :class:`SupportJudge`; the
report gives the ROC AUC of the calibrated probability, precision and recall of "not
supported" at the shipped threshold, both error rates the targets name (unbacked claims shown
as backed, backed claims flagged), the Brier score, and the share judged right per kind.

    report = evaluate_support(Path("eval/datasets/support/test.jsonl"), judge)
    report["metrics"]["roc_auc"]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from eval.report import SCHEMA_VERSION, package_versions
from retrieval.errors import GyoseiError, ModelError
from retrieval.support_judge import SupportJudge
from retrieval.support_model import load_pairs

__all__ = ["evaluate_support", "markdown_support", "METRIC_LABELS"]

METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "unsupported_marked_supported": "裏付けのない主張を「裏付けあり」とした割合",
    "supported_flagged": "裏付けのある主張に要確認を付けた割合",
    "not_supported_precision": "「裏付けなし」判定の適合率",
    "not_supported_recall": "「裏付けなし」判定の再現率",
    "accuracy": "正解率",
    "brier": "Brier スコア（確率の誤差）",
}


def evaluate_support(dataset: Path, judge: SupportJudge) -> dict[str, Any]:
    """Judge every pair of ``dataset``; return the report (``kind`` = ``support``)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    if not Path(dataset).is_file():
        raise GyoseiError(f"{dataset}: 裏付け判定の評価ファイル（JSONL）が見つかりません。")
    try:
        pairs = load_pairs(Path(dataset))
    except ModelError as exc:
        raise GyoseiError(str(exc)) from exc
    gold = np.array([p["label"] == "supported" for p in pairs])
    if gold.all() or not gold.any():
        raise GyoseiError(f"{dataset}: supported と unsupported（または contradicted）の両方のペアが必要です。")
    started = time.perf_counter()
    judge.rows([(p["claim"], p["source"]) for p in pairs])  # embeds every text in batches first
    verdicts = [judge.judge(p["claim"], p["source"]) for p in pairs]
    seconds = time.perf_counter() - started
    probs = np.array([v.probability for v in verdicts])
    passed = np.array([v.supported for v in verdicts])
    flagged = ~passed
    tp = int((flagged & ~gold).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else 0.0
    recall = tp / int((~gold).sum())
    metrics: dict[str, Any] = {
        "roc_auc": round(float(roc_auc_score(gold, probs)), 4),
        "unsupported_marked_supported": round(float(passed[~gold].mean()), 4),
        "supported_flagged": round(float(flagged[gold].mean()), 4),
        "not_supported_precision": round(precision, 4),
        "not_supported_recall": round(recall, 4),
        "accuracy": round(float((passed == gold).mean()), 4),
        "brier": round(float(brier_score_loss(gold, probs)), 4),
    }
    kinds = sorted({str(p.get("kind")) for p in pairs if p.get("kind")})
    if kinds:
        metrics["by_kind"] = {k: round(float(np.mean([passed[i] == gold[i] for i, p in enumerate(pairs) if p.get("kind") == k])), 4)
                              for k in kinds}
    items = [{"id": p.get("id", str(i)), "kind": p.get("kind"), "claim": p["claim"], "gold": p["label"],
              "label": v.label, "probability": v.probability, "note": v.note}
             for i, (p, v) in enumerate(zip(pairs, verdicts))]
    model = judge.model
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "support",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"name": Path(dataset).stem, "path": str(dataset), "pairs": len(pairs),
                    "fingerprint": hashlib.sha256(Path(dataset).read_bytes()).hexdigest(),
                    "labels": dict(Counter(p["label"] for p in pairs)), "kinds": dict(Counter(str(p.get("kind")) for p in pairs))},
        "config": {"judge": {"name": "support_judge", "threshold": judge.threshold,
                             "model": model.folder.name if model is not None else None,
                             "embedder": model.report.get("embedder") if model is not None else None,
                             "coefficients": model.report.get("coefficients") if model is not None else None}},
        "versions": package_versions(),
        "metric_names": list(METRIC_LABELS),
        "metrics": metrics,
        "timings": {"total_s": round(seconds, 3), "per_pair_ms": round(1000 * seconds / len(pairs), 2)},
        "per_item": items,
    }


def markdown_support(report: dict[str, Any]) -> str:
    """The report as a short Markdown summary (Japanese labels)."""
    m, ds, j = report["metrics"], report["dataset"], report["config"]["judge"]
    lines = [f"# 裏付け判定の評価: {ds['name']}", "",
             f"- ペア数: {ds['pairs']}（{', '.join(f'{k} {v}' for k, v in ds['labels'].items())}）",
             f"- しきい値: {j['threshold']}（モデル {j['model']}、埋め込み {j['embedder']}）",
             f"- 作成: {report['created']}、所要時間 {report['timings']['total_s']:.1f} 秒", "",
             "| 指標 | 値 |", "|---|---:|"]
    lines += [f"| {METRIC_LABELS[k]} | {m[k]:.3f} |" for k in report["metric_names"]]
    if m.get("by_kind"):
        lines += ["", "| 種類 | 正しく判定した割合 | 件数 |", "|---|---:|---:|"]
        lines += [f"| {k} | {v:.3f} | {ds['kinds'].get(k, 0)} |" for k, v in m["by_kind"].items()]
    return "\n".join(lines) + "\n"
