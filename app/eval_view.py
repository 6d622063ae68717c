"""What the 評価 page shows, without Streamlit: the reports in a folder, a report's metric table
and charts, and the comparison of two runs (``eval.compare``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.compare import KIND_LABELS, CompareError, Comparison, compare_reports, flat_metrics, load_report, lower_is_better

log = logging.getLogger(__name__)

DEFAULT_REPORTS_DIR = Path("eval/reports")
CHART_SUFFIXES = (".metrics.png", ".confusion.png")


@dataclass
class ReportEntry:
    """One report file: where it is and what it measured."""

    path: Path
    kind: str
    dataset: str
    created: str

    @property
    def label(self) -> str:
        return f"{self.created[:16].replace('T', ' ')}　{KIND_LABELS.get(self.kind, self.kind)}・{self.dataset}（{self.path.name}）"


def list_reports(folder: Path) -> tuple[list[ReportEntry], list[str]]:
    """The readable reports in ``folder``, newest first, and a Japanese line per unreadable file."""
    entries, problems = [], []
    for path in sorted(Path(folder).glob("*.json"), reverse=True):
        try:
            report = load_report(path)
        except CompareError as exc:
            problems.append(str(exc))
            continue
        entries.append(ReportEntry(path, report["kind"], str(report.get("dataset", {}).get("name", "?")), str(report.get("created", ""))))
    entries.sort(key=lambda e: e.created, reverse=True)
    return entries, problems


def metric_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{"システム": system, metric: value, ...}``: one row per system, metrics as columns."""
    rows: dict[str, dict[str, Any]] = {}
    for (system, metric), value in flat_metrics(report).items():
        rows.setdefault(system, {"システム": system})[metric] = round(value, 4)
    return list(rows.values())


def charts(json_path: Path) -> list[Path]:
    """The PNG charts drawn beside a report (``<stem>.metrics.png`` and the like)."""
    stem = Path(json_path).with_suffix("")
    return [Path(f"{stem}{suffix}") for suffix in CHART_SUFFIXES if Path(f"{stem}{suffix}").is_file()]


def comparison_table(comparison: Comparison) -> list[dict[str, Any]]:
    """Rows of A, B and B - A per system and metric, with a Japanese verdict per row."""
    out = []
    for row in comparison.rows:
        delta = row.delta
        if delta is None or abs(delta) < 1e-9:
            verdict = "—" if delta is None else "変化なし"
        else:
            better = delta < 0 if lower_is_better(row.metric) else delta > 0
            verdict = "改善" if better else "悪化"
        out.append({"システム": row.system, "指標": row.metric, "A": row.a, "B": row.b,
                    "差 (B−A)": None if delta is None else round(delta, 4), "判定": verdict})
    return out


def compare_files(a: Path, b: Path) -> Comparison:
    """Compare two report files (CompareError in Japanese when they are not comparable)."""
    return compare_reports(load_report(a), load_report(b))
