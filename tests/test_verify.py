"""Consistency check (矛盾チェック) on real government answers from data_samples/kokkai.

Fast tests: the rules and the checker (hash embedder) on real answer sentences, changed by one
figure, one date, one negation, one stance word or one article number, against the real speech;
the unchanged sentence and harmless rewritings (kanji vs digits, 令和 vs 西暦) are not flagged.
Slow tests: the real embedder and the NLI classifier trained from retrieval/data/nli.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.altered_pairs import generate_altered_pairs, load_government_sentences
from retrieval.answer_types import Source
from retrieval.contradiction_rules import compare, parse_number, quantities
from retrieval.embedder import HashEmbedder
from retrieval.nli import LLMJudge, classifier_from_cache, parse_judgement
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder
from retrieval.verify import ContradictionChecker

from .conftest import SAMPLES

KOKKAI = SAMPLES / "kokkai"
INTERVENTION = "御指摘の六月の二十七日から七月二十九日には、総額にいたしますと五兆五千三百四十八億円の為替介入を実施いたしました。"
NO_SALE = "私ども、市場で国債を売却するということはこの計画の中に入ってございません。"
BENEFIT = "減税額が確定する令和七年に不足分を給付することとしております。"
YIELD_1PCT = "保有国債の平均利回りですけれども、二四年度〇・三五％、二五年度〇・四四％、二六年度〇・五二％、二七年度〇・五九％、二八年度〇・六五％となります。"
YIELD_2PCT = "保有国債の平均利回りは〇・四四％、二五年度〇・六六％、二六年度〇・八五％、二七年度一・〇二％、二八年度一・一六％になります。"


def speech_containing(sentence: str) -> Source:
    """The real speech (whole text, as a retrieved passage would hold it) containing ``sentence``."""
    for path in sorted(KOKKAI.glob("*.json")):
        for rec in json.loads(path.read_text(encoding="utf-8"))["speechRecord"]:
            if sentence in rec["speech"]:
                return Source(1, rec["speechID"], f"kokkai:{rec['speechID']}", rec["speaker"], normalize(rec["speech"]), 1.0,
                              {"speaker": rec["speaker"], "date": rec["date"]})
    raise AssertionError(f"sample sentence not found in {KOKKAI}: {sentence}")


@pytest.fixture(scope="module")
def checker() -> ContradictionChecker:
    return ContradictionChecker(HashEmbedder(64), SparseEncoder())


# -- numbers, units, rules ------------------------------------------------------------------------


def test_numbers_in_kanji_digits_and_units_are_one_value():
    assert parse_number("三千億") == parse_number("3000億") == 3e11
    assert parse_number("五兆五千三百四十八億") == 5_534_800_000_000
    assert parse_number("〇・二五") == 0.25 and parse_number("1,500") == 1500
    values = [q.values for q in quantities("予算は三千億円、3,000億円、300,000,000,000円、七割、70%")]
    assert values[0] == values[1] == values[2] == {3e11} and values[3] == values[4] == {70.0}


def test_rules_on_short_examples_fire_only_on_aligned_differences():
    assert [h.kind for h in compare("予算は三千億円を計上した。", "予算は2,000億円を計上した。")] == ["number"]
    assert "3,000億円" in compare("予算は3,000億円を計上した。", "予算は2,000億円を計上した。")[0].reason
    assert compare("予算は三千億円を計上した。", "予算は300,000,000,000円を計上した。") == []
    assert [h.kind for h in compare("増税の予定はない。", "増税を予定している。")] == ["polarity"]
    assert [h.kind for h in compare("消費税率の引上げは考えていない。", "消費税率の引上げを検討している。")] == ["modality"]
    assert [h.kind for h in compare("事業の実施を見送る。", "事業を実施する。")] == ["modality"]
    assert [h.kind for h in compare("行政手続法第六条に基づき処分する。", "行政手続法第5条に基づき処分する。")] == ["law"]
    assert compare("行政手続法第五条に基づき処分する。", "行政手続法第5条に基づき処分する。") == []
    assert compare("令和五年に実施した。", "2023年に実施した。") == []
    # Existence of any noun flipped (not only サ変 nouns): 意義がある ↔ 意義がない.
    assert [h.kind for h in compare("この制度には大きな意義があると考えております。", "この制度には大きな意義がないと考えております。")] == ["polarity"]
    assert compare("この制度には大きな意義があると考えております。", "この制度には大きな意義があると認識しております。") == []
    # Different things counted (another year, another kind of loan): never compared.
    assert compare("令和五年度は二回、約九千九百名。", "令和四年度は一回、約三千五百名。") == []
    assert compare("生活に必要な資金の貸付決定人数は八十七人。", "事業に必要な資金の貸付決定人数は五十四人。") == []


# -- the checker on real answers ---------------------------------------------------------------------


def test_changed_amount_in_a_real_answer_is_flagged_with_both_sentences(checker):
    source = speech_containing(INTERVENTION)
    changed = INTERVENTION.replace("五兆五千三百四十八億円", "五兆四千三百四十八億円")
    [conflict] = checker.check([changed], [source])
    assert conflict.kind == "number" and conflict.evidence_source is source
    assert conflict.evidence.endswith(normalize(INTERVENTION)) and conflict.claim == changed
    assert conflict.reason == "金額が異なります: 五兆四千三百四十八億円 ↔ 五兆五千三百四十八億円"


def test_original_and_digit_spelling_of_a_real_answer_are_not_flagged(checker):
    source = speech_containing(INTERVENTION)
    assert checker.check([INTERVENTION], [source]) == []
    digits = INTERVENTION.replace("五兆五千三百四十八億円", "5兆5,348億円").replace("六月の二十七日", "6月の27日")
    assert checker.check([digits], [source]) == []


def test_flipped_negation_in_a_real_answer_is_flagged(checker):
    source = speech_containing(NO_SALE)
    [conflict] = checker.check([NO_SALE.replace("ございません", "ございます")], [source])
    assert conflict.kind == "polarity" and "否定が逆です" in conflict.reason
    assert checker.check([NO_SALE], [source]) == []


def test_changed_date_is_flagged_but_western_year_is_not(checker):
    source = speech_containing(BENEFIT)
    assert checker.check([BENEFIT.replace("令和七年", "2025年")], [source]) == []
    [conflict] = checker.check([BENEFIT.replace("令和七年", "令和八年")], [source])
    assert conflict.kind == "date" and conflict.reason == "日付が異なります: 令和八年 ↔ 令和七年"


def test_figures_of_another_scenario_in_the_same_answer_are_not_flagged(checker):
    # 日銀総裁: yields if reinvested at 1% vs at 2% — same words, other numbers, other scenario.
    source = speech_containing(YIELD_1PCT)
    assert YIELD_2PCT in source.text.replace("%", "％") or YIELD_2PCT.replace("％", "%") in source.text
    claim = "また、対象の国債の金利が二％の場合ですけれども、二四年度の私どもの保有国債の平均利回りは〇・四四％になります。"
    assert checker.check([claim], [source]) == []
    changed = YIELD_1PCT.replace("二六年度〇・五二％", "二六年度〇・五八％")
    assert [c.kind for c in checker.check([changed], [source])] == ["number"]


def test_altered_pairs_are_deterministic_and_labelled():
    speeches = load_government_sentences(KOKKAI, None)
    a = generate_altered_pairs(speeches, seed=7, per_kind=5)
    assert a == generate_altered_pairs(speeches, seed=7, per_kind=5)
    kinds = {r["kind"] for r in a}
    assert {"number", "negation", "same", "neighbor"} <= kinds
    assert all((r["label"] == "contradiction") == (r["kind"] in {"number", "date", "negation", "modality", "law", "law_name"}) for r in a)


def test_rules_on_altered_real_answers_meet_the_target(checker):
    from eval.nli_eval import evaluate_nli

    records = generate_altered_pairs(load_government_sentences(KOKKAI, None), per_kind=20)
    result = evaluate_nli(records, checker)["contradiction_vs_not"]
    assert result["precision"] >= 0.9 and result["f1"] >= 0.8, result


# -- law sentences with brackets (bracket-aware sentence split) -----------------------------------

PRIVACY_LAW = SAMPLES / "laws" / "415AC0000000057_20250601_504AC0000000068.html"  # 個人情報保護法
PROCEDURE_LAW = SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml"  # 行政手続法
# 第十六条第五項: a definition with 「(…という。)」 inside the sentence.
PSEUDONYM = ("この章、第六章及び第七章において「仮名加工情報取扱事業者」とは、仮名加工情報を含む情報の集合物であって、"
             "特定の仮名加工情報を電子計算機を用いて検索することができるように体系的に構成したものその他特定の仮名加工情報を"
             "容易に検索することができるように体系的に構成したものとして政令で定めるもの(第四十一条第一項において"
             "「仮名加工情報データベース等」という。)を事業の用に供している者をいう。")


def article_source(path: Path, words: str) -> Source:
    """The article of a real law (as the reader gives it, normalized) that contains ``words``."""
    from ingest.readers.laws import read_egov_html, read_egov_xml

    doc = read_egov_xml(path) if path.suffix == ".xml" else read_egov_html(path)
    section = next(s for s in doc.sections if words in normalize(s.text))
    return Source(1, section.heading, doc.doc_id, section.heading, normalize(section.text), 1.0, {"doc_type": "law"})


def test_verbatim_law_sentences_with_bracketed_definitions_are_not_flagged(checker):
    article = article_source(PRIVACY_LAW, "「仮名加工情報取扱事業者」とは")
    assert PSEUDONYM in article.text
    assert checker.check([PSEUDONYM], [article]) == []
    # 行政手続法 附則第一条第二号: split at 「…を除く。」 its fragments differed from the item itself.
    supplementary = article_source(PROCEDURE_LAW, "入管法第十九条の五")
    item = next(line for line in supplementary.text.splitlines() if "入管法第十九条の五" in line)
    assert checker.check([item], [supplementary]) == []


def test_changed_article_in_a_law_sentence_is_flagged_against_the_whole_sentence(checker):
    article = article_source(PRIVACY_LAW, "「仮名加工情報取扱事業者」とは")
    changed = PSEUDONYM.replace("第四十一条第一項", "第四十二条第一項")
    conflicts = checker.check([changed], [article])
    hit = next(c for c in conflicts if c.evidence.endswith(PSEUDONYM))  # "5 …": the whole sentence, not a fragment
    assert hit.kind == "law" and "第四十二条" in hit.reason and "第四十一条" in hit.reason


# -- NLI judges ----------------------------------------------------------------------------------------


def test_llm_judge_uses_the_prompt_and_parses_the_reply():
    class Recorded:  # a chat model that answers as a local llama.cpp server did
        def __init__(self):
            self.messages = None

        def invoke(self, messages):
            self.messages = messages
            return type("Reply", (), {"content": '{"label": "contradiction", "confidence": 0.85}'})()

    model = Recorded()
    assert LLMJudge(model).judge(INTERVENTION, "為替介入は実施していない。") == ("contradiction", 0.85)
    assert INTERVENTION in model.messages[-1][1]
    assert parse_judgement("判定: 矛盾") == ("contradiction", 0.7)


def test_checker_uses_the_nli_judge_only_for_aligned_pairs_without_rule_hits():
    class Always:
        calls = 0

        def judge(self, premise, hypothesis):
            Always.calls += 1
            return "contradiction", 0.95

    checker = ContradictionChecker(HashEmbedder(64), SparseEncoder(), Always())
    source = speech_containing(NO_SALE)
    [conflict] = checker.check(["私ども、市場で国債を売却するということはこの計画の中に含めてございません。"], [source])
    assert conflict.kind == "nli" and Always.calls >= 1 and "NLI" in conflict.reason
    calls = Always.calls
    # Word for word with the passage (not a quote of it): the rules decide, the judge is not asked.
    assert checker.check([NO_SALE.replace("私ども、", "私どもは、")], [source]) == []
    assert Always.calls == calls
    assert checker.check([NO_SALE.replace("私ども、", "")], [source]) == []  # a verbatim quote: never flagged
    assert Always.calls == calls
    assert checker.check(["防衛費の増額は税制措置で賄います。"], [source]) == []  # off topic: not judged


# -- slow: real embedder, trained classifier -------------------------------------------------------------


@pytest.mark.slow
def test_classifier_trains_reproducibly_and_reports_held_out_accuracy(real_embedder, model_cache_dir):
    judge = classifier_from_cache(real_embedder, model_cache_dir)
    report = judge.report
    assert report["held_out"]["jsick"]["accuracy"] >= 0.6 and report["held_out"]["jnli"]["accuracy"] >= 0.6
    assert (judge.folder / "weights.npz").stat().st_size < 200_000
    assert classifier_from_cache(real_embedder, model_cache_dir).folder == judge.folder  # reused, not retrained
    label, prob = judge.judge("男性がギターを弾いている。", "男性がギターを弾いていない。")
    assert label == "contradiction" and prob > 0.5


@pytest.mark.slow
def test_checker_with_real_embedder_and_classifier_on_a_real_answer(real_embedder, model_cache_dir):
    clf = classifier_from_cache(real_embedder, model_cache_dir)
    checker = ContradictionChecker(real_embedder, SparseEncoder(), clf)
    source = speech_containing(INTERVENTION)
    changed = INTERVENTION.replace("五兆五千三百四十八億円", "五兆四千三百四十八億円")
    assert [c.kind for c in checker.check([changed], [source])] == ["number"]
    assert checker.check([INTERVENTION, INTERVENTION.replace("いたしました", "しました")], [source]) == []
