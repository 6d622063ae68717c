"""Japanese text normalization shared by documents and queries.

``normalize`` is what every chunk and every query goes through (NFKC plus a few Japanese-specific
fixes). ``join_wrapped_lines`` and ``remove_cjk_spaces`` repair hard-wrapped / PDF-extracted text
and are meant for readers that know their source wraps lines.

>>> normalize("令和６年度　ｶﾞｲﾄﾞ\\r\\n")
'令和6年度 ガイド'
>>> join_wrapped_lines("令和6年度の\\n予算について")
'令和6年度の予算について'
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["normalize", "join_wrapped_lines", "remove_cjk_spaces", "JA_CHARS"]

# Circled numbers are list markers in administrative text; NFKC would turn "①申請" into "1申請",
# losing the marker and gluing the digit to the word. They are shielded from NFKC.
_CIRCLED = (
    [chr(c) for c in range(0x2460, 0x2474)]  # ①-⑳
    + [chr(c) for c in range(0x3251, 0x3260)]  # ㉑-㉟
    + [chr(c) for c in range(0x32B1, 0x32C0)]  # ㊱-㊿
)
_CIRCLED_RE = re.compile("[" + "".join(_CIRCLED) + "]+")
_PLACEHOLDER_BASE = 0xF0000  # Supplementary Private Use Area-A: NFKC leaves it alone.
_SHIELD = {ord(ch): chr(_PLACEHOLDER_BASE + i) for i, ch in enumerate(_CIRCLED)}
_UNSHIELD = {_PLACEHOLDER_BASE + i: ch for i, ch in enumerate(_CIRCLED)}

# Applied after NFKC (so full-width forms are already folded).
_CHAR_MAP: dict[int, str | None] = {}
# Hyphen / minus look-alikes -> ASCII hyphen-minus. The katakana long vowel mark ー is not touched.
for _c in "\u2010\u2011\u2012\u2013\u2043\u2212\ufe63\uff0d":
    _CHAR_MAP[ord(_c)] = "-"
# Long dashes -> the Japanese horizontal bar used in ranges such as 第一条―第四条.
for _c in "\u2014\u2015\u2e3a\u2e3b":
    _CHAR_MAP[ord(_c)] = "\u2015"
# Wave dash and tilde variants -> "~" (what NFKC already makes of the full-width tilde ～).
for _c in "\u301c\u223c\u223d\u2053\uff5e":
    _CHAR_MAP[ord(_c)] = "~"
# Space variants -> ASCII space; tabs too (they only align columns).
for _c in "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000":
    _CHAR_MAP[ord(_c)] = " "
# Line-ish separators -> newline (form feed marks PDF page breaks).
for _c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
    _CHAR_MAP[ord(_c)] = "\n"
# Zero-width and format characters, soft hyphen, BOM, variation selectors: invisible, dropped.
for _c in "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff":
    _CHAR_MAP[ord(_c)] = None
for _cp in range(0xFE00, 0xFE10):
    _CHAR_MAP[_cp] = None
for _cp in range(0xE0100, 0xE01F0):
    _CHAR_MAP[_cp] = None
# Remaining C0/C1 control characters (newline is kept; the others above were mapped first).
for _cp in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)):
    if _cp != 0x0A:
        _CHAR_MAP.setdefault(_cp, None)
_CHAR_MAP.update(_UNSHIELD)

_SPACES_RE = re.compile(r" {2,}")
_LINE_EDGE_RE = re.compile(r" *\n *")
_BLANK_RUN_RE = re.compile(r"\n{3,}")


def _char_class(codepoints: set[int] | list[int]) -> str:
    """A regex character class body with consecutive code points folded into ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(codepoints):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


_MAPPED_RE = re.compile(f"[{_char_class(list(_CHAR_MAP))}]+")


def _shield(m: re.Match[str]) -> str:
    return m.group().translate(_SHIELD)


def _map_run(m: re.Match[str]) -> str:
    return m.group().translate(_CHAR_MAP)


@functools.lru_cache(maxsize=1)
def _nfkc_unstable_re() -> re.Pattern[str]:
    """Characters NFKC may change or compose: a run of them (plus the char before) is normalized
    on its own, everything else is already NFKC. Built once (~30 ms) on first use."""
    unstable: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V/T jamo
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        decomposition = unicodedata.decomposition(ch)
        if decomposition or unicodedata.combining(ch) or unicodedata.normalize("NFKC", ch) != ch:
            unstable.add(cp)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                unstable.add(int(parts[1], 16))  # can compose with the char before it
    body = _char_class(unstable)
    # Everything outside the BMP is treated as unstable (rare; keeps the table small).
    return re.compile(f"[{body}\U00010000-\U0010FFFF]+")


def _nfkc(text: str) -> str:
    """unicodedata NFKC, applied only around the characters it can change (3-5x faster on
    Japanese text, where most characters are already stable)."""
    out: list[str] = []
    last = 0
    for m in _nfkc_unstable_re().finditer(text):
        start, end = m.span()
        if start > last:
            start -= 1  # the preceding starter may compose with the run
        out.append(text[last:start])
        out.append(unicodedata.normalize("NFKC", text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def normalize(text: str) -> str:
    """Return ``text`` in the canonical form used for indexing and querying (idempotent).

    NFKC (full-width ASCII/digits to half-width, half-width katakana to full-width) while keeping
    。、「」 and circled numbers; unified dashes/tildes/spaces; no control or zero-width characters;
    LF line ends; single spaces inside lines; stripped lines; at most one blank line in a row.
    """
    if not text:
        return ""
    text = _CIRCLED_RE.sub(_shield, text)
    if not text.isascii():
        text = _nfkc(text)
    text = _MAPPED_RE.sub(_map_run, text.replace("\r\n", "\n"))
    text = _SPACES_RE.sub(" ", text)
    text = _LINE_EDGE_RE.sub("\n", text)
    text = _BLANK_RUN_RE.sub("\n\n", text)
    return text.strip(" \n")


# Characters that count as "Japanese" when deciding whether a line break or space is an artefact.
JA_CHARS = (
    "\u3005-\u3007"  # 々〆〇
    "\u3041-\u309f"  # hiragana
    "\u30a0-\u30ff"  # katakana (incl. ・ and ー)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kanji
    "\u3001\u3002\u300c-\u300f\u3010\u3011"  # 、。「」『』【】
    "\uff08\uff09"  # full-width parentheses (before NFKC)
)
_JA = f"[{JA_CHARS}]"

_NUM = "0-9０-９"
_KNUM = "一二三四五六七八九十百千〇"
# A line that starts with one of these begins a new item: never glue it to the previous line.
_MARKER_RE = re.compile(
    "|".join(
        [
            rf"[(（][{_NUM}{_KNUM}]+[)）]",  # (1) （１） （一）
            r"[(（][ア-ンｱ-ﾝa-zA-Zａ-ｚＡ-Ｚ][)）]",  # （ア） (a)
            rf"[{_NUM}]+[)）]",  # 1)
            rf"[{_NUM}]+(?:[.．][{_NUM}]+)*(?:[.．、]|[ 　])",  # 1. / 2.1 / 1　現状
            rf"[{_KNUM}]+[、.．]",  # 一、
            rf"[{_KNUM}]+[ 　]",  # 一　総則 (law items)
            r"[ア-ン][ 　]",  # イ　... (law sub-items)
            rf"第[{_NUM}{_KNUM}]+[条章節款項目編部]",  # 第N条
            "[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]",  # ① ⑴ ❶
            r"[・･●○◎■□◆◇▼▽▲△☆★※→⇒►▶•\-*＊【〔\[<＜〈《]",  # bullets, bracketed headings
            r"(?:附則|別表|別紙|備考|注|問|答)(?:[ 　\d０-９:：.．]|$)",
            r"[QAＱＡ][ 　\d０-９:：.．]",
        ]
    )
)
# Line ends after which a break is a real paragraph/sentence break.
_SENTENCE_END = set("。！？!?:：")
_CLOSERS = set("」』)）】〕")

_WRAP_RE = re.compile(r"[ 　]*\n[ 　]*")
# Item/heading lines up to this length are taken as complete lines.
_SHORT_HEADING = 24


_JA_RE = re.compile(_JA)


def _is_ja(ch: str) -> bool:
    return _JA_RE.match(ch) is not None


def join_wrapped_lines(text: str) -> str:
    """Join hard wraps inside Japanese sentences (PDF / fixed-width text), keeping real breaks.

    A single line break (and any spaces around it) between two Japanese characters is removed
    unless the previous line ends a sentence (。！？：), the next line starts a list item or
    heading (（１）, 一、, ①, ・, 第N条, 1. ...), the previous line is a short item/heading line,
    or (in texts of 5+ lines) the previous line is clearly shorter than the wrap width, i.e.
    the paragraph ended there. Blank lines are always kept.
    """
    if "\n" not in text:
        return text
    width = _wrap_width(text)
    out: list[str] = []
    pos = 0
    for m in _WRAP_RE.finditer(text):
        start, end = m.start(), m.end()
        out.append(text[pos:start])
        pos = end
        if m.group().count("\n") != 1 or start == 0 or end >= len(text):
            out.append(m.group())
            continue
        prev_ch = text[start - 1]
        next_ch = text[end]
        prev_ok = _is_ja(prev_ch) or (prev_ch.isdigit() and _ja_before_digits(text, start - 1))
        next_ok = _is_ja(next_ch) or next_ch.isdigit()
        if prev_ok and next_ok and not _keeps_break(text, start, end, width):
            continue  # a wrap inside a sentence: drop it
        out.append(m.group())
    out.append(text[pos:])
    return "".join(out)


def _wrap_width(text: str) -> int | None:
    """Typical length of a full (wrapped) line, or None when there are too few lines to tell."""
    lengths = sorted(len(line.strip(" 　")) for line in text.split("\n") if line.strip(" 　"))
    if len(lengths) < 5:
        return None
    return lengths[int(len(lengths) * 0.8)]


def _keeps_break(text: str, start: int, end: int, width: int | None) -> bool:
    """True if the line break at ``text[start:end]`` is meaningful (not a hard wrap)."""
    tail = text[max(0, start - 3) : start].rstrip("".join(_CLOSERS))
    if tail and tail[-1] in _SENTENCE_END:
        return True
    if _MARKER_RE.match(text, end):
        return True
    line = text[text.rfind("\n", 0, start) + 1 : start].strip(" 　")
    if len(line) <= _SHORT_HEADING and _MARKER_RE.match(line):
        return True  # "（１）目的" / "第1章 総則": a heading line, not a wrapped item
    return width is not None and len(line) < 0.7 * width


def _ja_before_digits(text: str, i: int) -> bool:
    """True if the digit run ending at ``i`` is preceded by a Japanese character (令和6 / 第1)."""
    while i >= 0 and text[i].isdigit():
        i -= 1
    return i >= 0 and _is_ja(text[i])


_CJK_SPACE_RE = re.compile(rf"(?<={_JA})[ 　]+(?={_JA})")


def remove_cjk_spaces(text: str) -> str:
    """Remove spaces between two Japanese characters (PDF extraction artefacts).

    A space right after a leading heading/list marker (第1章 総則, 1 現状, （１） 目的) is kept.
    """
    if " " not in text and "\u3000" not in text:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip(" 　")
        lead = len(line) - len(stripped)
        m = _MARKER_RE.match(stripped)
        keep = lead + (m.end() if m else 0)
        # Keep the space that follows the marker itself (e.g. "第1章 総則").
        while keep < len(line) and line[keep] in " 　":
            keep += 1
        lines[i] = line[:keep] + _CJK_SPACE_RE.sub("", line[keep:])
    return "\n".join(lines)
