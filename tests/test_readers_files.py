"""Readers for PDF, Word, HTML, Markdown and text files: real documents and bad input.

Generated fixtures (PDF and .doc made by LibreOffice, encrypted PDF by pypdf, scans by pypdfium2)
are built in tmp directories; the real documents come from data_samples/ (copies of shared/corpus).
"""

from __future__ import annotations

import os
import shutil
import socket
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from ingest.readers import files
from ingest.readers.file_common import sniff
from ingest.readers.office import convert_with_libreoffice
from ingest.readers.pdf import join_lines
from ingest.readers.text import HeadingDetector, iter_text_sections
from retrieval.errors import ReaderError

CORPUS = Path(__file__).resolve().parents[1] / "data_samples"  # copies of shared/corpus
DA = CORPUS / "digital_agency"
PDF_REAL = DA / "451-4-1_institution_datamodel_class_diagram.pdf"
DOCX_OVERVIEW = DA / "430_core_datamodel_overview.docx"
DOCX_PROCUREMENT = DA / "451-8_impl_datamodel_procurement.docx"
WHITE_PAPER = CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt"
LAW_HTML = CORPUS / "laws" / "411AC0000000042_20220401_503AC0000000037.html"

JAPANESE = "漢字かなカナ"


def assert_reader_error(exc: ReaderError, path: Path, *fragments: str) -> None:
    """A ReaderError names the file and gives a Japanese cause containing ``fragments``."""
    assert isinstance(exc, ReaderError)
    assert exc.path == str(path)
    assert str(exc).startswith(str(path) + ": ")
    assert any(ch in JAPANESE or "\u3040" <= ch <= "\u9fff" for ch in exc.reason), exc.reason
    for fragment in fragments:
        assert fragment in exc.reason, exc.reason


def section_by_heading(doc, heading: str):
    matches = [s for s in doc.sections if s.heading == heading]
    assert matches, [s.heading for s in doc.sections]
    return matches[0]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lo_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("libreoffice")


@pytest.fixture(scope="module")
def overview_pdf(lo_dir: Path) -> Path:
    """The 430 overview docx rendered to PDF by LibreOffice (14 pages of Japanese)."""
    work = lo_dir / "pdf"
    work.mkdir()
    return convert_with_libreoffice(DOCX_OVERVIEW, "pdf", work)


@pytest.fixture(scope="module")
def procurement_doc(lo_dir: Path) -> Path:
    """The 451-8 docx saved as an old Word 97 .doc by LibreOffice, under an awkward name."""
    work = lo_dir / "doc"
    work.mkdir()
    made = convert_with_libreoffice(DOCX_PROCUREMENT, "doc", work)
    target = lo_dir / "調達 データモデル (令和7年).doc"
    shutil.copyfile(made, target)
    return target


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if anything tries to open a network connection."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --------------------------------------------------------------------------- unstructured offline


def test_ensure_offline_sets_only_unset_variables_and_patches_spacy(monkeypatch):
    from ingest.readers import unstructured_offline as uo

    monkeypatch.setattr(uo, "_done", False)
    monkeypatch.setenv("DO_NOT_TRACK", "yes")
    monkeypatch.delenv("UNSTRUCTURED_DISABLE_NOTICE", raising=False)
    uo.ensure_offline()
    uo.ensure_offline()  # idempotent
    assert os.environ["DO_NOT_TRACK"] == "yes"
    assert os.environ["UNSTRUCTURED_DISABLE_NOTICE"] == "1"
    assert uo.is_patched()
    from unstructured.nlp import tokenize

    nlp = tokenize._get_nlp()
    assert nlp.lang == "xx" and "sentencizer" in nlp.pipe_names


def test_unstructured_partitions_every_format_offline(tmp_path, no_network):
    """Guards the private-function patch: unstructured is pinned, this must keep passing."""
    from ingest.readers.unstructured_offline import ensure_offline

    ensure_offline()
    from unstructured.partition.docx import partition_docx
    from unstructured.partition.html import partition_html
    from unstructured.partition.md import partition_md
    from unstructured.partition.text import partition_text

    txt = tmp_path / "a.txt"
    txt.write_text("行政文書の開示請求について説明します。\n\n手数料は三百円です。", encoding="utf-8")
    html = tmp_path / "a.html"
    html.write_text("<html><body><h1>開示請求</h1><p>手数料は三百円です。</p></body></html>", encoding="utf-8")
    texts = {
        "txt": " ".join(e.text for e in partition_text(filename=str(txt))),
        "html": " ".join(e.text for e in partition_html(filename=str(html))),
        "md": " ".join(e.text for e in partition_md(filename=str(DA / "499_appendix_FAQ.md"))),
        "docx": " ".join(e.text for e in partition_docx(filename=str(DOCX_PROCUREMENT))),
    }
    assert "手数料は三百円です。" in texts["txt"]
    assert "開示請求" in texts["html"] and "手数料は三百円です。" in texts["html"]
    assert "現時点でデータ長は定義していません。" in texts["md"]
    assert "行政機関は国内最大の調達機関であり" in texts["docx"]


# --------------------------------------------------------------------------- real documents


def test_real_pdf_class_diagram():
    doc = files.read_pdf(PDF_REAL, "da/451-4-1.pdf")
    assert doc.doc_id == "da/451-4-1.pdf" and doc.doc_type == "other"
    assert doc.title == "451-4-1_制度データモデル_クラス図"  # from the PDF metadata, ".pdf" cut
    assert [s.page for s in doc.sections] == [1]
    text = doc.sections[0].text
    assert "ad:制度所管組織" in text and "pd:連絡先メールアドレス" in text
    assert "ad:制度\nad:制度所管組織" in text  # short diagram labels are not glued together
    assert doc.metadata["pages"] == 1


def test_libreoffice_pdf_reading_order_pages_and_joined_lines(overview_pdf: Path):
    doc = files.read_pdf(overview_pdf, "overview.pdf")
    pages = [s.page for s in doc.sections]
    assert pages == sorted(pages) and pages[0] == 1 and len(pages) >= 10
    first = doc.sections[0].text
    assert "コアデータモデル全体概要" in first and "2026年（令和8年）3月17日" in first
    body = next(s for s in doc.sections if "行政機関では多くのデータ" in s.text)
    assert body.page == 4
    # A wrapped paragraph comes back as one line, in reading order, without stray spaces.
    assert "行政機関では多くのデータを管理していますが、そのデータは独自の形式である場合が多く、標準化されていません。" in body.text
    assert "そのため、データの再利用が困難であったり、外部とのデータ連携においても大きな障害になっています。" in body.text
    # Headings and list items keep their own lines.
    assert "\n1.2 解決したい課題\n" in body.text


def test_real_docx_overview_headings_and_table():
    doc = files.read_docx(DOCX_OVERVIEW, "da/430.docx")
    assert doc.title == "コアデータモデル全体概要"
    background = section_by_heading(doc, "1 はじめに > 1.1 背景")
    assert background.text.startswith("行政機関では多くのデータを管理していますが")
    section_by_heading(doc, "2 全体像 > 2.1 ドキュメントの構成 > 1) コアデータモデル解説書")
    front = section_by_heading(doc, "コアデータモデル全体概要")  # subtitle lines stay as text
    assert "2026年（令和8年）3月17日" in front.text and "デジタル庁" in front.text
    table = next(s for s in doc.sections if "プレフィックス | 説明" in s.text)
    assert "pd | コアデータモデル\nad | 実装データモデル（行政）" in table.text


def test_real_docx_procurement_tables_with_merged_cells():
    doc = files.read_docx(DOCX_PROCUREMENT, "da/451-8.docx")
    assert doc.title == "実装データモデル（行政） 調達"
    assert section_by_heading(doc, "背景と課題 > 背景").text.startswith("行政機関は国内最大の調達機関であり")
    section_by_heading(doc, "目的と概要 > 概要 > 1) 入札公告")
    table = section_by_heading(doc, "データ > 公告管理情報").text
    assert "データ項目名 | 英語表記 | 説明 | 備考" in table
    # The row-spanning group cell is repeated on every row it covers.
    assert "公告内容 | 公示種別 | Procedure_type | 一般競争入札等の公示の種別を記入。" in table
    assert "公告内容 | カテゴリー | Category | 物品役務、工事等のカテゴリーを記入。" in table


def test_old_word_doc_through_libreoffice(procurement_doc: Path):
    doc = files.read_doc(procurement_doc, "調達.doc")
    assert doc.title == "実装データモデル（行政） 調達"
    assert doc.source_path == str(procurement_doc)
    assert section_by_heading(doc, "背景と課題 > 背景").text.startswith("行政機関は国内最大の調達機関であり")
    assert any("公示種別 | Procedure_type" in s.text for s in doc.sections)


def test_doc_without_libreoffice_says_it_is_needed(procurement_doc: Path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ReaderError) as err:
        files.read_doc(procurement_doc, "x")
    assert_reader_error(err.value, procurement_doc, ".doc形式の読み込みにはLibreOfficeが必要です")


@pytest.mark.parametrize(
    ("name", "title", "heading", "start"),
    [
        ("464-1_guidebook_api.md", "API導入実践ガイドブック", "1. はじめに > 1.1. 背景と目的", "各府省では、"),
        ("468-1_guidebook_dataquality.md", "データ品質管理ガイドブック", "1. 背景と課題、目的、価値、方針 > 1.2. 目的", "ありたい姿として、"),
        ("499_appendix_FAQ.md", "政府相互運用性フレームワーク FAQ", "1. 全般的事項 > 1.1. データ長は規定しないのですか。", "現時点でデータ長は定義していません。"),
    ],
)
def test_real_markdown(name, title, heading, start):
    doc = files.read_md(DA / name, f"da/{name}")
    assert doc.title == title
    assert section_by_heading(doc, heading).text.startswith(start)
    history = section_by_heading(doc, "改訂履歴").text
    assert history.startswith("改訂年月日 | 改訂箇所 | 改訂内容\n")
    assert not any(s.heading == "目次" for s in doc.sections)  # link-only TOC dropped
    everything = "\n".join(s.text + s.heading for s in doc.sections)
    for noise in ("<!--", "](#", "<img", "<figure", "|---", "-----"):
        assert noise not in everything


def test_markdown_figure_caption_kept_and_html_dropped():
    doc = files.read_md(DA / "468-1_guidebook_dataquality.md", "x")
    policy = section_by_heading(doc, "1. 背景と課題、目的、価値、方針 > 1.4. 方針").text
    assert "図 2\u3000データ品質管理フレームワーク" in policy
    assert "style=" not in policy


def test_real_white_paper_text():
    doc = files.read_txt(WHITE_PAPER, "wp/r05.txt")
    assert doc.title == "第5章 総務省におけるICT政策の取組状況"
    assert doc.metadata["encoding"] == "utf-8"
    first = doc.sections[0]
    assert first.heading == (
        "第5章 総務省におけるICT政策の取組状況 > 第1節 総合的なICT政策の推進 > 1 現状と課題 > （1） 少子高齢化、人口減少の進行"
    )
    assert first.text.startswith("我が国では少子高齢化が進行しており")
    headings = {s.heading for s in doc.sections}
    assert any(h.endswith("第2節 電気通信事業政策の動向 > 1 概要 > （1） これまでの取組") for h in headings)
    assert any(h.endswith("> ア AIと人間の協働（AIエージェント）") for h in headings)
    # A footnote numbered "8" out of sequence is not a heading.
    assert not any("電気通信事故検証会議周知広報・連絡体制ワーキンググループ取りまとめ" in h for h in headings)
    assert all(len(s.text) <= 20_000 for s in doc.sections)
    total = sum(len(s.text) for s in doc.sections)
    assert total > 0.9 * len(WHITE_PAPER.read_text(encoding="utf-8"))


def test_real_law_page_as_plain_html():
    doc = files.read_html(LAW_HTML, "law.html")
    assert doc.title == "行政機関の保有する情報の公開に関する法律"
    text = "\n".join(s.text for s in doc.sections)
    assert "第一条" in text and "国民主権の理念にのっとり" in text
    assert "margin" not in text and "{" not in text  # the inline stylesheet is gone


# --------------------------------------------------------------------------- encodings


SAMPLE = "第１章　総則\n\n（目的）\nこの規程は、行政文書の管理について定める。ｶﾀｶﾅも含む。\n"


@pytest.mark.parametrize(("encoding", "label"), [("cp932", "cp932"), ("euc_jp", "euc-jp"), ("utf-8-sig", "utf-8-sig")])
def test_text_encodings_decode_correctly(tmp_path, encoding, label):
    path = tmp_path / f"{label}.txt"
    extra = "髙﨑①" if encoding == "cp932" else ""  # CP932-only (NEC/IBM) characters
    path.write_bytes((SAMPLE + extra).encode(encoding))
    doc = files.read_txt(path, "x")
    assert doc.metadata["encoding"] == label
    text = "\n".join(s.text for s in doc.sections)
    assert "この規程は、行政文書の管理について定める。ｶﾀｶﾅも含む。" in text
    assert "\ufeff" not in text and extra in text
    assert doc.title == "第１章 総則"


def test_utf16_text_with_bom(tmp_path):
    path = tmp_path / "utf16.txt"
    path.write_bytes(SAMPLE.encode("utf-16"))
    assert "行政文書の管理" in files.read_txt(path, "x").sections[0].text


def test_html_charset_from_meta_and_detected(tmp_path):
    body = "<html><head>{meta}<title>通知</title></head><body><p>開示請求の手数料は三百円です。</p></body></html>"
    sjis = tmp_path / "sjis.html"
    sjis.write_bytes(body.format(meta='<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">').encode("cp932"))
    euc = tmp_path / "euc.html"
    euc.write_bytes(body.format(meta="").encode("euc_jp"))
    for path, enc in ((sjis, "cp932"), (euc, "euc-jp")):
        doc = files.read_html(path, "x")
        assert doc.metadata["encoding"] == enc
        assert doc.title == "通知"
        assert doc.sections[0].text == "開示請求の手数料は三百円です。"


def test_markdown_in_cp932(tmp_path):
    path = tmp_path / "memo.md"
    path.write_bytes("# 事務連絡\n\n## 1. 概要\n\n本日の会議は中止です。\n".encode("cp932"))
    doc = files.read_md(path, "x")
    assert doc.title == "事務連絡"
    assert section_by_heading(doc, "1. 概要").text == "本日の会議は中止です。"


# --------------------------------------------------------------------------- HTML noise


NOISY_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>お知らせ | テスト省</title>
<style>body { color: red } .menu { display: none }</style>
<script>var tracking = "トラッキングコード"; if (1 < 2) { alert("広告"); }</script>
<script type="application/ld+json">{"@type": "構造化データ"}</script>
</head><body>
<header><h1>テスト省ロゴ</h1><nav><ul><li>ホーム</li><li>サイトマップ</li></ul></nav></header>
<div role="navigation">パンくずリスト</div>
<main>
<h1>マイナンバーカードの交付について</h1>
<p>マイナンバーカードは、
市区町村の窓口で交付します。<b>本人確認</b>が必要です。</p>
<div style="display: none">隠しテキスト</div>
<h2>1 必要なもの</h2>
<ul><li>交付通知書</li><li>本人確認書類</li></ul>
<table><tr><th>書類</th><th>備考</th></tr><tr><td>運転免許証</td><td>有効期限内</td></tr></table>
<form><label>キーワード検索</label><input value="検索語"><button>検索</button></form>
<noscript>JavaScriptを有効にしてください</noscript>
<h3>1.1 代理人の場合</h3><p>委任状が必要です。<br>詳しくは窓口へ。</p>
</main>
<aside>関連リンク</aside>
<footer>Copyright テスト省</footer>
<script src="x.js"></script>
</body></html>
"""


def test_html_noise_is_dropped(tmp_path):
    path = tmp_path / "notice.html"
    path.write_text(NOISY_HTML, encoding="utf-8")
    doc = files.read_html(path, "notice.html")
    assert doc.title == "マイナンバーカードの交付について"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("マイナンバーカードの交付について", "マイナンバーカードは、市区町村の窓口で交付します。本人確認が必要です。"),
        ("1 必要なもの", "交付通知書\n本人確認書類\n書類 | 備考\n運転免許証 | 有効期限内"),
        ("1 必要なもの > 1.1 代理人の場合", "委任状が必要です。\n詳しくは窓口へ。"),
    ]


def test_html_without_main_reads_body_headings(tmp_path):
    path = tmp_path / "plain.html"
    path.write_text(
        "<html><head><title>通達一覧</title></head><body><h2>第1 趣旨</h2><p>本通達は…</p>"
        "<h2>第2 内容</h2><h3>(1) 対象</h3><p>全職員</p></body></html>",
        encoding="utf-8",
    )
    doc = files.read_html(path, "x")
    assert doc.title == "通達一覧"  # no h1: the <title>
    assert [s.heading for s in doc.sections] == ["第1 趣旨", "第2 内容 > (1) 対象"]


# --------------------------------------------------------------------------- Word made here


def test_generated_docx_heading_levels_and_merged_table(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("事務処理要領", style="Title")
    d.add_paragraph("令和6年4月1日", style="Subtitle")
    d.add_heading("第1 総則", level=1)
    d.add_paragraph("この要領は、事務の処理について定める。")
    d.add_heading("1 目的", level=2)
    d.add_paragraph("適正な事務処理を目的とする。")
    d.add_heading("(1) 細目", level=4)  # a skipped level must not break the path
    d.add_paragraph("細目を定める。")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["区分", "項目", "期限"], ["申請", "様式1", "10日"], ["", "様式2", "20日"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))
    d.add_heading("第2 手続", level=1)
    d.add_paragraph("手続を定める。")
    path = tmp_path / "要領 (案).docx"
    d.save(path)

    doc = files.read_docx(path, "x")
    assert doc.title == "事務処理要領"
    assert [(s.heading, s.text.split("\n")[0]) for s in doc.sections] == [
        ("事務処理要領", "令和6年4月1日"),
        ("第1 総則", "この要領は、事務の処理について定める。"),
        ("第1 総則 > 1 目的", "適正な事務処理を目的とする。"),
        ("第1 総則 > 1 目的 > (1) 細目", "細目を定める。"),
        ("第2 手続", "手続を定める。"),
    ]
    assert "区分 | 項目 | 期限\n申請 | 様式1 | 10日\n申請 | 様式2 | 20日" in doc.sections[3].text


def test_docx_without_title_style_uses_first_heading(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("会議録の作成について", level=1)
    d.add_paragraph("本文です。")
    path = tmp_path / "memo.docx"
    d.save(path)
    assert files.read_docx(path, "x").title == "会議録の作成について"


# --------------------------------------------------------------------------- large text


def test_fifty_megabyte_text_is_streamed_with_bounded_memory(tmp_path):
    path = tmp_path / "大きな ファイル.txt"
    paragraph = "行政機関の保有する情報の公開に関する法律に基づき、開示請求の手続を説明します。" * 5
    marker_count = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            if marker_count % 400 == 0:
                fh.write(f"第{marker_count // 400 + 1}章　説明\n")
            fh.write(paragraph + "\n\n")
            marker_count += 1
    size = path.stat().st_size
    assert size >= 50 * 1024 * 1024

    tracemalloc.start()
    try:
        doc, sections = files.read_txt_stream(path, "big.txt")
        count = chars = largest = 0
        for section in sections:
            count += 1
            chars += section.text.count("開示請求の手続を説明します。")
            largest = max(largest, len(section.text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert doc.title == "第1章 説明" and doc.sections == []
    assert chars == marker_count * 5  # nothing lost
    assert largest <= 20_000 and count > 1000
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"


def test_single_huge_line_is_cut_into_bounded_sections(tmp_path):
    path = tmp_path / "one_line.txt"
    path.write_text("あ" * 50_000, encoding="utf-8")
    sections = list(iter_text_sections(path, max_chars=1000))
    assert all(len(s.text) <= 1000 for s in sections)
    assert sum(len(s.text) for s in sections) == 50_000


def test_heading_detector_is_conservative():
    detector = HeadingDetector()
    assert detector.level("第１章　総則") == 2
    assert detector.level("１　目的") == 5
    assert detector.level("（１）　定義") == 6
    assert detector.level("ア　対象") == 7
    assert detector.level("２　範囲") == 5
    assert detector.level("８　電気通信事故検証会議の取りまとめ") is None  # out of sequence: a footnote
    assert detector.level("３　この規程は、公布の日から施行する。") is None  # a sentence
    assert detector.level("第４章第２節「電気通信分野の動向」を参照") is None


def test_pdf_line_joining():
    raw = "第 1 章 総則\r\n" + "令和 6 年度の予算について説明します。これは長い文章であり、行の折り返しが発生" + "\r\n" + "しています。\r\n・項目\r\n"
    raw = raw + "あ" * 30 + "\r\n" + "い" * 30 + "\r\n"
    out = join_lines(raw)
    assert out.startswith("第1章総則\n令和6年度の予算について")
    assert "行の折り返しが発生しています。" in out
    assert "\n・項目\n" in out


# --------------------------------------------------------------------------- bad input


READERS = {".pdf": files.read_pdf, ".docx": files.read_docx, ".doc": files.read_doc,
           ".html": files.read_html, ".md": files.read_md, ".txt": files.read_txt}


@pytest.mark.parametrize("suffix", sorted(READERS))
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"空 ファイル{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ReaderError) as err:
        READERS[suffix](path, "x")
    assert_reader_error(err.value, path, "ファイルが空です")


@pytest.mark.parametrize("suffix", sorted(READERS))
def test_missing_file_and_directory(tmp_path, suffix):
    missing = tmp_path / f"ない{suffix}"
    with pytest.raises(ReaderError) as err:
        READERS[suffix](missing, "x")
    assert_reader_error(err.value, missing, "見つかりません")
    folder = tmp_path / f"フォルダ{suffix}"
    folder.mkdir()
    with pytest.raises(ReaderError) as err:
        READERS[suffix](folder, "x")
    assert_reader_error(err.value, folder, "フォルダ")


@pytest.mark.parametrize(
    ("suffix", "content", "fragment"),
    [
        (".pdf", "これはテキストです。".encode(), "中身はPDFではなくテキスト"),
        (".pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG画像"),
        (".docx", b"%PDF-1.7\n%%EOF", "中身はWord文書(.docx)ではなくPDF"),
        (".txt", b"%PDF-1.7\n1 0 obj\n", "中身はテキストではなくPDF"),
        (".txt", b"PK\x03\x04" + b"\x14" * 40, "ZIP形式"),
        (".md", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "旧形式のOfficeファイル"),
        (".html", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "JPEG画像"),
        (".doc", "ただのテキスト".encode(), "テキスト"),
    ],
)
def test_content_not_matching_extension(tmp_path, suffix, content, fragment):
    path = tmp_path / f"mismatch{suffix}"
    path.write_bytes(content)
    with pytest.raises(ReaderError) as err:
        READERS[suffix](path, "x")
    assert_reader_error(err.value, path, fragment)


def test_zip_that_is_not_word(tmp_path):
    path = tmp_path / "表.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ReaderError) as err:
        files.read_docx(path, "x")
    assert_reader_error(err.value, path, "Excelファイル")


def test_truncated_docx(tmp_path):
    path = tmp_path / "途中まで.docx"
    path.write_bytes(DOCX_PROCUREMENT.read_bytes()[:20_000])
    with pytest.raises(ReaderError) as err:
        files.read_docx(path, "x")
    assert_reader_error(err.value, path, "壊れている")


def test_password_protected_docx(tmp_path):
    # What Word writes for a protected .docx: an OLE2 container with an EncryptedPackage stream.
    path = tmp_path / "秘.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 500)
    with pytest.raises(ReaderError) as err:
        files.read_docx(path, "x")
    assert_reader_error(err.value, path, "パスワードで保護された")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_pdf(tmp_path, fraction):
    data = PDF_REAL.read_bytes()
    path = tmp_path / "途中.pdf"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ReaderError) as err:
        files.read_pdf(path, "x")
    assert_reader_error(err.value, path, "壊れているか、途中で切れています")


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    with pytest.raises(ReaderError) as err:
        files.read_pdf(path, "x")
    assert_reader_error(err.value, path, "壊れている")


def test_encrypted_pdf(tmp_path, overview_pdf: Path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(overview_pdf))
    # RC4: pypdf's pure-Python fallback (AES would need the cryptography package).
    writer.encrypt(user_password="himitsu", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "秘密 資料.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(ReaderError) as err:
        files.read_pdf(path, "x")
    assert_reader_error(err.value, path, "パスワードで保護されたPDFは読み込めません")


def test_owner_password_only_pdf_is_readable(tmp_path, overview_pdf: Path):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(overview_pdf))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")  # print/copy limits only
    path = tmp_path / "制限付き.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    assert "コアデータモデル全体概要" in files.read_pdf(path, "x").sections[0].text


def test_scanned_pdf_without_text_layer(tmp_path):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    image = pdfium.PdfImage.new(pdf)
    bitmap = pdfium.PdfBitmap.new_native(200, 100, pdfium_c.FPDFBitmap_BGR)
    bitmap.fill_rect((0, 0, 0, 255), 10, 10, 50, 20)
    image.set_bitmap(bitmap)
    image.set_matrix(pdfium.PdfMatrix().scale(400, 200))
    page.insert_obj(image)
    page.gen_content()
    path = tmp_path / "スキャン.pdf"
    pdf.save(path)
    with pytest.raises(ReaderError) as err:
        files.read_pdf(path, "x")
    assert_reader_error(err.value, path, "テキストが含まれていません", "OCR")


def test_binary_named_txt(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ReaderError) as err:
        files.read_txt(path, "x")
    assert_reader_error(err.value, path, "バイナリ")


def test_undecodable_text(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes("正しい文字".encode("utf-8") + b"\xff\xfe\xfd\x80\xa0" * 10)
    with pytest.raises(ReaderError) as err:
        files.read_txt(path, "x")
    assert_reader_error(err.value, path, "文字コードを判定できません")


def test_whitespace_only_text(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n\u3000\n   \n", encoding="utf-8")
    with pytest.raises(ReaderError) as err:
        files.read_txt(path, "x")
    assert_reader_error(err.value, path, "本文がありません")


@pytest.mark.parametrize("suffix", [".html", ".md"])
def test_markup_without_text(tmp_path, suffix):
    path = tmp_path / f"空っぽ{suffix}"
    path.write_text("<html><body><script>x()</script></body></html>" if suffix == ".html" else "# \n\n---\n", encoding="utf-8")
    with pytest.raises(ReaderError) as err:
        READERS[suffix](path, "x")
    assert_reader_error(err.value, path, "本文のテキストが見つかりません")


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".doc"])
def test_garbage_behind_valid_magic_is_a_reader_error(tmp_path, suffix):
    magic = {".pdf": b"%PDF-1.4\n", ".docx": b"PK\x03\x04", ".doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"}[suffix]
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(magic + os.urandom(2048).replace(b"\x00", b"\x01"))
    with pytest.raises(ReaderError) as err:
        READERS[suffix](path, "x")
    assert_reader_error(err.value, path)


# --------------------------------------------------------------------------- awkward names


def test_file_names_with_spaces_and_japanese(tmp_path):
    name = "令和6年度 報告書 (最終版)"
    copies = {
        ".pdf": PDF_REAL,
        ".docx": DOCX_PROCUREMENT,
        ".md": DA / "499_appendix_FAQ.md",
        ".txt": WHITE_PAPER,
    }
    for suffix, source in copies.items():
        path = tmp_path / f"{name}{suffix}"
        shutil.copyfile(source, path)
        doc = READERS[suffix](path, f"docs/{name}{suffix}")
        assert doc.source_path == str(path)
        assert doc.sections and doc.sections[0].text
    html = tmp_path / f"{name}.html"
    html.write_text("<p>本文のみのページ</p>", encoding="utf-8")
    assert files.read_html(html, "x").title == name  # no heading, no <title>: the file stem


def test_sniff_kinds():
    assert sniff(b"%PDF-1.7").kind == "pdf"
    assert sniff(b"junk\n%PDF-1.4").kind == "pdf"
    assert sniff("テキスト".encode()).kind == "text"
    assert sniff(b"\xff\xfe" + "テ".encode("utf-16-le")).kind == "text"
    assert sniff(b"abc\x00def").kind == "binary"
    assert sniff(b"MZ is also a prefix of normal text").kind == "text"
