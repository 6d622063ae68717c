"""Figures in Japanese text: numerals in digits or kanji (三千億 = 3000億 = 3e11) with units.

Units are normalized so that spellings meet: 億円/万円 -> 円, 割 -> %, 名 -> 人.

>>> [(f.values, f.unit) for f in find_figures("予算は三千億円、七割")]
[(frozenset({300000000000.0}), '円'), (frozenset({70.0}), '%')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text.dates import find_dates

__all__ = ["Figure", "find_figures", "parse_number", "KANJI_DIGITS"]

KANJI_DIGITS = _KD = "〇零一二三四五六七八九"
_DIGIT = {**{c: i for i, c in enumerate("〇一二三四五六七八九")}, "零": 0, **{str(i): i for i in range(10)}}
_SMALL = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10**4, "億": 10**8, "兆": 10**12}
_NUM = rf"[0-9{_KD}十百千万億兆]*[0-9{_KD}十百千][0-9{_KD}十百千万億兆,]*(?:[.・][0-9{_KD}]+)?"
# Counters compared as quantities; 年/月/日 are dates, 条/項/号 are articles.
_UNITS = (
    "兆円|億円|万円|千円|円|パーセント|%|割|ポイント|倍|人|名|件|社|団体|回|歳|時間|日間|週間|か月|カ月|ヶ月|箇月|"
    "年間|か所|カ所|箇所|機|隻|両|台|校|戸|世帯|トン|キロ|票|議席|自治体|市町村|都道府県|銘柄"
)
_QTY_RE = re.compile(rf"(?<![第0-9{_KD}十百千])(?P<n>{_NUM})(?:[、~](?P<n2>{_NUM}))?(?P<u>{_UNITS})")


def parse_number(s: str) -> float | None:
    """Value of a numeral in digits, kanji or both (三千億 = 3000億 = 3e11, 〇・二五 = 0.25)."""
    s = s.replace(",", "")
    frac = ""
    for sep in ".・":
        if sep in s:
            s, _, frac = s.partition(sep)
    total = section = current = 0
    seen = False
    for ch in s:
        if ch in _DIGIT:
            current, seen = current * 10 + _DIGIT[ch], True
        elif ch in _SMALL:
            section += (current or 1) * _SMALL[ch]
            current, seen = 0, True
        elif ch in _BIG:
            total += (section + current or 1) * _BIG[ch]
            section = current = 0
            seen = True
        else:
            return None
    if not seen:
        return None
    value = float(total + section + current)
    if frac:
        if any(c not in _DIGIT for c in frac):
            return None
        value += float("0." + "".join(str(_DIGIT[c]) for c in frac))
    return value


@dataclass(frozen=True)
class Figure:
    """A figure with its unit (normalized: 億円 -> 円, 割 -> %); ``text[start:end]`` is the mention."""

    values: frozenset[float]  # two for a range such as 七、八%
    unit: str
    start: int
    end: int


def _unit_scale(unit: str) -> tuple[str, float]:
    if unit.endswith("円"):
        return "円", {"兆円": 1e12, "億円": 1e8, "万円": 1e4, "千円": 1e3}.get(unit, 1.0)
    if unit in ("パーセント", "%"):
        return "%", 1.0
    if unit == "割":
        return "%", 10.0
    if unit in ("か月", "カ月", "ヶ月", "箇月"):
        return "か月", 1.0
    if unit in ("か所", "カ所", "箇所"):
        return "箇所", 1.0
    return ("人" if unit == "名" else unit), 1.0


def find_figures(text: str) -> list[Figure]:
    """Figures with units in already normalized ``text``; dates (令和六年, 2024年) are left out."""
    dates = [(d.start, d.end) for d in find_dates(text)]
    out = []
    for m in _QTY_RE.finditer(text):
        if any(s <= m.start() < e for s, e in dates):
            continue
        unit, scale = _unit_scale(m.group("u"))
        values = set()
        for g in ("n", "n2"):
            v = parse_number(m.group(g)) if m.group(g) else None
            if v is not None:
                values.add(round(v * scale, 6))
        if values:
            out.append(Figure(frozenset(values), unit, m.start(), m.end()))
    return out
