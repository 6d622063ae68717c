"""How a source is named to the user: title, section/article/page, date, speaker."""

from __future__ import annotations

from typing import Any


def describe_source(payload: dict[str, Any]) -> str:
    """One line naming a chunk's source, e.g. 「行政手続法 第一条（目的等）」 or a Diet speech."""
    parts: list[str] = [payload.get("title") or payload.get("doc_id", "")]
    section = payload.get("section") or ""
    # A document's heading path may start with its own title (a chapter file's first heading).
    if parts[0] and section.startswith(parts[0] + " > "):
        section = section[len(parts[0]) + 3:]
    # A speech's section is its speaker label, which the title already names.
    if section and section not in parts[0] and payload.get("doc_type") != "diet_speech":
        parts.append(section)
    if payload.get("page"):
        parts.append(f"{payload['page']}ページ")
    if payload.get("doc_type") == "diet_speech" and payload.get("speaker") and payload["speaker"] not in parts[0]:
        parts.append(f"{payload['speaker']}（{payload.get('speaker_position') or '発言者'}）")
    if payload.get("date") and payload["date"] not in parts[0]:
        parts.append(payload["date"])
    return " ／ ".join(p for p in parts if p)


def source_link(payload: dict[str, Any]) -> str | None:
    """The source's URL; for a law article, the e-Gov page opened at that article."""
    url = payload.get("source_url")
    if not url:
        return None
    from retrieval.attribution import article_anchor

    anchor = article_anchor(payload)
    if anchor and "laws.e-gov.go.jp/law/" in url and "#" not in url:
        return f"{url}#{anchor}"
    return url
