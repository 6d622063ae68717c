"""Date recognition in Japanese text (西暦 and 元号, arabic and kanji numerals)."""

from __future__ import annotations

import glob
from pathlib import Path
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.text.dates import DateMention, find_dates, first_date, kanji_to_int

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"  # copies of shared/corpus


@pytest.mark.parametrize(
    ("text", "iso", "precision"),
    [
        ("2024年4月1日から施行する", "2024-04-01", "day"),
        ("２０２４年４月１日", "2024-04-01", "day"),
        ("2024/4/1", "2024-04-01", "day"),
        ("2024-04-01", "2024-04-01", "day"),
        ("2024年4月", "2024-04", "month"),
        ("2024年度予算", "2024", "year"),
        ("二〇二四年三月", "2024-03", "month"),
        ("令和6年4月1日", "2024-04-01", "day"),
        ("令和６年４月１日", "2024-04-01", "day"),
        ("令和六年十一月十三日（水曜日）", "2024-11-13", "day"),
        ("令和元年5月1日", "2019-05-01", "day"),
        ("令和元年", "2019", "year"),
        ("平成31年4月30日", "2019-04-30", "day"),
        ("平成三十一年四月三十日", "2019-04-30", "day"),
        ("平成五年法律第八十八号", "1993", "year"),
        ("昭和六十四年一月七日", "1989-01-07", "day"),
        ("昭和21年11月3日", "1946-11-03", "day"),
        ("大正十五年十二月二十五日", "1926-12-25", "day"),
        ("明治元年", "1868", "year"),
        ("R6.4.1付け", "2024-04-01", "day"),
        ("H31/4/30", "2019-04-30", "day"),
    ],
)
def test_recognised(text: str, iso: str, precision: str) -> None:
    mentions = find_dates(text)
    assert len(mentions) == 1
    m = mentions[0]
    assert (m.iso, m.precision) == (iso, precision)
    assert text[m.start : m.end].endswith(("日", "月", "年", "1", "30"))


def test_several_dates_in_order_with_offsets() -> None:
    text = "平成31年4月30日から令和元年5月1日へ。施行日は2024/4/1とする。"
    mentions = find_dates(text)
    assert [m.iso for m in mentions] == ["2019-04-30", "2019-05-01", "2024-04-01"]
    assert [text[m.start : m.end] for m in mentions] == ["平成31年4月30日", "令和元年5月1日", "2024/4/1"]
    assert mentions[0] == DateMention(0, 10, "2019-04-30", "day")


@pytest.mark.parametrize(
    "text",
    ["4月1日", "12024年", "令和0年", "1.2.3", "第12条", "100年に一度", "2024/13/45", "電話 03-1234-5678"],
)
def test_not_dates(text: str) -> None:
    assert find_dates(text) == []


def test_impossible_day_falls_back_to_month() -> None:
    (m,) = find_dates("2024年4月31日")
    assert (m.iso, m.precision) == ("2024-04", "month")
    assert "2024年4月31日"[m.start : m.end] == "2024年4月"


def test_first_date() -> None:
    assert first_date("本日は令和六年七月三十日です。2025年1月1日") == "2024-07-30"
    assert first_date("日付のない文") is None


def test_kanji_to_int() -> None:
    assert kanji_to_int("三十一") == 31
    assert kanji_to_int("十") == 10
    assert kanji_to_int("二〇二四") == 2024
    assert kanji_to_int("二千二十四") == 2024
    assert kanji_to_int("元") == 1
    assert kanji_to_int("１２") == 12
    assert kanji_to_int("42") == 42
    assert kanji_to_int("") is None
    assert kanji_to_int("令和") is None


def test_kokkai_meeting_dates_match_records() -> None:
    """A meeting's record opens with its date in kanji; it must match the API's date field.

    (Not every record opens so: 121505261X001 starts 「本委員は令和六年十一月十三日…選任された」,
    a day before the meeting, and is rightly read as 2024-11-13.)"""
    checked = 0
    for path in glob.glob(str(SAMPLES / "kokkai" / "ndl_speech_*.json")):
        records = json.load(open(path, encoding="utf-8"))["speechRecord"]
        for rec in records:
            if rec["speechOrder"] == 0 and rec["speech"].startswith("令和"):
                assert first_date(rec["speech"]) == rec["date"], rec["speechID"]
                checked += 1
    assert checked >= 3
    assert first_date("本委員は令和六年十一月十三日（水曜日）議長の指名で") == "2024-11-13"


def test_law_number_year() -> None:
    xml = open(SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml", encoding="utf-8").read()
    start = xml.index("<LawNum>") + len("<LawNum>")
    assert first_date(xml[start : start + 20]) == "1993"


@given(st.text(alphabet="令和平成年月日元0123456789一二三十/.-年 。", max_size=40))
def test_mentions_are_ordered_slices(text: str) -> None:
    mentions = find_dates(text)
    last_end = 0
    for m in mentions:
        assert last_end <= m.start < m.end <= len(text)
        last_end = m.end
        assert len(m.iso) == {"day": 10, "month": 7, "year": 4}[m.precision]
