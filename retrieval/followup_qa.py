"""The 想定問答 an LLM writes for 再質問予測, read from its reply (``retrieval.followup`` re-exports
``parse_qa``)."""

from __future__ import annotations

import re

__all__ = ["parse_qa"]

_QA_LINE_RE = re.compile(r"^\s*(?:[-*・•]\s*)?(?:想定)?(問|答|Q|A)\s*\d*\s*[:：．.）)]\s*(.*)$")


def parse_qa(reply: str) -> list[tuple[str, str]]:
    """Pairs (想定問, 想定答) from lines starting 「問：」 / 「答：」 (a 問 without 答 keeps "")."""
    pairs: list[list[str]] = []
    current: str | None = None
    for line in reply.splitlines():
        m = _QA_LINE_RE.match(line)
        if m:
            kind, body = m.group(1), m.group(2).strip()
            if kind in ("問", "Q"):
                pairs.append([body, ""])
                current = "q"
            elif pairs:
                pairs[-1][1] = body
                current = "a"
            continue
        line = line.strip()
        if line and pairs and current:  # a wrapped line continues the last 問 or 答
            pairs[-1][0 if current == "q" else 1] += line
    return [(q, a) for q, a in pairs if q and not re.fullmatch(r"[（(]?想定問[）)]?", q)]
