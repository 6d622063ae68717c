"""The periodic usage report (定期報告): per month and per group, from the audit log — questions,
drafts, exports; questions answered, refused and with flagged sentences; confirmations of
drafts; feedback; median and p95 latency of questions. Months are months of the configured time
zone (``export.timezone``); a user's group is what the users file says now (their groups joined
with 「・」), 「（利用者一覧にない）」 for names it does not know (the CLI, removed users).
Written as CSV, Excel (openpyxl) or Markdown, for ``gyosei usage report`` and 利用状況."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import astuple, dataclass, fields
from typing import Callable, Iterable

from app.audit import AuditEvent
from app.usage import TIMEZONE, percentile
from retrieval.settings import Settings

__all__ = ["build_report", "ReportRow", "COLUMNS", "FORMATS", "usage_rows", "render_report", "groups_from_store", "UNKNOWN_GROUP"]

FORMATS = ("csv", "xlsx", "md")
UNKNOWN_GROUP = "（利用者一覧にない）"
COLUMNS = ("月", "グループ", "質問", "答弁作成", "出力", "回答あり", "該当なし", "要確認の文あり", "確認", "評価（良い）",
           "評価（悪い）", "応答時間 中央値（秒）", "応答時間 p95（秒）")


@dataclass
class ReportRow:
    month: str
    group: str
    questions: int = 0
    drafts: int = 0
    exports: int = 0
    answered: int = 0
    refused: int = 0
    flagged: int = 0
    confirmations: int = 0
    feedback_good: int = 0
    feedback_bad: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None


def groups_from_store(store) -> Callable[[str], str]:
    """name -> the user's groups as one label, from the users file (as it says now)."""
    seen: dict[str, str] = {}

    def group_of(name: str) -> str:
        if name not in seen:
            user = store.get(name)
            seen[name] = "・".join(sorted(user.groups)) if user is not None and user.groups else UNKNOWN_GROUP
        return seen[name]

    return group_of


def _month(event: AuditEvent, tz: dt.tzinfo) -> str:
    return dt.datetime.fromisoformat(event.time.replace("Z", "+00:00")).astimezone(tz).strftime("%Y-%m")


def _flagged(event: AuditEvent) -> bool:
    return bool(event.parameters.get("flagged")) or event.outcome == "needs_review"


def usage_rows(events: Iterable[AuditEvent], group_of: Callable[[str], str], tz: dt.tzinfo = TIMEZONE) -> list[ReportRow]:
    """One row per (month, group) that had any counted event, in order. ``events`` are the
    finished rows (``AuditLog.query`` leaves the ``started`` ones out)."""
    rows: dict[tuple[str, str], ReportRow] = {}
    latencies: dict[tuple[str, str], list[float]] = {}
    for e in events:
        if e.outcome == "started" or e.action not in ("question", "draft", "export", "confirm", "feedback"):
            continue
        key = (_month(e, tz), group_of(e.user))
        row = rows.setdefault(key, ReportRow(*key))
        if e.action == "question":
            row.questions += 1
            row.answered += e.outcome == "ok"
            row.refused += e.outcome == "no_answer"
            row.flagged += _flagged(e)
            if e.latency_ms is not None and e.outcome in ("ok", "no_answer"):
                latencies.setdefault(key, []).append(e.latency_ms / 1000)
        elif e.action == "draft":
            row.drafts += 1
            row.flagged += _flagged(e)
        elif e.action == "export":
            row.exports += 1
        elif e.action == "confirm":
            row.confirmations += e.outcome == "ok"
        elif e.action == "feedback":
            rating = e.parameters.get("rating")
            row.feedback_good += rating == "good"
            row.feedback_bad += rating == "bad"
    for key, values in latencies.items():
        rows[key].latency_p50_s = round(percentile(values, 50), 3)
        rows[key].latency_p95_s = round(percentile(values, 95), 3)
    return [rows[k] for k in sorted(rows)]


def _cells(row: ReportRow) -> list:
    return ["" if v is None else v for v in astuple(row)]


def render_report(rows: list[ReportRow], fmt: str, title: str) -> bytes:
    """The report as bytes in ``fmt`` (csv: UTF-8 with BOM so Excel reads the Japanese)."""
    assert len(COLUMNS) == len(fields(ReportRow))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(_cells(r) for r in rows)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    if fmt == "md":
        lines = [f"# {title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
        lines += ["| " + " | ".join(str(c) for c in _cells(r)) + " |" for r in rows]
        if not rows:
            lines.append("\n（この期間の記録はありません）")
        return ("\n".join(lines) + "\n").encode("utf-8")
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Font

        wb = Workbook()
        ws = wb.active
        ws.title = "利用状況"
        ws.append([title])
        ws["A1"].font = Font(bold=True)
        ws.append(list(COLUMNS))
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append([None if v == "" else v for v in _cells(r)])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}")


def build_report(settings: Settings, log, since: dt.date, until: dt.date, fmt: str) -> bytes:
    """The report of [since, until] (days of ``export.timezone``) as bytes in ``fmt``."""
    from app.auth import UserStore
    from app.usage import within_days, zone

    tz = zone(settings.export.timezone)
    events = within_days(log.query(since=since - dt.timedelta(days=1), until=until + dt.timedelta(days=1)), since, until, tz)
    rows = usage_rows(events, groups_from_store(UserStore(settings.auth.users_file)), tz)
    title = f"利用状況報告 {since.isoformat()}〜{until.isoformat()}（{settings.export.timezone}）"
    return render_report(rows, fmt, title)
