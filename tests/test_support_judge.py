"""The support judge (fast: no embedder, the offline model): quotes, invented claims named in the
mark, changed figures, flipped negations, claims split at clauses, the vector cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval.embedder import HashEmbedder
from retrieval.extractive import sentence_spans
from retrieval.support_features import FEATURE_NAMES, claims, worst
from retrieval.support_judge import CONTRADICTED, SUPPORTED, UNSUPPORTED, SupportJudge
from retrieval.support_model import choose_threshold, load_pairs
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder

from .conftest import SAMPLES
from .support_helpers import offline_judge, offline_model

HEAT = (
    "環境省と気象庁は、熱中症の危険性が極めて高くなると予測される場合に熱中症警戒アラートを発表しております。"
    "アラートが発表された日には、高齢者や子どもなど熱中症になりやすい方への見守りや声かけを、自治体や地域の関係者に呼びかけております。"
    "また、自治体が防災無線やメールで住民に事前に注意を促す取組を支援しております。"
)
FAKE = "熱中症になりそうな人をAIで検出し、事前に通知を送る。"
POST = (
    "3,511局の郵便局(3月31日時点)においてマイナンバーカードの申請サポートが行われるなど、具体的な取組が実施された。"
    "総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。"
)


@pytest.fixture(scope="module")
def judge() -> SupportJudge:
    return offline_judge()


def test_the_invented_ai_claim_is_flagged_and_named(judge):
    verdict = judge.judge(FAKE, HEAT)
    assert verdict.label == UNSUPPORTED and not verdict.supported and verdict.probability <= judge.threshold
    assert "『AIで検出』は出典にありません" in verdict.note


def test_a_quote_is_supported_with_probability_one(judge):
    verdict = judge.judge("総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。", POST)
    assert verdict.label == SUPPORTED and verdict.probability == 1.0 and verdict.note == ""


def test_every_sentence_of_real_documents_is_supported_as_a_quote(judge):
    """Extractive answers quote passage sentences: each one must stay 100% supported."""
    texts = [normalize(p.read_text(encoding="utf-8"))[:3000] for p in sorted((SAMPLES / "digital_agency").glob("*.md"))[:3]]
    texts += [json.loads(line)["text"][:3000] for line in (SAMPLES.parent / "eval" / "datasets" / "nta_faq" / "corpus.jsonl")
              .read_text(encoding="utf-8").splitlines()[:20]]
    checked = 0
    for text in texts:
        for _start, sentence in sentence_spans(text):
            if len(sentence.strip()) >= 6:
                assert judge.score(sentence.strip(), text) == 1.0, sentence
                checked += 1
    assert checked > 50


def test_a_changed_figure_is_not_supported_and_named(judge):
    verdict = judge.judge("5,000局の郵便局においてマイナンバーカードの申請サポートが行われた。", POST)
    assert not verdict.supported
    assert any("5,000局" in m for m in verdict.missing) or "5,000" in verdict.note


def test_a_flipped_negation_is_contradicted_with_the_rule_reason(judge):
    passage = "政府としては、消費税率の引上げを行う予定はございません。今後も経済状況を注視してまいります。"
    verdict = judge.judge("政府としては、消費税率の引上げを行う予定がございます。", passage)
    assert verdict.label == CONTRADICTED and "否定が逆です" in verdict.note


def test_an_unrelated_claim_is_not_supported(judge):
    assert not judge.judge("消費税の軽減税率は8%である。", POST).supported


def test_the_best_of_several_passages_counts(judge):
    claim = "総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。"
    assert judge.score(claim, ["無関係な文書です。", POST]) == 1.0


def test_sentences_are_split_into_claims_at_clauses():
    assert claims(FAKE) == ["熱中症になりそうな人をAIで検出し、", "事前に通知を送る。"]
    assert claims("また、制度を見直す。") == ["また、制度を見直す。"]  # a short connective stays with its clause
    assert claims("減税を実施する。") == ["減税を実施する。"]


def test_a_sentence_is_only_as_backed_as_its_worst_claim(judge):
    feats, quoted = judge.claim_features("熱中症警戒アラートを発表し、全国民に冷房機器を無償で配布しております。", HEAT)
    assert not quoted and len(feats) == 2
    first, second = (dict(zip(FEATURE_NAMES, f.row)) for f in feats)
    assert first["coverage"] == 1.0 and second["coverage"] == 0.0
    row = dict(zip(FEATURE_NAMES, worst([f.row for f in feats])))
    assert row["coverage"] == 0.0 and row["missing_nouns"] == second["missing_nouns"] > 0
    assert "冷房機器を無償で配布" in feats[1].missing[0]


def test_an_opposite_word_is_a_contradiction_named_in_the_mark(judge):
    passage = "我が国では少子高齢化が進行しており、今後も人口減少が続くことが見込まれている。"
    verdict = judge.judge("今後は人口が増加します。", passage)
    assert verdict.label == CONTRADICTED and "「増加」は出典では「減少」です" in verdict.note


def test_the_model_is_calibrated_and_its_threshold_comes_from_dev_pairs():
    model = offline_model()
    report = model.report
    assert report["features"] == list(FEATURE_NAMES) and report["dev_pairs"] > 100
    assert 0.0 < model.threshold < 1.0
    for row in report["dev"]["calibration"]:  # each probability band holds about that share of supported claims
        if row["n"] >= 50:
            assert abs(row["mean_prob"] - row["supported_share"]) < 0.2, row


def test_choose_threshold_balances_both_error_rates():
    probs = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    supported = np.array([False, False, False, True, True, True])
    t = choose_threshold(probs, supported)
    assert 0.3 < t <= 0.6


def test_sentence_vectors_are_embedded_in_one_batch_and_cached_within_a_bound():
    calls: list[list[str]] = []

    class Counting(HashEmbedder):
        def embed_documents(self, texts):
            calls.append(list(texts))
            return super().embed_documents(texts)

    judge = SupportJudge(Counting(64), SparseEncoder(), offline_model(), cache_size=6)
    judge.judge(FAKE, HEAT)
    assert len(calls) == 1 and len(calls[0]) == 2 + 3  # two claims, three passage sentences
    judge.judge(FAKE, HEAT)
    assert len(calls) == 1  # all cached
    judge.judge("別の主張です。", POST)
    assert len(judge._vectors) <= 6


def test_bad_pair_files_name_the_file_and_line(tmp_path):
    from retrieval.errors import ModelError

    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"claim": "a", "source": "b", "label": "supported"}\n{"claim": "a"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match="pairs.jsonl の 2 行目"):
        load_pairs(bad)
    bad.write_text('{"claim": "a", "source": "b", "label": "maybe"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match="label は"):
        load_pairs(bad)
