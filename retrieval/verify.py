"""Consistency check (矛盾チェック): draft sentences against past answers and documents.

For each claim (a draft sentence) the checker finds the evidence sentences on the same topic
(lexical overlap of content terms and embedding cosine), then asks the rules
(:mod:`retrieval.contradiction_rules`: figures, dates, negation, stance, law articles) and, when
given, an NLI judge (:mod:`retrieval.nli`: the configured LLM or the trained classifier). Every
warning carries both sentences, the evidence's source and a reason in Japanese.

>>> checker = ContradictionChecker(embedder, SparseEncoder(), nli=None)
>>> checker.check(["増税の予定はない。"], [source])  # doctest: +SKIP
[Conflict(claim='増税の予定はない。', evidence='増税を予定している。', kind='polarity', ...)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from retrieval.answer_types import Source
from retrieval.contradiction_rules import aligned, compare
from retrieval.embedder import Embedder
from retrieval.nli import NLIJudge
from retrieval.extractive import sentence_spans
from retrieval.llm_limit import withheld_sources
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder

__all__ = ["Conflict", "ContradictionChecker", "KINDS"]

KINDS = ("number", "date", "polarity", "modality", "law", "nli")


@dataclass
class Conflict:
    """A possible contradiction: the draft sentence, the passage sentence, why, and how sure."""

    claim: str
    evidence: str
    evidence_source: Source | None
    kind: str  # one of KINDS
    reason: str  # Japanese, e.g. 「数値が異なります: 3,000億円 ↔ 2,000億円」
    score: float


class ContradictionChecker:
    """Flags draft sentences that contradict the evidence they are about.

    ``min_overlap``: share of the claim's content terms an evidence sentence must contain to be on
    the same topic (or ``min_cosine`` of their vectors); ``top_k`` evidence sentences per claim;
    ``nli_threshold``: the judge's probability of contradiction needed to warn (the NLI sets are
    not government text, so the bar is high and only aligned pairs are judged).
    """

    def __init__(
        self,
        embedder: Embedder | None,
        sparse: SparseEncoder,
        nli: NLIJudge | None = None,
        *,
        top_k: int = 3,
        min_overlap: float = 0.5,
        min_cosine: float = 0.9,
        nli_threshold: float = 0.9,
        nli_min_overlap: float = 0.8,
        nli_limit: int | None = None,
    ) -> None:
        self.embedder = embedder
        # The judge is an LLM: with evidence above this 機密性, the call is checked by the rules
        # alone (neither that evidence nor claims drawn from it reach the model). None: no limit.
        self.nli_limit = nli_limit
        self.sparse = sparse
        self.nli = nli
        self.top_k = top_k
        self.min_overlap = min_overlap
        self.min_cosine = min_cosine
        self.nli_threshold = nli_threshold
        self.nli_min_overlap = nli_min_overlap

    # -- alignment -----------------------------------------------------------------------------

    def _overlap(self, claim_terms: set[str], sentence: str) -> float:
        if not claim_terms:
            return 0.0
        return len(claim_terms & set(self.sparse.terms(sentence))) / len(claim_terms)

    def align(self, claim: str, sentences: Sequence[str], vectors: dict[str, list[float]] | None = None) -> list[tuple[int, float, float]]:
        """Evidence sentences on the claim's topic: (index, term overlap, cosine), best first."""
        terms = set(self.sparse.terms(claim))
        scored = []
        for i, sent in enumerate(sentences):
            overlap = self._overlap(terms, sent)
            cos = _cosine(vectors[claim], vectors[sent]) if vectors else 0.0
            if overlap >= self.min_overlap or cos >= self.min_cosine:
                scored.append((i, overlap, cos))
        scored.sort(key=lambda x: -(x[1] + x[2]))
        return scored[: self.top_k]

    def _vectors(self, texts: list[str]) -> dict[str, list[float]] | None:
        if self.embedder is None or not texts:
            return None
        unique = list(dict.fromkeys(texts))
        return dict(zip(unique, self.embedder.embed_documents(unique)))

    # -- checking ------------------------------------------------------------------------------

    def check(self, claims: list[str], evidence: list[Source]) -> list[Conflict]:
        """Possible contradictions of ``claims`` with ``evidence``, best-scored first per claim.

        One warning per (claim, evidence sentence): the rule hits' reasons are joined; the NLI
        judge is asked only when no rule fired, the pair shares most content terms, and the rules
        could not line it up word for word.
        """
        pieces: list[tuple[str, Source]] = []
        texts: dict[int, str] = {}  # normalized text of each source, by id()
        for src in evidence:
            texts[id(src)] = normalize(src.text)
            # Bracket-aware: a law's 「…(…をいう。)…」 is one sentence, not fragments that would
            # differ from a verbatim quote of it (and be flagged against their own source).
            for _start, raw in sentence_spans(texts[id(src)]):
                if raw.strip():
                    pieces.append((raw.strip(), src))
        if not pieces:
            return []
        sentences = [p[0] for p in pieces]
        nli = None if withheld_sources(evidence, self.nli_limit) else self.nli
        norm_claims = [normalize(c) for c in claims]
        vectors = self._vectors(norm_claims + sentences)
        out: list[Conflict] = []
        for raw, claim in zip(claims, norm_claims):
            # A claim quoted word for word from a source says what that source says: it is not
            # checked against that source's other sentences (paragraph 5 vs 6 of one article
            # define different things), only against the other sources.
            own = {id(src) for src in evidence if claim and claim in texts[id(src)]}
            keep = [i for i, (_, src) in enumerate(pieces) if id(src) not in own]
            found = []
            for j, overlap, cos in self.align(claim, [sentences[i] for i in keep], vectors):
                sent, src = pieces[keep[j]]
                conflict = self._pair(raw, claim, sent, src, overlap, nli)
                if conflict is not None:
                    found.append(conflict)
            out.extend(sorted(found, key=lambda c: -c.score))
        return out

    def _pair(self, raw: str, claim: str, sent: str, src: Source | None, overlap: float,
              nli: NLIJudge | None = None) -> Conflict | None:
        hits = compare(claim, sent)
        if hits:
            best = max(hits, key=lambda h: h.score)
            reason = "／".join(h.reason for h in hits)
            return Conflict(raw, sent, src, best.kind, reason, best.score)
        # The judge only sees pairs the rules cannot line up word for word: on aligned pairs the
        # rules have compared every figure, date, negation and stance, and the judge (trained on
        # other kinds of text) mostly adds false alarms on harmless rewrites (漢数字, 元号).
        if nli is not None and overlap >= self.nli_min_overlap and not aligned(claim, sent):
            label, prob = nli.judge(sent, claim)
            if label == "contradiction" and prob >= self.nli_threshold:
                return Conflict(raw, sent, src, "nli", f"意味が矛盾する可能性があります（NLI 判定 {prob:.2f}）", round(prob, 4))
        return None

    def judge(self, premise: str, hypothesis: str) -> tuple[str, float]:
        """The checker as an NLI judge on one pair (for evaluation): contradiction or neutral."""
        claim, sent = normalize(hypothesis), normalize(premise)
        if claim == sent:
            return "neutral", 0.0
        terms = set(self.sparse.terms(claim))
        conflict = self._pair(hypothesis, claim, sent, None, self._overlap(terms, sent), self.nli)
        return ("contradiction", conflict.score) if conflict else ("neutral", 0.0)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0
