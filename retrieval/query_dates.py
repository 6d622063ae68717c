"""Explicit date phrases in a Japanese question -> a date filter, only where unambiguous.

>>> import datetime as dt
>>> hint = parse_date_phrases("令和5年度の予算委員会での答弁", dt.date(2024, 11, 1))
>>> (hint.date_from, hint.date_to, hint.label)
('2023-04-01', '2024-03-31', '2023年4月1日〜2024年3月31日')
>>> parse_date_phrases("令和5年度税制改正の内容は", dt.date(2024, 11, 1)) is None
True

Recognised: 西暦 and 元号 years (2023年, 令和5年, 令和五年, 令和元年), year+month, full dates
(also 2023/4/1, R5.4.1), 年度 (Japanese fiscal year, April to March), compact ranges
(令和4〜5年度, 2022〜2023年), ranges with から/〜 (…まで), open ends with 以降/以後/以来/から and
open starts with 以前/まで, より前/より後 (exclusive), and relative phrases computed from ``today``:
今年/本年, 昨年/去年, 一昨年/おととし, 今年度/本年度, 昨年度/前年度, 一昨年度, 今月, 先月
(a relative year may take a month: 昨年4月以降).

The rule for ambiguity. A wrong filter silently hides the right documents; a missing one only
costs precision. So a phrase becomes a filter only if it is a *time-of-event* expression: it says
when the searched material was said, published or discussed. Concretely:

1. The question is one sentence. A text with an inner sentence end (。？！ or a line break followed
   by more text) narrates: a pasted Diet question, a taxpayer's case (「昨年12月に入院しました。…」);
   its dates are the dates of the events it tells. No filter.
2. After the phrase (and its 度, range or 以降/以前 marker) comes the end of the question, or 中/付け,
   or one of: の / における / において / にかけて followed by anything but a name or rule word
   (改正, 施行, 制定, 公布, 成立, 導入, 開始, 法律, 税制, 予算, 決算 (予算委員会 and 決算委員会 are
   fine), 版, 基準, 目標, 問題, 比, 頃, 末, 取扱い, 税率, 制度 ...); or に / には / で followed by a
   saying, publishing or meeting word (公表, 発表, 答弁, 議論, 策定, 通知, 国会, 委員会 ...), since
   に/で time an action and only those actions date the sources; or と / や / 及び / 、 directly
   followed by another date phrase (a list). Anything else is doubtful: 、 or は (the date times
   a clause, not the sources), a comparison (と比べ, bare より), a noun glued to the date (a name:
   令和5年版, 平成30年改正, 令和5年度税制改正, 平成五年法律第八十八号, 令和2年国勢調査, 令和6年能登半島地震,
   2050年カーボンニュートラル), approximation (頃, 末, 前後).
3. Also doubtful: a range whose end precedes its start, 前年度 next to an explicit date (relative
   to which?), a period beginning after ``today`` (a target year: 2030年までに), a 西暦 year before
   1868 (1000年に一度), an impossible date (2024年2月30日).
4. One doubtful phrase and the whole question gets no filter (None): officials mix names and
   times, and guessing which is which is how recall is lost. Several clean phrases give the
   smallest single range covering all of them (2022年と2023年 -> 2022-01-01..2023-12-31).

Numbers that are not dates (5年以内, 3年間, 第5条, 2023件) and 令和 without a year are never date
phrases at all. Callers that search with a whole pasted text (drafting from a Diet question)
should not derive dates from it at all.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from dataclasses import dataclass, field

# Reused from the ingestion-side recogniser so both sides read numerals and eras identically.
from retrieval.text.dates import NUM_PATTERN, WIDTH_FOLD, ERAS, find_dates, kanji_to_int

__all__ = ["DateHint", "parse_date_phrases"]

MIN_YEAR = 1868  # 明治元年: earlier 西暦 "years" in a question are quantities (1000年に一度)

_CJK = r"\u3400-\u9fff々"
_RELATIVE_RE = re.compile(
    rf"(?<![{_CJK}])(一昨年度|一昨年|おととし|昨年度|前年度|今年度|本年度|昨年|去年|今年|本年|先月|今月)"
)
_COMPACT_RE = re.compile(
    rf"(?:(?P<era>明治|大正|昭和|平成|令和)\s?(?P<a>元|{NUM_PATTERN})|(?<![0-9])(?P<wa>\d{{4}}))"
    rf"\s?[〜～~\-]\s?(?P<b>{NUM_PATTERN})\s?年(?P<fy>度)?"
)
_CONNECTOR_RE = re.compile(r"\s*(から|[〜～~\-])\s*")
_TAIL_RE = re.compile(
    rf"(?:(?P<y>元|{NUM_PATTERN})\s?年(?P<fy>度)?)?(?:(?P<m>{NUM_PATTERN})\s?月(?:\s?(?P<d>{NUM_PATTERN})\s?日)?)?"
)
_REL_MONTH_RE = re.compile(rf"の?\s?(?P<m>{NUM_PATTERN})\s?月(?:\s?(?P<d>{NUM_PATTERN})\s?日)?")
_RANGE_END_RE = re.compile(r"\s*(までの間|まで|の間|にかけて)")
_OPEN_RE = re.compile(r"\s*(以降|以後|以来|より後|より前|以前|まで|から)")
_SUFFIX_RE = re.compile(r"(中|付け|付)(?=[のにでは、。，\s?？]|$)")
_PARTICLE_RE = re.compile(r"(における|において|にかけて|には|にて|の|に|で)")
# Between two dates only (2022年と2023年): anywhere else と/や/か start a comparison or an aside.
_LIST_RE = re.compile(r"\s*(及び|および|並びに|または|又は|ないし|と|や|か|、|・)\s*")
# A sentence end before the last one: the text narrates (a pasted Diet question, a taxpayer's
# case), and its dates are the dates of the events it tells.
_INNER_SENTENCE_END_RE = re.compile(r"[。！？!?\n]+(?=\s*\S)")
_NAMING_RE = re.compile(
    r"\s*(改正|改定|制定|施行|公布|成立|導入|開始|始ま|適用|創設|廃止|法律|法改正|法令|税制|"
    r"予算(?!委員会)|決算(?!委員会)|版|基準|目標|問題|一度|1度|一回|1回|比|前後|頃|ごろ|ころ|末|初め|生まれ|"
    r"取扱|取り扱|扱い|税率|制度|手続)"
)
_NOUN_RUN_RE = re.compile(rf"\s*[{_CJK}〆ヶ\u30a0-\u30ffA-Za-z0-9]+")
# After に/で a date times an action; only saying, publishing or meeting dates the documents
# themselves (2023年に公表された, 昨年に国会で). 昨年12月に入院した is the asker's own case.
_TIMED_PARTICLES = {"に", "には", "で", "にて"}
_RECORD_ACTION_RE = re.compile(
    r"\s*(公表|発表|公開|発出|出され|出した|示され|示した|策定|閣議|決定|答弁|発言|質問|質疑|審議|議論|"
    r"開催|開かれ|行われ|提出|報告|作成|通知|通達|述べ|説明|掲載|刊行|発行|国会|委員会|本会議|会議)"
)
_END = set("。．.？?！!」』）)】") | {" ", "\t", "\n", "\u3000"}


@dataclass
class DateHint:
    """A date filter read from a question: inclusive ISO bounds (None = open), where it was, and a
    Japanese label telling the user which filter was applied (e.g. 「2023年4月1日以降」)."""

    date_from: str | None
    date_to: str | None
    spans: list[tuple[int, int]] = field(default_factory=list)
    label: str = ""


@dataclass
class _Atom:
    """One date expression before range handling: [lo, hi] inclusive."""

    start: int
    end: int
    lo: _dt.date
    hi: _dt.date
    precision: str  # year | fiscal | month | day | range
    era: str | None = None
    relative: str | None = None


class _Doubt(Exception):
    """A date-like phrase that must not become a filter; the whole question gets none."""


def parse_date_phrases(question: str, today: _dt.date) -> DateHint | None:
    """The date filter that ``question``'s explicit date phrases ask for, or None when there is
    none or any of them is ambiguous (see the module docstring for the rule)."""
    text = question.translate(WIDTH_FOLD)  # one char for one char: offsets stay valid
    if _INNER_SENTENCE_END_RE.search(text.strip()):
        return None
    try:
        atoms = _atoms(text, today)
        if not atoms:
            return None
        if any(a.relative == "前年度" for a in atoms) and any(a.relative is None for a in atoms):
            raise _Doubt  # 前年度 may be relative to the explicit year, not to today
        phrases = _phrases(text, atoms, today)
    except _Doubt:
        return None
    lows = [lo for lo, _, _ in phrases]
    highs = [hi for _, hi, _ in phrases]
    lo = None if None in lows else min(lows)
    hi = None if None in highs else max(highs)
    if lo is None and hi is None:
        return None
    return DateHint(
        date_from=lo.isoformat() if lo else None,
        date_to=hi.isoformat() if hi else None,
        spans=[span for _, _, span in phrases],
        label=_label(lo, hi),
    )


# -- atoms --------------------------------------------------------------------------------------

def _atoms(text: str, today: _dt.date) -> list[_Atom]:
    """Every date expression in ``text`` in order, without overlaps."""
    atoms: list[_Atom] = []
    for m in _COMPACT_RE.finditer(text):
        atoms.append(_compact(m))
    for d in find_dates(text):
        if any(a.start < d.end and d.start < a.end for a in atoms):
            continue
        if int(d.iso[:4]) < MIN_YEAR:
            raise _Doubt
        era = text[d.start : d.start + 2]
        atom = _from_iso(d.start, d.end, d.iso, d.precision, era if era in ERAS else None)
        if atom.precision == "year" and text.startswith("度", atom.end):
            atom = _fiscal(atom.start, atom.end + 1, atom.lo.year, atom.era)
        atoms.append(atom)
    for m in _RELATIVE_RE.finditer(text):
        if not any(a.start < m.end() and m.start() < a.end for a in atoms):
            atoms.append(_relative(text, m, today))
    return sorted(atoms, key=lambda a: a.start)


def _from_iso(start: int, end: int, iso: str, precision: str, era: str | None) -> _Atom:
    year = int(iso[:4])
    if precision == "year":
        return _Atom(start, end, _dt.date(year, 1, 1), _dt.date(year, 12, 31), "year", era)
    month = int(iso[5:7])
    if precision == "month":
        return _Atom(start, end, _dt.date(year, month, 1), _month_end(year, month), "month", era)
    day = _dt.date.fromisoformat(iso)
    return _Atom(start, end, day, day, "day", era)


def _fiscal(start: int, end: int, year: int, era: str | None = None, relative: str | None = None) -> _Atom:
    """Japanese fiscal year ``year``: 1 April to 31 March of the next year."""
    return _Atom(start, end, _dt.date(year, 4, 1), _dt.date(year + 1, 3, 31), "fiscal", era, relative)


def _compact(m: re.Match[str]) -> _Atom:
    """令和4〜5年度, 2022〜2023年: one range, the era (if any) written once."""
    b = kanji_to_int(m.group("b"))
    if m.group("era"):
        base = ERAS[m.group("era")][1]
        a = kanji_to_int(m.group("a"))
        if a is None or b is None or a < 1 or b < 1:
            raise _Doubt
        y1, y2 = base + a - 1, base + b - 1
    else:
        y1, y2 = int(m.group("wa")), b if b is not None else 0
        if not (MIN_YEAR <= y1 and MIN_YEAR <= y2 <= 2999):
            raise _Doubt
    if y2 < y1:
        raise _Doubt
    if m.group("fy"):
        lo, hi = _fiscal(0, 0, y1).lo, _fiscal(0, 0, y2).hi
    else:
        lo, hi = _dt.date(y1, 1, 1), _dt.date(y2, 12, 31)
    return _Atom(m.start(), m.end(), lo, hi, "range", m.group("era"))


def _relative(text: str, m: re.Match[str], today: _dt.date) -> _Atom:
    word = m.group(1)
    fiscal_now = today.year if today.month >= 4 else today.year - 1
    if word in ("今月", "先月"):
        first = today.replace(day=1)
        if word == "先月":
            first = (first - _dt.timedelta(days=1)).replace(day=1)
        return _Atom(m.start(), m.end(), first, _month_end(first.year, first.month), "month", relative=word)
    if word.endswith("年度"):
        back = {"今年度": 0, "本年度": 0, "昨年度": 1, "前年度": 1, "一昨年度": 2}[word]
        return _fiscal(m.start(), m.end(), fiscal_now - back, relative=word)
    year = today.year - {"今年": 0, "本年": 0, "昨年": 1, "去年": 1, "一昨年": 2, "おととし": 2}[word]
    month = _REL_MONTH_RE.match(text, m.end())  # 昨年4月, 昨年の4月1日
    if month:
        iso = _ymd_iso(year, kanji_to_int(month.group("m")), _opt_int(month.group("d")))
        return _from_iso(m.start(), month.end(), iso, "day" if month.group("d") else "month", None)
    return _Atom(m.start(), m.end(), _dt.date(year, 1, 1), _dt.date(year, 12, 31), "year", relative=word)


# -- phrases: ranges, open ends, and what follows --------------------------------------------

def _phrases(text: str, atoms: list[_Atom], today: _dt.date):
    """(lo, hi, span) for every phrase; raises _Doubt when one is not a clean time expression."""
    out: list[tuple[_dt.date | None, _dt.date | None, tuple[int, int]]] = []
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        lo: _dt.date | None = atom.lo
        hi: _dt.date | None = atom.hi
        named_start = atom.lo
        pos = atom.end
        conn = None if atom.precision == "range" else _CONNECTOR_RE.match(text, pos)
        closed = atom.precision == "range"
        if conn:
            nxt = atoms[i + 1] if i + 1 < len(atoms) and atoms[i + 1].start == conn.end() else None
            tail = None if nxt else _tail(text, conn.end(), atom)
            if nxt is not None:
                hi, pos, closed = nxt.hi, nxt.end, True
                i += 1
            elif tail is not None:
                hi, pos, closed = tail[0], tail[1], True
            else:  # 2023年から / 2023年〜 with nothing after: an open end
                hi, pos = None, conn.end()
            if closed and hi < lo:
                raise _Doubt
        if closed:
            end = _RANGE_END_RE.match(text, pos)
            pos = end.end() if end else pos
        elif not conn:
            marker = _OPEN_RE.match(text, pos)
            if marker:
                word, pos = marker.group(1), marker.end()
                if word in ("以降", "以後", "以来", "から"):
                    hi = None
                elif word == "より後":
                    lo, hi = atom.hi + _dt.timedelta(days=1), None
                elif word == "より前":
                    lo, hi = None, atom.lo - _dt.timedelta(days=1)
                else:  # 以前, まで
                    lo = None
            elif text.startswith("より", pos):
                raise _Doubt  # 2023年より多い: a comparison, or a start point? don't guess
        if named_start > today:
            raise _Doubt  # a target year (2030年までに) says nothing about when documents were written
        next_start = atoms[i + 1].start if i + 1 < len(atoms) else None
        if not _clean_continuation(text, pos, not conn and pos == atom.end, next_start):
            raise _Doubt
        out.append((lo, hi, (atom.start, pos)))
        i += 1
    return out


def _tail(text: str, pos: int, anchor: _Atom) -> tuple[_dt.date, int] | None:
    """The end of 令和4年から5年まで / 2023年4月〜6月: a date that inherits era or year from its
    start. Returns (last day, end offset)."""
    m = _TAIL_RE.match(text, pos)
    if not m or m.end() == pos or anchor.relative or anchor.precision == "fiscal" and not m.group("fy"):
        return None
    if m.group("y"):
        if anchor.era is None:
            return None  # a 西暦 year would have been found as a date of its own
        n = kanji_to_int(m.group("y"))
        if n is None or n < 1:
            return None
        year = ERAS[anchor.era][1] + n - 1
        if m.group("fy"):
            return None if m.group("m") else (_fiscal(0, 0, year).hi, m.end())
    else:
        year = anchor.lo.year
    if not m.group("m"):
        return _dt.date(year, 12, 31), m.end()
    month, day = kanji_to_int(m.group("m")), _opt_int(m.group("d"))
    iso = _ymd_iso(year, month, day)
    return _from_iso(0, 0, iso, "day" if day else "month", None).hi, m.end()


def _clean_continuation(text: str, pos: int, bare: bool, next_start: int | None) -> bool:
    """Does the question go on after a date phrase the way a time-of-event expression does?"""
    if bare:
        suffix = _SUFFIX_RE.match(text, pos)  # 2023年中に, 令和5年4月1日付けの
        pos = suffix.end() if suffix else pos
    if pos >= len(text) or text[pos] in _END:
        return True
    listed = _LIST_RE.match(text, pos)
    if listed and listed.end() == next_start:
        return True
    particle = _PARTICLE_RE.match(text, pos)
    if not particle:
        return False  # compounded with a noun: part of a name (令和5年版, 平成30年改正)
    # The noun the date modifies, whole: 平成18年の医療法改正前 is about a revision, too.
    noun = _NOUN_RUN_RE.match(text, particle.end())
    if _NAMING_RE.search(noun.group() if noun else ""):
        return False
    if particle.group(1) in _TIMED_PARTICLES:
        return bool(_RECORD_ACTION_RE.match(text, particle.end()))
    return True


# -- small helpers -------------------------------------------------------------------------------

def _month_end(year: int, month: int) -> _dt.date:
    return _dt.date(year, month, calendar.monthrange(year, month)[1])


def _opt_int(s: str | None) -> int | None:
    return None if s is None else kanji_to_int(s)


def _ymd_iso(year: int, month: int | None, day: int | None) -> str:
    """ISO of a (partial) date; an impossible one is doubtful, not silently shortened."""
    try:
        if month is None or not 1 <= month <= 12:
            raise ValueError
        if day is None:
            return f"{year:04d}-{month:02d}"
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        raise _Doubt from None


def _label(lo: _dt.date | None, hi: _dt.date | None) -> str:
    def ja(d: _dt.date) -> str:
        return f"{d.year}年{d.month}月{d.day}日"

    if lo and hi:
        return ja(lo) if lo == hi else f"{ja(lo)}〜{ja(hi)}"
    return f"{ja(lo)}以降" if lo else f"{ja(hi)}以前"
