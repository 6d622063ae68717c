"""Who is signed in: local users with salted scrypt password hashes, or OIDC claims mapped to
clearance and groups. No Streamlit here (the sign-in page in ``app/ui_auth.py`` is a thin face).

The users file is JSON (``settings.auth.users_file``, written with mode 0600)::

    {"users": {"tanaka": {"password": "scrypt$16384$8$1$<salt>$<hash>", "clearance": 2,
                          "groups": ["all", "soumu"], "roles": ["admin"]}}}

>>> store = UserStore(Path("var/users.json"))
>>> store.add("tanaka", "correct horse", clearance=2, groups=["soumu"])
>>> store.authenticate("tanaka", "correct horse").access
Access(clearance=2, groups=['all', 'soumu'])
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from retrieval.errors import GyoseiError
from retrieval.settings import AuthSettings
from retrieval.types import PUBLIC_GROUP, Access

__all__ = ["AuthError", "User", "UserStore", "LoginThrottle", "SignInAttempt", "sign_in", "hash_password", "verify_password",
           "user_from_claims", "ensure_demo_user", "normalize_name", "DEMO_USER", "ADMIN_ROLE"]

ADMIN_ROLE = "admin"
DEMO_USER = "demo"
# scrypt cost: 2**14 x 8 x 1 uses 16 MB and ~50 ms per check, the parameters OWASP lists.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_CHARS = 8


class AuthError(GyoseiError):
    """A users-file or sign-in problem, with a Japanese message for the user."""


@dataclass
class User:
    """A signed-in user: name, clearance (機密性 1-3), groups, roles and how they signed in."""

    name: str
    clearance: int = 1
    groups: list[str] = field(default_factory=lambda: [PUBLIC_GROUP])
    roles: list[str] = field(default_factory=list)
    via: str = "local"  # "local" | "oidc"
    # For local users: a digest of the users-file entry this user was signed in with. A changed
    # password, clearance, group or role changes it, so sessions opened before end (``UserStore.current``).
    revision: str = ""

    @property
    def access(self) -> Access:
        """What retrieval needs on every call."""
        return Access(clearance=self.clearance, groups=sorted(set(self.groups) | {PUBLIC_GROUP}))

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


def normalize_name(name: str) -> str:
    """The user name as the users file knows it: NFKC (full-width letters, the ideographic
    space) and surrounding whitespace removed. Sign-in and its throttle both use it, so
    ``"\u3000tanaka "`` is the same name as ``tanaka`` for both."""
    return unicodedata.normalize("NFKC", name or "").strip()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A self-describing salted scrypt hash: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison of the digests)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Compared against when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("no such user", salt=b"\0" * 16)


class UserStore:
    """The local users file: add, remove, change passwords, authenticate."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.is_file()

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = data["users"]
            if not isinstance(users, dict):
                raise TypeError
            return users
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuthError(f"{self.path}: 利用者ファイルを読めません（{type(exc).__name__}）。"
                            "gyosei user add で作り直してください。") from exc

    def _save(self, users: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        # Create with 0600 from the start (the file holds password hashes), then replace atomically.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"users": users}, fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def names(self) -> list[str]:
        """User names, sorted."""
        return sorted(self._load())

    def get(self, name: str) -> User | None:
        """The user's clearance, groups and roles (no password check)."""
        entry = self._load().get(name)
        return None if entry is None else _user(name, entry)

    def add(self, name: str, password: str, *, clearance: int = 1, groups: list[str] | None = None,
            roles: list[str] | None = None, replace: bool = False) -> User:
        """Create (or with ``replace``, overwrite) a user; AuthError explains what is wrong."""
        if not _NAME_RE.match(name or ""):
            raise AuthError(f"利用者名 {name!r} は使えません（英数字と . _ @ - の 64 文字以内）。")
        if not 1 <= int(clearance) <= 3:
            raise AuthError(f"クリアランス {clearance} は不正です（1〜3）。")
        if len(password) < MIN_PASSWORD_CHARS:
            raise AuthError(f"パスワードが短すぎます（{MIN_PASSWORD_CHARS} 文字以上にしてください）。")
        with self._lock:
            users = self._load()
            if name in users and not replace:
                raise AuthError(f"利用者 {name} は既に登録されています。")
            users[name] = {"password": hash_password(password), "clearance": int(clearance),
                           "groups": sorted({g.strip() for g in (groups or [PUBLIC_GROUP]) if g.strip()}),
                           "roles": sorted({r.strip() for r in (roles or []) if r.strip()})}
            self._save(users)
            return _user(name, users[name])

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password."""
        if len(password) < MIN_PASSWORD_CHARS:
            raise AuthError(f"パスワードが短すぎます（{MIN_PASSWORD_CHARS} 文字以上にしてください）。")
        with self._lock:
            users = self._load()
            if name not in users:
                raise AuthError(f"利用者 {name} は登録されていません。")
            users[name]["password"] = hash_password(password)
            self._save(users)

    def remove(self, name: str) -> bool:
        """Delete a user; False when there was none."""
        with self._lock:
            users = self._load()
            if users.pop(name, None) is None:
                return False
            self._save(users)
            return True

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when name and password match, else None (same work either way)."""
        name = normalize_name(name)
        entry = self._load().get(name)
        stored = entry.get("password", "") if entry else _DUMMY_HASH
        ok = verify_password(password or "", stored)
        return _user(name, entry) if ok and entry else None

    def current(self, user: User) -> User | None:
        """``user`` as the users file holds it now, or None when the session must end: the user
        was removed, or their password, clearance, groups or roles changed since sign-in.
        Every request of the UI and the API passes through here (the file is re-read)."""
        if user.via != "local":
            return user  # OIDC: the identity provider ends those sessions
        entry = self._load().get(user.name)
        if entry is None or not hmac.compare_digest(_revision(entry), user.revision):
            return None
        return _user(user.name, entry)


def _revision(entry: Mapping[str, Any]) -> str:
    """A digest of everything a session depends on (the password hash carries a fresh salt, so
    even re-setting the same password changes it)."""
    material = json.dumps([entry.get("password"), entry.get("clearance"), entry.get("groups"), entry.get("roles")],
                          sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _user(name: str, entry: Mapping[str, Any]) -> User:
    return User(name=name, clearance=int(entry.get("clearance", 1)), groups=list(entry.get("groups") or [PUBLIC_GROUP]),
                roles=list(entry.get("roles") or []), via="local", revision=_revision(entry))


@dataclass
class SignInAttempt:
    """The outcome of one local sign-in: ``ok`` (with the user), ``denied`` or ``blocked``
    (with the seconds to wait), as the audit log records it."""

    user: User | None
    outcome: str
    wait_s: float = 0.0


# A name is locked for everyone only after this many times ``max_failures`` (guessing spread
# over many addresses); from one address, after ``max_failures``.
ACCOUNT_FACTOR = 10


def sign_in(store: UserStore, throttle: LoginThrottle, name: str, password: str, source: str = "") -> SignInAttempt:
    """One sign-in with a local password, for every face: the throttle first, then the
    password; the throttle learns the outcome. AuthError if the users file cannot be read.

    The throttle counts by the normalized name (case folded too): spelling a name another way
    (a trailing space, an ideographic space, full-width letters) is the same name to it. It
    counts per (name, ``source``: the client's address) so that a guesser cannot lock the real
    user out from elsewhere, and per name at ``ACCOUNT_FACTOR`` times the limit so that guessing
    from many addresses is still bounded (as careful sign-in services do)."""
    key = normalize_name(name).casefold()
    pair = f"{key}\x00{source}"
    wait = max(throttle.blocked_for(pair), throttle.blocked_for(key, limit=throttle.max_failures * ACCOUNT_FACTOR))
    if wait > 0:
        return SignInAttempt(None, "blocked", wait)
    user = store.authenticate(name, password)
    if user is None:
        throttle.failed(pair)
        throttle.failed(key)
        return SignInAttempt(None, "denied")
    throttle.succeeded(pair)
    throttle.succeeded(key)
    return SignInAttempt(user, "ok")


class LoginThrottle:
    """Refuses a name for ``lockout_s`` after ``max_failures`` wrong passwords in a row
    (per process: slows down guessing without a database)."""

    def __init__(self, max_failures: int = 5, lockout_s: float = 300) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked_for(self, name: str, now: float | None = None, limit: int | None = None) -> float:
        """Seconds until ``name`` may try again (0: now); ``limit`` overrides ``max_failures``."""
        now = time.monotonic() if now is None else now
        limit = self.max_failures if limit is None else limit
        with self._lock:
            times = [t for t in self._failures.get(name, []) if now - t < self.lockout_s]
            self._failures[name] = times
            if len(times) < limit:
                return 0.0
            return max(0.0, self.lockout_s - (now - times[-limit]))

    def failed(self, name: str, now: float | None = None) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.monotonic() if now is None else now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def user_from_claims(claims: Mapping[str, Any], settings: AuthSettings) -> User:
    """Map an OIDC identity token's claims to a user (see ``AuthSettings``). The clearance never
    exceeds 3; a claim that is not a number 1-3 falls back to the group mapping, then the default."""
    name = str(claims.get(settings.name_claim) or claims.get("preferred_username") or claims.get("sub") or "")
    if not name:
        raise AuthError(f"ID トークンに利用者を示すクレーム（{settings.name_claim} / sub）がありません。管理者に連絡してください。")
    groups = _as_list(claims.get(settings.groups_claim))
    clearance = None
    raw = claims.get(settings.clearance_claim)
    if raw is not None and str(raw).strip().isdigit() and 1 <= int(str(raw).strip()) <= 3:
        clearance = int(str(raw).strip())
    if clearance is None:
        levels = [int(settings.clearance_by_group[g]) for g in groups if g in settings.clearance_by_group]
        clearance = max(levels) if levels else settings.default_clearance
    roles = [ADMIN_ROLE] if set(groups) & set(settings.admin_groups) else []
    return User(name=name, clearance=min(max(int(clearance), 1), 3), groups=sorted(set(groups) | {PUBLIC_GROUP}),
                roles=roles, via="oidc")


def ensure_demo_user(store: UserStore, clearance: int = 1) -> str | None:
    """When no users file exists, create ``demo`` (admin, groups ``all``) with a random password,
    write the password next to the users file (``demo-password.txt``, 0600) and return it; None
    when a users file already exists (nothing is changed)."""
    if store.exists():
        return None
    password = secrets.token_urlsafe(12)
    store.add(DEMO_USER, password, clearance=clearance, groups=[PUBLIC_GROUP], roles=[ADMIN_ROLE])
    note = demo_password_file(store)
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{password}\n")
    return password


def demo_password_file(store: UserStore) -> Path:
    """Where ``ensure_demo_user`` left the demo password."""
    return store.path.with_name("demo-password.txt")
