"""Hardening: size limits, content sniffing, ZIP bombs, upload names, parse timeouts, query length.

Every bad input is generated in tmp_path as a user would meet it (an .exe renamed to .pdf, a
ZIP bomb named .docx, a truncated real PDF, a 0-byte upload ...). The pipeline tests check that
each gets its Japanese reason naming the file while the good files of the same run are indexed
and nothing indexed before is lost.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parse_worker import ParseWorker
from ingest.pipeline import Ingestor
from ingest.readers import files, read_path
from ingest.safety import check_file, check_zip, parse_with_timeout, sanitize_filename
from retrieval.embedder import HashEmbedder
from retrieval.errors import GyoseiError, ReaderError
from retrieval.index import open_index
from retrieval.query_limits import QueryTooLongError, check_draft_question, check_query
from retrieval.settings import ChunkSettings, IndexSettings, LimitsSettings, SecuritySettings, Settings
from retrieval.text.sparse import SparseEncoder

from .conftest import SAMPLES
from .safety_helpers import crash, hang_like_a_docx_parser, raise_reader_error, raise_value_error, sleep_then_read, start_grandchild_and_hang

MB = 1024 * 1024
LIMITS = LimitsSettings()
PDF = SAMPLES / "digital_agency/451-4-1_institution_datamodel_class_diagram.pdf"
DOCX = SAMPLES / "digital_agency/451-8_impl_datamodel_procurement.docx"
LAW_HTML = next((SAMPLES / "laws").glob("*.html"))
PE_HEADER = b"MZ\x90\x00\x03" + b"\x00" * 59 + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21This program cannot be run in DOS mode.\r\r\n$"


def refused(path: Path, limits: LimitsSettings = LIMITS) -> str:
    with pytest.raises(ReaderError) as info:
        check_file(path, limits)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value.reason


# -- generated bad files ---------------------------------------------------------------------
def write_bomb_docx(path: Path, megabytes: int = 40) -> Path:
    """A Word-shaped ZIP whose document.xml is ``megabytes`` of spaces (~1000:1 compression)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        body = b"<w:document><w:body>" + b" " * (megabytes * MB) + b"</w:body></w:document>"
        zf.writestr("word/document.xml", body)
    return path


def write_lying_docx(path: Path) -> Path:
    """A ZIP whose directory says document.xml is 1 KB while it expands to 3 MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"<w:document>" + "行政文書".encode() * (MB // 4) + b"</w:document>")
    raw = bytearray(path.read_bytes())
    local = raw.index(b"PK\x03\x04")
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, local + 22, 1024)  # uncompressed size in the local header
    struct.pack_into("<I", raw, central + 24, 1024)  # ... and in the central directory
    path.write_bytes(bytes(raw))
    return path


def write_overlapping_docx(path: Path) -> Path:
    """Two directory entries that point at the same compressed bytes (the overlapping bomb)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"<w:document>" + b"a" * 1000 + b"</w:document>")
    raw = path.read_bytes()
    cd_start = raw.index(b"PK\x01\x02")
    eocd = raw.index(b"PK\x05\x06")
    record = raw[cd_start:eocd]
    twin = record.replace(b"word/document.xml", b"word/documenu.xml")
    directory = record + twin
    end = bytearray(raw[eocd:])
    struct.pack_into("<HHII", end, 8, 2, 2, len(directory), cd_start)
    path.write_bytes(raw[:cd_start] + directory + bytes(end))
    return path


def test_real_sample_files_all_pass_the_checks():
    checked = 0
    for path in sorted(SAMPLES.rglob("*")):
        if path.is_file() and path.suffix.lower() in {".pdf", ".docx", ".html", ".md", ".txt", ".json", ".jsonl", ".xml"}:
            check_file(path, LIMITS)
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    "name, content, found",
    [
        ("setup.pdf", PE_HEADER + b"\x00" * 200, "Windows実行ファイル"),
        ("report.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "実行ファイル"),
        ("notes.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        ("page.html", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG画像"),
        ("minutes.json", b"\x1f\x8b\x08\x00" + b"\x00" * 100, "gzip"),
    ],
)
def test_content_that_is_not_what_the_extension_says_is_refused(tmp_path, name, content, found):
    path = tmp_path / name
    path.write_bytes(content)
    reason = refused(path)
    assert f"拡張子は{path.suffix}ですが" in reason and found in reason


def test_a_pdf_that_is_really_a_zip_is_refused(tmp_path):
    path = tmp_path / "予算資料.pdf"
    shutil.copy(DOCX, path)
    assert "PDFではなくZIP形式" in refused(path)


def test_text_that_decodes_in_no_japanese_encoding_is_refused(tmp_path):
    path = tmp_path / "メモ.md"
    path.write_bytes(bytes(range(0x80, 0x100)) * 8)
    assert "文字コード" in refused(path)


@pytest.mark.parametrize("encoding", ["cp932", "euc_jp", "utf-8-sig", "utf-16"])
def test_japanese_text_in_every_supported_encoding_passes(tmp_path, encoding):
    path = tmp_path / f"答弁_{encoding}.txt"
    path.write_bytes("第1条　この法律は、行政運営における公正の確保と透明性の向上を図る。\n".encode(encoding) * 400)
    check_file(path, LIMITS)


def test_zero_byte_and_oversized_files_are_refused_before_reading(tmp_path):
    empty = tmp_path / "空のファイル.pdf"
    empty.write_bytes(b"")
    assert "空" in refused(empty)
    big = tmp_path / "巨大.txt"
    with big.open("wb") as fh:
        fh.truncate(101 * MB)  # sparse: costs no disk, but stat() says 101 MB
    reason = refused(big)
    assert "大きすぎます" in reason and "101.0 MB" in reason and "上限 100 MB" in reason
    assert "上限 2 MB" in refused(big, LimitsSettings(max_file_mb=2))


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert "通常のファイルではありません" in refused(fifo)


def test_zip_bomb_named_docx_is_refused_from_its_directory(tmp_path):
    bomb = write_bomb_docx(tmp_path / "議事録.docx")
    assert bomb.stat().st_size < MB
    reason = refused(bomb)
    assert "word/document.xml" in reason and "圧縮率が異常" in reason and "ZIP爆弾" in reason


def test_zip_with_too_many_entries_or_too_much_content_is_refused(tmp_path):
    many = tmp_path / "many.docx"
    with zipfile.ZipFile(many, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
        for i in range(60):
            zf.writestr(f"word/media/{i}.xml", "<x/>")
    assert "ファイル数が多すぎます（61個、上限 50個）" in refused(many, LimitsSettings(max_zip_entries=50))
    assert "展開後のサイズが大きすぎます" in refused(write_bomb_docx(tmp_path / "big.docx", 3), LimitsSettings(max_unzipped_mb=2))


def test_zip_directory_that_lies_about_sizes_is_caught_while_measuring(tmp_path):
    # zipfile stops at the declared size and then finds the CRC wrong: the entry never expands.
    reason = refused(write_lying_docx(tmp_path / "偽装.docx"))
    assert "word/document.xml が壊れています" in reason


def test_overlapping_zip_entries_are_refused(tmp_path):
    assert "エントリが重なっています" in refused(write_overlapping_docx(tmp_path / "overlap.docx"))


def test_a_truncated_docx_is_a_broken_zip(tmp_path):
    path = tmp_path / "途中まで.docx"
    path.write_bytes(DOCX.read_bytes()[: DOCX.stat().st_size // 2])
    assert "ZIP形式として開けません" in refused(path)


def test_check_zip_accepts_the_real_docx_files():
    for path in (SAMPLES / "digital_agency").glob("*.docx"):
        check_zip(path, LIMITS, required="word/document.xml")


# -- upload file names -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "given, expected",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\Windows\\令和６年度　予算.PDF", "令和６年度 予算.PDF"),
        ("C:\\Users\\職員\\答弁案.docx", "答弁案.docx"),
        ("..", "untitled"),
        ("", "untitled"),
        (".gyosei.toml", "gyosei.toml"),
        (".txt", "untitled.txt"),
        ("報告\x00書\r\n.pdf", "報告書.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # the bidi override that shows "exe.pdf"
        ("CON.txt", "_CON.txt"),
        ('a<b>:"c"|d?*.md', "a_b___c__d__.md"),
        ("か\u3099いと\u3099.md", "がいど.md"),  # NFD (macOS) becomes NFC
    ],
)
def test_sanitize_filename(given, expected):
    assert sanitize_filename(given) == expected


def test_sanitize_filename_limits_length_and_keeps_the_extension():
    name = sanitize_filename("行政手続法の運用に関する通知" * 30 + ".docx")
    assert name.endswith(".docx") and len(name) <= 120 and len(name.encode()) <= 240
    assert name.startswith("行政手続法の運用に関する通知")
    assert len(sanitize_filename("a" * 500 + ".pdf", max_chars=40)) == 40


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_sanitized_names_always_stay_inside_the_upload_folder(tmp_path_factory, name):
    folder = tmp_path_factory.getbasetemp() / "uploads"
    safe = sanitize_filename(name)
    assert safe and safe == unicodedata.normalize("NFC", safe)
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and safe not in (".", "..")
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in safe)
    assert len(safe) <= 120 and len(safe.encode("utf-8")) <= 240
    assert (folder / safe).resolve().parent == folder.resolve()


# -- parse time limit ------------------------------------------------------------------------
def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def worker():
    w = ParseWorker()
    yield w
    w.close()


def test_a_parse_that_overruns_is_stopped_and_the_worker_recovers(tmp_path, worker):
    path = tmp_path / "遅いファイル.txt"
    path.write_text("本文", encoding="utf-8")
    assert parse_with_timeout(sleep_then_read, path, 30, 0, worker=worker) == "本文"
    first = worker.pid
    with pytest.raises(ReaderError) as info:
        parse_with_timeout(sleep_then_read, path, 1, 600, worker=worker)
    assert str(info.value) == f"{path}: 解析が1秒で終わりませんでした。ファイルが壊れているか、複雑すぎる可能性があります（上限は GYOSEI_LIMITS__PARSE_TIMEOUT_S で変えられます）。"
    assert not alive(first), "the stuck child process was killed"
    doc = parse_with_timeout(files.read_pdf, PDF, 60, "da/451-4-1.pdf", worker=worker)
    assert doc.doc_id == "da/451-4-1.pdf" and doc.sections
    assert worker.pid != first


def test_a_timeout_also_kills_processes_the_parser_started(tmp_path, worker):
    pid_file = tmp_path / "pid"
    warm = tmp_path / "warm.txt"
    warm.write_text("x", encoding="utf-8")
    parse_with_timeout(sleep_then_read, warm, 60, 0, worker=worker)  # child up, helpers imported
    with pytest.raises(ReaderError, match="解析が2秒で終わりませんでした"):
        parse_with_timeout(start_grandchild_and_hang, tmp_path / "x.doc", 2, pid_file, worker=worker)
    grandchild = int(pid_file.read_text())
    for _ in range(50):
        if not alive(grandchild):
            break
        time.sleep(0.1)
    assert not alive(grandchild)


def test_errors_in_the_child_come_back_as_reader_errors(tmp_path, worker):
    path = tmp_path / "壊れた.pdf"
    with pytest.raises(ReaderError) as info:
        parse_with_timeout(raise_reader_error, path, 30, worker=worker)
    assert info.value.path == str(path) and info.value.reason == "PDFファイルが壊れているか、途中で切れています。"
    with pytest.raises(ReaderError, match="予期しないエラーが発生しました（ValueError: parser bug）"):
        parse_with_timeout(raise_value_error, path, 30, worker=worker)
    with pytest.raises(ReaderError, match="異常終了しました"):
        parse_with_timeout(crash, path, 30, worker=worker)
    assert parse_with_timeout(files.read_pdf, PDF, 60, "p", worker=worker).sections


def test_zero_seconds_parses_in_this_process(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("本文", encoding="utf-8")
    assert parse_with_timeout(sleep_then_read, path, 0, 0) == "本文"


def test_read_path_stops_a_hanging_docx_parse_and_names_the_file(tmp_path, monkeypatch):
    slow = tmp_path / "調達 仕様.docx"
    shutil.copy(DOCX, slow)  # a real document passes the checks before parsing
    # The DOCX parser hangs (as on crafted input): read_path must hand it to the worker with the limit.
    monkeypatch.setattr(files, "read_docx", hang_like_a_docx_parser)
    with pytest.raises(ReaderError) as info:
        list(read_path(slow, "x", limits=LimitsSettings(parse_timeout_s=0.5)))
    assert info.value.path == str(slow) and "解析が0.5秒で終わりませんでした" in info.value.reason
    docs = list(read_path(LAW_HTML, "law.html"))  # through the shared worker, default limits
    assert docs and docs[0].sections


# -- query length ----------------------------------------------------------------------------
def test_query_length_limit():
    check_query("行政手続法の目的は何ですか？", LIMITS)
    check_query("あ" * 2000 + "  \n", LIMITS)
    with pytest.raises(QueryTooLongError) as info:
        check_query("あ" * 2001, LIMITS)
    assert isinstance(info.value, GyoseiError)
    assert str(info.value).startswith("質問が長すぎます（2001文字、上限2000文字）")
    with pytest.raises(QueryTooLongError, match="（13文字、上限10文字）"):
        check_query("国会答弁の作成支援とは何か", LimitsSettings(max_query_chars=10))


def test_a_question_to_draft_for_has_its_own_longer_limit():
    shuisho = "一 " + "行政のデジタル化について、政府の見解を示されたい。" * 300
    check_draft_question(shuisho, LIMITS)  # ~7,500 characters: a long 質問主意書, accepted
    with pytest.raises(QueryTooLongError):
        check_query(shuisho, LIMITS)
    with pytest.raises(QueryTooLongError, match="答弁案を作成する質問が長すぎます（20001文字、上限20000文字）"):
        check_draft_question("あ" * 20_001, LIMITS)


def test_limits_are_settings_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("GYOSEI_LIMITS__MAX_FILE_MB", "5")
    monkeypatch.setenv("GYOSEI_LIMITS__PARSE_TIMEOUT_S", "30")
    limits = Settings.load().limits
    assert limits.max_file_mb == 5 and limits.parse_timeout_s == 30 and limits.max_query_chars == 2000


# -- the pipeline keeps its guarantees -------------------------------------------------------
DIM = 64


def bad_upload_folder(root: Path) -> dict[str, str]:
    """Bad files as users upload them, next to good ones; name -> expected words of the reason."""
    root.mkdir(parents=True)
    write_bomb_docx(root / "議事録（最終版）.docx")
    (root / "請求書.pdf").write_bytes(PE_HEADER + b"\x00" * 4096)
    (root / "白書_途中まで.pdf").write_bytes(PDF.read_bytes()[: PDF.stat().st_size // 2])
    with (root / "全記録.txt").open("wb") as fh:
        fh.truncate(101 * MB)
    (root / "空.md").write_bytes(b"")
    # An upload whose name tries to climb out of the folder lands inside it, and is indexed.
    (root / sanitize_filename("../../etc/passwd.txt")).write_text(
        "職員名簿の取扱いについて。名簿は総務課で管理する。", encoding="utf-8"
    )
    (root / "答弁メモ_sjis.txt").write_bytes(
        "国会答弁の作成に当たっては、過去の答弁との整合性を確認する。".encode("cp932")
    )
    shutil.copy(PDF, root / "クラス図.pdf")
    return {
        "議事録（最終版）.docx": "ZIP爆弾",
        "請求書.pdf": "PDFではなくWindows実行ファイル",
        "白書_途中まで.pdf": "途中で切れています",
        "全記録.txt": "大きすぎます",
        "空.md": "空",
    }


def run_bad_folder(tmp_path: Path, embedder, dim: int) -> None:
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(SAMPLES / "digital_agency/499_appendix_FAQ.md", good / "faq.md")
    shutil.copy(PDF, good / "白書.pdf")
    index = open_index(IndexSettings(path=tmp_path / "index"), dim)
    try:
        ingestor = Ingestor(index, embedder, SparseEncoder(), ChunkSettings(), SecuritySettings(), tmp_path, batch_size=16)
        assert ingestor.ingest([good]).indexed == 2
        before = index.documents()

        # A good file turns bad (truncated on disk): its indexed version must survive the re-run.
        (good / "白書.pdf").write_bytes(PDF.read_bytes()[:1000])
        expected = bad_upload_folder(tmp_path / "uploads")
        report = ingestor.ingest([good, tmp_path / "uploads"])

        by_name = {Path(f.path).name: f for f in report.files}
        for name, words in expected.items():
            result = by_name[name]
            reason = " ".join(result.reasons)
            assert result.status == "failed", (name, result)
            assert name in reason and words in reason, reason
        assert "白書.pdf" in " ".join(by_name["白書.pdf"].reasons)
        for name in ("passwd.txt", "答弁メモ_sjis.txt", "クラス図.pdf"):
            assert by_name[name].status == "indexed", (name, by_name[name].reasons)
        assert by_name["faq.md"].status == "skipped"
        after = index.documents()
        assert set(before) <= set(after), "nothing indexed before was lost"
        assert after["good/白書.pdf"].content_hash == before["good/白書.pdf"].content_hash
        assert {"uploads/passwd.txt", "uploads/答弁メモ_sjis.txt", "uploads/クラス図.pdf"} <= set(after)
        assert not (tmp_path / "etc").exists()
        assert index.count() == sum(d.doc_chunks for d in after.values())
    finally:
        index.close()


def test_bad_uploads_fail_alone_with_japanese_reasons_and_the_rest_is_indexed(tmp_path):
    run_bad_folder(tmp_path, HashEmbedder(DIM), DIM)


@pytest.mark.slow
def test_bad_uploads_with_the_real_embedder(tmp_path, real_embedder):
    run_bad_folder(tmp_path, real_embedder, real_embedder.dimension)
