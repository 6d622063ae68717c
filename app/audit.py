"""The audit log: an append-only record of who asked, drafted, exported, uploaded, ingested or
deleted what, when, with which parameters, and which documents they got back.

SQLite (the standard library's ``sqlite3``, WAL mode, a busy timeout) by default; PostgreSQL by
URL for several instances (``psycopg``, imported only then). Rows are never updated: a trigger
refuses ``UPDATE``, and the only deletion is ``purge`` (the retention setting), which records an
event of its own. Each row carries an HMAC of its content and of the row before it, under a key
kept outside the database, and every write signs a checkpoint (``app.audit_seal``): ``check``
finds rows edited, removed, cut from either end or re-hashed behind the log's back.

``track`` writes an event before the action (outcome ``started``) and again after it, so an
action killed half-way still left a trace. ``query`` leaves the ``started`` rows out unless
asked (``started=True``); exports keep them.

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
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

from app.audit_db import AuditError, SQLiteStore, connect
from app.audit_seal import KEYED_PREFIX, AuditSeal, Checkpoint
from retrieval.errors import GyoseiError
from retrieval.settings import AuditSettings

ACTIONS = ("question", "draft", "confirm", "export", "upload", "ingest", "delete", "access_change", "sign_in", "sign_out", "feedback",
           "purge")
STARTED = "started"  # the outcome of the row written before an action
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
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
        self.parameters["flagged"] = sum(1 for s in answer.sentences if s.flags)  # sentences shown as 要確認


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


def _body(prev_hash: str, ts: str, user: str, action: str, params: str, doc_ids: str,
          latency_ms: int | None, outcome: str, message: str) -> str:
    return json.dumps([prev_hash, ts, user, action, params, doc_ids, latency_ms, outcome, message], ensure_ascii=False)


def _legacy_digest(body: str) -> str:
    """The unkeyed hash rows had before the key existed (still verified, before the first keyed row)."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _storable(text: str) -> str:
    """``text`` as valid UTF-8: a lone surrogate (``"\\ud800"`` from JSON) becomes U+FFFD, so
    a question holding one is still recorded instead of failing the insert."""
    return _SURROGATE_RE.sub("\ufffd", text)


def _json(value: Any) -> str:
    """JSON text that stores as UTF-8: lone surrogates stay as ``\\udXXX`` escapes (they read back as they were)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _default_seal_files(url: str, store: Any) -> tuple[Path, Path]:
    """Key and checkpoint next to a SQLite file (``audit.sqlite3.key``), else under ``var/``."""
    base = store.path if isinstance(store, SQLiteStore) else Path("var") / "audit"
    return base.with_name(base.name + ".key"), base.with_name(base.name + ".checkpoint")


@dataclass
class AuditCheck:
    """The result of ``AuditLog.check``: rows whose hash or link is wrong, and what else does
    not match the signed checkpoint (Japanese). Intact when both are empty."""

    broken: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.broken and not self.problems


class AuditLog:
    """Append-only audit events in a SQLite file or a PostgreSQL database (see module docs).

    One connection per instance, guarded by a lock (Streamlit serves sessions from threads);
    several processes may write at once (SQLite: WAL and a busy timeout; PostgreSQL: a table lock
    per insert keeps the hash chain in order).
    """

    def __init__(self, url: str, password: str | None = None, *, busy_timeout_s: float = 30.0,
                 key_file: Path | None = None, checkpoint_file: Path | None = None) -> None:
        self._db = connect(url, password, busy_timeout_s)
        self._lock = threading.Lock()
        default_key, default_checkpoint = _default_seal_files(url, self._db)
        self.seal = AuditSeal(key_file or default_key, checkpoint_file or default_checkpoint)
        if not self.seal.has_key() and not self._keyed_rows():
            self.seal.create_key()  # a new log (or one from before keys): start the keyed chain

    def _keyed_rows(self) -> bool:
        return bool(self._db.read("SELECT 1 FROM audit_events WHERE hash LIKE ? LIMIT 1", [KEYED_PREFIX + "%"]))

    # -- writing ------------------------------------------------------------------------------

    def record(self, user: str, action: str, parameters: dict[str, Any] | None = None,
               doc_ids: list[str] | None = None, latency_ms: int | None = None,
               outcome: str = "ok", message: str = "") -> AuditEvent:
        """Append one event and return it as stored (with its id, time and hash)."""
        if action not in ACTIONS:
            raise AuditError(f"監査ログの操作種別 {action!r} は不明です（使える種別: {', '.join(ACTIONS)}）。")
        if not user:
            raise AuditError("監査ログには利用者名が必要です（audit.user を設定するか、ログインしてください）。")
        event = AuditEvent(user=_storable(str(user)), action=action, parameters=dict(parameters or {}),
                           doc_ids=[_storable(str(d)) for d in dict.fromkeys(doc_ids or [])],
                           latency_ms=None if latency_ms is None else int(latency_ms),
                           outcome=str(outcome), message=_storable(str(message or "")))
        self.seal.key()  # no key, no record: fail before anything is written
        points: list[Checkpoint] = []
        with self._lock:
            self._db.write(lambda cur: points.append(self._insert(cur, event)))
            self.seal.write_checkpoint(points[0])
        return event

    def _insert(self, cur: Any, event: AuditEvent) -> Checkpoint:
        """Insert inside the backend's write transaction (the previous hash cannot change under
        us); return the checkpoint to sign once it is committed."""
        cur.execute(self._db.sql("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1"))
        row = cur.fetchone()
        prev = row[0] if row else ""
        event.time = utc_now()  # taken under the write lock: times grow with ids
        params = _json(event.parameters)
        docs = _json(event.doc_ids)
        event.hash = self.seal.digest(_body(prev, event.time, event.user, event.action, params, docs,
                                            event.latency_ms, event.outcome, event.message))
        cur.execute(
            self._db.sql(
                "INSERT INTO audit_events (ts, user_name, action, parameters, doc_ids, latency_ms, outcome, message,"
                " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            (event.time, event.user, event.action, params, docs, event.latency_ms, event.outcome, event.message,
             prev, event.hash),
        )
        event.id = int(cur.fetchone()[0])
        cur.execute(self._db.sql("SELECT MIN(id), COUNT(*) FROM audit_events"))
        first, rows = cur.fetchone()
        return Checkpoint(int(first), event.id, int(rows), event.hash)

    def track(self, user: str, action: str, parameters: dict[str, Any] | None = None) -> "_Tracker":
        """A ``with`` block recorded as one event: latency measured, ``outcome="error"`` (and the
        error's message) if it raises. Set ``doc_ids``/``outcome`` on the yielded event inside."""
        return _Tracker(self, user, action, dict(parameters or {}))

    # -- reading ------------------------------------------------------------------------------

    def query(self, since: str | dt.date | None = None, until: str | dt.date | None = None,
              user: str | None = None, action: str | None = None, *, started: bool = False) -> list[AuditEvent]:
        """Events in ``[since, until]`` (a bare date covers its whole day), oldest first; the
        rows written before actions only with ``started``."""
        return list(self._select(since, until, user, action, started))

    def _select(self, since, until, user, action, started: bool = True) -> Iterator[AuditEvent]:
        low, high = _bound(since, "since", end=False), _bound(until, "until", end=True)
        given = [(c, v) for c, v in (("ts >= ?", low), ("ts < ?", high), ("user_name = ?", user), ("action = ?", action),
                                     ("outcome <> ?", None if started else STARTED)) if v]
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
        events = self.query(since, until, user, action, started=True)
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
        points: list[Checkpoint] = []

        def work(cur: Any) -> None:
            nonlocal removed
            cur.execute(self._db.sql("DELETE FROM audit_events WHERE ts < ?"), (cutoff,))
            removed = max(int(cur.rowcount or 0), 0)
            event = AuditEvent(user=str(by), action="purge",
                               parameters={"retention_days": int(retention_days), "before": cutoff, "removed": removed})
            points.append(self._insert(cur, event))

        self.seal.key()
        with self._lock:
            self._db.write(work)
            self.seal.write_checkpoint(points[0], rewind=True)  # the start moved on purpose
        return removed

    def verify(self) -> list[int]:
        """Ids of events whose content or link to the previous event does not match its hash
        (see ``check`` for rows cut from either end)."""
        return self.check().broken

    def check(self) -> AuditCheck:
        """The whole integrity check: every row's keyed hash and link, and the rows against the
        signed checkpoint (first id, last id, row count, head hash)."""
        with self._lock:
            rows = self._db.read(f"SELECT {_COLUMNS} FROM audit_events ORDER BY id", [])
        result = AuditCheck()
        try:
            self.seal.key()
        except AuditError as exc:
            if any(str(r[10]).startswith(KEYED_PREFIX) for r in rows):
                result.problems.append(str(exc))
                return result
        prev_hash: str | None = None
        keyed_seen = False
        for r in rows:
            rid, ts, user, action, params, docs, latency, outcome, message, prev, digest = r
            body = _body(prev, ts, user, action, params, docs, latency, outcome, message)
            keyed = str(digest).startswith(KEYED_PREFIX)
            keyed_seen = keyed_seen or keyed
            valid = self.seal.matches(body, digest) if keyed else (not keyed_seen and _legacy_digest(body) == digest)
            if not valid or not (prev_hash is None or prev == prev_hash):
                result.broken.append(int(rid))
            prev_hash = digest
        result.problems += self._against_checkpoint(rows, keyed_seen)
        return result

    def _against_checkpoint(self, rows: list[tuple], keyed: bool) -> list[str]:
        try:
            point = self.seal.read_checkpoint()
        except AuditError as exc:
            return [str(exc)]
        if point is None:
            return ["監査ログのチェックポイントがありません（削除された可能性があります）。"] if keyed else []
        by_id = {int(r[0]): r for r in rows}
        problems = []
        head = by_id.get(point.last_id)
        if head is None:
            problems.append(f"チェックポイントの最後の記録（ID {point.last_id}）がありません: 末尾の記録が削除されています。")
        elif head[10] != point.head:
            problems.append(f"記録 ID {point.last_id} のハッシュがチェックポイントと一致しません: 記録が作り直されています。")
        first = min(by_id) if by_id else None
        if first != point.first_id:
            problems.append(f"最も古い記録の ID が {first} です（チェックポイントでは {point.first_id}）: "
                            "先頭の記録が削除されています。")
        kept = sum(1 for rid in by_id if point.first_id <= rid <= point.last_id)
        if kept != point.rows:
            problems.append(f"ID {point.first_id}〜{point.last_id} の記録が {kept} 件です（チェックポイントでは {point.rows} 件）。")
        return problems

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
        # Recorded before the action: a process killed half-way still leaves this row (and an
        # unusable audit log stops the action before it starts).
        self.log.record(self.event.user, self.event.action, self.event.parameters, outcome=STARTED)
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
    return AuditLog(settings.url, password, key_file=settings.key_file, checkpoint_file=settings.checkpoint_file)


__all__ = ["ACTIONS", "FORMATS", "STARTED", "AuditCheck", "AuditError", "AuditEvent", "AuditLog", "open_audit_log", "utc_now"]
