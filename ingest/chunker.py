"""Structure-first chunking of a Document into overlapping spans of its normalized text.

Chunks never cross sections. A section that fits in ``size`` characters is one chunk; a longer one
is cut at Japanese sentence ends (。！？ with any closing brackets: 。」 stays together), then at line
breaks, then at 、/spaces, and only as a last resort at exactly ``size`` characters. Consecutive
chunks of a section overlap by whole sentences up to ``overlap`` characters (never more than half
a chunk). A trailing piece with fewer than ``min_size`` new characters is merged into the chunk
before it, so a chunk is at most ``size + min_size`` characters long.

>>> from ingest.document import Document, Section
>>> doc = Document("d", "t", "other", [Section("第一条　目的。", heading="第一条")])
>>> cd = chunk_document(doc)
>>> [(cd.text[s.start:s.end], s.section) for s in cd.spans]
[('第一条 目的。', '第一条')]
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from ingest.document import Document
from retrieval.errors import ConfigError
from retrieval.text.normalize import normalize

__all__ = ["Span", "ChunkedDocument", "chunk_document", "SECTION_SEPARATOR"]

SECTION_SEPARATOR = "\n\n"

# Boundary strengths: a cut prefers the strongest boundary that leaves the chunk reasonably full.
_SENTENCE, _LINE, _CLAUSE = 3, 2, 1
# A closing bracket right after 。 belongs to the sentence; 。」と (a quotation going on) is no end.
_SENTENCE_END_RE = re.compile(r"(?:[。！？!?]++|\.(?=\s|$))[」』）)】〕〉》\"”’']*+(?![とっ])")
_LINE_RE = re.compile(r"\n")
_CLAUSE_RE = re.compile(r"[、,，;；] ?| ")
_HIRAGANA_RE = re.compile("[\u3041-\u309f]")
_WORD_START_RE = re.compile("[\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9]")
# A cut must leave at least this fraction of ``size`` in the chunk to be preferred.
_MIN_FILL = 0.4


@dataclass
class Span:
    """One chunk: ``text[start:end]`` of the ChunkedDocument, with its section's heading/page/meta."""

    start: int
    end: int
    section: str = ""
    page: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChunkedDocument:
    """The document's normalized full text (sections joined by a blank line) and its chunks."""

    text: str
    spans: list[Span]

    def chunk_texts(self) -> list[str]:
        """The text of every span, in order."""
        return [self.text[s.start : s.end] for s in self.spans]


def chunk_document(doc: Document, size: int = 450, overlap: int = 60, min_size: int = 40) -> ChunkedDocument:
    """Normalize ``doc``'s sections, join them with a blank line, and cut them into spans.

    Empty sections (nothing left after normalization) are left out of the text.
    """
    if size < 2:
        raise ConfigError(f"チャンクサイズ(size={size})は2文字以上にしてください。")
    if not 0 <= overlap < size:
        raise ConfigError(f"チャンクの重なり(overlap={overlap})は0以上、チャンクサイズ({size})未満にしてください。")
    if not 0 <= min_size < size:
        raise ConfigError(f"最小チャンク長(min_size={min_size})は0以上、チャンクサイズ({size})未満にしてください。")
    parts: list[str] = []
    spans: list[Span] = []
    offset = 0
    for section in doc.sections:
        body = normalize(section.text)
        if not body:
            continue
        if parts:
            offset += len(SECTION_SEPARATOR)
        parts.append(body)
        for start, end in split_section(body, size, overlap, min_size):
            spans.append(
                Span(offset + start, offset + end, section.heading, section.page, dict(section.meta))
            )
        offset += len(body)
    return ChunkedDocument(SECTION_SEPARATOR.join(parts), spans)


def split_section(text: str, size: int = 450, overlap: int = 60, min_size: int = 40) -> list[tuple[int, int]]:
    """(start, end) offsets of the chunks of one section's text; no span starts/ends in whitespace."""
    first, last = _skip_ws(text, 0), _rskip_ws(text, len(text))
    if first >= last:
        return []
    if last - first <= size:
        return [(first, last)]
    bounds = _boundaries(text)
    sentence_ends = [p for p, strength in bounds if strength == _SENTENCE]
    positions = [p for p, _ in bounds]
    spans: list[tuple[int, int]] = []
    start = first
    while True:
        if last - start <= size:
            spans.append((start, last))
            break
        cut = _best_cut(bounds, positions, start, size)
        end = _rskip_ws(text, cut)
        if last - cut < min_size:
            spans.append((start, last))  # tiny tail: merge into this chunk
            break
        spans.append((start, end))
        nxt = _overlap_start(text, sentence_ends, positions, start, end, overlap)
        start = nxt if nxt > start else _skip_ws(text, cut)
    return spans


def _boundaries(text: str) -> list[tuple[int, int]]:
    """Sorted (position, strength) of every place a chunk may end (position is exclusive end)."""
    found: dict[int, int] = {}
    for regex, strength in ((_CLAUSE_RE, _CLAUSE), (_LINE_RE, _LINE), (_SENTENCE_END_RE, _SENTENCE)):
        for m in regex.finditer(text):
            pos = m.end() if strength != _LINE else m.start()
            if found.get(pos, 0) < strength:
                found[pos] = strength
    return sorted(found.items())


def _best_cut(bounds: list[tuple[int, int]], positions: list[int], start: int, size: int) -> int:
    """Where the chunk starting at ``start`` should end: strongest boundary that fills it enough."""
    limit = start + size
    lo = bisect.bisect_right(positions, start)
    hi = bisect.bisect_right(positions, limit)
    min_end = start + int(size * _MIN_FILL)
    for strength in (_SENTENCE, _LINE, _CLAUSE):
        for i in range(hi - 1, lo - 1, -1):
            pos, s = bounds[i]
            if pos < min_end:
                break
            if s >= strength:
                return pos
    return limit


def _overlap_start(
    text: str, sentence_ends: list[int], positions: list[int], start: int, end: int, overlap: int
) -> int:
    """Start of the next chunk: whole trailing sentences of [start, end) within the allowance."""
    allowance = min(overlap, (end - start) // 2)
    if allowance <= 0:
        return _skip_ws(text, end)
    # Earliest sentence end inside the allowance window: everything after it is repeated.
    i = bisect.bisect_left(sentence_ends, end - allowance)
    while i < len(sentence_ends) and sentence_ends[i] < end:
        pos = _skip_ws(text, sentence_ends[i])
        if start < pos < end:
            return pos
        i += 1
    # No whole sentence fits: repeat about ``allowance`` characters, from a clause/line boundary
    # inside the window if there is one.
    j = bisect.bisect_left(positions, end - allowance)
    while j < len(positions) and positions[j] < end:
        pos = _skip_ws(text, positions[j])
        if start < pos < end:
            return pos
        j += 1
    # Else start where a particle/okurigana (hiragana) meets a kanji/katakana word: a word start.
    for k in range(max(end - allowance, start + 1), end):
        if _HIRAGANA_RE.match(text[k - 1]) and _WORD_START_RE.match(text[k]):
            return k
    return _skip_ws(text, end - allowance)


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


def _rskip_ws(text: str, i: int) -> int:
    while i > 0 and text[i - 1].isspace():
        i -= 1
    return i
