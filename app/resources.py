"""Heavy things the UI needs, created once per process (``st.cache_resource``) and shared by every
session and page: the embedder, ONE index object (Qdrant Edge allows one open per folder, so
search, ingest and delete share it), the answerer, the drafter and the audit log.

The index is opened for writing (the 文書管理 page ingests and deletes through it); writes are
serialized by ``Resources.write_lock`` while searches go on. While the app runs, a CLI
``gyosei ingest`` on the same folder gets a clear "in use" error instead of corrupting it.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from app.audit import AuditLog, open_audit_log
from app.auth import LoginThrottle, UserStore
from app.factory import build_answerer, build_embedder, build_index
from retrieval.answer import Answerer
from retrieval.embedder import Embedder
from retrieval.index.base import Index
from retrieval.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Resources:
    """The shared components for one configuration (one index)."""

    settings: Settings
    embedder: Embedder
    index: Index
    answerer: Answerer
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    _drafter: Any = None
    _drafter_lock: threading.Lock = field(default_factory=threading.Lock)

    _followups: Any = None

    def drafter(self) -> Any:
        """The Diet-answer drafter (``retrieval.draft.Drafter``), built on first use."""
        with self._drafter_lock:
            if self._drafter is None:
                from app.factory import build_drafter

                self._drafter = build_drafter(self.settings, self.embedder, self.index)
            return self._drafter

    def followups(self) -> Any:
        """The follow-up miner (再質問予測), built on first use."""
        with self._drafter_lock:
            if self._followups is None:
                from app.factory import build_followups

                self._followups = build_followups(self.settings, self.embedder, self.index)
            return self._followups


def settings() -> Settings:
    """The settings, read at the edge on every run (cheap; environment and gyosei.toml)."""
    return Settings.load()


def _index_key(s: Settings) -> str:
    return f"{s.index.model_dump_json()}|{s.embedding.model_dump_json()}|{s.search.model_dump_json()}|" \
           f"{s.answer.model_dump_json()}|{s.llm.model_dump_json()}"


@st.cache_resource(show_spinner="埋め込みモデルを準備しています…")
def _embedder(key: str, _settings: Settings) -> Embedder:
    return build_embedder(_settings)


def _close_resources(res: Resources) -> None:
    try:
        res.index.close()
    except Exception:  # releasing must not hide the reason the cache was cleared
        log.exception("closing the shared index failed")


@st.cache_resource(show_spinner="検索エンジンを準備しています…", on_release=_close_resources)
def _resources(key: str, _settings: Settings) -> Resources:
    embedder = _embedder(_settings.embedding.model_dump_json(), _settings)
    index = build_index(_settings, embedder, read_only=False)
    try:
        answerer = build_answerer(_settings, embedder, index)
    except BaseException:
        index.close()
        raise
    return Resources(_settings, embedder, index, answerer)


def resources(s: Settings) -> Resources:
    """The shared components for ``s`` (built on first call in this process)."""
    return _resources(_index_key(s), s)


def _close_audit(log_: AuditLog) -> None:
    log_.close()


@st.cache_resource(show_spinner=False, on_release=_close_audit)
def _audit(key: str, _settings: Settings) -> AuditLog:
    return open_audit_log(_settings.audit)


def audit_log(s: Settings) -> AuditLog:
    """The process's audit log connection."""
    return _audit(s.audit.model_dump_json(), s)


@st.cache_resource(show_spinner=False)
def _throttle(key: str, max_failures: int, lockout_s: float) -> LoginThrottle:
    return LoginThrottle(max_failures, lockout_s)


def login_throttle(s: Settings) -> LoginThrottle:
    """Failed sign-ins per user name, for this process."""
    return _throttle(str(s.auth.users_file), s.auth.max_failures, s.auth.lockout_s)


def user_store(s: Settings) -> UserStore:
    """The local users file (re-read on every sign-in, so `gyosei user add` takes effect at once)."""
    return UserStore(s.auth.users_file)


@functools.lru_cache(maxsize=8)
def _sessions(folder: str) -> "SessionStore":
    from app.sessions import SessionStore

    return SessionStore(Path(folder))


def session_store(s: Settings) -> "SessionStore":
    """Sign-in sessions (the cookie's server side), beside the users file. Plain caching: the
    cookie endpoints call it outside any Streamlit script run."""
    return _sessions(str(s.auth.users_file.parent))


@functools.lru_cache(maxsize=8)
def _history(folder: str) -> "HistoryStore":
    from app.history import HistoryStore

    return HistoryStore(Path(folder) / "conversations.sqlite3")


def history_store(s: Settings) -> "HistoryStore":
    """Each user's 質問 conversations, beside the users file."""
    return _history(str(s.auth.users_file.parent))
