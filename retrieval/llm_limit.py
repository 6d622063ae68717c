"""Which passages may go to an LLM: none above ``Settings.llm_limit`` (``llm.max_confidentiality``,
by default 1 for an endpoint not on this machine). Every path that prompts a model (answers,
drafts, 想定問答, the NLI judge) asks here first, and falls back to what needs no model for the
passages it may not send, saying why (``limit_note``; wording in ``prompts/ai_notice.yaml``)."""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["level_of", "allowed", "withheld_sources", "limit_note"]


def level_of(src: Any) -> int:
    """A passage's 機密性 (a Source, a Hit, or a payload dict); unknown counts as the highest."""
    payload = src if isinstance(src, dict) else getattr(src, "payload", None) or {}
    try:
        return int(payload.get("confidentiality", 3))
    except (TypeError, ValueError):
        return 3


def allowed(src: Any, limit: int | None) -> bool:
    """True when ``src`` may be sent to the model (``limit`` None: no limit)."""
    return limit is None or level_of(src) <= limit


def withheld_sources(sources: Iterable[Any], limit: int | None) -> list[Any]:
    """The passages of ``sources`` that must not reach the model."""
    return [s for s in sources if not allowed(s, limit)]


def limit_note(kind: str, withheld: list[Any], limit: int | None, **extra: Any) -> str:
    """The Japanese note saying why ``withheld`` passages did not go to the model."""
    from retrieval.ai_notice import notice_wording

    return notice_wording()["limit"][kind].format(limit=limit, count=len(withheld), **extra)
