"""Evaluation reports: a JSON document with a stable schema, and a Markdown summary.

The retrieval report's schema is ``eval/schemas/retrieval_report.schema.json`` (JSON Schema,
documented field by field in ``eval/README.md``). ``schema_version`` changes only when a field
changes meaning or disappears; new fields may be added within a version.

Usage::

    json_path, md_path = write_report(report, Path("eval/reports"))
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from eval.beir import BeirDataset

__all__ = ["SCHEMA_VERSION", "SCHEMA_PATH", "build_retrieval_report", "write_report", "markdown_summary",
           "settings_summary", "package_versions", "SYSTEM_LABELS"]

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schemas") / "retrieval_report.schema.json"
PACKAGES = ("gyosei-rag", "torch", "sentence-transformers", "transformers", "qdrant-edge-py", "fugashi",
            "unidic-lite", "langchain-text-splitters", "numpy")
SYSTEM_LABELS = {
    "dense": "gyosei dense",
    "sparse": "gyosei sparse",
    "hybrid": "gyosei hybrid",
    "bm25": "BM25（ベースライン）",
    "langchain": "LangChain既定（ベースライン）",
}
_SECRET_FIELDS = {"index": {"api_key"}, "llm": {"api_key"}}


def settings_summary(settings: Any) -> dict[str, Any]:
    """The settings as plain JSON, without secrets (API keys are left out entirely)."""
    return settings.model_dump(mode="json", exclude=_SECRET_FIELDS)


def package_versions() -> dict[str, str | None]:
    """Python, the platform, the git commit (when known) and the key packages' versions."""
    out: dict[str, str | None] = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        root = Path(__file__).resolve().parents[1]
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        out["git_commit"] = commit.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = None
    return out


def build_retrieval_report(ds: "BeirDataset", config: dict[str, Any], systems: dict[str, dict[str, Any]],
                           timings: dict[str, Any], index_info: Any, metric_order: Sequence[str]) -> dict[str, Any]:
    """Assemble the retrieval report (see the schema) from an evaluation's parts."""
    config = dict(config)
    if "settings" in config and not isinstance(config["settings"], dict):
        config["settings"] = settings_summary(config["settings"])
    judged = ds.judged_queries
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "retrieval",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": {
            "name": ds.name,
            "path": str(ds.path),
            "fingerprint": ds.fingerprint,
            "corpus_fingerprint": ds.corpus_fingerprint,
            "documents": len(ds.corpus),
            "queries": len(ds.queries),
            "queries_evaluated": len(judged),
            "queries_without_relevant": len(ds.queries) - len(judged),
            "qrels_files": ds.qrels_files,
        },
        "config": config,
        "versions": package_versions(),
        "index": None if index_info is None else {
            "path": str(index_info.path),
            "key": index_info.key,
            "documents": index_info.documents,
            "chunks": index_info.chunks,
            "new_chunks": index_info.new_chunks,
        },
        "metric_names": list(metric_order),
        "systems": list(systems),
        "metrics": {name: {m: round(v, 6) for m, v in s["metrics"].items()} for name, s in systems.items()},
        "timings": {
            "index_s": round(timings.get("index_s", 0.0), 3),
            "baseline_build_s": {k: round(v, 3) for k, v in timings.get("baseline_build_s", {}).items()},
            "query_s": {k: round(v, 3) for k, v in timings.get("query_s", {}).items()},
            "resumed_queries": {name: s.get("resumed", 0) for name, s in systems.items()},
        },
        "per_query": [row for s in systems.values() for row in s["rows"]],
    }


def markdown_summary(report: dict[str, Any]) -> str:
    """A Markdown page: dataset, metrics table (systems x metrics, best in bold), timings."""
    ds, names = report["dataset"], report["metric_names"]
    lines = [
        f"# 検索評価: {ds['name']}",
        "",
        f"- 作成: {report['created']}",
        f"- データセット: `{ds['path']}`（文書 {ds['documents']}、質問 {ds['queries_evaluated']}/{ds['queries']}、"
        f"指紋 `{ds['fingerprint'][:12]}`）",
        f"- k={report['config'].get('k')}、文書単位（文書の最良チャンクで順位付け）、二値の関連度",
        "",
        "| システム | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    best = {m: max(report["metrics"][s][m] for s in report["systems"]) for m in names} if report["systems"] else {}
    for system in report["systems"]:
        cells = []
        for m in names:
            value = report["metrics"][system][m]
            cells.append(f"**{value:.3f}**" if value == best[m] else f"{value:.3f}")
        lines.append(f"| {SYSTEM_LABELS.get(system, system)} | " + " | ".join(cells) + " |")
    t = report["timings"]
    lines += ["", "## 所要時間（秒）", "", f"- 索引: {t['index_s']:.1f}"
              + (f"（新規チャンク {report['index']['new_chunks']} / 全 {report['index']['chunks']}）" if report.get("index") else "")]
    for name, seconds in t["baseline_build_s"].items():
        lines.append(f"- ベースライン構築 {SYSTEM_LABELS.get(name, name)}: {seconds:.1f}")
    for name, seconds in t["query_s"].items():
        lines.append(f"- 検索 {SYSTEM_LABELS.get(name, name)}: {seconds:.1f}")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<timestamp>-<kind>-<dataset>.json`` and ``.md`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = f"{stamp}-{report['kind']}-{report['dataset']['name']}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(markdown_summary(report), encoding="utf-8")
    return json_path, md_path
