"""文書管理's document view: a document's chunks in order, and nothing of one the user may not read."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.documents import document_passages
from tests.index_helpers import ADMIN, CHUNKS, PUBLIC, make_index

PAPER = "white_paper/r05_chapter5_soumu_ict_policy.txt"


@pytest.fixture(params=["edge", "qdrant"])
def res(request, tmp_path):
    index = make_index(request.param, tmp_path)
    index.upsert(CHUNKS)
    index.flush()
    yield SimpleNamespace(index=index)
    index.close()


def test_a_document_reads_in_order_up_to_the_limit(res):
    passages = document_passages(res, PAPER, PUBLIC)
    assert [p["ordinal"] for p in passages] == [0, 1, 2]
    assert [p["text"] for p in passages] == [c.text for c in CHUNKS if c.doc_id == PAPER]
    assert [p["ordinal"] for p in document_passages(res, PAPER, PUBLIC, limit=2)] == [0, 1]


def test_a_document_the_user_may_not_read_shows_nothing(res):
    assert document_passages(res, "internal/kimitsu3-memo", PUBLIC) == []
    assert [p["title"] for p in document_passages(res, "internal/kimitsu3-memo", ADMIN)] == ["内部検討メモ（機密性3）"]
    assert document_passages(res, "no/such-document", ADMIN) == []
