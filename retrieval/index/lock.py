"""One writer per embedded index: an exclusive, non-blocking ``flock`` on a file in the index folder.

``flock`` locks belong to an open file description, so the lock holds against other processes and
against a second ``WriterLock`` in the same process alike, and the kernel drops it when the holder
exits, even after a crash (no stale lock files to clean up by hand).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from retrieval.errors import IndexLockedError

LOCK_NAME = "gyosei-writer.lock"


class WriterLock:
    """Holds the writer lock of the index folder ``path`` until ``release()``.

    >>> lock = WriterLock(Path("var/index"))  # raises IndexLockedError if another writer has it
    >>> lock.release()
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path) / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(self._fd)
            os.close(self._fd)
            self._fd = None
            who = f"（プロセス ID {holder}）" if holder else ""
            raise IndexLockedError(
                f"{path}: 別のプロセス{who}がこのインデックスに書き込み中です（ロックファイル {self.path}）。"
                "取り込みやアプリなど、書き込み中のプロセスが終わってから再実行してください。"
            ) from None
        # Record who holds the lock, for the message above; the lock itself is the flock.
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode(errors="ignore").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""
