"""Parse functions for tests/test_safety.py that misbehave on purpose (hang, crash, raise).

They live in a module of their own that imports almost nothing, so the parse worker's child
process loads them in milliseconds: a time limit then measures the parse, not the imports.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from retrieval.errors import ReaderError


def sleep_then_read(path: Path, seconds: float) -> str:
    """Wait ``seconds``, then return the file's text (a parse that may overrun)."""
    time.sleep(seconds)
    return path.read_text(encoding="utf-8")


def hang_like_a_docx_parser(path: Path, doc_id: str) -> None:
    """Stands in for files.read_docx: a parse that never ends on crafted input."""
    time.sleep(600)


def start_grandchild_and_hang(path: Path, pid_file: Path) -> None:
    """Like LibreOffice: start a helper process in a session of its own, then wait forever."""
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)
    pid_file.write_text(str(proc.pid))
    time.sleep(600)


def crash(path: Path) -> None:
    """A parser that takes its process down (a segfault in a C library, the OOM killer)."""
    os._exit(3)


def raise_value_error(path: Path) -> None:
    """A parser bug."""
    raise ValueError("parser bug")


def raise_reader_error(path: Path) -> None:
    """A parser that refuses the file properly."""
    raise ReaderError(path, "PDFファイルが壊れているか、途中で切れています。")


def allocate(path: Path, megabytes: int) -> int:
    """A parse that balloons (a decompression bomb's XML tree): holds ``megabytes`` at once."""
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)
