"""What every reader produces: documents made of sections, before normalization and chunking."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    """A structural unit of a document: a heading's body, a law article, a PDF page, a speech.

    ``heading`` is the section path ("第2章 申請 > 2.1 手続", "第五条", ...); chunks never cross
    sections. ``text`` is raw (normalization happens later, keeping offsets).
    """

    text: str
    heading: str = ""
    page: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Document:
    """One citable document. ``doc_id`` is stable across runs (relative path or record id).

    ``metadata`` holds source-specific fields copied into every chunk's payload (e.g. house,
    meeting, speaker, speaker_position, speech_order, procedural, law_name, law_number).
    """

    doc_id: str
    title: str
    doc_type: str
    sections: list[Section]
    date: str | None = None
    source_url: str | None = None
    source_path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
