"""The project's error hierarchy.

Every error carries a Japanese, user-facing message (``str(err)``) that says what went wrong and,
where possible, how to fix it. Faces (CLI, Streamlit) print these messages; code below the faces
raises them and never prints.
"""

from __future__ import annotations

from pathlib import Path


class GyoseiError(Exception):
    """Base class: a failure the user can understand and act on."""


class ConfigError(GyoseiError):
    """Settings are missing or inconsistent."""


class ModelError(GyoseiError):
    """The embedding model cannot be found, verified or built."""


class IndexError_(GyoseiError):
    """The index cannot be opened, is locked by another writer, or rejected an operation."""


class IndexLockedError(IndexError_):
    """Another process is writing to the embedded index."""


class ReaderError(GyoseiError):
    """A source file cannot be read. ``path`` names the file, ``reason`` says why (Japanese)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FetchError(GyoseiError):
    """A public API (e.g. the NDL minutes API) could not be reached or answered badly."""


class LLMError(GyoseiError):
    """The configured chat model failed (unreachable, timed out, refused, or answered nothing).

    Callers fall back to the extractive answer and show the message as a warning.
    """
