"""What every ``gyosei`` command shares: the consoles, settings loading, the Japanese error exit
and the user's access from ``--clearance`` / ``--groups``."""

from __future__ import annotations

import re
import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from retrieval.errors import GyoseiError
from retrieval.settings import Settings
from retrieval.types import Access

__all__ = ["console", "err_console", "fail", "load_settings", "parse_access", "plain"]

console = Console()
err_console = Console(stderr=True)


# C0/C1 controls (ESC starts terminal escape sequences), DEL, and the bidi overrides that make a
# file name read backwards: a name on disk may hold any of them.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """``text`` safe to print with rich: control characters shown as ``\\xNN`` / ``\\uNNNN`` (a
    file name's ``ESC[31m`` never reaches the terminal) and rich markup escaped."""
    shown = _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                            str(text))
    return escape(shown)


def fail(exc: GyoseiError) -> NoReturn:
    """Print the Japanese message (file names with [brackets] kept as they are) and exit 2."""
    err_console.print(f"[bold red]エラー:[/] {plain(exc)}")
    sys.exit(2)


def load_settings() -> Settings:
    """The settings (environment and optional TOML); a clear error and exit 2 if they are wrong."""
    try:
        return Settings.load()
    except GyoseiError as exc:
        fail(exc)


def parse_access(clearance: int, groups: str) -> Access:
    """The access of ``--clearance N --groups a,b`` (blank names dropped)."""
    return Access(clearance=clearance, groups=[g.strip() for g in groups.split(",") if g.strip()])
