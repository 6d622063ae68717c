"""The e-Gov law readers on the real law files in data_samples/laws (copies of shared/corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.readers.laws import (
    article_num_from_title,
    kanji_to_int,
    looks_like_egov_html,
    looks_like_egov_xml,
    read_egov_html,
    read_egov_xml,
    wareki_to_iso,
)
from retrieval.errors import ReaderError

LAWS = Path(__file__).resolve().parents[1] / "data_samples" / "laws"
GYOTE_XML = LAWS / "405AC0000000088_20240401_504AC0100000052.xml"  # 行政手続法
JOHO_HTML = LAWS / "411AC0000000042_20220401_503AC0000000037.html"  # 情報公開法
KOJIN_HTML = LAWS / "415AC0000000057_20250601_504AC0000000068.html"  # 個人情報保護法


def _main(doc):
    return [s for s in doc.sections if not s.meta["supplementary"] and not s.meta.get("appendix")]


def _article(doc, title):
    return next(s for s in _main(doc) if s.meta["article"] == title)


@pytest.fixture(scope="module")
def gyote():
    return read_egov_xml(GYOTE_XML)


@pytest.fixture(scope="module")
def kojin():
    return read_egov_html(KOJIN_HTML)


def test_xml_document_fields(gyote):
    assert gyote.doc_id == "law:405AC0000000088"
    assert gyote.title == "行政手続法" and gyote.doc_type == "law"
    assert gyote.date == "2024-04-01"  # the version date from the file name
    assert gyote.source_url == "https://laws.e-gov.go.jp/law/405AC0000000088"
    meta = gyote.metadata
    assert meta["law_number"] == "平成五年法律第八十八号"
    assert meta["law_id"] == "405AC0000000088"
    assert meta["version"] == "405AC0000000088_20240401_504AC0100000052"
    assert meta["promulgation_date"] == "1993-11-12"  # Era=Heisei Year=05 11/12
    assert meta["law_abbrev"] == "行手法"


def test_xml_one_section_per_article_with_branch_numbers(gyote):
    main = _main(gyote)
    assert len(main) == 48  # 第一条〜第四十六条, plus 第三十六条の二 and の三
    nums = [s.meta["article_num"] for s in main]
    assert nums[:3] == ["1", "2", "3"] and "36_2" in nums and "36_3" in nums and nums[-1] == "46"
    first = main[0]
    assert first.heading == "第一章 総則 > 第一条"
    assert first.meta == {
        "article": "第一条", "article_num": "1", "article_caption": "（目的等）",
        "chapter": "第一章 総則", "supplementary": False,
    }
    lines = first.text.split("\n")
    assert lines[0] == "第一条（目的等）"
    assert lines[1].startswith("この法律は、処分、行政指導及び届出に関する手続")
    assert lines[2].startswith("２　処分、行政指導及び届出に関する手続")


def test_xml_items_subitems_columns_and_nested_headings(gyote):
    art2 = _article(gyote, "第二条")
    lines = art2.text.split("\n")
    assert lines[0] == "第二条（定義）"
    assert "一　法令　法律、法律に基づく命令（告示を含む。）" in art2.text  # Column -> 「　」
    assert any(line.startswith("イ　事実上の行為") for line in lines)  # 号の細分 on its own line
    hearing = _article(gyote, "第十五条")
    assert hearing.heading == "第三章 不利益処分 > 第二節 聴聞 > 第十五条"
    assert hearing.meta["article_caption"] == "（聴聞の通知の方式）"
    branch = _article(gyote, "第三十六条の三")
    assert branch.heading == "第四章の二 処分等の求め > 第三十六条の三"
    assert branch.meta["article_num"] == "36_3"


def test_xml_supplementary_provisions_are_marked(gyote):
    suppl = [s for s in gyote.sections if s.meta["supplementary"]]
    assert len(suppl) == 23
    original = suppl[0]  # the original 附則 has paragraphs only
    assert original.heading == "附則" and original.text.startswith("（施行期日）\n１　この法律は、")
    amended = next(s for s in suppl if s.meta.get("amend_law_num") == "平成一一年一二月八日法律第一五一号")
    assert amended.heading == "附則（平成一一年一二月八日法律第一五一号） > 第一条"
    assert amended.text == "第一条（施行期日）\nこの法律は、平成十二年四月一日から施行する。"
    without = read_egov_xml(GYOTE_XML, include_supplementary=False)
    assert len(without.sections) == 48


def test_html_law_with_sections_subsections_tables(kojin):
    assert kojin.doc_id == "law:415AC0000000057"
    assert kojin.title == "個人情報の保護に関する法律"
    assert kojin.metadata["law_number"] == "平成十五年法律第五十七号"
    assert kojin.date == "2025-06-01"
    main = _main(kojin)
    assert len(main) == 185 and main[-1].meta["article"] == "第百八十五条"
    art76 = _article(kojin, "第七十六条")
    assert art76.heading == "第五章 行政機関等の義務等 > 第四節 開示、訂正及び利用停止 > 第一款 開示 > 第七十六条"
    assert art76.meta["chapter"] == "第五章 行政機関等の義務等"
    art7 = _article(kojin, "第七条")  # under the 「Sectiot」-classed first 節 of the page
    assert art7.heading == "第三章 個人情報の保護に関する施策等 > 第一節 個人情報の保護に関する基本方針 > 第七条"
    art48 = _article(kojin, "第四十八条")
    assert "\nイ　拘禁刑以上の刑に処せられ" in art48.text and art48.meta["article_caption"] == "（欠格条項）"
    art106 = _article(kojin, "第百六条")  # a 読替え table inside the article: one line per row
    assert "第四十一条第三項　審理員が　審査庁が" in art106.text
    appendix = [s for s in kojin.sections if s.meta.get("appendix")]
    assert [s.heading for s in appendix][0] == "別表第一（第二条関係）"
    assert "沖縄科学技術大学院大学学園　沖縄科学技術大学院大学学園法" in appendix[0].text


def test_html_law_articles_match_their_titles():
    doc = read_egov_html(JOHO_HTML)
    assert doc.title == "行政機関の保有する情報の公開に関する法律"
    assert doc.metadata["law_number"] == "平成十一年法律第四十二号"
    assert doc.metadata["promulgation_date"] is None  # the page does not state it
    main = _main(doc)
    assert len(main) == 27
    assert [s.meta["article_num"] for s in main][11:14] == ["12", "12_2", "13"]
    art5 = _article(doc, "第五条")
    assert art5.meta["article_caption"] == "（行政文書の開示義務）"
    assert art5.text.startswith("第五条（行政文書の開示義務）\n行政機関の長は、開示請求があったときは、")
    assert "\nイ　法令の規定により又は慣行として公にされ" in art5.text  # 号の細分
    assert "\n一の二　個人情報の保護に関する法律" in art5.text  # branch item
    suppl = [s for s in doc.sections if s.meta["supplementary"]]
    assert suppl[0].heading == "附則" and suppl[0].text.startswith("１　この法律は、公布の日から起算して二年")
    assert suppl[1].heading == "附則（平成一一年七月一六日法律第一〇二号） > 第一条"


def test_xml_and_html_share_the_text_layout(gyote, kojin):
    for doc in (gyote, kojin):
        for section in _main(doc):
            first = section.text.split("\n", 1)[0]
            assert first == f"{section.meta['article']}{section.meta['article_caption'] or ''}"
            assert section.heading.endswith(section.meta["article"])
            assert "_shokan" not in section.text and "  " not in section.text


def test_numbers_and_dates():
    assert kanji_to_int("三十六") == 36 and kanji_to_int("千三百五") == 1305 and kanji_to_int("一〇二") == 102
    assert article_num_from_title("第二十七条の二十二の二") == "27_22_2"
    assert article_num_from_title("第百八十五条") == "185"
    assert article_num_from_title("附則") is None
    assert wareki_to_iso("令和６年８月１日現在の法令") == "2024-08-01"
    assert wareki_to_iso("平成五年十一月十二日") == "1993-11-12"
    assert wareki_to_iso("令和元年五月一日") == "2019-05-01"
    assert wareki_to_iso("2024年8月1日") is None


def test_sniffers_with_the_dispatchers_8kb_head():
    head = lambda p: p.read_bytes()[:8192]  # noqa: E731
    assert looks_like_egov_xml(head(GYOTE_XML))
    assert looks_like_egov_html(head(JOHO_HTML)) and looks_like_egov_html(head(KOJIN_HTML))
    assert looks_like_egov_html(JOHO_HTML.read_bytes())  # body markers in a whole page
    samples = LAWS.parent
    assert not looks_like_egov_xml(head(samples / "kokkai" / "ndl_meeting_api_212-plane.xml"))
    assert not looks_like_egov_html(b"<html><head><title>x</title></head><body><p>a</p></body></html>")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GYOTE_XML.read_bytes()[:20000], "途中で切れて"),
        (b"", "空です"),
        (b"<data><records/></data>", "<Law> 要素がありません"),
        (b"<Law><LawNum>x</LawNum></Law>", "<LawBody>"),
        ("<Law><LawBody><LawTitle>某法</LawTitle><MainProvision/></LawBody></Law>".encode(), "本則（条文）が見つかりません"),
    ],
)
def test_bad_xml(tmp_path, content, expected):
    path = tmp_path / "405AC0000000088_20240401_504AC0100000052.xml"
    path.write_bytes(content)
    with pytest.raises(ReaderError) as err:
        read_egov_xml(path)
    assert expected in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (JOHO_HTML.read_bytes()[:60000], "途中で切れています"),
        ("<html><body><p>お知らせ</p></body></html>".encode(), "MainProvision"),
        ("<html><body>".encode("utf-8") + "法律".encode("cp932") + b"</body></html>", "UTF-8"),
    ],
)
def test_bad_html(tmp_path, content, expected):
    path = tmp_path / "law.html"
    path.write_bytes(content)
    with pytest.raises(ReaderError) as err:
        read_egov_html(path)
    assert expected in str(err.value)


def test_file_without_egov_name_falls_back_to_stem_and_promulgation_date(tmp_path):
    path = tmp_path / "gyote.xml"
    path.write_bytes(GYOTE_XML.read_bytes())
    doc = read_egov_xml(path)
    assert doc.doc_id == "law:gyote" and doc.source_url is None
    assert doc.date == "1993-11-12" and doc.metadata["version"] is None


@pytest.mark.parametrize("source", [GYOTE_XML, JOHO_HTML])
def test_damaged_law_files_raise_only_reader_error(tmp_path, source):
    """Truncated or byte-damaged copies of real law files: a Document or ReaderError, nothing else."""
    data = source.read_bytes()
    reader = read_egov_xml if source.suffix == ".xml" else read_egov_html
    for i, cut in enumerate(range(1, len(data), max(1, len(data) // 25))):
        damaged = bytearray(data[:cut] if i % 2 else data)
        if not i % 2:
            damaged[cut] = (damaged[cut] + 0x41) % 256
        path = tmp_path / source.name
        path.write_bytes(bytes(damaged))
        try:
            reader(path)
        except ReaderError:
            pass
