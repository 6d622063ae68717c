"""Where the product keeps what only its own account may read, and the check that it is so.

``var/`` (the index folder's parent), the index, the uploads, the audit database with its key
and checkpoint, and the users file hold 機密性3 text, every question asked and password hashes:
folders 0700, files 0600. New ones are created so (``PRIVATE_UMASK`` at the CLI's and the app's
edge, explicit modes where they are made); ``gyosei setup`` finds older ones that are not and
tightens them (``secure_storage``).

    >>> for path, old, new in secure_storage(settings):  # doctest: +SKIP
    ...     print(f"{path}: {old:o} -> {new:o}")
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # imported where used: the CLI reads PRIVATE_UMASK before anything heavy loads
    from retrieval.settings import Settings

__all__ = ["PRIVATE_UMASK", "private_roots", "secure_storage"]

PRIVATE_UMASK = 0o077  # new files 0600, new folders 0700


def private_roots(settings: Settings) -> list[Path]:
    """The folders and files that must be private, as configured (some may not exist yet)."""
    from app.documents import uploads_dir

    roots = [uploads_dir(settings).parent, uploads_dir(settings), settings.auth.users_file,
             settings.auth.users_file.with_name("demo-password.txt")]
    # Sign-in sessions with their key, and each user's conversations (answers quote documents).
    roots += [settings.auth.users_file.with_name(n) for n in ("sessions.sqlite3", "session.key", "conversations.sqlite3")]
    if settings.index.backend == "edge":
        roots.append(settings.index.path)
    url = settings.audit.url
    if url.startswith("sqlite://") or "://" not in url:
        db = Path(url.split("://", 1)[1].removeprefix("/") if "://" in url else url)
        roots += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return roots


def _walk(root: Path) -> Iterator[Path]:
    yield root
    if root.is_dir() and not root.is_symlink():
        for path in root.rglob("*"):
            if not path.is_symlink():
                yield path


def secure_storage(settings: Settings, *, fix: bool = True) -> list[tuple[Path, int, int]]:
    """Every private path (recursively) that others could read or enter, as (path, old mode,
    new mode); with ``fix`` the mode is tightened to 0700 (folders) / 0600 (files). Creates
    ``var/``, the uploads folder and the audit log's key when missing, private from the start."""
    from app.audit import open_audit_log
    from app.documents import uploads_dir

    for folder in (uploads_dir(settings).parent, uploads_dir(settings)):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open_audit_log(settings.audit) as log:  # creates the audit key (0600) on a new log
        seal_files = [log.seal.key_file, log.seal.checkpoint_file, log.seal.key_file.parent]
    changed: list[tuple[Path, int, int]] = []
    seen: set[Path] = set()
    for root in [*private_roots(settings), *seal_files]:
        if not root.exists():
            continue
        for path in _walk(root):
            if path in seen:
                continue
            seen.add(path)
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                wanted = (mode & 0o700) | (0o700 if path.is_dir() else 0o600)
                if fix:
                    os.chmod(path, wanted)
                changed.append((path, mode, wanted))
    return changed
