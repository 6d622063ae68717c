"""Finding 2: every parse of an uploaded or ingested file, and of a Word question file on
答弁作成, runs in the parse worker under a memory limit as well as the time limit; a document
of more chunks than the limit is refused."""

from __future__ import annotations

import random
import zipfile

import pytest

from app.question_file import QuestionFileError, read_question_upload
from ingest.parse_worker import ParseWorker
from ingest.pipeline import Ingestor
from ingest.readers import read_path
from retrieval.embedder import HashEmbedder
from retrieval.errors import ReaderError
from retrieval.index import open_index
from retrieval.settings import ChunkSettings, IndexSettings, LimitsSettings, SecuritySettings
from retrieval.text.sparse import SparseEncoder

from ..safety_helpers import allocate


def test_a_parse_over_the_memory_limit_fails_alone_and_the_worker_recovers(tmp_path):
    worker = ParseWorker()
    try:
        target = tmp_path / "bomb.docx"
        with pytest.raises(ReaderError, match="メモリが上限（200 MB）を超えました"):
            worker.run(allocate, (target, 1024), seconds=60, memory_mb=200)
        assert worker.run(allocate, (target, 50), seconds=60, memory_mb=200) == 50 * 1024 * 1024  # a fresh child
    finally:
        worker.close()


def test_ingested_files_are_parsed_under_the_memory_limit(tmp_path):
    """Markdown, XML and JSON now parse in the worker too: a file whose parse needs more than the
    limit (a 6 MB Markdown file under a 1 MB limit: its text alone is larger) is refused."""
    md = tmp_path / "memo.md"
    md.write_text("# メモ\n\n" + "本文です。行政手続の説明が続く。\n" * 150_000, encoding="utf-8")
    assert [d.title for d in read_path(md, "memo.md", limits=LimitsSettings())] == ["メモ"]  # as before
    with pytest.raises(ReaderError, match="メモリが上限（1 MB）"):
        list(read_path(md, "memo.md", limits=LimitsSettings(parse_memory_mb=1)))


def _docx(path, paragraphs: list[str]):
    import docx

    word = docx.Document()
    for text in paragraphs:
        word.add_paragraph(text)
    word.save(str(path))
    return path


def test_a_word_question_file_is_never_parsed_in_the_app_process(tmp_path, monkeypatch):
    import docx

    qfile = _docx(tmp_path / "q.docx", ["一　行政手続法について伺う。"])

    def parse_here(*args, **kwargs):
        raise AssertionError("python-docx ran in the app process")

    monkeypatch.setattr(docx, "Document", parse_here)  # the worker is a process of its own: unaffected
    assert read_question_upload("質問.docx", qfile.read_bytes(), LimitsSettings()) == "一　行政手続法について伺う。"


def _ballooning_docx(tmp_path, paragraphs: int):
    """A real .docx whose document.xml holds ``paragraphs`` distinct random paragraphs (varied
    text keeps the compression ratio low, as in the attack: every zip check passes)."""
    small = _docx(tmp_path / "small.docx", ["x"])
    rng = random.Random(18)
    kana = [chr(c) for c in range(0x3042, 0x3094)]
    with zipfile.ZipFile(small) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    xml = parts["word/document.xml"].decode("utf-8")
    head, tail = xml.split("<w:body>", 1)
    body = "".join(f"<w:p><w:r><w:t>{''.join(rng.choices(kana, k=120))}</w:t></w:r></w:p>" for _ in range(paragraphs))
    parts["word/document.xml"] = (head + "<w:body>" + body + tail).encode("utf-8")
    big = tmp_path / "big.docx"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return big


def test_a_word_question_file_that_balloons_is_refused(tmp_path):
    """A .docx that passes every zip check but whose XML tree outgrows the memory limit."""
    qfile = _ballooning_docx(tmp_path, 60_000)
    with zipfile.ZipFile(qfile) as z:
        info = z.getinfo("word/document.xml")
        assert info.file_size / info.compress_size < LimitsSettings().max_zip_ratio
    limits = LimitsSettings(parse_memory_mb=60)
    with pytest.raises(QuestionFileError) as refused:
        read_question_upload("議事録.docx", qfile.read_bytes(), limits)
    assert str(refused.value).startswith("質問ファイル 議事録.docx")
    assert "メモリが上限（60 MB）を超えました" in str(refused.value)
    assert read_question_upload("議事録.docx", qfile.read_bytes(), LimitsSettings()).count("\n") == 60_000  # fine with room


def test_a_document_over_the_chunk_cap_is_refused(tmp_path):
    doc = tmp_path / "long.md"
    doc.write_text("# 長い文書\n\n" + "\n\n".join(f"第{i}段落。" + "行政手続の説明が続く。" * 30 for i in range(40)), encoding="utf-8")
    index = open_index(IndexSettings(path=tmp_path / "index"), 16)
    try:
        ingestor = Ingestor(index, HashEmbedder(16), SparseEncoder(), ChunkSettings(), SecuritySettings(), tmp_path,
                            limits=LimitsSettings(max_chunks_per_document=5))
        (result,) = ingestor.ingest([doc]).files
        assert result.status == "failed" and "チャンク。上限 5" in result.reasons[0]
        assert index.count() == 0
    finally:
        index.close()
