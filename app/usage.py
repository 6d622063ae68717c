"""The 利用状況 dashboard's numbers, computed from audit events (``AuditLog.query``): questions per
day, use per page (by what was done, so its columns add up to the totals), users and sign-ins,
the feedback ratio, latency percentiles and frequent search terms. Days are in one time zone
(``export.timezone``, Japan time by default) for the range, the chart and the counts alike."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from app.audit import AuditEvent
from app.auth import User, UserStore

# Pages by action, for events that do not name their page.
ACTION_PAGES = {"question": "質問", "feedback": "質問", "draft": "答弁作成", "export": "答弁作成", "confirm": "答弁作成",
                "upload": "文書管理", "ingest": "文書管理", "delete": "文書管理", "sign_in": "ログイン"}
# The columns of the per-page table: what was done there (sign-ins are counted apart).
ACTION_LABELS = {"question": "質問", "draft": "答弁作成", "export": "出力", "confirm": "確認", "feedback": "評価",
                 "upload": "文書操作", "ingest": "文書操作", "delete": "文書操作"}
TIMEZONE = ZoneInfo("Asia/Tokyo")


def zone(name: str | None) -> dt.tzinfo:
    """The configured time zone (``export.timezone``) of days and months; Japan time by default."""
    return ZoneInfo(name) if name else TIMEZONE


def now() -> dt.datetime:
    """The current time (UTC); tests replace it to stand on either side of midnight."""
    return dt.datetime.now(dt.timezone.utc)


def local_today(tz: dt.tzinfo = TIMEZONE) -> dt.date:
    """Today in ``tz``: the default end of the dashboard's range (never the server's UTC date)."""
    return now().astimezone(tz).date()


def local_day(event: AuditEvent, tz: dt.tzinfo = TIMEZONE) -> str:
    """The event's day in ``tz`` (Japan time by default), YYYY-MM-DD."""
    moment = dt.datetime.fromisoformat(event.time.replace("Z", "+00:00"))
    return moment.astimezone(tz).date().isoformat()


def within_days(events: Iterable[AuditEvent], since: dt.date, until: dt.date, tz: dt.tzinfo = TIMEZONE) -> list[AuditEvent]:
    """The events whose day in ``tz`` lies in [since, until] (query the log a day wider first)."""
    return [e for e in events if since.isoformat() <= local_day(e, tz) <= until.isoformat()]


def questions_per_day(events: Iterable[AuditEvent], tz: dt.tzinfo = TIMEZONE) -> dict[str, int]:
    """Day -> number of questions, oldest first."""
    counts = Counter(local_day(e, tz) for e in events if e.action == "question")
    return dict(sorted(counts.items()))


def page_of(event: AuditEvent) -> str:
    """Where an event happened: its page, else the face (API, CLI), else the action's page."""
    page = event.parameters.get("page")
    if page:
        return str(page)
    command = str(event.parameters.get("command") or "")
    if command.startswith("api."):
        return "API"
    if command or event.parameters.get("question_file"):
        return "コマンド"
    return ACTION_PAGES.get(event.action, "その他")


def use_per_page(events: Iterable[AuditEvent]) -> dict[str, dict[str, int]]:
    """Page -> {what was done (ACTION_LABELS): count}, most used page first; sign-ins and other
    actions are not counted here. The 質問 column sums to the number of questions."""
    table: dict[str, Counter[str]] = {}
    for e in events:
        label = ACTION_LABELS.get(e.action)
        if label is not None:
            table.setdefault(page_of(e), Counter())[label] += 1
    order = sorted(table, key=lambda p: -sum(table[p].values()))
    return {p: dict(table[p]) for p in order}


def users_and_sign_ins(events: Iterable[AuditEvent]) -> tuple[int, int]:
    """(distinct users who did anything, successful sign-ins) in ``events``."""
    users, sign_ins = set(), 0
    for e in events:
        if e.action == "sign_in":
            if e.outcome == "ok":
                sign_ins += 1
                users.add(e.user)
        elif e.action != "sign_out":
            users.add(e.user)
    return len(users), sign_ins


@dataclass
class FeedbackRatio:
    good: int
    bad: int

    @property
    def total(self) -> int:
        return self.good + self.bad

    @property
    def good_share(self) -> float | None:
        return self.good / self.total if self.total else None


def feedback_ratio(events: Iterable[AuditEvent]) -> FeedbackRatio:
    """How many answers were rated good and bad."""
    ratings = Counter(e.parameters.get("rating") for e in events if e.action == "feedback")
    return FeedbackRatio(ratings.get("good", 0), ratings.get("bad", 0))


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_percentiles(events: Iterable[AuditEvent], action: str = "question") -> tuple[float | None, float | None, int]:
    """(p50, p95) latency in milliseconds of ``action`` events that reached the user (answered or
    refused; errors left out), and how many there were."""
    values = [float(e.latency_ms) for e in events if e.action == action and e.latency_ms is not None and e.outcome != "error"]
    return percentile(values, 50), percentile(values, 95), len(values)


def _default_terms(text: str) -> list[str]:
    from retrieval.question_analysis import policy_terms

    return list(policy_terms(text))


def asked_within(store: UserStore, viewer: User) -> Callable[[str], bool]:
    """Whether a question's asker is someone whose access lies within ``viewer``'s (clearance no
    higher, no group the viewer lacks), as the users file says now. A question's words tell what
    the asker could read: a 機密性3 term must not reach a 機密性1 administrator. Askers the
    file does not know (removed users, the CLI, single sign-on) are left out."""
    seen: dict[str, bool] = {}
    mine = set(viewer.access.groups)

    def within(name: str) -> bool:
        if name not in seen:
            asker = store.get(name)
            seen[name] = asker is not None and asker.clearance <= viewer.clearance and set(asker.access.groups) <= mine
        return seen[name]

    return within


def frequent_terms(events: Iterable[AuditEvent], n: int = 20,
                   terms: Callable[[str], list[str]] = _default_terms,
                   include: Callable[[str], bool] | None = None) -> list[tuple[str, int]]:
    """The topic terms most often asked about (each counted once per question), from the
    questions of the users ``include`` accepts (see ``asked_within``)."""
    counts: Counter[str] = Counter()
    for e in events:
        if include is not None and not include(e.user):
            continue
        if e.action == "question" and e.parameters.get("question"):
            found = terms(str(e.parameters["question"]))
            # Whole compounds only: マイナンバーカード, not also マイナンバー and カード.
            counts.update({t for t in found if not any(t != o and t in o for o in found)})
    return counts.most_common(n)
