"""Markdown reader: '#' (and underlined) headings become section paths; tables stay as text.

A small line parser instead of a full Markdown renderer: headings outside code fences open
sections, link and image syntax is reduced to its text, inline HTML tags and comments are
dropped, and pipe tables keep their rows ("a | b"). A table of contents made only of links
(「目次」) is dropped, since it would match every query about the headings it lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ingest.document import Document
from ingest.readers.file_common import SectionBuilder, check_input, require_text, strip_title_heading
from ingest.readers.text import detect_encoding
from retrieval.errors import ReaderError

MAX_MARKDOWN_BYTES = 64 * 1024 * 1024

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BR = re.compile(r"<br\s*/?>", re.I)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_STRONG = re.compile(r"(\*\*|__)(.+?)\1")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_TOC_LINE = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\[[^\]]+\]\(#[^)]*\)\s*$")
_TOC_HEADINGS = {"目次", "目 次", "contents", "table of contents"}


def _inline(text: str) -> str:
    """Reduce inline Markdown to its visible text."""
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    return _ESCAPE.sub(r"\1", text)


def _table_row(line: str) -> str:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return " | ".join(c for c in cells if c)


@dataclass
class _MarkdownBuilder(SectionBuilder):
    """A SectionBuilder that also counts level-1 headings."""

    h1_count: int = 0


def parse_markdown(text: str) -> tuple[str, _MarkdownBuilder]:
    """Parse Markdown text into (first H1 or first heading, builder holding the sections)."""
    text = _COMMENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
        if end is not None:
            lines = lines[end + 1 :]
    builder = _MarkdownBuilder()
    title_h1 = first_heading = ""
    fence: str | None = None
    paragraph: list[str] = []  # the open paragraph (a setext underline turns it into a heading)
    toc_pending = False

    def flush_paragraph() -> None:
        if paragraph:
            builder.add("\n".join(paragraph))
            paragraph.clear()

    def open_heading(level: int, raw: str) -> None:
        nonlocal title_h1, first_heading, toc_pending
        flush_paragraph()
        heading = " ".join(_inline(raw).split())
        if not heading:
            return
        first_heading = first_heading or heading
        if level == 1:
            title_h1 = title_h1 or heading
            builder.h1_count += 1
        toc_pending = heading.lower() in _TOC_HEADINGS
        builder.heading(level, heading)

    for line in lines:
        if fence is not None:
            paragraph.append(line)
            if line.strip().startswith(fence):
                fence = None
            continue
        match = _FENCE.match(line)
        if match:
            fence = match.group(1)[:3]
            paragraph.append(line)
            continue
        match = _ATX.match(line)
        if match:
            open_heading(len(match.group(1)), match.group(2) or "")
            continue
        match = _SETEXT.match(line)
        if match and len(paragraph) == 1 and not paragraph[0].lstrip().startswith(("|", "-", "*", ">")):
            raw = paragraph.pop()
            open_heading(1 if match.group(1)[0] == "=" else 2, raw)
            continue
        if not line.strip():
            flush_paragraph()
            continue
        if toc_pending:
            if _TOC_LINE.match(line):
                continue  # link-only table of contents lines are dropped
            toc_pending = False
        if _TABLE_RULE.match(line) and "|" in line or re.fullmatch(r"\s*(-{3,}|\*{3,}|_{3,})\s*", line):
            continue  # table separator rows and thematic breaks carry no text
        stripped = line.strip()
        paragraph.append(_table_row(stripped) if stripped.startswith("|") else _inline(line.rstrip()))
    flush_paragraph()
    return title_h1 or first_heading, builder


def read_md(path: Path, doc_id: str) -> Document:
    """Read a Markdown file: sections under '#' heading paths, title from the first H1.

    >>> doc = read_md(Path("guide.md"), "guide.md")  # doctest: +SKIP
    >>> doc.sections[2].heading
    '1. はじめに > 1.1. 背景と目的'
    """
    path = Path(path)
    check_input(path, "text", "Markdown")
    if path.stat().st_size > MAX_MARKDOWN_BYTES:
        raise ReaderError(path, "Markdownファイルが大きすぎます（64MBまで）。分割してから登録してください。")
    encoding = detect_encoding(path)
    try:
        text = path.read_text(encoding=encoding)
    except (OSError, UnicodeDecodeError) as exc:
        raise ReaderError(path, f"Markdownファイルを読めません（{exc}）。") from None
    title, builder = parse_markdown(text)
    sections = require_text(path, builder.finish(), "Markdownファイル")
    if title and builder.h1_count == 1:
        strip_title_heading(sections, title)  # the lone H1 is the title: no need to repeat it
    return Document(
        doc_id=doc_id,
        title=title or path.stem,
        doc_type="other",
        sections=sections,
        source_path=str(path),
        metadata={"encoding": encoding.replace("_", "-")},
    )
