"""How well a passage backs a sentence: the check behind every "grounded" mark.

Two signals, both cheap and offline:

* lexical: the share of the sentence's content terms (fugashi lemmas and compounds, numerals
  folded to digits) that occur in the passage, with every number in the sentence required to
  appear in the passage (a changed figure is the most dangerous unsupported claim);
* semantic: the best cosine between the sentence and one sentence of the passage, with the
  embedder's query prompt on both sides (e5's recipe for symmetric similarity), rescaled.

>>> scorer = SupportScorer(embedder, SparseEncoder())
>>> scorer.score("行政手続法は公正の確保を目的とする。", passage_text)  # doctest: +SKIP
0.83
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from typing import Sequence

from retrieval.embedder import Embedder
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder

# A sentence at or above this support is shown as grounded.
SUPPORT_THRESHOLD = 0.5

# e5 cosines between unrelated Japanese sentences sit around 0.75-0.8; paraphrases above 0.9.
_COS_FLOOR, _COS_CEIL = 0.78, 0.93
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])")


def split_sentences(text: str) -> list[str]:
    """Japanese sentences (。！？ end a sentence; line breaks too). Empty pieces dropped."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(p.strip() for p in _SENTENCE_END.split(line) if p.strip())
    return out


class SupportScorer:
    """Scores sentence-passage support in [0, 1]; shared by answers, drafts and evaluation."""

    def __init__(self, embedder: Embedder | None, sparse: SparseEncoder, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.sparse = sparse
        # Validating an answer compares each sentence with the same passages again and again:
        # keep sentence vectors (bounded, oldest dropped first).
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    def lexical(self, sentence: str, passage: str) -> float:
        """Share of the sentence's content terms found in the passage (0 if a number is missing)."""
        sentence, passage = normalize(sentence), normalize(passage)
        if any(n not in passage for n in _NUMBER.findall(sentence)):
            return 0.0
        terms = set(self.sparse.terms(sentence))
        if not terms:
            return 0.0
        found = set(self.sparse.terms(passage))
        return len(terms & found) / len(terms)

    def semantic(self, sentence: str, passage: str) -> float:
        """Best rescaled cosine between the sentence and one passage sentence (0 without embedder)."""
        if self.embedder is None:
            return 0.0
        pieces = split_sentences(normalize(passage))[:40] or [normalize(passage)]
        first, rest = self._vector(normalize(sentence)), [self._vector(p) for p in pieces]
        best = max(cosine(first, v) for v in rest)
        return min(1.0, max(0.0, (best - _COS_FLOOR) / (_COS_CEIL - _COS_FLOOR)))

    def _vector(self, text: str) -> list[float]:
        vector = self._vectors.get(text)
        if vector is None:
            vector = list(self.embedder.embed_query(text))
            self._vectors[text] = vector
            if len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        else:
            self._vectors.move_to_end(text)
        return vector

    def score(self, sentence: str, passages: str | Sequence[str]) -> float:
        """Support of ``sentence`` by the best of ``passages`` (one string or several)."""
        if isinstance(passages, str):
            passages = [passages]
        best = 0.0
        for passage in passages:
            lex = self.lexical(sentence, passage)
            if lex >= 0.999:  # a verbatim or near-verbatim quote needs no model
                return 1.0
            if lex == 0.0 and any(n not in normalize(passage) for n in _NUMBER.findall(normalize(sentence))):
                continue  # a number the passage does not contain: never supported by it
            best = max(best, 0.5 * lex + 0.5 * self.semantic(sentence, passage))
        return round(best, 4)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0
