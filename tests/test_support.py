"""Support scores: verbatim quotes, changed figures, partial overlap, and the bounded vector cache."""

from __future__ import annotations

from retrieval.embedder import HashEmbedder
from retrieval.support import SUPPORT_THRESHOLD, SupportScorer, split_sentences
from retrieval.text.sparse import SparseEncoder

PASSAGE = (
    "3,511局の郵便局(3月31日時点)においてマイナンバーカードの申請サポートが行われるなど、具体的な取組が実施された。"
    "総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。"
)


def test_a_quoted_sentence_is_fully_supported():
    scorer = SupportScorer(None, SparseEncoder())
    assert scorer.score("総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。", PASSAGE) == 1.0


def test_a_changed_figure_is_never_supported():
    scorer = SupportScorer(HashEmbedder(64), SparseEncoder())
    claim = "5,000局の郵便局においてマイナンバーカードの申請サポートが行われた。"
    assert scorer.lexical(claim, PASSAGE) == 0.0
    assert scorer.score(claim, PASSAGE) == 0.0


def test_unrelated_and_partial_claims_score_low():
    scorer = SupportScorer(None, SparseEncoder())
    assert scorer.score("消費税の軽減税率は8%である。", PASSAGE) < SUPPORT_THRESHOLD
    partial = scorer.lexical("総務省は郵便局で住民票の写しを交付している。", PASSAGE)
    assert 0.0 < partial < 1.0


def test_best_of_several_passages_counts():
    scorer = SupportScorer(None, SparseEncoder())
    claim = "総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。"
    assert scorer.score(claim, ["無関係な文書です。", PASSAGE]) == 1.0


def test_sentence_vectors_are_cached_within_a_bound():
    calls: list[str] = []

    class Counting(HashEmbedder):
        def embed_query(self, text):
            calls.append(text)
            return super().embed_query(text)

    scorer = SupportScorer(Counting(64), SparseEncoder(), cache_size=4)
    claim = "総務省はマイナンバーカードの普及に取り組む。"
    scorer.semantic(claim, PASSAGE)
    first = len(calls)
    scorer.semantic(claim, PASSAGE)
    assert len(calls) == first == 1 + len(split_sentences(PASSAGE))
    assert len(scorer._vectors) <= 4
