"""Storage for the audit log: SQLite (standard library) or PostgreSQL (``psycopg``), one schema.

Each backend offers the same four things to ``app.audit``: ``sql`` (our ``?`` placeholders in
its paramstyle), ``write(fn)`` (``fn(cursor)`` inside one serialized write transaction),
``read(sql, args)`` and ``close``. The table refuses ``UPDATE`` with a trigger in both.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from retrieval.errors import ConfigError, GyoseiError


class AuditError(GyoseiError):
    """The audit log cannot be written or read (the action it guards is not carried out)."""


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,
    parameters TEXT NOT NULL,
    doc_ids TEXT NOT NULL,
    latency_ms INTEGER,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
"""

_PG_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS audit_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts TEXT COLLATE "C" NOT NULL,
        user_name TEXT NOT NULL,
        action TEXT NOT NULL,
        parameters TEXT NOT NULL,
        doc_ids TEXT NOT NULL,
        latency_ms BIGINT,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_events_ts ON audit_events (ts)",
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$""",
    """CREATE OR REPLACE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
]
_PG_SCHEMA_LOCK = 7_413_052_091  # advisory lock id: two instances starting at once create the schema once


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def connect(url: str, password: str | None, busy_timeout_s: float) -> "SQLiteStore | PostgresStore":
    """The store for ``url``: ``sqlite:///relative.db``, ``sqlite:////abs.db``, a plain file path,
    or ``postgresql[+psycopg]://user@host:port/db``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("", "sqlite"):
        path = url.split("://", 1)[1] if scheme else url
        if path.startswith("/"):
            path = path[1:]  # sqlite:///rel -> "rel", sqlite:////abs -> "/abs"
        if not path or path == ":memory:":
            raise ConfigError(f"audit.url='{url}' にはファイルの場所が必要です（例: sqlite:///var/audit.sqlite3）。")
        return SQLiteStore(Path(path), busy_timeout_s)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return PostgresStore("postgresql://" + url.split("://", 1)[1], password, busy_timeout_s)
    raise ConfigError(
        f"audit.url='{redact(url)}' の形式には対応していません。sqlite:///var/audit.sqlite3 か "
        "postgresql+psycopg://利用者@ホスト:5432/データベース名 を指定してください。"
    )


class SQLiteStore:
    """A SQLite file in WAL mode: many readers, one writer at a time, others wait (busy timeout)."""

    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self.path = path
        self.where = f"監査ログ {path}"
        try:
            # exist_ok: two processes opening a new log at once both see it missing.
            path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)  # every question is in there
            # Created 0600 before SQLite opens it (its -wal and -shm files take the same mode).
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self.conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(f"{self.where} を開けません（{exc}）。audit.url の場所と書き込み権限を確認してください。") from exc
        self._retry(lambda: self._setup(busy_timeout_s), busy_timeout_s)

    def _setup(self, busy_timeout_s: float) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self.conn.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        self.conn.execute("PRAGMA synchronous = FULL")  # an audit event survives a power cut
        self.conn.executescript("BEGIN IMMEDIATE;" + _SQLITE_SCHEMA + "COMMIT;")

    def _retry(self, fn: Callable[[], None], timeout_s: float) -> None:
        # Switching to WAL needs a moment alone with the file: another process creating it at the
        # same time gets "database is locked" at once, without the busy handler.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise AuditError(f"{self.where} を準備できません（{exc}）。") from exc
                time.sleep(0.05)

    @staticmethod
    def sql(query: str) -> str:
        return query

    def write(self, fn: Callable[[Any], None]) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")  # take the write lock first: the chain head is ours
            fn(cur)
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise AuditError(f"{self.where} に記録できません（{exc}）。操作は中止しました。") from exc
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def read(self, query: str, args: Sequence[Any]) -> list[tuple]:
        try:
            return self.conn.execute(query, list(args)).fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"{self.where} を読めません（{exc}）。") from exc

    def close(self) -> None:
        self.conn.close()


class PostgresStore:
    """A PostgreSQL table shared by several instances; inserts are serialized by a table lock."""

    def __init__(self, conninfo: str, password: str | None, busy_timeout_s: float) -> None:
        self.where = f"監査ログ（{redact(conninfo)}）"
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                f"audit.url は PostgreSQL（{redact(conninfo)}）ですが、ドライバ psycopg がインストールされていません。"
                "pip install 'psycopg[binary]' を実行するか、audit.url を sqlite:///var/audit.sqlite3 にしてください。"
            ) from None
        self._errors = psycopg.Error
        kwargs: dict[str, Any] = {"connect_timeout": max(1, int(busy_timeout_s))}
        if password:
            kwargs["password"] = password
        try:
            self.conn = psycopg.connect(conninfo, autocommit=True, **kwargs)  # transaction() blocks do BEGIN/COMMIT
        except psycopg.Error as exc:
            raise AuditError(
                f"{self.where} に接続できません（{type(exc).__name__}: {redact(str(exc))}）。"
                "サーバーの稼働状況・URL・利用者・パスワードを確認してください。"
            ) from exc
        self._transaction(lambda cur: [cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))]
                          + [cur.execute(stmt) for stmt in _PG_SCHEMA], "を準備できません")

    @staticmethod
    def sql(query: str) -> str:
        return query.replace("?", "%s")

    def _transaction(self, fn: Callable[[Any], Any], failure: str) -> Any:
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                return fn(cur)
        except self._errors as exc:
            raise AuditError(f"{self.where} {failure}（{type(exc).__name__}: {exc}）。") from exc

    def write(self, fn: Callable[[Any], None]) -> None:
        def locked(cur: Any) -> None:
            # Writers queue here (readers do not): the chain head cannot move under us.
            cur.execute("LOCK TABLE audit_events IN EXCLUSIVE MODE")
            fn(cur)

        self._transaction(locked, "に記録できません。操作は中止しました")

    def read(self, query: str, args: Sequence[Any]) -> list[tuple]:
        def run(cur: Any) -> list[tuple]:
            cur.execute(self.sql(query), list(args))
            return cur.fetchall()

        return self._transaction(run, "を読めません")

    def close(self) -> None:
        self.conn.close()
