"""What every ``gyosei`` command shares: the consoles, settings loading, the Japanese error exit
and the user's access from ``--clearance`` / ``--groups``."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from retrieval.errors import GyoseiError
from retrieval.settings import Settings
from retrieval.types import Access

__all__ = ["console", "err_console", "fail", "load_settings", "parse_access"]

console = Console()
err_console = Console(stderr=True)


def fail(exc: GyoseiError) -> NoReturn:
    """Print the Japanese message (file names with [brackets] kept as they are) and exit 2."""
    err_console.print(f"[bold red]エラー:[/] {escape(str(exc))}")
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
