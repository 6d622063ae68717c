"""The search page, driven headless by Streamlit's AppTest over a real index and the real model."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from ingest.pipeline import Ingestor
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder

from .conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture
def indexed(tmp_path, monkeypatch, model_cache_dir, real_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", docs)
    shutil.copy(SAMPLES / "kokkai/ndl_speech_121505261X00120241114.json", docs)
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "index"))
    monkeypatch.setenv("GYOSEI_DATA_DIR", str(docs))
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    settings = Settings.load()
    index = open_index(settings.index, real_embedder.dimension)
    Ingestor(index, real_embedder, SparseEncoder(), settings.chunk, settings.security, docs).ingest([docs])
    index.close()
    return docs


def test_a_question_returns_passages_with_their_sources(indexed):
    at = AppTest.from_file(str(ROOT / "app/Home.py"), default_timeout=120)
    at.run()
    assert not at.exception
    at.text_input[0].input("申請に対する審査の標準処理期間はどう定められていますか")
    at.button[0].click()
    at.run()
    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    assert "[1] 行政手続法" in shown
    assert "第六条" in shown  # 標準処理期間
    assert "2024-04-01" in shown
    # The answer cites [1], and the source shows the sentence it used highlighted.
    assert "**[1]**" in shown and "<mark>" in shown and "標準的な期間" in shown


def test_filters_narrow_to_diet_speeches(indexed):
    at = AppTest.from_file(str(ROOT / "app/Home.py"), default_timeout=120)
    at.run()
    at.sidebar.multiselect[0].select("diet_speech")
    at.text_input[0].input("予算委員会の委員長の選任")
    at.button[0].click()
    at.run()
    assert not at.exception
    headers = [m.value for m in at.markdown if m.value.startswith("**[")]
    assert headers and all("衆議院" in h or "予算委員会" in h for h in headers), headers
    assert not any("行政手続法" in h for h in headers)
