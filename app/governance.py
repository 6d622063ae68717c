"""The CAIO's record (生成AIシステム ガバナンス記録), built from live facts — never typed: the
models and paths in use, where data goes, what is indexed (by type, 機密性 and group), the
users (by clearance, administrators), the audit settings and whether the hash chain verifies,
the latest evaluation figures with their dates and files, and the four viewpoints of the
高リスク判定シート with the system's facts filled in and the judgement left blank.

``gather`` takes what the faces already hold (settings, the index's documents, the users file,
the audit log, the reports folder); ``app.governance_export`` writes it as .docx or Markdown.
Wording in ``prompts/governance.yaml``."""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.answer_view import DOC_TYPE_LABELS
from retrieval.cpu import PATH_LABELS, auto_paths, detect_cpu, onnx_runtime_available
from retrieval.settings import Settings

__all__ = ["external_warning", "GovernanceReport", "Section", "Viewpoint", "gather", "wording", "EVAL_KINDS", "RECENT_DAYS"]

EVAL_KINDS = ("retrieval", "answers", "support", "nli")
RECENT_DAYS = 90


@functools.lru_cache(maxsize=1)
def wording() -> dict[str, Any]:
    import yaml

    from prompts import load_text

    return yaml.safe_load(load_text("governance.yaml"))


@dataclass
class Section:
    """A titled list of (label, value) facts, optionally with a table (header row first)."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)


@dataclass
class Viewpoint:
    """One viewpoint of the 高リスク判定シート: the system's facts; the CAIO's judgement blank."""

    title: str
    question: str
    facts: str
    judgement: str = ""
    reason: str = ""


@dataclass
class GovernanceReport:
    title: str
    intro: str
    created: str
    sections: list[Section]
    viewpoints: list[Viewpoint]
    figures: dict[str, Any]  # the numbers used above, by name (what tests compare with their sources)


def external_warning(settings: Settings) -> str | None:
    """The Japanese warning for an LLM endpoint not on this machine (None when it is, or none is set)."""
    if not settings.llm.external:
        return None
    endpoint = settings.llm.base_url or settings.llm.host or settings.llm.model
    return wording()["external_warning"].format(endpoint=endpoint, limit=settings.llm_limit)


def _planned_path(settings: Settings) -> str:
    if settings.embedding.precision != "auto":
        return settings.embedding.precision
    return auto_paths(detect_cpu(), onnx_runtime_available())[0]


def _where(url: str | None, path: Path | None = None) -> str:
    """A store's location without credentials: scheme and host of a server URL, else the file."""
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}" if parts.hostname else url.split("?")[0]
    return str(path) if path is not None else ""


def _counts_line(counter: Counter, fmt=str) -> str:
    return "、".join(f"{fmt(k)} {v}" for k, v in sorted(counter.items())) or "なし"


def _recent(audit: Any, now: dt.datetime) -> dict[str, int]:
    since = (now - dt.timedelta(days=RECENT_DAYS)).date()
    events = audit.query(since=since) if audit is not None else []
    by = Counter(e.action for e in events if e.action != "confirm" or e.outcome == "ok")
    return {"questions": by["question"], "drafts": by["draft"], "exports": by["export"], "confirmations": by["confirm"]}


def latest_reports(folder: Path) -> dict[str, tuple[Any, dict]]:
    """kind -> (ReportEntry, report) of the newest readable report of each kind in ``folder``."""
    from app.eval_view import list_reports
    from eval.compare import load_report

    entries, _ = list_reports(folder)
    out: dict[str, tuple[Any, dict]] = {}
    for entry in entries:  # newest first
        if entry.kind in EVAL_KINDS and entry.kind not in out:
            out[entry.kind] = (entry, load_report(entry.path))
    return out


def _eval_rows(folder: Path) -> tuple[list[list[str]], dict[str, Any]]:
    from eval.compare import KIND_LABELS, flat_metrics

    rows = [["評価", "作成日時", "データセット", "システム", "指標", "値", "ファイル"]]
    figures: dict[str, Any] = {}
    for kind, (entry, report) in sorted(latest_reports(folder).items()):
        metrics = flat_metrics(report)
        systems = {s for s, _ in metrics}
        if kind == "retrieval" and "hybrid" in systems:
            metrics = {k: v for k, v in metrics.items() if k[0] == "hybrid"}  # the path the product uses
        figures[kind] = {"file": entry.path.name, "created": entry.created, "metrics": {f"{s}/{m}": v for (s, m), v in metrics.items()}}
        for (system, metric), value in metrics.items():
            rows.append([KIND_LABELS.get(kind, kind), entry.created[:16].replace("T", " "), entry.dataset, system, metric,
                         f"{value:.4g}", entry.path.name])
    return rows, figures


def gather(settings: Settings, *, docs: dict | None, users: Any, audit: Any, reports_dir: Path,
           index_error: str = "", embedding_path: str | None = None, now: dt.datetime | None = None,
           scope: str = "") -> GovernanceReport:
    """The record from what the faces hold: ``docs`` = ``index.documents(None)`` (None with
    ``index_error`` when the index could not be opened), ``users`` a UserStore, ``audit`` an AuditLog;
    ``scope``: which documents ``docs`` holds when not all of them (a page counts what its viewer may read)."""
    w, L = wording(), wording()["labels"]
    now = now or dt.datetime.now(dt.timezone.utc)
    llm = settings.llm
    figures: dict[str, Any] = {"llm_external": llm.external, "llm_limit": settings.llm_limit}

    path = embedding_path or _planned_path(settings)
    index_paths = Counter(p for info in (docs or {}).values() for p in (info.embedding_paths or {"不明"}))
    llm_value = L["llm_value"].format(provider=llm.provider, model=llm.model or "（未設定）",
                                      endpoint=llm.base_url or llm.host or "（プロバイダー既定）") if llm.enabled else L["llm_none"]
    models = Section(w["sections"]["models"], [
        (L["embedding_model"], settings.embedding.model),
        (L["embedding_setting"], settings.embedding.precision),
        (L["embedding_planned"], PATH_LABELS.get(path, path)),
        (L["embedding_index"], _counts_line(index_paths, lambda p: PATH_LABELS.get(p, p)) + "（文書数）"),
        (L["llm"], llm_value),
        (L["llm_external"], L["yes_external"] if llm.external else L["no_external"]),
        (L["llm_limit"], L["llm_limit_value"].format(limit=settings.llm_limit) if llm.enabled else "—"),
        (L["nli"], L["nli_llm"] if llm.enabled else L["nli_classifier"]),
    ])
    data = Section(w["sections"]["data"], [
        (L["index_store"], _where(settings.index.url, settings.index.path)),
        (L["audit_store"], _where(settings.audit.url)),
        (L["users_store"], str(settings.auth.users_file)),
        (L["llm_destination"], (llm.base_url or llm.host or llm.model) + (f"（{L['yes_external']}）" if llm.external else "")
         if llm.enabled else L["no_external"]),
        (L["sign_in"], L["sign_in_oidc"] if settings.auth.oidc else L["sign_in_local"]),
    ])

    index = Section(w["sections"]["index"])
    if docs is None:
        index.facts.append(("", L["index_unavailable"].format(reason=index_error or "不明")))
        by_type = by_level = by_group = Counter()
    else:
        by_type = Counter(info.doc_type for info in docs.values())
        by_level = Counter(info.confidentiality for info in docs.values())
        by_group = Counter(g for info in docs.values() for g in (info.groups or ["（なし）"]))
        if scope:
            index.facts.append((L["scope"], scope))
        index.facts += [(L["documents_total"], str(len(docs))),
                        (L["by_type"], _counts_line(by_type, lambda k: DOC_TYPE_LABELS.get(k, k))),
                        (L["by_level"], _counts_line(by_level, lambda k: f"機密性{k}")),
                        (L["by_group"], _counts_line(by_group))]
    figures.update(documents=None if docs is None else len(docs), by_type=dict(by_type), by_level=dict(by_level),
                   by_group=dict(by_group))

    people = [users.get(n) for n in users.names()] if users is not None and users.exists() else []
    people = [u for u in people if u is not None]
    by_clearance = Counter(u.clearance for u in people)
    admins = sum(1 for u in people if u.is_admin)
    figures.update(users=len(people), admins=admins, by_clearance=dict(by_clearance))
    users_section = Section(w["sections"]["users"], [
        (L["users_total"], str(len(people))), (L["admins"], str(admins)),
        (L["clearance"], _counts_line(by_clearance, lambda k: f"機密性{k}"))])

    check = audit.check() if audit is not None else None
    rows = len(audit.query(started=True)) if audit is not None else 0
    figures.update(audit_intact=None if check is None else check.intact, audit_rows=rows,
                   retention_days=settings.audit.retention_days)
    recent = _recent(audit, now)
    figures["recent"] = recent
    chain = "—" if check is None else (L["chain_ok"].format(rows=rows) if check.intact else L["chain_broken"].format(
        problems="；".join(check.problems + [f"行 {i}" for i in check.broken[:10]])))
    audit_section = Section(w["sections"]["audit"], [
        (L["retention"], L["retention_value"].format(days=settings.audit.retention_days)),
        (L["chain"], chain),
        (L["recent"].format(days=RECENT_DAYS), L["recent_value"].format(**recent))])

    eval_rows, eval_figures = _eval_rows(reports_dir)
    figures["evals"] = eval_figures
    evals = Section(w["sections"]["evals"], [] if len(eval_rows) > 1 else [("", L["no_report"])],
                    eval_rows if len(eval_rows) > 1 else [])

    fill = {
        "users": dict(users=len(people), admins=admins, clearance=_counts_line(by_clearance, lambda k: f"機密性{k}"),
                      sign_in=L["sign_in_oidc"] if settings.auth.oidc else L["sign_in_local"]),
        "task": dict(days=RECENT_DAYS, **recent),
        "confidential": dict(llm=llm_value, external=L["yes_external"] if llm.external else L["no_external"],
                             limit=settings.llm_limit if llm.enabled else "—",
                             levels=_counts_line(by_level, lambda k: f"機密性{k}")),
        "judgement": dict(days=RECENT_DAYS, **recent),
    }
    viewpoints = [Viewpoint(v["title"], v["question"], w["facts"][v["key"]].format(**fill[v["key"]]))
                  for v in w["viewpoints"]]
    created = now.astimezone(ZoneInfo(settings.export.timezone)).isoformat(timespec="seconds")
    return GovernanceReport(w["title"], w["intro"], created, [models, data, index, users_section, audit_section, evals],
                            viewpoints, figures)
