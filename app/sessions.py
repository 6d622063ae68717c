"""Sign-in sessions that survive a reload: a signed, expiring token in an HttpOnly cookie,
checked against a server-side table on every run. No Streamlit here.

After a local sign-in the page opens a session (``SessionStore.open``) and gets a one-time code;
the browser trades the code at ``POST /_gyosei/session`` (``app/session_routes.py``) for the
cookie, which JavaScript can never read. On a reload the cookie comes with the page's websocket
(``st.context.cookies``) and ``SessionStore.user_for`` gives the user back while the session is
open, unexpired and the users file still holds the same entry (``UserStore.current``). Signing
out ends the session here, whatever the browser keeps.

The cookie value is ``<token>.<expires>.<signature>``: HMAC-SHA256 over token and expiry with a
key kept in a 0600 file beside the users file; only the token's SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE = "gyosei_session"
CODE_TTL_S = 60
DEFAULT_TTL_S = 8 * 3600  # a working day

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, revision TEXT NOT NULL,
                                     created REAL NOT NULL, expires REAL NOT NULL, ended REAL);
CREATE TABLE IF NOT EXISTS codes (code_hash TEXT PRIMARY KEY, cookie TEXT NOT NULL, expires REAL NOT NULL);
"""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _private_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        os.link(tmp, path)  # never replaces a key another process wrote first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class SessionInfo:
    """An open session: whose, with which users-file revision, until when."""

    user: str
    revision: str
    expires: float
    id: str = ""  # the token's SHA-256: what the server keeps, and what sign-out ends


class SessionStore:
    """Sessions in SQLite (``var/sessions.sqlite3``) with the signing key beside it."""

    def __init__(self, folder: Path, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.path = Path(folder) / "sessions.sqlite3"
        self.key_path = Path(folder) / "session.key"
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        if not self.key_path.exists():
            _private_file(self.key_path, secrets.token_bytes(32))
        self._key = self.key_path.read_bytes()
        with self._db() as db:
            db.executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def _sign(self, token: str, expires: int) -> str:
        return hmac.new(self._key, f"{token}.{expires}".encode(), hashlib.sha256).hexdigest()

    def open(self, user: str, revision: str, now: float | None = None) -> tuple[str, str]:
        """Open a session for ``user``; return the one-time code the browser trades for the
        cookie, and the session's id (for ``end_id``)."""
        now = time.time() if now is None else now
        token, code = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = int(now + self.ttl_s)
        cookie = f"{token}.{expires}.{self._sign(token, expires)}"
        with self._lock, self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute("DELETE FROM codes WHERE expires < ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, NULL)", (_sha(token), user, revision, now, expires))
            db.execute("INSERT INTO codes VALUES (?, ?, ?)", (_sha(code), cookie, now + CODE_TTL_S))
        return code, _sha(token)

    def redeem(self, code: str, now: float | None = None) -> str | None:
        """The cookie value for a one-time code (then the code is gone); None if unknown or old."""
        now = time.time() if now is None else now
        with self._lock, self._db() as db:
            row = db.execute("SELECT cookie, expires FROM codes WHERE code_hash = ?", (_sha(code or ""),)).fetchone()
            db.execute("DELETE FROM codes WHERE code_hash = ?", (_sha(code or ""),))
        if row is None or row[1] < now:
            return None
        return row[0]

    def check(self, cookie: str | None, now: float | None = None) -> SessionInfo | None:
        """The open session a cookie value names; None when forged, expired or ended."""
        now = time.time() if now is None else now
        try:
            token, expires_s, signature = (cookie or "").split(".")
            expires = int(expires_s)
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(token, expires), signature) or expires < now:
            return None
        with self._db() as db:
            row = db.execute("SELECT user, revision, expires, ended FROM sessions WHERE token_hash = ?",
                             (_sha(token),)).fetchone()
        if row is None or row[3] is not None or row[2] < now:
            return None
        return SessionInfo(row[0], row[1], row[2], _sha(token))

    def end(self, cookie: str | None, now: float | None = None) -> bool:
        """End the session a cookie names (sign-out); True when one was open."""
        return self.end_id(_sha((cookie or "").split(".")[0]), now)

    def end_id(self, session_id: str | None, now: float | None = None) -> bool:
        """End a session by its id; True when one was open."""
        with self._lock, self._db() as db:
            cur = db.execute("UPDATE sessions SET ended = ? WHERE token_hash = ? AND ended IS NULL",
                             (time.time() if now is None else now, session_id or ""))
        return cur.rowcount > 0

    def is_open(self, session_id: str, now: float | None = None) -> bool:
        """True while the session is neither ended nor expired (re-checked on every run)."""
        now = time.time() if now is None else now
        with self._db() as db:
            row = db.execute("SELECT expires, ended FROM sessions WHERE token_hash = ?", (session_id,)).fetchone()
        return row is not None and row[1] is None and row[0] >= now
