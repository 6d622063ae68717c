"""Written 答弁 style for template drafts: past answers are spoken; a draft is written.

The rules are data (``prompts/draft_style.yaml``), loaded once:

* ``written``: spoken phrasing rewritten (「〜とは思います」->「〜と考えております」, 「ということと」->「と」,
  「におきましても」->「においても」, fillers, references to the exchange); ``drop``: sentences a written
  answer does not use (「…御容赦いただきたい…」). Numbers, names and stance are never touched: the
  rules only match function words.
* ``period``: sentences bound to another period (a named cabinet, 今年/昨年, a dated figure): used
  only with the source's date and a 【時点確認】 mark.
* ``roles``: a sentence's role from its ending (現状の認識・事実 -> 取組 -> 今後の方針, the order of a point).
* ``ministries``: the ministry of a speaker's position or named in a question.

:meth:`DraftStyle.findings` counts the spoken forms left in a text with the same rules (the
drafts evaluation).

>>> style = load_draft_style()
>>> style.written("影響を一概に申し上げることは難しいとは思います。")
'影響を一概に申し上げることは難しいと考えております。'
>>> style.written("難しい点は御容赦いただきたいと思います。") is None
True
>>> style.role("引き続き、状況を注視してまいります。")
'kongo'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from retrieval.answer_types import Source
from retrieval.extractive import Span
from retrieval.text.dates import to_wareki
from retrieval.text.dates import find_dates
from retrieval.text.figures import find_figures

__all__ = ["DraftStyle", "Rule", "StyleFinding", "Candidate", "load_draft_style", "wareki", "select_sentences",
           "preferred_relevance"]


@dataclass(frozen=True)
class Rule:
    """One spoken-to-written rewrite: ``pattern`` -> ``replace``; ``find``: counted when left."""

    id: str
    pattern: re.Pattern[str]
    replace: str
    find: bool = True


@dataclass(frozen=True)
class StyleFinding:
    """A spoken form left in a text: the rule's id and the span it matched."""

    rule: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _RoleRule:
    role: str
    start: re.Pattern[str] | None
    end: re.Pattern[str] | None


def wareki(iso: str) -> str:
    """「令和6年8月23日」 of ``2024-08-23``; the input if it is no date."""
    return to_wareki(iso) or str(iso)


@dataclass(frozen=True)
class DraftStyle:
    """The rules of ``prompts/draft_style.yaml``, compiled."""

    rules: tuple[Rule, ...]
    drop: re.Pattern[str]
    period_format: str
    cabinets: re.Pattern[str]
    relative: re.Pattern[str]
    dated_figures: bool
    role_order: tuple[str, ...]
    role_labels: dict[str, str]
    role_default: str
    role_rules: tuple[_RoleRule, ...]
    same_ministry: float
    newest: float
    same_source: float
    ministry_titles: dict[str, str]
    ministry_mention: re.Pattern[str]
    plain_end: re.Pattern[str]
    polite_end: re.Pattern[str]
    reported: str
    reported_law: str

    def as_reported(self, sentence: str, doc_type: str | None = None) -> str:
        """A document's plain-form sentence (である調) in the answer's form: 「…となりつつある。」 ->
        「…となりつつあると承知しております。」 (a white paper or guideline is what the government
        knows, not what it says itself), a law's 「…なければならない。」 -> 「…なければならないことと
        されております。」; other sentences unchanged."""
        if self.plain_end.search(sentence) and not self.polite_end.search(sentence):
            return sentence[:-1] + (self.reported_law if doc_type == "law" else self.reported)
        return sentence

    # -- spoken -> written ------------------------------------------------------------------------

    def written(self, sentence: str) -> str | None:
        """``sentence`` in written 答弁 style, or None when a written answer leaves it out."""
        text = sentence.strip()
        if self.drop.search(text):
            return None
        for rule in self.rules:
            text = rule.pattern.sub(rule.replace, text)
        return text if text.strip("。、 ") else None

    def findings(self, text: str) -> list[StyleFinding]:
        """The spoken forms left in ``text`` (every counted rewrite rule and every drop pattern),
        in text order; where rules overlap, the one listed first in the file counts."""
        found = [StyleFinding(r.id, m.start(), m.end(), m.group()) for r in self.rules if r.find
                 for m in r.pattern.finditer(text) if m.end() > m.start()]
        found += [StyleFinding("drop", m.start(), m.end(), m.group()) for m in self.drop.finditer(text)
                  if m.end() > m.start()]
        out: list[StyleFinding] = []
        for f in found:  # rule order: the first rule of a span wins
            if all(f.end <= o.start or f.start >= o.end for o in out):
                out.append(f)
        return sorted(out, key=lambda f: f.start)

    # -- period -----------------------------------------------------------------------------------

    def period_bound(self, sentence: str) -> bool:
        """True for a sentence bound to another period: a named cabinet, 今年/昨年 ..., a dated figure."""
        if self.cabinets.search(sentence) or self.relative.search(sentence):
            return True
        return self.dated_figures and bool(find_dates(sentence)) and bool(find_figures(sentence))

    def period_mark(self, date: str | None) -> str:
        """「【時点確認】（令和6年8月23日の答弁）」 for the source's ISO date (「日付不明」 without one)."""
        return self.period_format.format(date=wareki(date) if date else "日付不明")

    # -- roles ------------------------------------------------------------------------------------

    def role(self, sentence: str) -> str:
        """The role of a sentence (``genjo``, ``torikumi`` or ``kongo``) from its start and ending."""
        text = sentence.strip()
        for rule in self.role_rules:
            if (rule.start is None or rule.start.search(text)) and (rule.end is None or rule.end.search(text)):
                return rule.role
        return self.role_default

    def role_rank(self, role: str) -> int:
        """Position of ``role`` in the conventional order of a point."""
        return self.role_order.index(role) if role in self.role_order else len(self.role_order)

    # -- ministries -------------------------------------------------------------------------------

    def ministry_of_position(self, position: str | None) -> str | None:
        """「財務省」 of 「財務大臣・内閣府特命担当大臣（金融）」 or 「財務省主税局長」; None when unknown."""
        if not position:
            return None
        head = re.split(r"[・･]", str(position))[0].strip()
        for title, ministry in self.ministry_titles.items():
            if head.startswith(title):
                return ministry
        m = re.search(r"^(.+?(?:省|庁|内閣府))", head)
        if m:
            return m.group(1)
        m = re.match(r"^(.+?)(?:副大臣|大臣政務官|大臣)", head)
        if m and not m.group(1).startswith("内閣府"):
            return m.group(1) + "省"
        return "内閣府" if head.startswith("内閣府") else None

    def ministry_named(self, text: str) -> str | None:
        """The ministry a question names as the one to answer (「金融庁の方にお伺いしたい」), else None."""
        found = [m.group("org") for m in self.ministry_mention.finditer(text or "")]
        if not found:
            return None
        org = found[-1]  # the last one named is usually the one asked
        return self.ministry_of_position(org) if org.endswith("大臣") else org


def _compile(spec: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\s+", "", spec))


@functools.lru_cache(maxsize=None)
def load_draft_style() -> DraftStyle:
    """``prompts/draft_style.yaml``, parsed once (package data, so it works when installed)."""
    import yaml

    spec: dict[str, Any] = yaml.safe_load(files("prompts").joinpath("draft_style.yaml").read_text(encoding="utf-8"))
    period, roles, pref, ministries = spec["period"], spec["roles"], spec["preference"], spec["ministries"]
    role_rules = tuple(_RoleRule(r["role"], re.compile(r["start"]) if r.get("start") else None,
                                 re.compile(r["end"]) if r.get("end") else None) for r in roles["rules"])
    for r in role_rules:
        if r.role not in roles["order"]:
            raise ValueError(f"prompts/draft_style.yaml: 役割 {r.role} が roles.order にありません。")
    return DraftStyle(
        rules=tuple(Rule(r["id"], re.compile(r["pattern"]), r["replace"], bool(r.get("find", True)))
                    for r in spec["written"]),
        drop=_compile(spec["drop"]),
        period_format=period["format"],
        cabinets=_compile(period["cabinets"]),
        relative=_compile(period["relative"]),
        dated_figures=bool(period.get("dated_figures", True)),
        role_order=tuple(roles["order"]),
        role_labels=dict(roles["labels"]),
        role_default=roles["default"],
        role_rules=role_rules,
        same_ministry=float(pref["same_ministry"]),
        newest=float(pref["newest"]),
        same_source=float(pref.get("same_source", 0.0)),
        ministry_titles=dict(ministries["titles"]),
        ministry_mention=_compile(ministries["mention"]),
        plain_end=re.compile(spec["document_plain_end"]),
        polite_end=re.compile(spec["document_polite_end"]),
        reported=spec["document_reported"],
        reported_law=spec["document_reported_law"],
    )


# -- choosing a point's sentences ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A picked sentence of source ``index``: its written form, role and whether it is period-bound."""

    index: int
    span: Span
    relevance: float
    written: str
    role: str
    bound: bool


def select_sentences(candidates: list[Candidate], ds: DraftStyle, max_sentences: int) -> list[Candidate]:
    """At most ``max_sentences`` of ``candidates``, in the conventional order of a point
    (現状の認識・事実 -> 取組 -> 今後の方針; reading order within a role).

    The best sentence of each role first, then the next best (sentences of the best sentence's own
    answer a little ahead: one answer reads better than a patchwork); a sentence bound to another
    period (a named cabinet, 今年, a dated figure) only for a role nothing else serves."""
    if not candidates:
        return []
    top = max([c for c in candidates if not c.bound] or candidates, key=lambda c: c.relevance).index
    ranked = sorted(candidates, key=lambda c: -(c.relevance + (ds.same_source if c.index == top else 0.0)))
    free = [c for c in ranked if not c.bound]
    chosen: list[Candidate] = []
    for c in free:  # one per role, best first
        if len(chosen) < max_sentences and c.role not in {x.role for x in chosen}:
            chosen.append(c)
    for c in ranked:  # a role nothing else serves (marked with its date by the caller)
        if c.bound and len(chosen) < max_sentences and c.role not in {x.role for x in chosen}:
            chosen.append(c)
    for c in free:
        if len(chosen) < max_sentences and c not in chosen:
            chosen.append(c)
    order = {c.index: rank for rank, c in reversed(list(enumerate(ranked)))}  # a source by its best sentence
    return sorted(chosen, key=lambda c: (ds.role_rank(c.role), order[c.index], c.span.start))


def preferred_relevance(support: list[Source], ds: DraftStyle, ministry: str | None) -> list[float]:
    """Each source's relevance, raised for answers of the ministry concerned (named in the
    question, else the most relevant answer's) and for the most recent answers."""
    rel = [float(s.payload.get("relevance") or 0.0) for s in support]
    ministries = [ds.ministry_of_position(s.payload.get("speaker_position") or s.payload.get("position")) for s in support]
    target = ministry or next((m for _, m in sorted(zip(rel, ministries), key=lambda x: -x[0]) if m), None)
    dates = sorted({str(s.payload.get("date"))[:10] for s in support if s.payload.get("date")})
    out = []
    for r, m, s in zip(rel, ministries, support):
        bonus = ds.same_ministry if target and m == target else 0.0
        date = str(s.payload.get("date") or "")[:10]
        if len(dates) > 1 and date in dates:
            bonus += ds.newest * dates.index(date) / (len(dates) - 1)
        out.append(r + bonus)
    return out
