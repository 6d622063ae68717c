"""Finding 1: an upload can never silently replace another document. Upload ids are scoped
(``uploads/...``); writing over an existing document needs read access to it and an explicit
confirmation, and the replacement is reported (the page puts it in the audit log)."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest

from app.documents import ingest_files, save_upload, uploads_dir
from ingest.pipeline import IngestOptions, Ingestor
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access

DIM = 32
LOW_ADMIN = Access(clearance=1, groups=["all"])
SECRET_READER = Access(clearance=3, groups=["all", "kikaku"])


def _records(path, text: str):
    path.write_text(json.dumps({"id": "1", "title": "記録", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def res(tmp_path, monkeypatch):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    settings = Settings(index={"path": tmp_path / "var/index"}, security={"max_confidentiality": 3})
    index = open_index(settings.index, DIM)
    yield SimpleNamespace(settings=settings, index=index, embedder=HashEmbedder(DIM), write_lock=threading.Lock())
    index.close()


def _operator_ingest(res, path, **options):
    s = res.settings
    ingestor = Ingestor(res.index, res.embedder, SparseEncoder(), s.chunk, s.security, path.parent.parent, limits=s.limits)
    return ingestor.ingest([path], IngestOptions(**options))


def _upload(res, name: str, text: str, writer: Access, level: int = 1, replace: bool = False):
    data = json.dumps({"id": "1", "title": "記録", "text": text}, ensure_ascii=False).encode() + b"\n" \
        if name.endswith(".jsonl") else text.encode("utf-8")
    saved = save_upload(name, data, uploads_dir(res.settings), res.settings.limits)
    return ingest_files(res, [saved], IngestOptions(confidentiality=level, groups=["all"], writer=writer, replace=replace))


def _text_of(res, doc_id: str) -> str:
    from retrieval.types import Filters, Query, SearchMode

    hits = res.index.search(Query(dense=res.embedder.embed_query("x"), mode=SearchMode.DENSE), Access(3, ["all", "kikaku"]),
                            Filters(doc_ids=[doc_id]), k=5)
    return "".join(h.text for h in hits)


def test_an_uploaded_records_file_cannot_replace_an_ingested_secret_record(res, tmp_path):
    folder = tmp_path / "data" / "secret"
    folder.mkdir(parents=True)
    _operator_ingest(res, _records(folder / "records.jsonl", "カナリア計画の機密本文。"), confidentiality=3, groups=["kikaku"])
    assert "records:1" in res.index.documents()

    report = _upload(res, "records.jsonl", "差し替えた本文。", LOW_ADMIN)
    assert report.indexed == 1 and report.replaced == []
    docs = res.index.documents()
    assert "uploads/records:1" in docs  # the upload's record lives under uploads/ ...
    assert "カナリア計画" in _text_of(res, "records:1")  # ... and the secret record is untouched


def test_an_upload_over_a_document_the_uploader_cannot_read_is_refused(res):
    first = _upload(res, "plan.md", "# 計画\n\nカナリア計画の機密本文。\n", SECRET_READER, level=3)
    assert first.indexed == 1
    second = _upload(res, "plan.md", "# 計画\n\n差し替えた本文。\n", LOW_ADMIN, replace=True)
    (result,) = second.files
    assert result.status == "failed" and second.replaced == []
    assert "閲覧する権限がありません" in result.reasons[0]
    assert "カナリア計画" in _text_of(res, "uploads/plan.md")


def test_replacing_a_readable_document_needs_confirmation_and_is_reported(res):
    _upload(res, "memo.md", "# メモ\n\n最初の版。\n", LOW_ADMIN)
    unconfirmed = _upload(res, "memo.md", "# メモ\n\n二番目の版。\n", LOW_ADMIN)
    assert unconfirmed.files[0].status == "failed" and "置き換える場合は" in unconfirmed.files[0].reasons[0]
    assert "最初の版" in _text_of(res, "uploads/memo.md")
    confirmed = _upload(res, "memo.md", "# メモ\n\n二番目の版。\n", LOW_ADMIN, replace=True)
    assert confirmed.indexed == 1 and confirmed.replaced == ["uploads/memo.md"]
    assert "二番目の版" in _text_of(res, "uploads/memo.md")


def test_two_ingested_files_cannot_share_a_document_id_without_replace(res, tmp_path):
    a, b = tmp_path / "data" / "a", tmp_path / "data" / "b"
    a.mkdir(parents=True), b.mkdir(parents=True)
    _operator_ingest(res, _records(a / "records.jsonl", "Aの本文。"))
    refused = _operator_ingest(res, _records(b / "records.jsonl", "Bの本文。"))
    assert refused.files[0].status == "failed" and "a/records.jsonl から登録済み" in refused.files[0].reasons[0]
    assert "Aの本文" in _text_of(res, "records:1")
    replaced = _operator_ingest(res, b / "records.jsonl", replace=True)
    assert replaced.replaced == ["records:1"] and "Bの本文" in _text_of(res, "records:1")


def test_an_access_change_above_the_users_own_clearance_is_refused(res):
    from app.documents import change_access
    from retrieval.errors import GyoseiError

    _upload(res, "memo.md", "# メモ\n\n本文。\n", LOW_ADMIN)
    with pytest.raises(GyoseiError, match="上限は機密性1"):
        change_access(res, "uploads/memo.md", 2, ["all"], LOW_ADMIN)
    with pytest.raises(GyoseiError, match="権限がありません"):
        change_access(res, "uploads/secret.md", 1, ["all"], LOW_ADMIN)
    assert res.index.documents()["uploads/memo.md"].confidentiality == 1


def test_a_records_file_is_removed_with_its_last_document(res):
    from app.documents import delete_document

    lines = "".join(json.dumps({"id": str(i), "title": f"記録{i}", "text": f"本文{i}。"}, ensure_ascii=False) + "\n"
                    for i in (1, 2))
    saved = save_upload("records.jsonl", lines.encode(), uploads_dir(res.settings), res.settings.limits)
    ingest_files(res, [saved], IngestOptions(confidentiality=1, groups=["all"], writer=LOW_ADMIN))
    delete_document(res, "uploads/records:1", LOW_ADMIN)
    assert saved.is_file()  # record 2 still comes from it
    delete_document(res, "uploads/records:2", LOW_ADMIN)
    assert not saved.exists()
