"""Date phrases in officials' questions -> date filters, only where unambiguous."""

from __future__ import annotations

import datetime as dt
import doctest
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retrieval.query_dates as query_dates
from retrieval.query_dates import DateHint, parse_date_phrases
from retrieval.text.normalize import normalize

TODAY = dt.date(2024, 11, 13)  # a fixed "today": FY2024 (令和6年度) is under way
SHARED_EVAL = Path(__file__).resolve().parents[1] / "eval" / "datasets"  # copies of the shared dev sets


def rng(question: str, today: dt.date = TODAY) -> tuple[str | None, str | None] | None:
    hint = parse_date_phrases(question, today)
    return None if hint is None else (hint.date_from, hint.date_to)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # 西暦 and 元号 years, kanji numerals, 元年
        ("2023年の国会でマイナンバーカードについてどのような答弁があったか", ("2023-01-01", "2023-12-31")),
        ("令和5年の国会答弁でインボイス制度の経過措置について述べたものは", ("2023-01-01", "2023-12-31")),
        ("令和五年の財務金融委員会における大臣の発言", ("2023-01-01", "2023-12-31")),
        ("令和元年の答弁で消費税率の引上げについて説明したものを探して", ("2019-01-01", "2019-12-31")),
        ("平成31年の予算委員会で議論された働き方改革", ("2019-01-01", "2019-12-31")),
        ("二〇二三年の白書で示されたデジタル化の課題", ("2023-01-01", "2023-12-31")),
        # year + month, full dates (also written with slashes and era letters), full-width digits
        ("令和6年8月の外交防衛委員会で防衛大臣は何と答弁したか", ("2024-08-01", "2024-08-31")),
        ("平成31年4月に公表された通知の内容", ("2019-04-01", "2019-04-30")),
        ("令和6年8月23日の財務金融委員会での質疑", ("2024-08-23", "2024-08-23")),
        ("令和六年八月二十三日の委員会における答弁", ("2024-08-23", "2024-08-23")),
        ("2024/8/23の答弁を要約して", ("2024-08-23", "2024-08-23")),
        ("R5.4.1付けの事務連絡について", ("2023-04-01", "2023-04-01")),
        ("令和5年4月1日付けの通知で示された様式", ("2023-04-01", "2023-04-01")),
        ("２０２４年２月の国会で議論された定額減税", ("2024-02-01", "2024-02-29")),
        # 年度: the Japanese fiscal year runs April to March
        ("令和5年度の予算委員会での答弁", ("2023-04-01", "2024-03-31")),
        ("令和元年度の決算委員会で指摘された事項", ("2019-04-01", "2020-03-31")),
        ("平成31年度の答弁", ("2019-04-01", "2020-03-31")),
        ("2023年度中に策定された計画は", ("2023-04-01", "2024-03-31")),
        # ranges
        ("2023年4月から2024年3月までの国会答弁", ("2023-04-01", "2024-03-31")),
        ("令和5年4月〜令和6年3月に行われた審議", ("2023-04-01", "2024-03-31")),
        ("平成31年4月から令和元年5月までの間の答弁", ("2019-04-01", "2019-05-31")),
        ("令和4年から5年までの議論を整理して", ("2022-01-01", "2023-12-31")),
        ("令和3年度から5年度までの決算委員会の議事", ("2021-04-01", "2024-03-31")),
        ("2023年4月～6月の答弁", ("2023-04-01", "2023-06-30")),
        ("令和4〜5年度の答弁を比較したい", ("2022-04-01", "2024-03-31")),
        ("2022〜2023年の白書", ("2022-01-01", "2023-12-31")),
        ("2023年から2024年にかけての国会審議", ("2023-01-01", "2024-12-31")),
        ("昨年度から今年度までの答弁", ("2023-04-01", "2025-03-31")),
        # open ends and open starts
        ("2023年4月以降に公表されたガイドライン", ("2023-04-01", None)),
        ("令和5年度以降の答弁", ("2023-04-01", None)),
        ("令和2年以後の国会での議論", ("2020-01-01", None)),
        ("2020年以来の委員会審議", ("2020-01-01", None)),
        ("2023年4月からの答弁", ("2023-04-01", None)),
        ("2023年4月1日以前の通知", (None, "2023-04-01")),
        ("平成31年4月30日までの答弁", (None, "2019-04-30")),
        ("令和3年度までの答弁", (None, "2022-03-31")),
        ("2023年より前の答弁", (None, "2022-12-31")),
        ("2023年より後の答弁", ("2024-01-01", None)),
        # relative phrases (today = 2024-11-13)
        ("今年の国会で防衛大臣が答弁した内容", ("2024-01-01", "2024-12-31")),
        ("本年の答弁", ("2024-01-01", "2024-12-31")),
        ("昨年の国会で総裁に確認した事項", ("2023-01-01", "2023-12-31")),
        ("去年の委員会での質疑", ("2023-01-01", "2023-12-31")),
        ("一昨年の答弁", ("2022-01-01", "2022-12-31")),
        ("今年度の答弁の要点", ("2024-04-01", "2025-03-31")),
        ("昨年度の国会答弁を探して", ("2023-04-01", "2024-03-31")),
        ("前年度の答弁", ("2023-04-01", "2024-03-31")),
        ("一昨年度の答弁", ("2022-04-01", "2023-03-31")),
        ("今月の委員会審議", ("2024-11-01", "2024-11-30")),
        ("先月の国会で議論された定額減税", ("2024-10-01", "2024-10-31")),
        ("昨年4月以降の答弁", ("2023-04-01", None)),
        ("今年度以降の通知", ("2024-04-01", None)),
        # several clean phrases: the smallest range covering all of them
        ("2022年と2023年の答弁を比較して", ("2022-01-01", "2023-12-31")),
        ("令和5年度及び令和6年度の予算委員会", ("2023-04-01", "2025-03-31")),
    ],
)
def test_clean_time_expressions_become_filters(question, expected):
    assert rng(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        # numbers that are not dates
        "5年以内に修正申告をすれば加算税はかからないか",
        "3年間の経過措置の内容は",
        "第5条の解釈について",
        "令和の時代の行政のあり方",
        "2023件の申請があった場合の処理",
        "耐用年数は何年か",
        "日本年金機構の手続について",  # 本年 inside 日本年金 is no relative date
        # a date that is part of a name: law, edition, revision, budget, survey, disaster
        "平成30年改正の法律について",
        "令和5年版情報通信白書の第5章の内容",
        "平成五年法律第八十八号の目的",
        "令和5年度税制改正の内容は",
        "令和6年度予算の概要",
        "令和2年国勢調査の結果",
        "令和6年能登半島地震への対応",
        "2050年カーボンニュートラルに向けた取組",
        # law lifecycle after a particle: when a law changed, not when sources were written
        "2023年に改正された法律",
        "令和5年の改正で変わった点",
        "令和6年4月1日から施行される改正法",
        "2023年から始まったインボイス制度",
        "令和5年4月以降の取扱いはどうなりますか",
        "2023年度以降の予算について",
        # approximate, comparative or relative to something else
        "2023年頃の議論",
        "2023年末の状況",
        "2023年前後の答弁",
        "2023年より多いか",
        "2023年度の前年度比",
        "令和5年度の答弁と前年度の答弁",  # 前年度 next to an explicit year: relative to which?
        "昨年度比で増加した件数",
        "本年分の減価償却費",
        "令和5年から3年間の計画",
        "2023年から3年間の経過措置",
        # a target year, or any period that has not begun
        "2030年までに達成すべき目標",
        "2050年までの温室効果ガス削減",
        # the asker's own case, not the time of the sources
        "私は、昨年12月に病気の治療のために入院しました。医療費控除の対象になるのでしょうか。",
        "本年11月から店舗用として使用することとしました。減価償却費の計算は",
        "2023年に住宅を取得した場合の住宅借入金等特別控除",
        # not real dates / not quantities of years
        "2024年2月30日の答弁",
        "1000年に一度の災害への備え",
        # one name poisons the question: no guessing which phrase is which
        "平成30年改正の法律について、2023年の国会での議論",
    ],
)
def test_ambiguous_or_non_date_numbers_give_no_filter(question):
    assert parse_date_phrases(question, TODAY) is None


def test_questions_without_dates_give_none():
    assert parse_date_phrases("電子帳簿保存法の要件を教えてください", TODAY) is None
    assert parse_date_phrases("", TODAY) is None


@pytest.mark.parametrize(
    ("today", "this_fy", "last_fy"),
    [
        (dt.date(2024, 3, 31), ("2023-04-01", "2024-03-31"), ("2022-04-01", "2023-03-31")),
        (dt.date(2024, 4, 1), ("2024-04-01", "2025-03-31"), ("2023-04-01", "2024-03-31")),
        (dt.date(2025, 1, 10), ("2024-04-01", "2025-03-31"), ("2023-04-01", "2024-03-31")),
    ],
)
def test_fiscal_year_boundaries_follow_today(today, this_fy, last_fy):
    assert rng("今年度の答弁", today) == this_fy
    assert rng("昨年度の答弁", today) == last_fy
    assert rng("前年度の答弁", today) == last_fy


def test_fiscal_year_of_explicit_years_spans_april_to_march():
    assert rng("令和5年度の答弁") == ("2023-04-01", "2024-03-31")
    assert rng("2023年度の答弁") == ("2023-04-01", "2024-03-31")
    assert rng("令和元年度の答弁") == rng("平成31年度の答弁") == ("2019-04-01", "2020-03-31")
    # leap years: the month ends where the calendar says
    assert rng("令和6年2月の答弁") == ("2024-02-01", "2024-02-29")
    assert rng("令和5年2月の答弁") == ("2023-02-01", "2023-02-28")


def test_relative_months_cross_year_boundaries():
    january = dt.date(2025, 1, 15)
    assert rng("先月の答弁", january) == ("2024-12-01", "2024-12-31")
    assert rng("今月の答弁", january) == ("2025-01-01", "2025-01-31")
    assert rng("昨年の答弁", january) == ("2024-01-01", "2024-12-31")


def test_a_period_not_yet_begun_gives_no_filter():
    assert rng("今年の4月以降の答弁", dt.date(2025, 2, 1)) is None  # April 2025 is still ahead
    assert rng("今年の4月以降の答弁", dt.date(2025, 5, 1)) == ("2025-04-01", None)
    assert rng("2025年の答弁", dt.date(2024, 12, 31)) is None
    assert rng("2023年から2030年までの議論") == ("2023-01-01", "2030-12-31")  # begun: the end may be ahead


def test_spans_and_label_show_what_was_applied():
    q = "2023年4月以降に公表されたガイドラインは"
    hint = parse_date_phrases(q, TODAY)
    assert hint == DateHint("2023-04-01", None, [(0, 9)], "2023年4月1日以降")
    assert [q[a:b] for a, b in hint.spans] == ["2023年4月以降"]

    q = "令和5年度の予算委員会での答弁"
    hint = parse_date_phrases(q, TODAY)
    assert [q[a:b] for a, b in hint.spans] == ["令和5年度"]
    assert hint.label == "2023年4月1日〜2024年3月31日"

    q = "2022年と2023年の答弁"
    hint = parse_date_phrases(q, TODAY)
    assert [q[a:b] for a, b in hint.spans] == ["2022年", "2023年"]

    assert parse_date_phrases("平成31年4月30日までの答弁", TODAY).label == "2019年4月30日以前"
    assert parse_date_phrases("令和6年8月23日の答弁", TODAY).label == "2024年8月23日"
    q = "２０２３年４月から２０２４年３月までの答弁"  # full-width: offsets still point into the question
    assert [q[a:b] for a, b in parse_date_phrases(q, TODAY).spans] == ["２０２３年４月から２０２４年３月まで"]


def test_normalized_questions_parse_the_same():
    """The Searcher hands over the normalized question (NFKC: ～ becomes ~, full-width digits fold)."""
    for q in ("２０２３年４月～６月の答弁", "令和５年度の答弁", "2023年4月以降に公表された通知"):
        assert rng(normalize(q)) == rng(q) is not None


def dev_queries(name: str) -> list[str]:
    lines = (SHARED_EVAL / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def test_pasted_diet_questions_give_no_filter():
    """Real Diet questions (shared/eval/diet_qa) pasted whole: their dates (一九九七年四月、警察庁は…,
    昨年以降の五件の…事件, 二〇二五年度のプライマリーバランス) time the events they discuss."""
    queries = dev_queries("diet_qa")
    assert any("一九九七年四月、警察庁は" in q for q in queries)
    hinted = [q[:40] for q in queries if parse_date_phrases(q, dt.date(2025, 6, 1)) is not None]
    assert hinted == []


@pytest.mark.parametrize(
    ("sentence", "today", "expected"),
    [
        # single sentences taken from those speeches, as an official might type them
        ("沖縄県警は、昨年以降の五件の性的暴行事件について公表しなかったのか", dt.date(2025, 6, 1),
         ("2024-01-01", None)),
        ("昨年以降、米軍関係以外で県警が公表した性犯罪事件はあるか", dt.date(2025, 6, 1), None),  # 、
        ("一九九七年四月、警察庁は通達を出したか", dt.date(2025, 6, 1), None),
        # a target year while it lies ahead (asked in December 2024)
        ("二〇二五年度のプライマリーバランス黒字化の見通し", dt.date(2024, 12, 10), None),
        ("二〇二三年度の一般会計の概要に関する答弁", dt.date(2024, 12, 10), ("2023-04-01", "2024-03-31")),
        ("昨年四月の農林水産委員会で米の在庫について質問した", dt.date(2025, 3, 1), ("2024-04-01", "2024-04-30")),
    ],
)
def test_sentences_from_real_diet_questions(sentence, today, expected):
    assert rng(sentence, today) == expected


def test_real_nta_questions_describing_the_askers_case_get_no_filter():
    """Taxpayers' questions (shared/eval/nta_faq) date their own circumstances (昨年12月に入院,
    本年11月から店舗用): those say nothing about when the answering sources were written."""
    queries = dev_queries("nta_faq")
    hospital = next(q for q in queries if "昨年12月に病気の治療" in q)
    shop = next(q for q in queries if "本年11月から店舗用" in q)
    assert parse_date_phrases(hospital, TODAY) is None
    assert parse_date_phrases(shop, TODAY) is None
    # one-sentence versions of the same cases
    assert parse_date_phrases("昨年12月に入院した際の保証金は医療費控除の対象か", TODAY) is None
    assert parse_date_phrases("本年6月、A社が土地を無償で返還した場合の課税関係", TODAY) is None
    assert parse_date_phrases("平成18年の医療法改正前に設立された医療法人の取扱い", TODAY) is None
    hinted = [q[:40] for q in queries if parse_date_phrases(q, TODAY) is not None]
    assert hinted == []


def test_module_examples():
    assert doctest.testmod(query_dates).failed == 0


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="令和平成昭和元年度月日から〜～までの以降前後より今昨去一先本0123456789二三十と、。に公表国会", max_size=30))
def test_never_raises_and_bounds_are_ordered(question):
    hint = parse_date_phrases(question, TODAY)
    if hint is not None:
        assert hint.date_from or hint.date_to
        if hint.date_from and hint.date_to:
            assert hint.date_from <= hint.date_to
        assert hint.spans and all(0 <= a < b <= len(question) for a, b in hint.spans)
        assert hint.label
