"""Claim-level features of support: what in a sentence its passage does and does not say.

A sentence is split into claims (its clauses: 「…を検出し、…を送る」 is two), each claim is
aligned to the passage sentences it is about (shared lemmas plus embedding cosine), and
described by a fixed row of :data:`FEATURE_NAMES`:

* term coverage: the sparse encoder's lemma/compound terms of the claim found in the passage
  (whole passage, and the aligned sentences), and the claim's character 4-grams found in it;
* what is new: content words (nouns, verbs, and separately names, katakana and Latin words
  such as 「AI」) that the passage has neither as lemma nor as written;
* figures and dates (the 矛盾チェック's normalisation: 三千億円 = 3,000億円, 令和6年 = 2024年)
  and bare numerals (the sparse encoder's folding: 三千 = 3000) that the passage does not state;
* the 矛盾チェック's rules on the aligned sentences (number, date, negation, stance, law), and
  opposite words (``prompts/antonyms.yaml``: 増加 against 減少);
* the best and second-best aligned cosine;
* indicators (any new noun, any new verb, every term covered): the step a linear model cannot draw.

A sentence's row is the worst of its claims' rows (a sentence is backed only if every claim
is). :mod:`retrieval.support_judge` learns how to weigh the row.

>>> feats = ClaimFeaturizer(SparseEncoder())
>>> claims("熱中症になりそうな人をAIで検出し、事前に通知を送る。")
['熱中症になりそうな人をAIで検出し、', '事前に通知を送る。']
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Sequence

import numpy as np

from retrieval.contradiction_rules import compare, tokens
from retrieval.support import split_sentences
from retrieval.text.dates import find_dates
from retrieval.text.figures import find_figures
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder, morphemes

__all__ = ["FEATURE_NAMES", "ClaimFeatures", "ClaimFeaturizer", "claims", "passage_sentences", "worst", "marks"]

FEATURE_NAMES = (
    "coverage", "aligned_coverage", "char_containment", "missing_nouns", "missing_verbs", "missing_names",
    "missing_share", "figures_missing", "numbers_missing", "dates_missing", "rule_number", "rule_date", "rule_polarity",
    "rule_modality", "rule_law", "rule_antonym", "cos_best", "cos_second", "claim_terms", "has_missing_noun", "has_missing_verb",
    "all_covered",
)
# For each feature: does a larger value mean better support (True) or worse (False)?
_HIGHER_IS_BETTER = {"coverage": True, "aligned_coverage": True, "char_containment": True, "cos_best": True,
                     "cos_second": True, "claim_terms": True, "all_covered": True}

# A clause ends at 、 after a conjunctive form (し、 て、 り、 ており、), or after が／ので／ため.
_CLAUSE_BREAK = re.compile(r"(?<=[しりてで])、|(?<=ため)、|(?<=ので)、|(?<=ものの)、|(?<=とともに)、")
_MIN_CLAUSE = 8  # characters: shorter pieces (「また、」) stay with their neighbour
_MAX_PASSAGE_SENTENCES = 80
_CONTENT_POS = ("名詞", "動詞", "形容詞", "形状詞")
_DIGITS = re.compile(r"(\d[\d,]*)[^\s、。\d]?")  # a numeral in digits and the character after it (5,000局)
_LATIN_OR_KATAKANA = re.compile(r"^(?:[A-Za-z][A-Za-z0-9.\-]*|[ァ-ヶー]{2,})$")


def claims(sentence: str) -> list[str]:
    """The claims (clauses) of one sentence, in order; a sentence of one clause is one claim."""
    pieces = [p for p in _CLAUSE_BREAK.split(sentence.strip()) if p.strip()]
    out: list[str] = []
    carry = ""
    for i, piece in enumerate(pieces):
        piece = carry + piece + ("、" if i < len(pieces) - 1 else "")
        carry = ""
        if len(piece) < _MIN_CLAUSE and i < len(pieces) - 1:
            carry = piece
            continue
        out.append(piece)
    if carry:
        out.append(carry)
    if len(out) > 1 and len(out[-1]) < _MIN_CLAUSE:
        out[-2:] = [out[-2] + out[-1]]
    return out or [sentence]


def passage_sentences(passage: str) -> list[str]:
    """The passage's sentences (at most the first 80: longer passages are cut by the index anyway)."""
    return split_sentences(passage)[:_MAX_PASSAGE_SENTENCES] or [passage]


@dataclass
class ClaimFeatures:
    """One claim's feature row, and what the passage lacks of it (for the user)."""

    claim: str
    row: np.ndarray
    missing: list[str] = field(default_factory=list)  # phrases of the claim the passage lacks
    rule_reasons: list[str] = field(default_factory=list)  # 矛盾チェック reasons on aligned sentences
    aligned: str = ""  # the passage sentence the claim is closest to


class ClaimFeaturizer:
    """Computes claim feature rows against a passage; vectors come from the caller (or none)."""

    def __init__(self, sparse: SparseEncoder) -> None:
        self.sparse = sparse

    def features(self, claim: str, passage: str, sentences: Sequence[str],
                 vectors: dict[str, Sequence[float]] | None) -> ClaimFeatures:
        """Features of ``claim`` (normalized) against ``passage`` (normalized, split as ``sentences``)."""
        terms = set(self.sparse.terms(claim))
        found = set(self.sparse.terms(passage))
        have = lambda t: t in found or t in passage  # noqa: E731 - a compound written as such counts
        coverage = sum(map(have, terms)) / len(terms) if terms else 1.0
        per_sentence = [set(self.sparse.terms(s)) for s in sentences]
        cos = _cosines(vectors[claim], [vectors[s] for s in sentences]) if vectors else [0.0] * len(sentences)
        overlap = [len(terms & st) / len(terms) if terms else 0.0 for st in per_sentence]
        order = sorted(range(len(sentences)), key=lambda i: -(overlap[i] + cos[i]))
        top = order[:2]
        aligned_terms = set().union(*(per_sentence[i] for i in top)) if top else set()
        aligned_text = "".join(sentences[i] for i in top)
        aligned_cov = (sum(t in aligned_terms or t in aligned_text for t in terms) / len(terms)) if terms else 1.0
        nouns, verbs, names, phrases = self._missing(claim, passage)
        content = max(1, sum(1 for t in _content_tokens(claim)))
        figs_missing = _figures_missing(claim, passage)
        numbers = self._numerals(claim)
        absent_numbers = numbers - self._numerals(passage)
        numbers_missing = len(absent_numbers) / len(numbers) if numbers else 0.0
        dates_missing = _dates_missing(claim, passage)
        rules: dict[str, float] = {}
        reasons: list[str] = []
        for i in top:
            for hit in compare(claim, sentences[i]):
                rules[hit.kind] = max(rules.get(hit.kind, 0.0), hit.score)
                reasons.append(hit.reason)
        flipped = _antonyms(claim, aligned_text)
        if flipped:
            rules["antonym"] = 0.8
            reasons.extend(marks_reason(a, b) for a, b in flipped)
        cs = sorted(cos, reverse=True) + [0.0, 0.0]
        row = np.array([
            coverage, aligned_cov, _containment(claim, passage), math.log1p(nouns), math.log1p(verbs), math.log1p(names),
            (nouns + verbs) / content, figs_missing, numbers_missing, dates_missing, rules.get("number", 0.0), rules.get("date", 0.0),
            rules.get("polarity", 0.0), rules.get("modality", 0.0), rules.get("law", 0.0), rules.get("antonym", 0.0), cs[0], cs[1],
            math.log1p(len(terms)), float(nouns > 0), float(verbs > 0), float(coverage >= 0.999),
        ], dtype=np.float32)
        figures = _figure_phrases(claim, passage)
        figures += [m.group(0) for m in _DIGITS.finditer(claim) if m.group(1).replace(",", "") in absent_numbers
                    and not any(m.group(0) in f or f in m.group(0) for f in figures)]
        return ClaimFeatures(claim, row, phrases + figures, list(dict.fromkeys(reasons)),
                             sentences[order[0]] if order else "")

    def _numerals(self, text: str) -> set[str]:
        """Every numeral of ``text`` as digits (三千 -> 3000, 1,000 -> 1000), whatever its unit."""
        return {t.term for t in self.sparse._tokens(text) if t.pos2 == "数詞" and t.term.isdigit()}

    def _missing(self, claim: str, passage: str) -> tuple[int, int, int, list[str]]:
        """Counts of missing nouns, verbs and names, and the claim's phrases built around them."""
        lemmas = {lemma for _s, lemma, *_ in morphemes(passage)}
        toks = _content_tokens(claim)
        missing = [t for t in toks if t.lemma not in lemmas and t.surface not in passage and t.lemma not in passage]
        nouns = sum(t.pos1 == "名詞" for t in missing)
        verbs = sum(t.pos1 != "名詞" for t in missing)
        names = sum(t.pos2 == "固有名詞" or bool(_LATIN_OR_KATAKANA.match(t.surface)) for t in missing)
        # Named to the user: words that carry meaning on their own (not 人, not the そう of そうな).
        return nouns, verbs, names, _phrases(claim, [t for t in missing if len(t.surface) > 1 or not t.surface.isascii() and t.pos2 == "固有名詞"])


@functools.lru_cache(maxsize=1)
def antonym_pairs() -> dict[str, frozenset[str]]:
    """Lemma -> its opposites, from ``prompts/antonyms.yaml`` (both directions)."""
    import yaml

    spec = yaml.safe_load(files("prompts").joinpath("antonyms.yaml").read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for a, b in spec["pairs"]:
        out.setdefault(str(a), set()).add(str(b))
        out.setdefault(str(b), set()).add(str(a))
    return {k: frozenset(v) for k, v in out.items()}


def _antonyms(claim: str, evidence: str) -> list[tuple[str, str]]:
    """(claim word, evidence word) where the claim says the opposite of what the evidence says:
    the claim's word is absent from the evidence and its antonym is present."""
    pairs = antonym_pairs()
    ev = {t.lemma for t in tokens(evidence)}
    out = []
    for t in tokens(claim):
        if t.lemma in pairs and t.lemma not in ev:
            other = next((b for b in sorted(pairs[t.lemma]) if b in ev), None)
            if other is not None:
                out.append((t.surface, other))
    return out


@functools.lru_cache(maxsize=1)
def marks() -> dict[str, str]:
    """The fixed phrases the user reads (``prompts/support_marks.yaml``, package data)."""
    import yaml

    return yaml.safe_load(files("prompts").joinpath("support_marks.yaml").read_text(encoding="utf-8"))


def marks_reason(claim_word: str, evidence_word: str) -> str:
    """The reason shown for an antonym."""
    return marks()["antonym"].format(claim=claim_word, evidence=evidence_word)


def _cosines(v: Sequence[float], others: Sequence[Sequence[float]]) -> list[float]:
    a, b = np.asarray(v, dtype=np.float32), np.asarray(others, dtype=np.float32)
    norms = np.linalg.norm(b, axis=1) * (np.linalg.norm(a) or 1.0)
    return (b @ a / np.where(norms > 0, norms, 1.0)).tolist()


def _content_tokens(text: str) -> list:
    return [t for t in tokens(text) if t.pos1 in _CONTENT_POS and t.pos2 not in ("数詞", "代名詞", "非自立可能", "助動詞語幹")
            and not (len(t.surface) == 1 and t.pos1 == "動詞")]


def _phrases(claim: str, missing: list) -> list[str]:
    """Spans of the claim covering missing words: neighbours joined across at most 2 characters
    (「AI」「で」「検出」 -> 「AIで検出」), at most three phrases."""
    spans: list[list[int]] = []
    for t in missing:
        start, end = t.start, t.start + len(t.surface)
        if spans and start - spans[-1][1] <= 2:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [claim[a:b] for a, b in spans[:3]]


def _containment(claim: str, passage: str, n: int = 4) -> float:
    """Share of the claim's character n-grams (punctuation aside) found in the passage."""
    c = re.sub(r"[、。，．,.\s]", "", claim)
    if len(c) < n:
        return 1.0 if c in passage else 0.0
    grams = {c[i:i + n] for i in range(len(c) - n + 1)}
    return sum(g in passage for g in grams) / len(grams)


def _figures_missing(claim: str, passage: str) -> float:
    figs = find_figures(claim)
    if not figs:
        return 0.0
    stated = find_figures(passage)
    return sum(not any(f.unit == p.unit and f.values & p.values for p in stated) for f in figs) / len(figs)


def _dates_missing(claim: str, passage: str) -> float:
    dates = find_dates(claim)
    if not dates:
        return 0.0
    stated = {d.iso for d in find_dates(passage)}
    return sum(d.iso not in stated for d in dates) / len(dates)


def _figure_phrases(claim: str, passage: str) -> list[str]:
    stated = find_figures(passage)
    out = [claim[f.start:f.end] for f in find_figures(claim)
           if not any(f.unit == p.unit and f.values & p.values for p in stated)]
    isos = {d.iso for d in find_dates(passage)}
    return out + [claim[d.start:d.end] for d in find_dates(claim) if d.iso not in isos]


def worst(rows: Sequence[np.ndarray]) -> np.ndarray:
    """The sentence row: per feature, the worst value over its claims."""
    stack = np.stack(rows)
    better = np.array([_HIGHER_IS_BETTER.get(n, False) for n in FEATURE_NAMES])
    return np.where(better, stack.min(axis=0), stack.max(axis=0)).astype(np.float32)


def normalized_parts(sentence: str, passage: str) -> tuple[str, str, list[str], list[str]]:
    """(sentence, passage, claims, passage sentences), all normalized the same way."""
    s, p = normalize(sentence).strip(), normalize(passage)
    return s, p, claims(s), passage_sentences(p)
