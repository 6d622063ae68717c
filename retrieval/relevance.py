"""One relevance judgement: may these passages answer this question? Answers, draft candidates,
根拠資料 and 再質問予測 all ask it.

The dense cosine alone misjudges short typed questions: 「APIのバージョン管理は」 scores as high
against API-tool passages that never mention versions as 「Lアラートってなに」 does against the
passage that defines it. So the judgement combines, for the best passages:

1. the cosine (the embedder's own vectors): at or above ``sure`` it suffices; below ``floor``
   nothing is relevant;
2. between the two, coverage of the question's content nouns by the passages' text, title and
   heading: all of them below ``mid``, three quarters from ``mid`` up;
3. vetoes: a distinctive term of the question (a katakana or latin word: インプラント, GraphQL)
   that no passage contains, and a question asking for a kind of answer (金額, 人, 数, 日付) that
   no passage holds.

Word lists and answer types are data (``prompts/relevance_gate.yaml``); the cosines are settings,
calibrated per model (``eval/answerability_eval.py`` reports the effect on the answerability set).

>>> gate = RelevanceGate(floor=0.845, mid=0.885, sure=0.905)
>>> judged = gate.judge("審査基準の公表義務は", [(0.89, text_and_headings)])
>>> judged.answerable, judged.reason
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

__all__ = ["RelevanceGate", "Judgement"]

MARGIN = 0.03  # passages this close to the best one are judged with it


@dataclass(frozen=True)
class _Rules:
    generic: frozenset[str]
    answer_types: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...]
    distinctive: re.Pattern[str]


@functools.lru_cache(maxsize=None)
def _rules() -> _Rules:
    import yaml

    from prompts import load_text

    spec = yaml.safe_load(load_text("relevance_gate.yaml"))
    return _Rules(
        generic=frozenset(spec["generic_nouns"].split()),
        answer_types=tuple((name, re.compile(q), re.compile(p)) for name, (q, p) in spec["answer_types"].items()),
        distinctive=re.compile(spec["distinctive_term"]),
    )


@dataclass
class Judgement:
    """Whether the question is answerable from the passages, which passages count, and why."""

    answerable: bool
    relevant: list[bool]
    reason: str  # Japanese, for reports and logs: which rule decided
    coverage: float = 1.0
    missing: list[str] = field(default_factory=list)  # content nouns no passage contains


class RelevanceGate:
    """The judgement with cosine thresholds ``floor`` < ``mid`` <= ``sure`` (see the module doc).
    ``sure <= floor`` makes it the plain cosine gate at ``sure`` (no coverage rules)."""

    def __init__(self, *, floor: float, mid: float, sure: float, min_coverage: float = 0.0,
                 typed_chars: int = 40) -> None:
        self.floor, self.mid, self.sure = floor, mid, sure
        self.min_coverage = min_coverage  # needed even at ``sure``: some of the question must be there
        self.typed_chars = typed_chars  # answer-type vetoes apply to questions up to this long

    @classmethod
    def for_threshold(cls, threshold: float) -> "RelevanceGate":
        """The calibrated judgement for the default threshold; the plain cosine gate for another
        (a caller that sets its own cosine, such as a test with hash vectors, gets just that)."""
        from retrieval.settings import AnswerSettings

        a = AnswerSettings()
        if threshold == a.min_relevance:
            return cls(floor=a.floor_relevance, mid=a.mid_relevance, sure=a.min_relevance, min_coverage=a.min_coverage)
        return cls(floor=threshold, mid=threshold, sure=threshold)

    def judge(self, question: str, passages: Sequence[tuple[float, str]]) -> Judgement:
        """``passages``: (cosine to the question, text with its title and heading), any order."""
        if not passages:
            return Judgement(False, [], "検索結果なし")
        best = max(c for c, _ in passages)
        floor = min(self.floor, self.sure)
        near = [c >= floor and c >= best - MARGIN for c, _ in passages]
        blob = _fold(" ".join(t for (c, t), ok in zip(passages, near) if ok))
        nouns = content_nouns(question)
        missing = [n for n in nouns if _fold(n) not in blob]
        coverage = 1 - len(missing) / len(nouns) if nouns else 1.0
        if self.sure <= self.floor:  # the plain cosine gate: every passage at or above it
            near = [c >= self.sure for c, _ in passages]
        relevant = near

        def verdict(answerable: bool, reason: str) -> Judgement:
            return Judgement(answerable, relevant if answerable else [False] * len(passages), reason, coverage, missing)

        if best < floor:
            return verdict(False, f"関連度 {best:.3f} が下限 {floor:.3f} 未満")
        typed = len(question) <= self.typed_chars
        # A long question (a 質問主意書 paragraph) says いつ or 金額 in passing: only a typed one asks.
        for name, asks, holds in _rules().answer_types if typed else ():
            if asks.search(question) and not holds.search(blob):
                return verdict(False, f"質問が求める答えの型（{name}）が資料にない")
        if self.sure <= self.floor:
            return verdict(True, f"関連度 {best:.3f} が基準 {self.sure:.3f} 以上")
        # A typed question names its subject: when that word (インプラント, GraphQL) is nowhere in
        # the passages, they are about something near it, however close the cosine.
        absent = [n for n in missing if _rules().distinctive.match(n)]
        if absent and (typed or best < self.sure):
            return verdict(False, f"質問の語「{'」「'.join(absent)}」が資料にない")
        if best >= self.sure and coverage >= self.min_coverage:
            return verdict(True, f"関連度 {best:.3f} が基準 {self.sure:.3f} 以上")
        if best >= self.sure:
            return verdict(False, f"関連度 {best:.3f}、質問の内容語 {coverage:.0%} しか資料にない（{'・'.join(missing)}）")
        needed = 0.75 if best >= self.mid else 1.0
        if coverage >= needed:
            return verdict(True, f"関連度 {best:.3f}、質問の内容語の {coverage:.0%} が資料にある")
        return verdict(False, f"関連度 {best:.3f}、質問の内容語 {coverage:.0%} しか資料にない（{'・'.join(missing)}）")


def content_nouns(question: str) -> list[str]:
    """The question's nouns that say what it is about (not 方法, 場合, 何 ... nor bare numbers)."""
    from retrieval.text.sparse import morphemes

    generic = _rules().generic
    out: list[str] = []
    for surface, lemma, pos1, _pos2, _pos3 in morphemes(question):
        if pos1 != "名詞" or surface in generic or lemma in generic or re.fullmatch(r"[0-9０-９.〇一二三四五六七八九十百千万]+", surface):
            continue
        if surface not in out:
            out.append(surface)
    return out


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def judged_text(text: str, payload: dict) -> str:
    """What coverage is counted on: a passage's text with its title and heading."""
    return " ".join(str(x) for x in (payload.get("title"), payload.get("section"), text) if x)
