"""What makes an exported draft office-grade: the 機密性 marking (the highest level among the
draft's sources) and the confirmation state in the header, the state and page numbers (a PAGE
field) in the footer, the signed-in user as author, one number per distinct source document.
Wording in ``prompts/export_marks.yaml``; the state comes from ``Draft.confirmed_by``."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from retrieval.answer_types import Source
from retrieval.draft_types import Draft

__all__ = ["marks", "status_line", "confidentiality_mark", "highest_level", "source_numbers",
           "write_header_footer", "set_properties"]


@functools.lru_cache(maxsize=1)
def marks() -> dict[str, str]:
    import yaml

    from prompts import load_text

    return yaml.safe_load(load_text("export_marks.yaml"))


def status_line(draft: Draft) -> str:
    """「未確認（AI生成の下書き）」, or 「確認済み（確認者 NAME、YYYY-MM-DD）」."""
    from app.draft_check import phrase

    if draft.confirmed:
        return phrase("confirmation.confirmed", user=draft.confirmed_by, date=draft.confirmed_at[:10])
    return phrase("confirmation.unconfirmed")


def highest_level(sources: list[Source]) -> int:
    """The highest 機密性 among ``sources`` (1 when there are none)."""
    from retrieval.llm_limit import level_of

    return max((level_of(s) for s in sources), default=1)


def confidentiality_mark(sources: list[Source]) -> str:
    return marks()["confidentiality"].format(level=highest_level(sources))


def source_numbers(sources: list[Source]) -> dict[int, int]:
    """Draft number -> export number, one per distinct source as the reader sees it: several
    chunks of one speech (same document, same label) become one numbered source; two articles of
    one law keep their own numbers (their labels name the article a sentence stands on)."""
    by_source: dict[tuple[str, str], int] = {}
    out: dict[int, int] = {}
    for src in sources:
        out[src.n] = by_source.setdefault((src.doc_id or src.chunk_id, src.label), len(by_source) + 1)
    return out


def _page_field(paragraph: Any) -> None:
    """A PAGE field (Word fills in the page number) inside ``paragraph``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    before, after = marks()["page"].split("{page}")
    if before:
        paragraph.add_run(before)
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        if kind is not None:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            run._r.append(fld)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            t = OxmlElement("w:t")
            t.text = text
            run._r.append(t)
    if after:
        paragraph.add_run(after)


def write_header_footer(doc: Any, draft: Draft, sources: list[Source]) -> None:
    """Header: the 機密性 marking (left) and the state (right); footer: the state while 未確認,
    and the page number."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    for section in doc.sections:
        header = section.header.paragraphs[0]
        header.text = f"{confidentiality_mark(sources)}\t\t{status_line(draft)}"
        footer = section.footer.paragraphs[0]
        footer.text = ""
        if not draft.confirmed:
            footer.add_run(status_line(draft) + "　")
        _page_field(footer)
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER


def set_properties(doc: Any, author: str, title: str = "答弁案") -> None:
    """Core properties: the signed-in user as author (never python-docx's default)."""
    props = doc.core_properties
    props.author = props.last_modified_by = author
    props.title = title
    props.comments = ""
    props.created = props.modified = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
