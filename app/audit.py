"""The audit log: an append-only record of who asked, drafted, exported, uploaded, ingested or
deleted what, when, with which parameters, and which documents they got back.

SQLite (the standard library's ``sqlite3``, WAL mode, a busy timeout) by default; PostgreSQL by
URL for several instances (``psycopg``, imported only then). Rows are never updated: a trigger
refuses ``UPDATE``, and the only deletion is ``purge`` (the retention setting), which records an
event of its own. Each row carries the SHA-256 of its content and of the row before it, so
``verify`` finds rows edited or removed behind the log's back.

What is stored: the user, the UTC time, the action, its parameters as JSON (for a question: its
text, filters, mode, k; auditors need the question), the returned document ids, the latency and
the outcome. Never passages or document text.

>>> log = open_audit_log(settings.audit)
>>> with log.track("tanaka", "question", {"question": "行政手続法の目的", "k": 5}) as event:
...     event.doc_ids = [hit.payload["doc_id"] for hit in hits]
>>> log.query(since="2026-11-01", action="question")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, TextIO

from app.audit_db import AuditError, connect
from retrieval.errors import GyoseiError
from retrieval.settings import AuditSettings

ACTIONS = ("question", "draft", "export", "upload", "ingest", "delete", "sign_in", "feedback", "purge")
FORMATS = ("csv", "jsonl")
CSV_COLUMNS = ("id", "time", "user", "action", "outcome", "latency_ms", "doc_ids", "parameters", "message", "hash")
_COLUMNS = "id, ts, user_name, action, parameters, doc_ids, latency_ms, outcome, message, prev_hash, hash"


@dataclass
class AuditEvent:
    """One recorded action. ``time`` is UTC ISO 8601 (``2026-11-22T05:03:01.123456Z``)."""

    user: str
    action: str
    parameters: dict[str, Any] = field(default_factory=dict)
    doc_ids: list[str] = field(default_factory=list)
    latency_ms: int | None = None
    outcome: str = "ok"
    message: str = ""
    time: str = ""
    id: int | None = None
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def note_answer(self, answer: Any) -> None:
        """What every face records of an answer (``retrieval.answer_types.Answer``): the cited
        documents, whether it was refused (``no_answer``) and how it was made."""
        self.doc_ids = [s.doc_id for s in answer.sources]
        self.outcome = "no_answer" if answer.refused else "ok"
        self.parameters["method"] = answer.method


def utc_now() -> str:
    """The current UTC time in the log's fixed-width, sortable format."""
    return _fmt(dt.datetime.now(dt.timezone.utc))


def _fmt(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bound(value: str | dt.date | None, name: str, *, end: bool) -> str | None:
    """A ``since``/``until`` bound as a stored time string. A bare date covers that whole day."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value + dt.timedelta(days=1) if end else value, dt.time())
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time())
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise AuditError(
                f"期間の指定 {name}='{value}' を解釈できません。YYYY-MM-DD か YYYY-MM-DDTHH:MM:SS の形式で指定してください。"
            ) from None
        if end and len(text) != 10:
            moment += dt.timedelta(microseconds=1)  # an explicit time is inclusive
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return _fmt(moment)


def _digest(prev_hash: str, ts: str, user: str, action: str, params: str, doc_ids: str,
            latency_ms: int | None, outcome: str, message: str) -> str:
    body = json.dumps([prev_hash, ts, user, action, params, doc_ids, latency_ms, outcome, message], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class AuditLog:
    """Append-only audit events in a SQLite file or a PostgreSQL database (see module docs).

    One connection per instance, guarded by a lock (Streamlit serves sessions from threads);
    several processes may write at once (SQLite: WAL and a busy timeout; PostgreSQL: a table lock
    per insert keeps the hash chain in order).
    """

    def __init__(self, url: str, password: str | None = None, *, busy_timeout_s: float = 30.0) -> None:
        self._db = connect(url, password, busy_timeout_s)
        self._lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------------

    def record(self, user: str, action: str, parameters: dict[str, Any] | None = None,
               doc_ids: list[str] | None = None, latency_ms: int | None = None,
               outcome: str = "ok", message: str = "") -> AuditEvent:
        """Append one event and return it as stored (with its id, time and hash)."""
        if action not in ACTIONS:
            raise AuditError(f"監査ログの操作種別 {action!r} は不明です（使える種別: {', '.join(ACTIONS)}）。")
        if not user:
            raise AuditError("監査ログには利用者名が必要です（audit.user を設定するか、ログインしてください）。")
        event = AuditEvent(user=str(user), action=action, parameters=dict(parameters or {}),
                           doc_ids=[str(d) for d in dict.fromkeys(doc_ids or [])],
                           latency_ms=None if latency_ms is None else int(latency_ms),
                           outcome=str(outcome), message=str(message or ""))
        with self._lock:
            self._db.write(lambda cur: self._insert(cur, event))
        return event

    def _insert(self, cur: Any, event: AuditEvent) -> None:
        """Insert inside the backend's write transaction (the previous hash cannot change under us)."""
        cur.execute(self._db.sql("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1"))
        row = cur.fetchone()
        prev = row[0] if row else ""
        event.time = utc_now()  # taken under the write lock: times grow with ids
        params = json.dumps(event.parameters, ensure_ascii=False, sort_keys=True, default=str)
        docs = json.dumps(event.doc_ids, ensure_ascii=False)
        event.hash = _digest(prev, event.time, event.user, event.action, params, docs,
                             event.latency_ms, event.outcome, event.message)
        cur.execute(
            self._db.sql(
                "INSERT INTO audit_events (ts, user_name, action, parameters, doc_ids, latency_ms, outcome, message,"
                " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            (event.time, event.user, event.action, params, docs, event.latency_ms, event.outcome, event.message,
             prev, event.hash),
        )
        event.id = int(cur.fetchone()[0])

    def track(self, user: str, action: str, parameters: dict[str, Any] | None = None) -> "_Tracker":
        """A ``with`` block recorded as one event: latency measured, ``outcome="error"`` (and the
        error's message) if it raises. Set ``doc_ids``/``outcome`` on the yielded event inside."""
        return _Tracker(self, user, action, dict(parameters or {}))

    # -- reading ------------------------------------------------------------------------------

    def query(self, since: str | dt.date | None = None, until: str | dt.date | None = None,
              user: str | None = None, action: str | None = None) -> list[AuditEvent]:
        """Events in ``[since, until]`` (a bare date covers its whole day), oldest first."""
        return list(self._select(since, until, user, action))

    def _select(self, since, until, user, action) -> Iterator[AuditEvent]:
        low, high = _bound(since, "since", end=False), _bound(until, "until", end=True)
        given = [(c, v) for c, v in (("ts >= ?", low), ("ts < ?", high), ("user_name = ?", user), ("action = ?", action)) if v]
        where, args = [c for c, _ in given], [v for _, v in given]
        sql = f"SELECT {_COLUMNS} FROM audit_events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        with self._lock:
            rows = self._db.read(sql, args)
        for r in rows:
            yield AuditEvent(id=int(r[0]), time=r[1], user=r[2], action=r[3], parameters=json.loads(r[4]),
                             doc_ids=json.loads(r[5]), latency_ms=r[6], outcome=r[7], message=r[8], hash=r[10])

    def export(self, out: TextIO, fmt: str = "csv", *, by: str, since: str | dt.date | None = None,
               until: str | dt.date | None = None, user: str | None = None, action: str | None = None) -> int:
        """Write the selected events to ``out`` as CSV or JSON Lines for auditors; the export
        itself is recorded (by ``by``). Returns the number of events written."""
        if fmt not in FORMATS:
            raise AuditError(f"出力形式 {fmt!r} は使えません（csv か jsonl）。")
        events = self.query(since, until, user, action)
        if fmt == "jsonl":
            for e in events:
                out.write(json.dumps(e.to_dict(), ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(out)
            writer.writerow(CSV_COLUMNS)
            for e in events:
                writer.writerow([e.id, e.time, e.user, e.action, e.outcome, "" if e.latency_ms is None else e.latency_ms,
                                 " ".join(e.doc_ids), json.dumps(e.parameters, ensure_ascii=False, sort_keys=True),
                                 e.message, e.hash])
        self.record(by, "export", {"what": "audit_log", "format": fmt, "since": since and str(since),
                                   "until": until and str(until), "user": user, "action": action, "rows": len(events)})
        return len(events)

    def purge(self, retention_days: int, *, by: str) -> int:
        """Delete events older than ``retention_days`` and record that (the only deletion)."""
        if int(retention_days) < 1:
            raise AuditError(f"保存期間 {retention_days} 日は短すぎます（1 日以上を指定してください）。")
        cutoff = _fmt(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=int(retention_days)))
        removed = 0

        def work(cur: Any) -> None:
            nonlocal removed
            cur.execute(self._db.sql("DELETE FROM audit_events WHERE ts < ?"), (cutoff,))
            removed = max(int(cur.rowcount or 0), 0)
            event = AuditEvent(user=str(by), action="purge",
                               parameters={"retention_days": int(retention_days), "before": cutoff, "removed": removed})
            self._insert(cur, event)

        with self._lock:
            self._db.write(work)
        return removed

    def verify(self) -> list[int]:
        """Ids of events whose content or link to the previous event does not match its hash
        (empty: the log is intact since its oldest kept event)."""
        with self._lock:
            rows = self._db.read(f"SELECT {_COLUMNS} FROM audit_events ORDER BY id", [])
        broken: list[int] = []
        prev_hash: str | None = None
        for r in rows:
            rid, ts, user, action, params, docs, latency, outcome, message, prev, digest = r
            linked = prev_hash is None or prev == prev_hash
            if not linked or _digest(prev, ts, user, action, params, docs, latency, outcome, message) != digest:
                broken.append(int(rid))
            prev_hash = digest
        return broken

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Tracker:
    """The ``with`` block of ``AuditLog.track``."""

    def __init__(self, log: AuditLog, user: str, action: str, parameters: dict[str, Any]) -> None:
        self.log = log
        self.event = AuditEvent(user=user, action=action, parameters=parameters)
        self._started = 0.0

    def __enter__(self) -> AuditEvent:
        self._started = time.perf_counter()
        return self.event

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        e = self.event
        if exc is not None:
            e.outcome = "error"
            # Our own errors carry a Japanese message meant for users; others only their type
            # (their text may quote a document).
            e.message = str(exc) if isinstance(exc, GyoseiError) else type(exc).__name__
        latency = int(round((time.perf_counter() - self._started) * 1000))
        recorded = self.log.record(e.user, e.action, e.parameters, e.doc_ids, latency, e.outcome, e.message)
        e.id, e.time, e.hash, e.latency_ms = recorded.id, recorded.time, recorded.hash, recorded.latency_ms


def open_audit_log(settings: AuditSettings) -> AuditLog:
    """The audit log the settings describe (a SQLite file's folder is created on first use)."""
    password = settings.password.get_secret_value() if settings.password else None
    return AuditLog(settings.url, password)


__all__ = ["ACTIONS", "FORMATS", "AuditError", "AuditEvent", "AuditLog", "open_audit_log", "utc_now"]
