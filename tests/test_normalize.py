"""Normalization, PDF line-wrap joining and CJK space removal on real Japanese text."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.text.normalize import _nfkc, join_wrapped_lines, normalize, remove_cjk_spaces

CORPUS = Path(__file__).resolve().parents[1] / "data_samples"  # copies of shared/corpus
WHITE_PAPER = CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt"
KOKKAI = CORPUS / "kokkai" / "ndl_speech_121313950X00120240730.json"


@pytest.fixture(scope="module")
def white_paper() -> str:
    return WHITE_PAPER.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def speeches() -> list[str]:
    return [r["speech"] for r in json.loads(KOKKAI.read_text(encoding="utf-8"))["speechRecord"]]


def test_width_folding_and_katakana() -> None:
    assert normalize("令和６年度　ＡＢＣ１２３") == "令和6年度 ABC123"
    assert normalize("ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ") == "マイナンバーカード"
    assert normalize("（１）目的") == "(1)目的"


def test_japanese_punctuation_and_circled_numbers_kept() -> None:
    text = "「申請」について、①本人確認。②書類の提出。"
    assert normalize(text) == text
    assert normalize("⑳") == "⑳"


def test_dashes_tildes_spaces_unified() -> None:
    assert normalize("15歳～64歳 と 15歳〜64歳") == "15歳~64歳 と 15歳~64歳"
    assert normalize("第一条—第四条") == "第一条―第四条"
    assert normalize("A‐1 − B–2 －3") == "A-1 - B-2 -3"
    # The katakana long vowel mark is a letter, not a dash.
    assert normalize("データー") == "データー"
    assert normalize("柘植\u3000\u3000芳文君\t\t委員") == "柘植 芳文君 委員"


def test_invisible_and_control_characters_dropped() -> None:
    assert normalize("\ufeff申\u200b請\u00ad書\x07") == "申請書"
    assert normalize("葛\U000e0100飾") == "葛飾"  # ideographic variation selector


def test_lines_and_blank_lines() -> None:
    raw = "  第1章　総則  \r\n\r\n\r\n\r\n\u3000本文です。\r\n\x0c次のページ"
    # A form feed (PDF page break) becomes a line break: here a blank line between pages.
    assert normalize(raw) == "第1章 総則\n\n本文です。\n\n次のページ"


def test_kokkai_speech_header(speeches: list[str]) -> None:
    head = normalize(speeches[0]).split("\n")[:3]
    assert head == ["令和六年七月三十日(火曜日)", "午後一時開会", "─────────────"]


def test_idempotent_on_real_documents(white_paper: str, speeches: list[str]) -> None:
    for text in [white_paper, *speeches[:50]]:
        once = normalize(text)
        assert normalize(once) == once
        assert "\r" not in once and "\u3000" not in once and "  " not in once


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60))
def test_idempotent_property(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_partial_nfkc_matches_unicodedata(text: str) -> None:
    assert _nfkc(text) == unicodedata.normalize("NFKC", text)


# -- join_wrapped_lines -----------------------------------------------------------------------


def test_join_wrapped_lines_pdf_case() -> None:
    assert join_wrapped_lines("令和６年度の\n予算") == "令和６年度の予算"
    assert join_wrapped_lines("令和6年度の \n 予算について") == "令和6年度の予算について"
    assert join_wrapped_lines("令和\n6年度") == "令和6年度"


@pytest.mark.parametrize(
    "text",
    [
        "次のとおりとする。\n本文",  # sentence end
        "申請書を提出すること。」\nと定める",  # 。」 ends the line
        "次の事項\n（１）目的",
        "次の事項\n(1) 目的",
        "次の事項\n一、目的",
        "次の事項\n①本人確認",
        "次の事項\n・本人確認",
        "次の事項\n第5条 目的",
        "次の事項\n第五条　目的",
        "次の事項\n2.1 手続",
        "次の事項\n1　現状と課題",
        "（１）目的\n本法は",  # short heading line
        "段落の終わり\n\n次の段落",
    ],
)
def test_join_wrapped_lines_keeps_real_breaks(text: str) -> None:
    assert join_wrapped_lines(text) == text


def test_join_wrapped_lines_does_not_join_english() -> None:
    assert join_wrapped_lines("digital\ntransformation") == "digital\ntransformation"


def test_join_wrapped_lines_restores_hard_wrapped_white_paper(white_paper: str) -> None:
    """Hard-wrap real paragraphs at 38 characters (as a PDF page does) and join them back."""
    paragraphs = [p for p in white_paper.split("\n") if len(p) > 200 and p.endswith("。")][:40]
    assert len(paragraphs) == 40
    for para in paragraphs:
        wrapped = "\n".join(para[i : i + 38] for i in range(0, len(para), 38))
        joined = join_wrapped_lines(wrapped)
        assert joined.replace("\n", "") == para
        # Every break left is one the contract keeps: after a sentence end, before a marker, or
        # next to a non-Japanese character (an English word may be wrapped with a hyphen-less
        # break that must not be glued).
        for m in re.finditer("\n", joined):
            before, after = joined[: m.start()], joined[m.end() :]
            if before[-1].isascii() and not before[-1].isdigit() or after[0].isascii() and not after[0].isdigit():
                continue
            assert before.rstrip("」』)）")[-1] in "。！？!?:：" or re.match(
                r"[（(【・①-⑳第0-9０-９一二三四五六七八九十]", after
            ), (before[-20:], after[:20])
        assert joined.count("\n") <= para.count("。")


# -- remove_cjk_spaces ------------------------------------------------------------------------


def test_remove_cjk_spaces() -> None:
    assert remove_cjk_spaces("デジタル 社会の 実現に 向けた") == "デジタル社会の実現に向けた"
    assert remove_cjk_spaces("第1章 総則 について") == "第1章 総則について"
    assert remove_cjk_spaces("(1) 目的 と 範囲") == "(1) 目的と範囲"
    assert remove_cjk_spaces("AI と IoT の 活用") == "AI と IoT の活用"
    assert remove_cjk_spaces("令和 6 年度") == "令和 6 年度"  # digits are not Japanese characters
