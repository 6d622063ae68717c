"""Read, write and compare evaluation reports of every kind (retrieval, answers, nli, support).

A comparison lines up the same metric of the same system in two reports of the same kind and
the same dataset, and gives B - A. Reports of different kinds or datasets are refused (the
numbers would not mean the same thing); a dataset whose files changed (another fingerprint) is
compared with a warning.

Usage::

    comparison = compare_reports(load_report(Path("a.json")), load_report(Path("b.json")))
    for row in comparison.rows: print(row.system, row.metric, row.delta)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from retrieval.errors import GyoseiError

__all__ = ["KINDS", "CompareError", "DeltaRow", "Comparison", "load_report", "save_report", "compare_reports",
           "flat_metrics", "lower_is_better"]

KINDS = ("retrieval", "answers", "nli", "style", "drafts", "support")
KIND_LABELS = {"retrieval": "検索評価", "answers": "回答評価", "nli": "NLI 評価", "style": "公用文チェック評価", "drafts": "答弁案評価",
               "support": "裏付け判定の評価"}
# Metrics where a smaller number is the better one (deltas are coloured the other way round).
_LOWER_IS_BETTER = ("refusal_rate", "latency_p50_s", "latency_p95_s", "false_alarms_per_1000",
                    "false_alarms_per_1000_without_length", "draft_before_per_1000", "draft_after_per_1000",
                    "spoken_per_1000", "checker_spoken_per_1000", "needs_review_share",
                    "unsupported_marked_supported", "supported_flagged", "brier")


class CompareError(GyoseiError):
    """Two reports cannot be compared, or a report file cannot be read (Japanese message)."""


@dataclass
class DeltaRow:
    """One metric of one system in both reports (None where a report lacks it)."""

    system: str
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class Comparison:
    """The rows (systems x metrics, in A's order, then what only B has) and warnings in Japanese."""

    kind: str
    dataset: str
    rows: list[DeltaRow]
    warnings: list[str] = field(default_factory=list)
    labels: tuple[str, str] = ("", "")  # one line describing each report (kind, set, judge, date)


def lower_is_better(metric: str) -> bool:
    """True for metrics where a decrease is an improvement (latency, refusals)."""
    return metric in _LOWER_IS_BETTER


def load_report(path: Path) -> dict[str, Any]:
    """A report from its JSON file; CompareError names the file when it is not a report."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CompareError(f"{path}: レポートファイルが見つかりません。") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path}: レポートファイルを読めません（{exc}）。") from exc
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}: JSONとして読めません（{exc.lineno}行目: {exc.msg}）。") from exc
    if not isinstance(report, dict) or report.get("kind") not in KINDS or "metrics" not in report:
        raise CompareError(f"{path}: 評価レポート（kind が {', '.join(KINDS)} のいずれか）ではありません。")
    return report


def save_report(report: dict[str, Any], out_dir: Path, markdown: Callable[[dict[str, Any]], str]) -> tuple[Path, Path]:
    """Write ``<timestamp>-<kind>-<dataset>[-<suffix>].json`` and ``.md``; return both paths.

    Same naming as :func:`eval.report.write_report`; NLI reports add the judge to the name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = f"{stamp}-{report['kind']}-{report['dataset']['name']}"
    if report["kind"] == "nli":
        stem += f"-{report['config']['judge']['name']}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path


def flat_metrics(report: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(system, metric) -> value for any kind of report, in display order.

    retrieval: every system x metric; answers: system ``回答``; style: system ``公用文チェック``;
    support: system ``判定`` with its metrics and per-kind accuracy; nli: system ``判定`` with
    accuracy, macro F1, per-label F1, the contradiction-vs-not P/R/F1 and per-kind accuracy."""
    kind, m = report["kind"], report["metrics"]
    out: dict[tuple[str, str], float] = {}
    if kind in ("retrieval", "drafts"):
        for system in report.get("systems", list(m)):
            for name in report.get("metric_names", list(m[system])):
                if name in m.get(system, {}):
                    out[(system, name)] = float(m[system][name])
    elif kind in ("answers", "style", "support"):
        system = {"answers": "回答", "style": "公用文チェック", "support": "判定"}[kind]
        for name in report.get("metric_names", list(m)):
            if isinstance(m.get(name), (int, float)):
                out[(system, name)] = float(m[name])
        for name, v in (m.get("by_kind") or {}).items() if kind == "support" else ():
            out[(system, f"accuracy:{name}")] = float(v)
    else:
        out[("判定", "accuracy")] = float(m["accuracy"])
        out[("判定", "macro_f1")] = float(m["macro_f1"])
        for label, v in m.get("per_label", {}).items():
            out[("判定", f"f1:{label}")] = float(v["f1"])
        for key in ("precision", "recall", "f1"):
            out[("判定", f"contradiction_{key}")] = float(m["contradiction_vs_not"][key])
        for name, v in (m.get("by_kind") or {}).items():
            out[("判定", f"accuracy:{name}")] = float(v)
    return out


def _describe(report: dict[str, Any]) -> str:
    judge = report.get("config", {}).get("judge")
    extra = f"、判定 {judge.get('name') if isinstance(judge, dict) else judge}" if report["kind"] != "retrieval" and judge else ""
    return f"{KIND_LABELS[report['kind']]}・{report['dataset']['name']}{extra}（{report.get('created', '?')}）"


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> Comparison:
    """B - A for every metric both share; CompareError when the reports are not comparable."""
    if a["kind"] != b["kind"]:
        raise CompareError(f"種類の異なるレポートは比較できません: A は{KIND_LABELS[a['kind']]}、B は{KIND_LABELS[b['kind']]}です。"
                           "同じ種類（retrieval / answers / nli / style）のレポートを指定してください。")
    if a["dataset"]["name"] != b["dataset"]["name"]:
        raise CompareError(f"評価セットの異なるレポートは比較できません: A は「{a['dataset']['name']}」、B は「{b['dataset']['name']}」です。"
                           "同じ評価セットのレポートを指定してください。")
    warnings = []
    if a["dataset"].get("fingerprint") != b["dataset"].get("fingerprint"):
        warnings.append(f"評価セット「{a['dataset']['name']}」の中身が異なります（指紋 {str(a['dataset'].get('fingerprint'))[:12]} と "
                        f"{str(b['dataset'].get('fingerprint'))[:12]}）。差には評価セットの変更の影響も含まれます。")
    if a.get("schema_version") != b.get("schema_version"):
        warnings.append(f"スキーマのバージョンが異なります（{a.get('schema_version')} と {b.get('schema_version')}）。")
    fa, fb = flat_metrics(a), flat_metrics(b)
    keys = list(fa) + [k for k in fb if k not in fa]
    rows = [DeltaRow(system, metric, fa.get((system, metric)), fb.get((system, metric))) for system, metric in keys]
    only = sorted({k[0] for k in keys if (k in fa) != (k in fb)})
    if only:
        warnings.append(f"片方のレポートにしかないシステム・指標があります（{', '.join(only)}）。差は空欄です。")
    return Comparison(a["kind"], a["dataset"]["name"], rows, warnings, (_describe(a), _describe(b)))
