"""Parse files in a child process that a time limit can really stop.

A thread cannot be stopped in Python, and pdfium, lxml or LibreOffice can spin on crafted input.
So parsers of such formats run in one long-lived child process: a fresh interpreter started with
``subprocess`` (forking a parent that has threads is unsafe, and multiprocessing's ``spawn``
re-imports the parent's main script, which breaks scripts without a ``__main__`` guard). Each
call sends the parse function and its arguments over a socket and waits at most ``seconds``. On a timeout the child, and any
process it started (LibreOffice), is killed; the next call starts a fresh child. The child pays
the parser imports once, so a call costs about a pipe round trip plus pickling the Document.

    >>> worker = ParseWorker()
    >>> doc = worker.run(read_pdf, (Path("a.pdf"), "a.pdf"), seconds=120)  # doctest: +SKIP
    >>> worker.close()
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

from ingest.readers.file_common import describe_exception
from retrieval.errors import ReaderError

__all__ = ["ParseWorker", "parse_with_timeout", "shared_worker"]


def _address_space_bytes() -> int:
    """This process's current virtual memory size (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _peak_address_space_bytes() -> int:
    """The largest virtual memory size this process has had (Linux VmPeak; 0 where unknown)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _limit_memory(extra_bytes: int) -> int:
    """Let this process grow by at most ``extra_bytes`` (0: back to no limit); the new limit."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    soft = hard if extra_bytes <= 0 else _address_space_bytes() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return soft


# How close to the limit the peak must have come for a failure to count as the limit's doing
# (libxml2 reports a failed allocation as "unknown error").
_NEAR_LIMIT_BYTES = 32 * 1024 * 1024


def _caused_by_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` or an exception it was raised from is a MemoryError (readers wrap errors;
    libxml2, under lxml, reports a failed allocation as a syntax error)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError) or "memory allocation failed" in str(exc).lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


# Loaded before any memory limit applies: a codec whose import fails under the limit would be
# remembered as unknown for the rest of the child's life.
_CODECS = ("utf-8", "utf-8-sig", "utf-16", "cp932", "shift_jis", "euc_jp", "iso2022_jp", "ascii", "latin-1")


def _serve(conn: Connection) -> None:
    """The child's loop: run each (fn, args, memory limit) it receives and send back the outcome.
    After a failure under a memory limit the child exits (a failed allocation may have left any
    module half-imported): the parent starts a fresh one for the next call."""
    import codecs

    for name in _CODECS:
        codecs.lookup(name)
    while True:
        try:
            fn, args, memory_bytes = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        limit = 0
        try:
            limit = _limit_memory(memory_bytes)
            outcome: tuple[Any, ...] = ("ok", fn(*args))
        except BaseException as exc:
            near_limit = memory_bytes > 0 and _peak_address_space_bytes() >= limit - _NEAR_LIMIT_BYTES
            if near_limit or _caused_by_memory(exc):
                outcome = ("memory",)
            elif isinstance(exc, ReaderError):
                # ReaderError's constructor takes (path, reason): send the parts, not the exception.
                outcome = ("reader_error", exc.path, exc.reason)
            else:  # a parser bug; the parent turns it into a ReaderError
                outcome = ("error", describe_exception(exc))
        finally:
            _limit_memory(0)
        try:
            conn.send(outcome)
        except Exception as exc:  # the result does not pickle
            conn.send(("error", describe_exception(exc)))
        if memory_bytes > 0 and outcome[0] != "ok":
            return


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (LibreOffice runs in a session of its own)."""
    victims = [pid]
    try:
        import psutil

        victims += [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except Exception:  # psutil missing or the process already gone: kill what we know
        pass
    for victim in reversed(victims):
        try:
            os.kill(victim, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class ParseWorker:
    """One child process that runs parse functions, one at a time, each within a time limit.

    Thread-safe: concurrent callers take turns. ``fn`` must be a module-level function (it is
    pickled by name) and its result must pickle (a ``Document`` does).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], seconds: float, path: Path | str | None = None,
            memory_mb: float = 0) -> Any:
        """``fn(*args)`` in the child; ReaderError when it fails, dies, overruns ``seconds`` or
        needs more than ``memory_mb`` MB on top of what the child uses (0: no memory limit).

        ``path`` names the file in messages (default: the first argument).
        """
        path = path if path is not None else (args[0] if args else "")
        with self._lock:
            conn = self._ensure()
            try:
                conn.send((fn, args, int(memory_mb * 1024 * 1024)))
                ready = conn.poll(seconds)
            except (OSError, EOFError):
                ready = None
            if not ready:
                self._stop()
                if ready is None:
                    raise ReaderError(path, "解析用のプロセスとの通信に失敗しました。もう一度取り込んでください。")
                raise ReaderError(
                    path,
                    f"解析が{seconds:g}秒で終わりませんでした。ファイルが壊れているか、複雑すぎる可能性があります"
                    "（上限は GYOSEI_LIMITS__PARSE_TIMEOUT_S で変えられます）。",
                )
            try:
                outcome = conn.recv()
            except (EOFError, OSError):
                outcome = None
            if outcome is None or (memory_mb > 0 and outcome[0] != "ok"):
                self._stop()  # the child exits after a failure under a memory limit: never reuse it
        if outcome is not None and outcome[0] == "memory":
            raise ReaderError(path, f"解析に必要なメモリが上限（{memory_mb:g} MB）を超えました。ファイルが大きすぎるか、"
                                    "圧縮爆弾の可能性があります（上限は GYOSEI_LIMITS__PARSE_MEMORY_MB で変えられます）。")
        if outcome is None:
            raise ReaderError(path, "解析中に処理が異常終了しました（メモリ不足、または解析ライブラリの障害の可能性があります）。")
        if outcome[0] == "ok":
            return outcome[1]
        if outcome[0] == "reader_error":
            raise ReaderError(outcome[1], outcome[2])
        raise ReaderError(path, f"解析中に予期しないエラーが発生しました（{outcome[1]}）。")

    def close(self) -> None:
        """Stop the child process (a later ``run`` starts a new one)."""
        with self._lock:
            self._stop()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for tests and diagnostics)."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def _ensure(self) -> Connection:
        if self._process is not None and self._process.poll() is None and self._conn is not None:
            return self._conn
        self._stop()
        parent, child = socket.socketpair()
        # The child finds our modules where we found them (sys.path), whatever its working dir.
        code = f"import sys; sys.path[:0] = {[p for p in sys.path if p]!r}; from ingest.parse_worker import main; main({child.fileno()})"
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal is the parent's to handle
            )
        finally:
            child.close()  # the child holds its end; EOF reaches it when we close ours
        self._process, self._conn = process, Connection(parent.detach())
        return self._conn

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.poll() is None:
                _kill_tree(process.pid)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def main(fd: int) -> None:
    """Entry point of the child process: serve parse requests on the socket ``fd``."""
    _serve(Connection(fd))


_shared: ParseWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> ParseWorker:
    """The process-wide worker (created on first use, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ParseWorker()
            atexit.register(_shared.close)
        return _shared


def parse_with_timeout(fn: Callable[..., Any], path: Path, seconds: float, *args: Any, worker: ParseWorker | None = None,
                       memory_mb: float = 0) -> Any:
    """``fn(path, *args)`` stopped after ``seconds`` (ReaderError 「解析が{n}秒で終わりませんでした」)
    or when it needs more than ``memory_mb`` MB (0: no memory limit).

    ``seconds <= 0`` runs ``fn`` in this process without either limit.

    >>> doc = parse_with_timeout(read_pdf, Path("a.pdf"), 120, "a.pdf")  # doctest: +SKIP
    """
    if seconds <= 0:
        return fn(path, *args)
    return (worker or shared_worker()).run(fn, (path, *args), seconds, path=path, memory_mb=memory_mb)
