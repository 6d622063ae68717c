"""Dates in Japanese text: 西暦 and 元号 (令和・平成・昭和・大正・明治), arabic or kanji numerals.

>>> first_date("令和六年十一月十三日（水曜日）")
'2024-11-13'
>>> [m.iso for m in find_dates("平成31年4月30日から令和元年5月1日へ、2024/4/1")]
['2019-04-30', '2019-05-01', '2024-04-01']
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Literal

from kanjize import kanji2number

__all__ = ["DateMention", "find_dates", "first_date", "kanji_to_int", "to_wareki", "ERAS"]

Precision = Literal["day", "month", "year"]

# Era name -> (first day, Gregorian year of its 元年). Year n of an era is base + n - 1.
ERAS: dict[str, tuple[_dt.date, int]] = {
    "明治": (_dt.date(1868, 1, 25), 1868),
    "大正": (_dt.date(1912, 7, 30), 1912),
    "昭和": (_dt.date(1926, 12, 25), 1926),
    "平成": (_dt.date(1989, 1, 8), 1989),
    "令和": (_dt.date(2019, 5, 1), 2019),
}
# Abbreviations used in forms and tables: R6.4.1, H31/4/30.
_ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}

_KANJI_DIGITS = "〇零一二三四五六七八九十百千"
NUM_PATTERN = rf"[0-9{_KANJI_DIGITS}]+"
# Full-width digits and separators -> ASCII, one char for one char so offsets stay valid.
WIDTH_FOLD = str.maketrans("０１２３４５６７８９／．－", "0123456789/.-")

_ERA_RE = re.compile(
    rf"(?P<era>明治|大正|昭和|平成|令和)\s?(?P<y>元|{NUM_PATTERN})\s?年"
    rf"(?:\s?(?P<m>{NUM_PATTERN})\s?月(?:\s?(?P<d>{NUM_PATTERN})\s?日)?)?"
)
_ERA_ABBR_RE = re.compile(
    r"(?<![A-Za-z0-9])(?P<era>[MTSHR])(?P<y>\d{1,2})[./](?P<m>\d{1,2})[./](?P<d>\d{1,2})(?![0-9])"
)
# 西暦 with 年: the year must be four digits (or four kanji digits such as 二〇二四).
_WESTERN_RE = re.compile(
    r"(?<![0-9〇一二三四五六七八九十百千])"
    rf"(?P<y>\d{{4}}|[〇一二三四五六七八九]{{4}}|二千{NUM_PATTERN}?)\s?年"
    rf"(?:\s?(?P<m>{NUM_PATTERN})\s?月(?:\s?(?P<d>{NUM_PATTERN})\s?日)?)?"
)
_SLASH_RE = re.compile(
    r"(?<![0-9./-])(?P<y>\d{4})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?![0-9]|[/.-]\d)"
)


@dataclass(frozen=True)
class DateMention:
    """A date found in text: ``text[start:end]`` is the mention, ``iso`` its ISO form."""

    start: int
    end: int
    iso: str
    precision: Precision


def kanji_to_int(s: str) -> int | None:
    """Parse a numeral written in kanji (十一, 二〇二四, 三十一), digits or full-width digits.

    ``元`` (the first year of an era) is 1. Returns None when ``s`` is not a numeral.
    """
    s = s.strip().translate(WIDTH_FOLD)
    if not s:
        return None
    if s == "元":
        return 1
    if s.isascii() and s.isdigit():
        return int(s)
    s = s.replace("零", "〇")
    if any(ch not in _KANJI_DIGITS and not ("0" <= ch <= "9") for ch in s):
        return None
    try:
        return int(kanji2number(s))
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _iso(year: int, month: int | None, day: int | None) -> tuple[str, Precision] | None:
    """ISO string and precision for a (partial) date, or None if it is not a real date."""
    if not 1 <= year <= 9999:
        return None
    if month is None:
        return f"{year:04d}", "year"
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}", "month"
    try:
        _dt.date(year, month, day)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}", "day"


def _num(s: str | None) -> int | None:
    return None if s is None else kanji_to_int(s)


def _mention(m: re.Match[str], year: int | None, units: bool = True) -> DateMention | None:
    """Build a mention from a match with groups y/m/d. With ``units`` (年月日 written out) an
    impossible day or month is dropped and the mention shortened; 2024/13/45 is no date at all."""
    if year is None:
        return None
    month, day = _num(m.group("m")), _num(m.group("d"))
    result = _iso(year, month, day)
    end = m.end()
    if result is None and not units:
        return None
    if result is None and day is not None:  # e.g. 4月31日: keep the month
        result = _iso(year, month, None)
        end = m.string.index("月", m.end("m")) + 1
    if result is None and month is not None:
        result = _iso(year, None, None)
        end = m.string.index("年", m.end("y")) + 1
    if result is None:
        return None
    return DateMention(m.start(), end, result[0], result[1])


def find_dates(text: str) -> list[DateMention]:
    """All dates mentioned in ``text``, in order, without overlaps.

    Recognised: 2024年4月1日 / 2024年4月 / 2024年, 2024/4/1 (also - and .), 令和6年4月1日,
    令和元年, 平成三十一年四月三十日, R6.4.1. Dates without a year (4月1日) are not returned.
    """
    folded = text.translate(WIDTH_FOLD)
    found: list[DateMention] = []
    for m in _ERA_RE.finditer(folded):
        n = _num(m.group("y"))
        base = ERAS[m.group("era")][1]
        found.append(_mention(m, None if n is None or n < 1 else base + n - 1))
    for m in _ERA_ABBR_RE.finditer(folded):
        n = int(m.group("y"))
        base = ERAS[_ERA_LETTERS[m.group("era")]][1]
        found.append(_mention(m, base + n - 1 if n >= 1 else None, units=False))
    for m in _WESTERN_RE.finditer(folded):
        year = _num(m.group("y"))
        found.append(_mention(m, year if year is not None and 1000 <= year <= 2999 else None))
    for m in _SLASH_RE.finditer(folded):
        found.append(_mention(m, int(m.group("y")), units=False))
    mentions = sorted((f for f in found if f is not None), key=lambda d: (d.start, -d.end))
    result: list[DateMention] = []
    for d in mentions:
        if result and d.start < result[-1].end:
            continue  # overlapping match (e.g. 平成31年 inside a longer era date)
        result.append(d)
    return result


def first_date(text: str) -> str | None:
    """ISO form of the first date mentioned in ``text`` (any precision), or None."""
    dates = find_dates(text)
    return dates[0].iso if dates else None


def to_wareki(iso: str) -> str:
    """「2024-08-23」 -> 「令和6年8月23日」 (元年 for an era's first year); "" when not a date."""
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", str(iso))
    if not m:
        return ""
    try:
        day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return ""
    for era, (first, base) in sorted(ERAS.items(), key=lambda e: e[1][0], reverse=True):
        if day >= first:
            year = day.year - base + 1
            return f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"
