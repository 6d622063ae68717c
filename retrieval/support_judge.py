"""The support judge: is each claim of a sentence backed by its cited passages?

The one check behind every 「裏付けあり」 mark (answers, LLM drafts, edited drafts, the 矛盾チェック's
grounding, ``gyosei eval answers``). A sentence is split into claims, each aligned to the
passage's sentences and described by :mod:`retrieval.support_features`; a logistic regression
learned on claim/source pairs (:mod:`retrieval.support_model`) turns the sentence's worst-claim
row into a calibrated probability of support, compared with the threshold chosen on dev pairs.

A verdict is ``supported``, ``unsupported`` (what is not backed is named: 「『AIで検出』は出典に
ありません」, wording in ``prompts/support_marks.yaml``) or ``contradicted`` (a 矛盾チェック rule
fired against the aligned sentence). A verbatim quote of a passage is supported with
probability 1: extractive answers are quotes.

>>> judge = SupportJudge(embedder, SparseEncoder(), support_model_from_cache(embedder, cache_dir))
>>> v = judge.judge("熱中症になりそうな人をAIで検出し、事前に通知を送る。", passage)
>>> v.label, v.note  # doctest: +SKIP
('unsupported', '『AIで検出』は出典にありません')
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from retrieval.answer_types import FLAG_UNSUPPORTED, AnswerSentence
from retrieval.support_features import ClaimFeatures, ClaimFeaturizer, marks, normalized_parts, worst
from retrieval.support_model import SupportModel, hard_rules, settle
from retrieval.text.sparse import SparseEncoder

if TYPE_CHECKING:
    from retrieval.embedder import Embedder

__all__ = ["SupportJudge", "SupportVerdict", "SUPPORTED", "UNSUPPORTED", "CONTRADICTED", "marks"]

SUPPORTED, UNSUPPORTED, CONTRADICTED = "supported", "unsupported", "contradicted"
_SPACE = re.compile(r"\s+")


@dataclass
class SupportVerdict:
    """The judgement of one sentence: label, calibrated P(supported), and why (Japanese)."""

    label: str  # SUPPORTED | UNSUPPORTED | CONTRADICTED
    probability: float
    missing: list[str] = field(default_factory=list)  # phrases of the sentence no passage states
    reasons: list[str] = field(default_factory=list)  # 矛盾チェック reasons, when contradicted
    claims: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        return self.label == SUPPORTED

    @property
    def note(self) -> str:
        """What the user reads next to an unbacked sentence (empty when supported)."""
        m = marks()
        if self.label == CONTRADICTED and self.reasons:
            return m["contradicted"].format(reason="／".join(self.reasons[:2]))
        if self.label == SUPPORTED:
            return ""
        if self.missing:
            return m["missing_separator"].join(m["missing"].format(phrase=p) for p in self.missing[:2])
        return m["weak"]


class SupportJudge:
    """Judges sentence-passage support; shared by answers, drafts, the 矛盾チェック and evaluation.

    ``model`` is the learned combination (None: a neutral stand-in that only accepts quotes,
    for components built without a model folder). Vectors of recent sentences are kept.
    """

    def __init__(self, embedder: "Embedder | None", sparse: SparseEncoder, model: "SupportModel | None",
                 cache_size: int = 8192) -> None:
        self.embedder = embedder
        self.sparse = sparse
        self.model = model
        self.featurizer = ClaimFeaturizer(sparse)
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def threshold(self) -> float:
        return self.model.threshold if self.model is not None else 1.0

    # -- vectors --------------------------------------------------------------------------------

    def vectors(self, texts: Sequence[str]) -> dict[str, list[float]] | None:
        """Vectors of ``texts`` (passage prompt on both sides: symmetric), cached, embedded in one batch."""
        if self.embedder is None:
            return None
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            for t, v in zip(todo, self.embedder.embed_documents(todo)):
                self._vectors[t] = list(v)
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)
        return {t: self._vectors[t] for t in texts}

    # -- judging --------------------------------------------------------------------------------

    def claim_features(self, sentence: str, passage: str) -> tuple[list[ClaimFeatures], bool]:
        """Each claim's features against one passage, and whether the sentence is quoted verbatim."""
        s, p, parts, sentences = normalized_parts(sentence, passage)
        if _quoted(s, p):
            return [], True
        vectors = self.vectors(parts + sentences)
        return [self.featurizer.features(c, p, sentences, vectors) for c in parts], False

    def judge(self, sentence: str, passages: str | Sequence[str]) -> SupportVerdict:
        """The verdict for ``sentence`` against the best of ``passages`` (one string or several)."""
        if isinstance(passages, str):
            passages = [passages]
        best: SupportVerdict | None = None
        for passage in passages:
            feats, quoted = self.claim_features(sentence, passage)
            if quoted:
                return SupportVerdict(SUPPORTED, 1.0, claims=[sentence])
            if not feats:
                continue
            verdict = self._verdict(feats)
            if best is None or _rank(verdict) > _rank(best):
                best = verdict
        return best or SupportVerdict(UNSUPPORTED, 0.0, claims=[sentence])

    def _verdict(self, feats: list[ClaimFeatures]) -> SupportVerdict:
        row = worst([f.row for f in feats])
        rows = row[None, :]
        # Figures and dates must match, and a 矛盾チェック rule hit is a contradiction, whatever the
        # model's score: the probability shown is then how often such claims were backed in training.
        prob = float(settle(self.model.probability(rows), rows, self.model.caps)[0]) if self.model is not None else 0.0
        reasons = [r for f in feats for r in f.rule_reasons]
        missing = list(dict.fromkeys(p for f in feats for p in f.missing))
        settled = {name: bool(mask[0]) for name, mask in hard_rules(rows).items()}
        if reasons:
            label = CONTRADICTED
        elif settled["figure"]:
            label = UNSUPPORTED
        elif prob >= self.threshold:
            label = SUPPORTED
        else:
            label = UNSUPPORTED
        return SupportVerdict(label, round(prob, 4), missing, list(dict.fromkeys(reasons)), [f.claim for f in feats])

    def mark(self, sentence: AnswerSentence, passages: Sequence[str]) -> SupportVerdict:
        """Judge an answer or draft sentence against its cited passages and record the result
        on it: ``support`` (the probability), FLAG_UNSUPPORTED and the ``note`` when not backed.
        A sentence that quotes its source (an attributed extractive quote) is judged by its quote:
        the attribution around it (「…は、「…」と定めています。」) is ours, not a claim."""
        verdict = self.judge(sentence.quote or sentence.text, passages)
        sentence.support = verdict.probability
        if not verdict.supported:
            if FLAG_UNSUPPORTED not in sentence.flags:
                sentence.flags.append(FLAG_UNSUPPORTED)
            sentence.note = verdict.note
        return verdict

    def score(self, sentence: str, passages: str | Sequence[str]) -> float:
        """The calibrated probability that ``passages`` back ``sentence`` (what the pages show)."""
        return self.judge(sentence, passages).probability

    def rows(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows for (claim, source) pairs and a mask of the verbatim ones (training, eval).

        All texts are embedded first in one batch (fast on CPU), then featurized.
        """
        parts = [normalized_parts(c, s) for c, s in pairs]
        self.vectors([t for s, p, cl, sents in parts if not _quoted(s, p) for t in cl + sents])
        rows, quoted = [], []
        from retrieval.support_features import FEATURE_NAMES

        for s, p, cl, sents in parts:
            q = _quoted(s, p)
            quoted.append(q)
            if q:
                rows.append(np.zeros(len(FEATURE_NAMES), dtype=np.float32))
                continue
            vectors = self.vectors(cl + sents)
            rows.append(worst([self.featurizer.features(c, p, sents, vectors).row for c in cl]))
        return np.stack(rows), np.array(quoted, dtype=bool)


def _quoted(sentence: str, passage: str) -> bool:
    """True when the sentence (spaces aside) is a verbatim piece of the passage."""
    s = _SPACE.sub("", sentence).rstrip("。")
    return len(s) >= 4 and s in _SPACE.sub("", passage)


def _rank(v: SupportVerdict) -> tuple[int, float]:
    """Best passage first: supported over unsupported over contradicted, then by probability."""
    return ({SUPPORTED: 2, UNSUPPORTED: 1, CONTRADICTED: 0}[v.label], v.probability)
