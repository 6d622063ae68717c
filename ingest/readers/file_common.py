"""Shared pieces of the file readers: input checks, content sniffing, heading paths, tables.

The readers are gathered in :mod:`ingest.readers.files`; each raises
:class:`~retrieval.errors.ReaderError` for anything wrong with the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.document import Section
from retrieval.errors import ReaderError

HEAD_BYTES = 8192

# Magic numbers of the formats we meet in office folders, with a Japanese description used
# in error messages ("the file is named .txt but holds <description>").
_MAGIC: list[tuple[bytes, str, str]] = [
    (b"%PDF-", "pdf", "PDF"),
    (b"PK\x03\x04", "zip", "ZIP形式（Word/Excel/PowerPointまたは圧縮ファイル）"),
    (b"PK\x05\x06", "zip", "ZIP形式（空の圧縮ファイル）"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2", "旧形式のOfficeファイル（.doc/.xls等）"),
    (b"{\\rtf", "rtf", "リッチテキスト（RTF）"),
    (b"\x89PNG\r\n\x1a\n", "image", "PNG画像"),
    (b"\xff\xd8\xff", "image", "JPEG画像"),
    (b"GIF8", "image", "GIF画像"),
    (b"II*\x00", "image", "TIFF画像"),
    (b"MM\x00*", "image", "TIFF画像"),
    (b"\x1f\x8b", "archive", "gzip圧縮ファイル"),
    (b"7z\xbc\xaf\x27\x1c", "archive", "7z圧縮ファイル"),
    (b"Rar!", "archive", "RAR圧縮ファイル"),
    (b"\x7fELF", "binary", "実行ファイル"),
    (b"MZ", "binary", "Windows実行ファイル"),
]

_UTF_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say it is: ``kind`` (pdf, zip, ole2, rtf, image,
    archive, binary, text) and a Japanese description for messages."""

    kind: str
    description: str


def sniff(head: bytes) -> Sniffed:
    """Classify a file by its leading bytes (magic numbers; a PDF header may follow junk)."""
    for magic, kind, description in _MAGIC:
        if head.startswith(magic):
            # "MZ" is also how some plain texts begin; require the PE layout hint.
            if magic == b"MZ" and b"This program" not in head[:512]:
                continue
            return Sniffed(kind, description)
    if b"%PDF-" in head[:1024]:
        return Sniffed("pdf", "PDF")
    if head.startswith(_UTF_BOMS):
        return Sniffed("text", "テキスト")
    if b"\x00" in head:
        return Sniffed("binary", "バイナリデータ")
    return Sniffed("text", "テキスト")


def read_head(path: Path, max_bytes: float | None = None, limit_hint: str = "") -> bytes:
    """The first ``HEAD_BYTES`` of a regular, non-empty file no larger than ``max_bytes``; else a
    ReaderError saying why in Japanese (``limit_hint`` tells how to raise the size limit).
    Never opens a pipe or a device (reading one could block forever)."""
    try:
        if not path.exists():
            raise ReaderError(path, "ファイルが見つかりません。パスを確認してください。")
        if path.is_dir():
            raise ReaderError(path, "ファイルではなくフォルダです。")
        if not path.is_file():
            raise ReaderError(path, "通常のファイルではありません（名前付きパイプやデバイスなど）。")
        size = path.stat().st_size
        if size == 0:
            raise ReaderError(path, "ファイルが空です（0バイト）。")
        if max_bytes is not None and size > max_bytes:
            mb = 1024 * 1024
            raise ReaderError(path, f"ファイルが大きすぎます（{size / mb:.1f} MB、上限 {max_bytes / mb:g} MB）。{limit_hint}")
        with path.open("rb") as fh:
            return fh.read(HEAD_BYTES)
    except PermissionError:
        raise ReaderError(path, "ファイルを読む権限がありません。") from None
    except OSError as exc:
        raise ReaderError(path, f"ファイルを開けません（{exc.strerror or exc}）。") from None


def check_input(path: Path, expected: str | tuple[str, ...], label: str) -> Sniffed:
    """Check that ``path`` is a readable, non-empty file whose content is of an ``expected``
    :func:`sniff` kind (one or several); ``label`` names the format in messages ("PDF")."""
    kinds = (expected,) if isinstance(expected, str) else expected
    found = sniff(read_head(path))
    if found.kind not in kinds:
        suffix = path.suffix or "（拡張子なし）"
        raise ReaderError(
            path,
            f"拡張子は{suffix}ですが、中身は{label}ではなく{found.description}のようです。"
            "ファイルの種類を確認してください。",
        )
    return found


def describe_exception(exc: BaseException) -> str:
    """A short technical detail for messages (type and first line), never a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


@dataclass
class SectionBuilder:
    """Collects body text under a heading path and cuts :class:`Section` objects.

    Headings arrive with a level (1 = top); a heading closes every open heading of the same or a
    deeper level, so gaps in levels (h1 -> h3) are harmless. Headings without body text produce
    no section of their own: their path lives on in the sections below them.
    """

    sections: list[Section] = field(default_factory=list)
    _stack: list[tuple[int, str]] = field(default_factory=list)
    _body: list[str] = field(default_factory=list)
    _page: int | None = None

    @property
    def path(self) -> str:
        """The current heading path, e.g. "1 はじめに > 1.2 目的"."""
        return " > ".join(text for _, text in self._stack)

    def heading(self, level: int, text: str) -> None:
        """Start a new section under heading ``text`` at ``level`` (1-based)."""
        text = " ".join(text.split())
        if not text:
            return
        self.flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))

    def add(self, text: str, page: int | None = None) -> None:
        """Append a block of body text (a paragraph, a list item, a table) to the section."""
        if text.strip():
            if not self._body:
                self._page = page
            self._body.append(text.strip("\n"))

    def flush(self) -> None:
        """Close the open section (if it has any text)."""
        text = "\n".join(self._body).strip()
        if text:
            self.sections.append(Section(text=text, heading=self.path, page=self._page))
        self._body = []
        self._page = None

    def finish(self) -> list[Section]:
        """Close the last section and return all sections."""
        self.flush()
        return self.sections


def rows_to_text(rows: list[list[str]]) -> str:
    """A table as text: one row per line, cells separated by " | " (empty rows dropped)."""
    lines = []
    for row in rows:
        cells = [" ".join(cell.split()) for cell in row]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def require_text(path: Path, sections: list[Section], label: str) -> list[Section]:
    """Raise a ReaderError when a reader found no text at all in the file."""
    if not any(s.text.strip() for s in sections):
        raise ReaderError(path, f"{label}に本文のテキストが見つかりません。")
    return sections


def html_table_rows(table) -> list[list[str]]:  # noqa: ANN001 - an lxml element
    """Rows of an lxml ``<table>`` as cell texts. A cell spanning rows is repeated in the rows
    below (so each line still says which group it belongs to); nested tables stay in their cell."""
    rows: list[list[str]] = []
    carry: dict[int, tuple[str, int]] = {}  # column -> (text, rows still to fill)
    for tr in table.iter("tr"):
        # Skip rows of nested tables: they are part of an outer cell's text.
        if _nearest_table(tr) is not table:
            continue
        cells: list[str] = []
        col = 0
        for cell in tr:
            if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                continue
            while col in carry:
                cells.append(_take(carry, col))
                col += 1
            text = " ".join("".join(cell.itertext()).split())
            span = _int_attr(cell, "rowspan")
            if span > 1:
                carry[col] = (text, span - 1)
            cells.append(text)
            col += 1
        while col in carry:
            cells.append(_take(carry, col))
            col += 1
        rows.append([c for c in cells if c])
    return rows


def _nearest_table(el):  # noqa: ANN001, ANN202
    parent = el.getparent()
    while parent is not None and (not isinstance(parent.tag, str) or parent.tag.lower() != "table"):
        parent = parent.getparent()
    return parent


def _take(carry: dict[int, tuple[str, int]], col: int) -> str:
    text, left = carry[col]
    if left <= 1:
        del carry[col]
    else:
        carry[col] = (text, left - 1)
    return text


def _int_attr(el, name: str) -> int:  # noqa: ANN001
    try:
        return max(1, min(int(el.get(name, "1")), 1000))
    except ValueError:
        return 1


def strip_title_heading(sections: list[Section], title: str) -> None:
    """Drop a lone top heading that is also the document title from the section paths
    ("ガイド > 1. はじめに" -> "1. はじめに"); the text right under it keeps the title."""
    prefix = f"{title} > "
    for section in sections:
        if section.heading.startswith(prefix):
            section.heading = section.heading[len(prefix) :]


def read_bytes(path: Path) -> bytes:
    """The whole file, or a ReaderError if it cannot be opened or is empty."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReaderError(path, f"ファイルを開けません（{exc.strerror or exc}）") from exc
    if not raw.strip():
        raise ReaderError(path, "ファイルが空です")
    return raw
