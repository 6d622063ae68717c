"""Limits on what a user may ask: a question longer than the configured maximum is refused.

The CLI, the API and the UI call :func:`check_query` before any work is done, so an overlong paste
(a whole document pasted as a question) gets a clear Japanese message instead of a slow search.

    >>> check_query("行政手続法の目的は？", LimitsSettings())
    >>> check_query("あ" * 5000, LimitsSettings())  # doctest: +SKIP
    QueryTooLongError: 質問が長すぎます（5000文字、上限2000文字）。...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.errors import GyoseiError

if TYPE_CHECKING:
    from retrieval.settings import LimitsSettings

__all__ = ["QueryTooLongError", "check_query", "check_draft_question"]


class QueryTooLongError(GyoseiError):
    """A question is longer than ``LimitsSettings.max_query_chars``."""

    def __init__(self, length: int, maximum: int, draft: bool = False) -> None:
        self.length = length
        self.maximum = maximum
        if draft:
            message = (f"答弁案を作成する質問が長すぎます（{length}文字、上限{maximum}文字）。質問主意書を分けて"
                       "作成してください（上限は GYOSEI_LIMITS__MAX_DRAFT_QUESTION_CHARS で変えられます）。")
        else:
            message = (f"質問が長すぎます（{length}文字、上限{maximum}文字）。要点を短くまとめて質問してください"
                       "（上限は GYOSEI_LIMITS__MAX_QUERY_CHARS で変えられます）。")
        super().__init__(message)


def check_query(text: str, limits: LimitsSettings) -> None:
    """Raise QueryTooLongError when ``text`` (surrounding whitespace ignored) is over the limit."""
    length = len(text.strip())
    if length > limits.max_query_chars:
        raise QueryTooLongError(length, limits.max_query_chars)


def check_draft_question(text: str, limits: LimitsSettings) -> None:
    """The same for a question to draft an answer to: a 質問主意書 runs to several thousand
    characters (it is split into 論点, each searched on its own), so its limit is its own."""
    length = len(text.strip())
    if length > limits.max_draft_question_chars:
        raise QueryTooLongError(length, limits.max_draft_question_chars, draft=True)
