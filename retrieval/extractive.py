"""The answer without an LLM: the sentences of the retrieved passages that answer the question.

Candidate sentences come from the relevant passages only; question-like sentences (a FAQ's own
照会要旨, 「〜か。」, 「〜ください。」), headings, table rows and fragments are left out. Each
candidate is embedded with the passage prompt and scored against the question vector; a few are
picked by maximal marginal relevance (relevant, not repeating each other), then put in a
readable order: by source (most relevant first), in document order within a source.

>>> picker = SentencePicker(embedder, SparseEncoder().terms)
>>> chosen = picker.pick(question, question_vector, passages)  # [(passage index, Span), ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from retrieval.embedder import Embedder
from retrieval.support import cosine

_OPEN, _CLOSE = "（(「『【［[〔", "）)」』】］]〕"
_ENDS = "。！？!?"
_QUESTION_END = re.compile(r"(?:か|ですか|ますか|でしょうか|ください|下さい|伺います|伺いたい|お尋ねします)[。？?]?[」』）)]*$")
# A speaker asking (a member's question in the minutes): 「…についてお伺いしたいと思います。」
_ASKING = re.compile(r"(?:伺い|お尋ね|お聞き|お聞かせ|御答弁|御見解を|答弁を求め)[^。、]*[。]?[」』）)]*$")
_SECTION_MARK = re.compile(r"【([^】]+)】")
# 「(1)」「1.」「①」「・」 list marks, a law's paragraph number 「2 」 (項 2 onwards) and item number 「六 」 (号).
_LEADING_MARK = re.compile(r"^(?:[\s　]*(?:[(（]?[0-9０-９一二三四五六七八九十]{1,3}[)）.．、]|[0-9０-９]{1,2}[ 　]|[一二三四五六七八九十]{1,3}[ 　]|[①-⑳]|[・*\-－•])[\s　]*)+")
# FAQ sections that hold the question, not the answer.
_QUESTION_SECTIONS = ("照会要旨", "質問", "問")
MIN_CHARS, MAX_CHARS = 12, 300


@dataclass(frozen=True)
class Span:
    """A sentence at ``[start, end)`` of its passage's text; ``text`` is what the answer shows."""

    start: int
    end: int
    text: str


def candidate_sentences(passage: str) -> list[Span]:
    """Sentences of ``passage`` that can stand in an answer, with their offsets."""
    out: list[Span] = []
    in_question = False
    for m_start, raw in sentence_spans(passage):
        marks = _SECTION_MARK.findall(raw)
        if marks:
            in_question = any(q in marks[-1] for q in _QUESTION_SECTIONS)
            raw_rest = _SECTION_MARK.sub("", raw).strip()
            if not raw_rest:
                continue
        if in_question:
            continue
        stripped = raw.strip()
        lead = _LEADING_MARK.match(stripped)
        shown = _SECTION_MARK.sub("", stripped[lead.end() :] if lead else stripped).strip()
        if not _is_answer_sentence(shown):
            continue
        start = m_start + (len(raw) - len(raw.lstrip()))
        out.append(Span(start, start + len(stripped), shown))
    return out


def sentence_spans(text: str) -> list[tuple[int, str]]:
    """``(start, sentence)`` pieces: a sentence ends at 。！？ outside brackets (so a law's
    「…（…をいう。）…」 stays whole) or at a line break."""
    out: list[tuple[int, str]] = []
    start, depth, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            if text[start:i].strip():
                out.append((start, text[start:i]))
            start, depth = i + 1, 0
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch in _ENDS and depth == 0:
            while i + 1 < len(text) and (text[i + 1] in _ENDS or text[i + 1] in _CLOSE):
                i += 1
            out.append((start, text[start : i + 1]))
            start = i + 1
        i += 1
    if text[start:].strip():
        out.append((start, text[start:]))
    return out


def _is_answer_sentence(text: str) -> bool:
    if not (MIN_CHARS <= len(text) <= MAX_CHARS):
        return False
    if text.startswith("|") or text.count("|") >= 2:  # a table row
        return False
    if _QUESTION_END.search(text) or _ASKING.search(text):
        return False
    # A heading: short and without a sentence end.
    return text.endswith(("。", "」", "）", ")")) or len(text) >= 40


class SentencePicker:
    """Scores candidate sentences and picks a few diverse, relevant ones.

    Embedding every sentence of five passages costs seconds on two cores, so candidates are
    first ranked cheaply (the share of the question's content terms they contain, plus the rank
    of their passage) and only the best ``max_embedded`` are embedded and scored by cosine.
    """

    def __init__(self, embedder: Embedder, terms: Callable[[str], list[str]], *, max_sentences: int = 4,
                 max_embedded: int = 8, diversity: float = 0.3, margin: float = 0.015) -> None:
        self.embedder = embedder
        self.terms = terms
        self.max_sentences = max_sentences
        self.max_embedded = max_embedded
        self.diversity = diversity  # MMR weight of redundancy
        self.margin = margin  # a sentence must score within this cosine of the best one

    def pick(self, question: str, query_vector: Sequence[float], passages: Sequence[str],
             passage_relevance: Sequence[float]) -> list[tuple[int, Span, float]]:
        """``(passage index, span, relevance)`` of the chosen sentences, in reading order.

        A sentence's relevance blends its own cosine with its passage's (sentence vectors of
        e5 are noisier than passage vectors) plus a small bonus for the question's terms.
        """
        wanted = set(self.terms(question))
        cands: list[tuple[int, Span, float]] = []
        for i, passage in enumerate(passages):
            for span in candidate_sentences(passage):
                overlap = len(wanted & set(self.terms(span.text))) / len(wanted) if wanted else 0.0
                cands.append((i, span, overlap - 0.05 * i))
        cands = _dedupe(cands)
        cands.sort(key=lambda c: -c[2])
        cands = cands[: self.max_embedded]
        if not cands:
            return []
        vectors = self.embedder.embed_documents([span.text for _, span, _ in cands])
        relevance = [
            0.5 * cosine(query_vector, v) + 0.5 * passage_relevance[c[0]] + 0.03 * max(0.0, c[2])
            for v, c in zip(vectors, cands)
        ]
        best = max(relevance)
        chosen: list[int] = []
        while len(chosen) < min(self.max_sentences, len(cands)):
            def mmr(j: int) -> float:
                redundancy = max((cosine(vectors[j], vectors[c]) for c in chosen), default=0.0)
                return (1 - self.diversity) * relevance[j] - self.diversity * redundancy

            pool = [j for j in range(len(cands)) if j not in chosen and relevance[j] >= best - self.margin]
            if not pool:
                break
            j = max(pool, key=mmr)
            if chosen and max(cosine(vectors[j], vectors[c]) for c in chosen) > 0.97:
                break  # only near-repeats are left
            chosen.append(j)
        # Sources in the order their best sentence was picked; document order inside a source.
        order = sorted(chosen, key=lambda j: (_first_pick(chosen, cands, cands[j][0]), cands[j][1].start))
        return [(cands[j][0], cands[j][1], relevance[j]) for j in order]


def with_qualifiers(picked: list[tuple[int, Span, float]], passages: Sequence[str], pattern: re.Pattern[str],
                    limit: int = 2) -> list[tuple[int, Span, float]]:
    """``picked`` with, after each sentence, the sentences right after it in its passage that
    qualify it (ただし…, この場合…: ``pattern``), at most ``limit``: an answer that quotes a rule
    must not drop its exception. A qualifier picked alone gets the sentence before it (the rule
    it qualifies). Added sentences take their sentence's relevance."""
    taken = {(i, span.start) for i, span, _ in picked}
    cache: dict[int, list[Span]] = {}
    out: list[tuple[int, Span, float]] = []
    for i, span, rel in picked:
        spans = cache.setdefault(i, candidate_sentences(passages[i]))
        if pattern.search(span.text):  # a qualifier picked alone: quote the rule it qualifies first
            before = [s for s in spans if s.end <= span.start]
            if before and (i, before[-1].start) not in taken and not passages[i][before[-1].end:span.start].strip():
                taken.add((i, before[-1].start))
                out.append((i, before[-1], rel))
        out.append((i, span, rel))
        end = span.end
        for nxt in [s for s in spans if s.start >= end][:limit]:
            if passages[i][end:nxt.start].strip() or not pattern.search(nxt.text):
                break  # not the very next sentence, or not a qualifier
            if (i, nxt.start) not in taken:
                taken.add((i, nxt.start))
                out.append((i, nxt, rel))
            end = nxt.end
    return out


def contiguous(passage: str, first: Span, second: Span) -> bool:
    """True when ``second`` follows ``first`` in ``passage`` with only blanks between and is shown
    as it stands (one verbatim quote): a later item whose number 「七」 the answer drops is a quote
    of its own, or the joined quote would read as if the two items were one."""
    return (second.start >= first.end and not passage[first.end:second.start].strip()
            and passage[second.start:second.end] == second.text)


def _first_pick(chosen: list[int], cands: list[tuple[int, Span, float]], passage: int) -> int:
    """Rank of the first chosen sentence from ``passage`` (sources appear in relevance order)."""
    return next(rank for rank, j in enumerate(chosen) if cands[j][0] == passage)


def _dedupe(cands: list[tuple[int, Span, float]]) -> list[tuple[int, Span, float]]:
    seen: set[str] = set()
    out = []
    for cand in cands:
        if cand[1].text not in seen:
            seen.add(cand[1].text)
            out.append(cand)
    return out
