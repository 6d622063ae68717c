"""公用文チェック (retrieval/style): every rule's own examples, the part-of-speech cases, spans,
fixes (certain ones only, never numbers or names: a property test), settings and a bad rules file."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.style import StyleChecker, StyleRuleError, apply_fixes, apply_one, fix_certain, load_rules
from retrieval.style.rules import parse_rules

CHECKER = StyleChecker()
RULES = load_rules()


def ids(text: str, checker: StyleChecker = CHECKER) -> list[str]:
    return [f.rule_id for f in checker.check(text)]


# -- every rule, from the rules file's own examples -------------------------------------------------


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_each_rule_flags_its_bad_example_and_passes_its_good_one(rule):
    assert rule.examples.get("bad") and rule.examples.get("good"), f"{rule.id}: examples missing"
    bad = [f for f in CHECKER.check(rule.examples["bad"]) if f.rule_id == rule.id]
    assert bad, f"{rule.id} did not flag {rule.examples['bad']!r}"
    assert not [f for f in CHECKER.check(rule.examples["good"]) if f.rule_id == rule.id]
    for f in bad:
        assert rule.examples["bad"][f.start:f.end] == f.text and f.message and f.source and f.group == rule.group_label


def test_every_group_the_issue_names_has_rules_with_sources():
    groups = {r.group for r in RULES.rules}
    assert groups == set(RULES.groups) == {"keishiki", "setsuzoku", "fukushi", "hanashi", "okurigana", "suuji", "bunchou", "kutouten"}
    docs = {r.source_doc for r in RULES.rules}
    assert docs == set(RULES.sources.values())  # all three source documents are cited


# -- part of speech decides, not the string -----------------------------------------------------------


def test_toki_as_a_noun_of_time_stays_and_as_a_formal_noun_becomes_kana():
    assert "keishiki-toki" not in ids("その時は連絡いたします。")
    assert "keishiki-toki" not in ids("外貨を取得した時の為替レートにより換算します。")  # a point in time
    [f] = [f for f in CHECKER.check("事故が発生した時は直ちに連絡いたします。") if f.rule_id == "keishiki-toki"]
    assert (f.text, f.suggestion, f.certain) == ("時", "とき", True)


def test_koto_after_a_verb_is_formal_but_not_as_a_noun_of_its_own():
    assert "keishiki-koto" in ids("確認する事が重要です。")
    assert "keishiki-koto" not in ids("事の経緯を説明いたします。")


def test_shitagatte_as_a_conjunction_but_not_as_the_verb():
    assert "setsuzoku-shitagatte" in ids("従って、本件は対象外です。")
    assert "setsuzoku-shitagatte" not in ids("法令に従って、適切に処理いたします。")


def test_okurigana_applies_to_the_noun_not_to_the_verb():
    assert "okurigana-noun" in ids("事務の取り扱いを定めます。")
    assert "okurigana-noun" not in ids("窓口で丁寧に取り扱います。")
    assert "okurigana-noun" not in ids("申請を受け付けます。")


def test_filler_is_flagged_but_the_demonstrative_is_not():
    assert "hanashi-filler" in ids("えー、御説明いたします。")
    assert not {"hanashi-filler", "hanashi-filler-ano"} & set(ids("あの件について御説明いたします。"))


def test_matawa_written_in_kanji_is_not_read_as_the_conjunction_mata():
    assert "setsuzoku-kana" not in ids("電気通信事業法又は放送法の規定に基づき対応いたします。")
    assert "setsuzoku-kana" in ids("又、関係省庁と連携いたします。")


def test_auxiliary_itasu_but_not_the_main_verb():
    assert "hojo-itasu" in ids("御説明致します。")
    assert "hojo-itasu" not in ids("不徳の致すところでございます。")


def test_kanji_numerals_idioms_and_vertical_writing():
    assert "suuji-kansuuji" in ids("三件の申請がありました。")
    assert "suuji-kansuuji" not in ids("一部の自治体では一層の取組が必要です。")
    assert "suuji-kansuuji" not in ids("二国間の協議を一つずつ進めます。")
    [f] = [f for f in CHECKER.check("総額五兆五千三百四十八億円でございます。") if f.rule_id == "suuji-kansuuji"]
    assert f.suggestion == "5兆5348億" and not f.certain  # numbers are never rewritten automatically
    assert "suuji-kansuuji" not in ids("三件の申請がありました。", StyleChecker(horizontal=False))


# -- spans, settings, brackets ------------------------------------------------------------------------------


def test_findings_carry_exact_spans_in_the_original_text():
    text = "まず、\n  えー、その時は手続きを行います。ちょっと時間がかかりますけど、御理解下さい。"
    findings = CHECKER.check(text)
    assert findings and all(text[f.start:f.end] == f.text for f in findings)
    assert [f.rule_id for f in findings] == sorted([f.rule_id for f in findings], key=lambda r: [
        f.start for f in findings if f.rule_id == r][0])
    assert {"hanashi-filler", "okurigana-noun", "hanashi-chotto", "hanashi-kedo", "hojo-kudasai"} <= {f.rule_id for f in findings}
    assert "keishiki-toki" not in {f.rule_id for f in findings}


def test_sentence_length_is_configurable_and_ignores_citation_marks():
    sentence = "政府としては、" + "関係機関と連携し、" * 6 + "対応してまいります。"
    assert len(sentence) < 100
    assert "bunchou-nagai" not in ids(sentence)
    [f] = [f for f in StyleChecker(max_sentence_chars=40).check(sentence + "[1]") if f.rule_id == "bunchou-nagai"]
    assert f"{len(sentence)}字" in f.message and "40字" in f.message
    assert "bunchou-nagai" not in ids("政府としては対応してまいります。[1][2][3]", StyleChecker(max_sentence_chars=16))


def test_brackets_nested_mismatched_and_unclosed():
    text = "「計画（案）」を示し、『報告書の概要を説明し、（注を付す。"
    found = [(f.text, f.start) for f in CHECKER.check(text) if f.rule_id == "kakko-tojinai"]
    assert found == [("『", text.index("『")), ("（", text.rindex("（"))]
    assert "kakko-tojinai" in ids("説明いたします」。")
    assert "kakko-tojinai" not in ids("「計画（案）」[1]を示します。")


# -- fixes ------------------------------------------------------------------------------------------------------


def test_certain_fixes_are_applied_and_the_others_are_left_for_a_human():
    text = "えー、事故が起きた時は、ちょっと手続きを御説明致します。"
    fixed, applied = fix_certain(text, CHECKER)
    assert fixed == "事故が起きたときは、ちょっと手続を御説明いたします。"
    assert {f.rule_id for f in applied} == {"hanashi-filler", "keishiki-toki", "okurigana-noun", "hojo-itasu"}
    [chotto] = [f for f in CHECKER.check(fixed) if f.rule_id == "hanashi-chotto"]
    assert not chotto.certain and apply_one(fixed, chotto) == "事故が起きたときは、少し手続を御説明いたします。"


def test_a_fix_is_skipped_when_its_span_no_longer_holds_its_text():
    text = "確認する事が重要です。"
    [f] = [f for f in CHECKER.check(text) if f.rule_id == "keishiki-koto"]
    assert apply_one("確認することが重要です。", f) == "確認することが重要です。"
    assert apply_fixes(text, [f, f])[0] == "確認することが重要です。"  # overlapping fixes: once


def test_a_finding_over_a_proper_noun_is_never_certain():
    rules = parse_rules("groups: {g: 分類}\nsources: {s: 出典}\nrules:\n"
                        "  - {id: r, group: g, kind: regex, pattern: '鈴木|制度', fix: {replace: X}, certain: true,"
                        " explanation: x, source: {doc: s, section: '1'}}\n", "t.yaml")
    findings = StyleChecker(rules).check("鈴木大臣が制度を説明した。")
    assert [(f.text, f.certain) for f in findings] == [("鈴木", False), ("制度", True)]
    assert apply_fixes("鈴木大臣が制度を説明した。", findings)[0] == "鈴木大臣がXを説明した。"


_NUMERAL = re.compile(r"[0-9〇一二三四五六七八九十百千万億兆]+")
NAMES = ["鈴木財務大臣", "岸田内閣総理大臣", "東京都", "デジタル庁", "マイナンバーカード", "行政手続法"]
PIECES = ["えー、", "あのー、", "その時は", "確認する事が", "説明致します。", "手続きを", "取り扱いについて", "というふうに",
          "但し、", "および", "または", "殆どの", "やっぱり", "じゃない", "ですね、", "御連絡下さい。", "検討して参ります。",
          "、、", "を実施いたしました。", "と考えております。", "（", "）", "「", "」", "等して", "ちょっと", "出来る"]


@st.composite
def official_text(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(3, 12))):
        kind = draw(st.sampled_from(["piece", "name", "number"]))
        if kind == "piece":
            parts.append(draw(st.sampled_from(PIECES)))
        elif kind == "name":
            parts.append(draw(st.sampled_from(NAMES)))
        else:
            n = draw(st.integers(0, 10**9))
            form = draw(st.sampled_from(["arabic", "fullwidth", "kanji"]))
            if form == "arabic":
                parts.append(f"{n}件")
            elif form == "fullwidth":
                parts.append(str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "円")
            else:
                parts.append("三百二十" + "件" if n % 2 else "五兆五千億円")
    return "".join(parts)


@settings(max_examples=60, deadline=None)
@given(official_text())
def test_certain_fixes_never_change_numbers_or_names(text):
    fixed, _ = fix_certain(text, CHECKER)
    numbers = lambda t: _NUMERAL.findall(unicodedata.normalize("NFKC", t))  # noqa: E731
    assert numbers(fixed) == numbers(text)
    for name in NAMES:
        assert fixed.count(name) == text.count(name)
    # Stance: no negation is added or dropped.
    assert fixed.count("ない") == text.count("ない")


# -- the rules file ------------------------------------------------------------------------------------------------


def test_a_malformed_rules_file_names_the_file_and_the_rule():
    base = "groups: {g: 分類}\nsources: {s: 出典}\nrules:\n"
    with pytest.raises(StyleRuleError, match=r"my_rules.yaml: 規則 r1 が不正です.*kind"):
        parse_rules(base + "  - {id: r1, group: g, kind: magic, explanation: x, source: {doc: s, section: '1'}}\n", "my_rules.yaml")
    with pytest.raises(StyleRuleError, match=r"my_rules.yaml: 規則 r2 .*pattern"):
        parse_rules(base + "  - {id: r2, group: g, kind: regex, pattern: '(', explanation: x, source: {doc: s, section: '1'}}\n", "my_rules.yaml")
    with pytest.raises(StyleRuleError, match=r"規則 r4 .*不明な項目 certian"):
        parse_rules(base + "  - {id: r4, group: g, kind: regex, pattern: a, certian: true, explanation: x, source: {doc: s, section: '1'}}\n",
                    "my_rules.yaml")
    with pytest.raises(StyleRuleError, match=r"my_rules.yaml: YAML"):
        parse_rules("rules: [", "my_rules.yaml")
    with pytest.raises(StyleRuleError, match=r"重複"):
        rule = "  - {id: r3, group: g, kind: regex, pattern: a, explanation: x, source: {doc: s, section: '1'}}\n"
        parse_rules(base + rule + rule, "my_rules.yaml")
