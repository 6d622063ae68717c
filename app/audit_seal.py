"""What makes the audit log's hash chain worth checking: a secret key and a signed checkpoint,
both kept in files outside the database.

- Each row's hash is an HMAC-SHA256 (``hmac-sha256:<hex>``) under a 32-byte key in
  ``key_file`` (created once, mode 0600, in a 0700 folder). Someone who can write the database
  but not read the key cannot recompute the chain after editing a row.
- After every write the log signs a checkpoint (``checkpoint_file``, 0600): the first kept id,
  the last id, the number of rows and the head hash. ``verify`` compares the database with it,
  so rows cut from the end or the start (which leave a chain that still links) are caught too.
  Checkpoints only move forward (several processes may write; a file lock orders them), except
  after a purge, which rewrites the start on purpose.

Rows written before the key existed (plain SHA-256) still verify as such, but only before the
first keyed row: a plain row after it is a forgery.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from app.audit_db import AuditError

__all__ = ["AuditSeal", "Checkpoint", "KEYED_PREFIX", "private_dir", "private_file"]

KEYED_PREFIX = "hmac-sha256:"


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by its owner only (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def private_file(path: Path) -> None:
    """Make an existing file readable and writable by its owner only (0600)."""
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class Checkpoint:
    """The signed state of the log after a write: ids ``first_id``..``last_id``, ``rows`` rows,
    the last row's hash ``head``."""

    first_id: int
    last_id: int
    rows: int
    head: str


class AuditSeal:
    """The key and the checkpoint of one audit log (see the module docs)."""

    def __init__(self, key_file: Path, checkpoint_file: Path) -> None:
        self.key_file = Path(key_file)
        self.checkpoint_file = Path(checkpoint_file)
        self._key: bytes | None = None

    # -- the key ---------------------------------------------------------------------------
    def has_key(self) -> bool:
        return self.key_file.is_file()

    def create_key(self) -> None:
        """Create the key file (0600) unless it exists; never overwrite a key."""
        private_dir(self.key_file.parent)
        if self.key_file.exists():
            return
        # Written whole under a private name, then linked into place: a process that opens the
        # log at the same moment sees no key file or a complete one, never an empty one.
        tmp = self.key_file.with_name(f".{self.key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process linked its key first: keep that one
                os.link(tmp, self.key_file)
        finally:
            tmp.unlink(missing_ok=True)

    def key(self) -> bytes:
        """The key; AuditError when its file is missing or unreadable (nothing is recorded then)."""
        if self._key is None:
            try:
                self._key = bytes.fromhex(self.key_file.read_text(encoding="ascii").strip())
            except (OSError, ValueError) as exc:
                raise AuditError(f"監査ログの鍵ファイル {self.key_file} を読めません（{type(exc).__name__}）。"
                                 "鍵が失われると改ざんを検査できません。バックアップから戻してください。") from exc
            if len(self._key) < 16:
                raise AuditError(f"監査ログの鍵ファイル {self.key_file} の内容が不正です。")
        return self._key

    def digest(self, body: str) -> str:
        """The keyed hash of one row's content."""
        return KEYED_PREFIX + hmac.new(self.key(), body.encode("utf-8"), hashlib.sha256).hexdigest()

    def matches(self, body: str, stored: str) -> bool:
        """Whether ``stored`` is the keyed hash of ``body``."""
        return hmac.compare_digest(self.digest(body), stored)

    # -- the checkpoint --------------------------------------------------------------------
    def _sign(self, point: Checkpoint) -> str:
        material = json.dumps(asdict(point), sort_keys=True).encode("utf-8")
        return hmac.new(self.key(), b"checkpoint\0" + material, hashlib.sha256).hexdigest()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.checkpoint_file.parent)
        lock_path = self.checkpoint_file.with_name(self.checkpoint_file.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def write_checkpoint(self, point: Checkpoint, *, rewind: bool = False) -> None:
        """Sign and store ``point`` unless a later one is stored (``rewind``: after a purge)."""
        with self._locked():
            current = self._read_raw()
            if not rewind and current is not None and int(current.get("last_id", 0)) >= point.last_id:
                return
            tmp = self.checkpoint_file.with_name(self.checkpoint_file.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({**asdict(point), "mac": self._sign(point)}, fh)
            os.replace(tmp, self.checkpoint_file)

    def _read_raw(self) -> dict | None:
        try:
            return json.loads(self.checkpoint_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def read_checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint (None: none written yet); AuditError when it is damaged or its
        signature does not match (someone wrote it without the key)."""
        raw = self._read_raw()
        if raw is None:
            return None
        try:
            point = Checkpoint(int(raw["first_id"]), int(raw["last_id"]), int(raw["rows"]), str(raw["head"]))
        except (KeyError, TypeError, ValueError):
            raise AuditError(f"監査ログのチェックポイント {self.checkpoint_file} が壊れています。") from None
        if not hmac.compare_digest(self._sign(point), str(raw.get("mac", ""))):
            raise AuditError(f"監査ログのチェックポイント {self.checkpoint_file} の署名が一致しません（書き換えられています）。")
        return point
