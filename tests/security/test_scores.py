"""Finding 8: no raw sparse score reaches a user. IDF is counted over every chunk, hidden ones
included, so a score would move when documents the user cannot read are added; the API, the CLI
and the LangChain retriever give ranks instead."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from app.api import GyoseiApi
from app.auth import UserStore
from app.factory import build_searcher
from ingest.pipeline import IngestOptions, Ingestor
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, SearchMode

DIM = 32
PASSWORD = "correct-horse-battery"
QUESTION = "電子帳簿保存法の保存要件"


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    settings = Settings(index={"path": tmp_path / "index"}, security={"max_confidentiality": 3})
    index = open_index(settings.index, DIM)
    embedder = HashEmbedder(DIM)
    ingestor = Ingestor(index, embedder, SparseEncoder(), settings.chunk, settings.security, tmp_path)
    public = tmp_path / "public"
    public.mkdir()
    for i, text in enumerate(["電子帳簿保存法の保存要件は、真実性と可視性の確保である。",
                              "行政手続法は、処分や行政指導の手続を定める。",
                              "電子取引のデータ保存について説明する。"]):
        (public / f"doc{i}.md").write_text(f"# 文書{i}\n\n{text}\n", encoding="utf-8")
    ingestor.ingest([public])
    users = UserStore(tmp_path / "users.json")
    users.add("low", PASSWORD, clearance=1)
    yield SimpleNamespace(settings=settings, index=index, embedder=embedder, ingestor=ingestor, users=users, root=tmp_path)
    index.close()


def _add_hidden_chunks(world) -> None:
    hidden = world.root / "hidden"
    hidden.mkdir()
    for i in range(5):
        (hidden / f"h{i}.md").write_text(f"# 内部{i}\n\n電子帳簿保存法の内部検討メモ{i}。電子帳簿保存法。\n", encoding="utf-8")
    world.ingestor.ingest([hidden], IngestOptions(confidentiality=3, groups=["kikaku"]))


def test_the_api_reply_of_a_low_user_does_not_move_when_hidden_chunks_are_added(world):
    searcher = build_searcher(world.settings, world.embedder, world.index)
    api = GyoseiApi(world.settings, world.users, SimpleNamespace(searcher=searcher))
    token = api.handle("POST", "/api/login", {"user": "low", "password": PASSWORD}, None)["token"]
    body = {"question": QUESTION, "mode": "sparse", "k": 5}
    before = api.handle("POST", "/api/search", body, token)
    raw_before = [h.score for h in searcher.search(QUESTION, Access(1, ["all"]), None, SearchMode.SPARSE, 5)]
    _add_hidden_chunks(world)
    after = api.handle("POST", "/api/search", body, token)
    raw_after = [h.score for h in searcher.search(QUESTION, Access(1, ["all"]), None, SearchMode.SPARSE, 5)]
    assert raw_before != raw_after  # the leak: the index's own scores moved with the hidden chunks ...
    assert before == after  # ... but nothing the user gets back did
    assert [h["rank"] for h in after["hits"]] == list(range(1, len(after["hits"]) + 1))
    assert all("score" not in h for h in after["hits"])


def test_the_cli_search_shows_ranks_not_scores(world, monkeypatch):
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(world.root / "index"))
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{world.root / 'audit.sqlite3'}")
    monkeypatch.setattr("app.cli.build_embedder", lambda settings: HashEmbedder(DIM))
    world.index.close()
    from app.cli import main

    result = CliRunner().invoke(main, ["search", QUESTION, "--mode", "sparse"])
    assert result.exit_code == 0, result.output
    assert "[1]" in result.output and "score" not in result.output
    world.index = open_index(world.settings.index, DIM)
