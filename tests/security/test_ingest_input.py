"""Findings 11 and 12: a folder's ``groups = "secret"`` (a string, not a list) is a clear error,
never the groups s, e, c, r, t; one bad JSONL record never drops the records after it and is
counted as a failure."""

from __future__ import annotations

import json

import pytest

from ingest.pipeline import IngestOptions, Ingestor
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.settings import ChunkSettings, IndexSettings, SecuritySettings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access

DIM = 16


@pytest.fixture
def ingestor(tmp_path):
    index = open_index(IndexSettings(path=tmp_path / "index"), DIM)
    yield Ingestor(index, HashEmbedder(DIM), SparseEncoder(), ChunkSettings(), SecuritySettings(max_confidentiality=3), tmp_path)
    index.close()


def test_groups_written_as_a_string_refuse_the_folder_with_a_clear_reason(ingestor, tmp_path):
    folder = tmp_path / "secret"
    folder.mkdir()
    (folder / ".gyosei.toml").write_text('confidentiality = 2\ngroups = "secret"\n', encoding="utf-8")
    (folder / "plan.md").write_text("# 計画\n\nカナリア計画の本文。\n", encoding="utf-8")
    (result,) = ingestor.ingest([folder]).files
    assert result.status == "failed"
    assert ".gyosei.toml: groups は文字列のリストで書いてください（例: groups = [\"secret\"]）" in result.reasons[0]
    assert ingestor.index.documents() == {}  # nothing indexed under a guessed access
    assert ingestor.index.documents(Access(3, ["e"])) == {}


@pytest.mark.parametrize(("meta", "reason"), [
    ("confidentiality = \"3\"\n", "confidentiality は 1〜3 の整数"),
    ("confidentiality = true\n", "confidentiality は 1〜3 の整数"),
    ("exclude = \"*.md\"\n", "exclude は文字列のリスト"),
    ("doc_type = \"secret\"\n", "doc_type 'secret' は使えません"),
    ("groups = [\n", "TOML として読めません"),
])
def test_other_wrong_folder_settings_are_refused_too(ingestor, tmp_path, meta, reason):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / ".gyosei.toml").write_text(meta, encoding="utf-8")
    (folder / "a.md").write_text("# A\n\n本文。\n", encoding="utf-8")
    (result,) = ingestor.ingest([folder]).files
    assert result.status == "failed" and reason in result.reasons[0]


def test_a_record_with_groups_as_a_string_is_refused_alone(ingestor, tmp_path):
    path = tmp_path / "records.jsonl"
    lines = [{"id": "1", "text": "一件目。", "groups": "secret"}, {"id": "2", "text": "二件目。", "groups": ["soumu"]}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", encoding="utf-8")
    report = ingestor.ingest([path])
    assert sorted(ingestor.index.documents()) == ["records:2"]
    assert report.failed_documents == 1 and "groups は文字列のリスト" in report.files[0].reasons[0]


def test_a_bad_record_does_not_drop_the_records_after_it_and_is_counted(ingestor, tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(
        '{"id": "1", "text": "一件目の本文。"}\n'
        '{"id": "2", "text": "壊れた\\ud800本文。"}\n'
        '{"id": "3", "text": "三件目の本文。"}\n'
        '{"id": "4", "text": "四件目の本文。"}\n', encoding="utf-8")
    report = ingestor.ingest([path], IngestOptions())
    (result,) = report.files
    assert sorted(ingestor.index.documents()) == ["records:1", "records:3", "records:4"]
    assert result.status == "indexed" and result.documents == 3
    assert result.failed_documents == 1 and report.failed_documents == 1
    assert "2行目" in result.reasons[0] and "サロゲート" in result.reasons[0]


def test_a_document_that_fails_while_indexing_does_not_stop_its_file(ingestor, tmp_path, monkeypatch):
    """Whatever goes wrong with one record (here: the chunk count check of one document raises),
    the others of the file are still indexed and the failure is counted."""
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": f"{i}件目の本文。"}, ensure_ascii=False) + "\n"
                            for i in range(1, 5)), encoding="utf-8")
    original = ingestor._fingerprint

    def flaky(doc):
        if doc.doc_id == "records:2":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return original(doc)

    monkeypatch.setattr(ingestor, "_fingerprint", flaky)
    report = ingestor.ingest([path])
    assert sorted(ingestor.index.documents()) == ["records:1", "records:3", "records:4"]
    assert report.failed_documents == 1 and "records:2 を登録できませんでした" in report.files[0].reasons[0]
