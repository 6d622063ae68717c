"""Score an NLI judge (or the contradiction checker) on labelled sentence pairs.

Input: JSONL (or records) in either form

* ``{"premise": ..., "hypothesis": ..., "label": ...}`` (the NLI sets in retrieval/data/nli), or
* ``{"claim": ..., "source": ..., "label": ...}`` (a claim checked against its source: the
  source is the premise, the claim the hypothesis).

Labels are folded to entailment / neutral / contradiction (aliases such as "supported",
"refuted", "non-entailment" are accepted). Reported: accuracy, per-label precision/recall/F1,
the confusion matrix (gold -> predicted -> count), the "contradiction vs not" binary view and
the "entailment vs not" view (how two-way sets such as JaNLI are scored).

>>> evaluate_nli("retrieval/data/nli/jsick.jsonl", judge)["contradiction_vs_not"]["f1"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable, Protocol

__all__ = ["LABELS", "evaluate_nli", "load_pairs", "normalize_label", "nli_metrics", "binary_metrics", "NLIEvalError"]

LABELS = ("entailment", "neutral", "contradiction")
_ALIASES = {
    "entailment": "entailment", "entails": "entailment", "entailed": "entailment", "supported": "entailment",
    "support": "entailment", "consistent": "entailment", "含意": "entailment",
    "neutral": "neutral", "non-entailment": "neutral", "non_entailment": "neutral", "unknown": "neutral",
    "not_enough_info": "neutral", "nei": "neutral", "unrelated": "neutral", "中立": "neutral",
    "contradiction": "contradiction", "contradicts": "contradiction", "contradict": "contradiction",
    "refuted": "contradiction", "conflict": "contradiction", "矛盾": "contradiction",
}  # fmt: skip


class NLIEvalError(ValueError):
    """A pair file is unreadable or a record lacks its texts or label (the message names it)."""


class _Judge(Protocol):
    def judge(self, premise: str, hypothesis: str) -> tuple[str, float]: ...


def normalize_label(label: Any) -> str:
    """One of LABELS for a label or one of its aliases; raises ValueError otherwise."""
    key = str(label).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"不明なラベル {label!r}（entailment / neutral / contradiction のいずれか）")
    return _ALIASES[key]


def load_pairs(path_or_records: str | Path | Iterable[dict]) -> list[dict]:
    """Records as ``{"id", "premise", "hypothesis", "label"}`` from a JSONL path or dicts."""
    if isinstance(path_or_records, (str, Path)):
        path = Path(path_or_records)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise NLIEvalError(f"{path}: ファイルを読み込めません（{exc}）") from exc
        raw = []
        for i, line in enumerate(lines, 1):
            if line.strip():
                try:
                    raw.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise NLIEvalError(f"{path}:{i}: JSON として読めません（{exc.msg}）") from exc
        where = str(path)
    else:
        raw, where = list(path_or_records), "records"
    out = []
    for i, rec in enumerate(raw, 1):
        premise = rec.get("premise", rec.get("source"))
        hypothesis = rec.get("hypothesis", rec.get("claim"))
        if not isinstance(premise, str) or not isinstance(hypothesis, str) or "label" not in rec:
            raise NLIEvalError(f"{where}:{i}: premise/hypothesis（または source/claim）と label が必要です")
        try:
            label = normalize_label(rec["label"])
        except ValueError as exc:
            raise NLIEvalError(f"{where}:{i}: {exc}") from exc
        out.append({"id": str(rec.get("id", i)), "premise": premise, "hypothesis": hypothesis, "label": label})
    return out


def binary_metrics(gold: list[str], pred: list[str], positive: str) -> dict[str, float]:
    """Precision, recall, F1 and support of ``positive`` vs every other label (0.0 when undefined)."""
    tp = sum(g == positive and p == positive for g, p in zip(gold, pred))
    fp = sum(g != positive and p == positive for g, p in zip(gold, pred))
    fn = sum(g == positive and p != positive for g, p in zip(gold, pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn, "predicted": tp + fp}


def nli_metrics(gold: list[str], pred: list[str]) -> dict[str, Any]:
    """Accuracy, per-label P/R/F1, confusion matrix and the two binary views, from label lists."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    n = len(gold)
    labels = [label for label in LABELS if label in gold or label in pred]
    confusion = {g: {p: sum(1 for x, y in zip(gold, pred) if x == g and y == p) for p in labels} for g in labels}
    per_label = {label: binary_metrics(gold, pred, label) for label in labels}
    present = [per_label[label]["f1"] for label in labels if per_label[label]["support"]]
    ent_gold = ["entailment" if g == "entailment" else "neutral" for g in gold]
    ent_pred = ["entailment" if p == "entailment" else "neutral" for p in pred]
    return {
        "n": n,
        "accuracy": sum(g == p for g, p in zip(gold, pred)) / n if n else 0.0,
        "macro_f1": sum(present) / len(present) if present else 0.0,
        "per_label": per_label,
        "confusion": confusion,
        "contradiction_vs_not": binary_metrics(gold, pred, "contradiction"),
        "entailment_vs_not": {
            **binary_metrics(ent_gold, ent_pred, "entailment"),
            "accuracy": sum(g == p for g, p in zip(ent_gold, ent_pred)) / n if n else 0.0,
        },
    }


def evaluate_nli(path_or_records: str | Path | Iterable[dict], judge: _Judge, *, keep_items: bool = True) -> dict[str, Any]:
    """Run ``judge.judge(premise, hypothesis)`` on every pair and return the metrics (see module doc).

    The result also holds ``items`` (id, gold, predicted, probability) and ``seconds``.
    """
    pairs = load_pairs(path_or_records)
    start = time.perf_counter()
    pred, items = [], []
    for rec in pairs:
        label, prob = judge.judge(rec["premise"], rec["hypothesis"])
        label = normalize_label(label)
        pred.append(label)
        items.append({"id": rec["id"], "gold": rec["label"], "pred": label, "prob": round(float(prob), 4)})
    result = nli_metrics([r["label"] for r in pairs], pred)
    result["seconds"] = round(time.perf_counter() - start, 3)
    if keep_items:
        result["items"] = items
    return result
