"""The notice every AI-made output carries: made by the system, on which path (extractive,
templates, or which LLM: provider, model, endpoint host, external or not), when, and that an
official must check it against the cited sources.

One construction for every face: the answerer and the drafter stamp their results
(``Answer.notice``, ``Draft.notice``) and the pages, the exports, the API and the CLI show
``notice.text``. The wording is data (``prompts/ai_notice.yaml``).

>>> ctx = NoticeContext.from_settings(settings.llm, settings.export.timezone)  # doctest: +SKIP
>>> make_notice("answer", "extractive", ctx).text  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["AINotice", "NoticeContext", "make_notice", "notice_wording"]

DEFAULT_TZ = "Asia/Tokyo"


@functools.lru_cache(maxsize=1)
def notice_wording() -> dict[str, Any]:
    """The fixed phrases of the notice (``prompts/ai_notice.yaml``)."""
    import yaml

    from prompts import load_text

    return yaml.safe_load(load_text("ai_notice.yaml"))


@dataclass(frozen=True)
class NoticeContext:
    """What the notice says about the model in use (from ``LLMSettings``, never typed)."""

    provider: str = "none"
    model: str = ""
    host: str = ""
    external: bool = False
    timezone: str = DEFAULT_TZ

    @classmethod
    def from_settings(cls, llm: Any, timezone: str = DEFAULT_TZ) -> "NoticeContext":
        if llm is None or not llm.enabled:
            return cls(timezone=timezone)
        return cls(provider=llm.provider, model=llm.model, host=llm.host, external=llm.external, timezone=timezone)


@dataclass
class AINotice:
    """The notice of one output. ``path``: extractive | template | llm | none."""

    kind: str  # answer | draft
    path: str
    made_at: str  # ISO 8601 in the configured time zone
    provider: str = ""
    model: str = ""
    host: str = ""
    external: bool = False
    text: str = ""  # the whole notice as the user reads it (Japanese)

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def make_notice(kind: str, method: str, ctx: NoticeContext | None = None, now: dt.datetime | None = None) -> AINotice:
    """The notice for an output of ``kind`` ("answer" | "draft") made by ``method``."""
    ctx = ctx or NoticeContext()
    w = notice_wording()
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(ctx.timezone))
    path = method if method in w["paths"] else "extractive"
    llm = path == "llm"
    unknown = w["unknown"]
    notice = AINotice(kind=kind, path=path, made_at=moment.isoformat(timespec="seconds"),
                      provider=(ctx.provider if llm and ctx.provider != "none" else "") or "",
                      model=ctx.model if llm else "", host=ctx.host if llm else "", external=ctx.external if llm else False)
    how = w["paths"][path].format(provider=notice.provider or unknown, model=notice.model or unknown,
                                 host=notice.host or unknown,
                                 where=w["where"]["external" if notice.external else "local"])
    notice.text = "\n".join([
        w["heading"] + w["made_by"].format(kind=w["kinds"].get(kind, kind)),
        how,
        w["made_at"].format(at=moment.strftime("%Y-%m-%d %H:%M")),
        w["check"],
    ])
    return notice
