"""Plain-text reader: Japanese encoding detection and streamed, size-bounded sections.

Encodings tried, strictly and over the whole file: UTF-8 (with or without BOM), EUC-JP, CP932
(Shift_JIS with Windows extensions); UTF-16 only with a BOM. EUC-JP goes before CP932 because
EUC-JP bytes usually also decode as (wrong) CP932 half-width katakana, not the reverse.

Large files are never held whole in memory: :func:`iter_text_sections` reads in blocks and yields
sections of at most ``max_chars`` characters, split at headings, then blank lines, then lines.

    >>> for section in iter_text_sections(Path("big.txt")):  # doctest: +SKIP
    ...     handle(section)
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.document import Document, Section
from ingest.readers.file_common import check_input
from retrieval.errors import ReaderError

BLOCK_BYTES = 1 << 20
READ_CHARS = 1 << 16
MAX_SECTION_CHARS = 20_000
CANDIDATES = ("utf-8", "euc_jp", "cp932")
_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8(BOM付き)", "euc_jp": "EUC-JP",
           "cp932": "Shift_JIS(CP932)", "utf-16": "UTF-16"}
# Control characters that never occur in real text files (tab, newlines, form feed and the
# DOS end-of-file mark 0x1a are allowed).
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f\x7f]")


def detect_encoding(path: Path) -> str:
    """The encoding that decodes the whole file strictly (streamed; bounded memory).

    Raises ReaderError for binary content (NUL bytes, control characters) or when no candidate
    encoding decodes the file.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith(codecs.BOM_UTF8):
            candidates: tuple[str, ...] = ("utf-8-sig",)
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            candidates = ("utf-16",)
        else:
            candidates = CANDIDATES
        decoders = {name: codecs.getincrementaldecoder(name)("strict") for name in candidates}
        failed_at: dict[str, int] = {}
        offset = 0
        first_block = b""
        while decoders:
            block = fh.read(BLOCK_BYTES)
            final = not block
            if offset == 0:
                first_block = block[:READ_CHARS]
            if not final and "utf-16" not in candidates and b"\x00" in block:
                raise ReaderError(
                    path, "テキストファイルではなくバイナリデータのようです（NULバイトを含みます）。"
                )
            for name, decoder in list(decoders.items()):
                try:
                    decoder.decode(block, final=final)
                except UnicodeDecodeError as exc:
                    failed_at[name] = offset + max(exc.start, 0)
                    del decoders[name]
                    continue
            if final:
                break
            offset += len(block)
    chosen = next((name for name in candidates if name in decoders), None)
    if chosen is None:
        where = max(failed_at.values(), default=0)
        raise ReaderError(
            path,
            "文字コードを判定できません（UTF-8・Shift_JIS(CP932)・EUC-JPのいずれでも読めません。"
            f"{where}バイト目付近）。テキストファイルでない可能性があります。",
        )
    sample = first_block.decode(chosen, errors="ignore")
    if sample and len(_BINARY_CONTROLS.findall(sample)) > max(2, len(sample) // 200):
        raise ReaderError(path, "テキストファイルではなくバイナリデータのようです（制御文字を多く含みます）。")
    return chosen


# Headings seen in Japanese plain-text documents, with their level (lower = outer).
_KANJI_NUM = "0-9０-９一二三四五六七八九十百〇"
_CHAPTER = re.compile(rf"^第[{_KANJI_NUM}]+([部編章節款])[\s\u3000]+\S")
_CHAPTER_LEVEL = {"部": 1, "編": 1, "章": 2, "節": 3, "款": 4}
_NUMBERED = re.compile(r"^([0-9０-９]{1,2})[\s\u3000]+\S")
_PAREN = re.compile(r"^[（(]([0-9０-９]{1,2})[）)][\s\u3000]*\S")
_KATAKANA = re.compile(r"^([ア-コ])[\s\u3000]+\S")
_KATAKANA_ORDER = "アイウエオカキクケコ"
MAX_HEADING_CHARS = 40


@dataclass
class HeadingDetector:
    """Recognizes heading lines (「第１章　…」「１　…」「（１）…」「ア　…」) conservatively.

    A numbered candidate must be short, carry no sentence end, and continue its level's sequence
    (1, or the previous number + 1): footnotes numbered across the whole text then fail the test.
    """

    _last: dict[int, int] = field(default_factory=dict)

    def level(self, line: str) -> int | None:
        """The heading level of ``line`` (1 = outermost), or None for body text."""
        text = line.strip()
        if not text or len(text) > MAX_HEADING_CHARS or "。" in text or text[-1] in "：:、，,":
            return None
        match = _CHAPTER.match(text)
        if match:
            return self._accept(_CHAPTER_LEVEL[match.group(1)], None)
        for level, pattern in ((5, _NUMBERED), (6, _PAREN), (7, _KATAKANA)):
            match = pattern.match(text)
            if match:
                token = match.group(1)
                number = _KATAKANA_ORDER.index(token) + 1 if level == 7 else int(token)
                return self._accept(level, number)
        return None

    def _accept(self, level: int, number: int | None) -> int | None:
        if number is not None and number != 1 and self._last.get(level) != number - 1:
            return None
        for deeper in [k for k in self._last if k > level]:
            del self._last[deeper]  # numbering restarts under a new parent heading
        if number is not None:
            self._last[level] = number
        return level


def _iter_lines(path: Path, encoding: str, max_chars: int) -> Iterator[str]:
    """Lines without their newline; an overlong line is cut into pieces of ``max_chars``."""
    try:
        with path.open("r", encoding=encoding, errors="strict", newline=None) as fh:
            rest = ""
            while True:
                chunk = fh.read(READ_CHARS)
                if not chunk:
                    break
                rest += chunk
                *lines, rest = rest.split("\n")
                yield from lines
                while len(rest) > max_chars:
                    yield rest[:max_chars]
                    rest = rest[max_chars:]
            if rest:
                yield rest
    except UnicodeDecodeError:
        raise ReaderError(path, f"読み込み中に{_LABELS.get(encoding, encoding)}として読めない文字がありました。") from None
    except OSError as exc:
        raise ReaderError(path, f"読み込み中にエラーが発生しました（{exc.strerror or exc}）。") from None


def iter_text_sections(
    path: Path, encoding: str | None = None, max_chars: int = MAX_SECTION_CHARS
) -> Iterator[Section]:
    """Yield the sections of a text file one by one, each at most ``max_chars`` characters.

    Sections start at heading lines (their heading path in ``Section.heading``); long bodies are
    cut at a blank line once three quarters full, else at the last line that fits.
    """
    path = Path(path)
    if encoding is None:
        check_input(path, "text", "テキスト")
        encoding = detect_encoding(path)
    detector = HeadingDetector()
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    size = 0

    def cut() -> Section | None:
        text = "\n".join(body).strip("\n")
        body.clear()
        return Section(text=text, heading=" > ".join(t for _, t in stack)) if text.strip() else None

    for line in _iter_lines(path, encoding, max_chars):
        line = line.rstrip()
        level = detector.level(line)
        if level is not None:
            section = cut()
            size = 0
            if section:
                yield section
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, " ".join(line.split())))
            continue
        if size + len(line) + 1 > max_chars or (not line and size >= max_chars * 3 // 4):
            section = cut()
            size = 0
            if section:
                yield section
        if line or body:
            body.append(line)
            size += len(line) + 1
    section = cut()
    if section:
        yield section


def _title(path: Path, encoding: str) -> str:
    """The first heading within the first lines of the file, else the filename stem."""
    detector = HeadingDetector()
    for count, line in enumerate(_iter_lines(path, encoding, MAX_SECTION_CHARS)):
        if count >= 200:
            break
        if detector.level(line) is not None:
            return " ".join(line.split())
    return path.stem


def read_txt_stream(path: Path, doc_id: str) -> tuple[Document, Iterator[Section]]:
    """Open a text file for streaming: a Document (``sections`` left empty) and an iterator
    over its sections. Use for files too large to hold in memory."""
    path = Path(path)
    check_input(path, "text", "テキスト")
    encoding = detect_encoding(path)
    doc = Document(
        doc_id=doc_id,
        title=_title(path, encoding),
        doc_type="other",
        sections=[],
        source_path=str(path),
        metadata={"encoding": encoding.replace("_", "-")},
    )
    return doc, iter_text_sections(path, encoding=encoding)


def read_txt(path: Path, doc_id: str) -> Document:
    """Read a text file into a Document (all sections in memory; see :func:`read_txt_stream`)."""
    doc, sections = read_txt_stream(path, doc_id)
    doc.sections = list(sections)
    if not doc.sections:
        raise ReaderError(path, "テキストファイルに本文がありません（空白だけのファイルです）。")
    return doc
