"""Shared fixtures: the real built-in embedder (built once per session) and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where the built-in model is built: the user's cache (built once, reused across runs)."""
    from retrieval.settings import EmbeddingSettings

    return Path(os.environ.get("GYOSEI_TEST_MODEL_CACHE", EmbeddingSettings().cache_dir))


@pytest.fixture(scope="session")
def real_embedder(model_cache_dir: Path):
    """The default embedder exactly as the product configures it."""
    from retrieval.embedder import embedder_from_settings
    from retrieval.settings import EmbeddingSettings

    return embedder_from_settings(EmbeddingSettings(cache_dir=model_cache_dir))


@pytest.fixture(scope="session")
def samples_index(tmp_path_factory, real_embedder):
    """All of data_samples (what ``make run`` indexes), embedded for real, once per session."""
    from ingest.pipeline import Ingestor
    from retrieval.index import open_index
    from retrieval.settings import ChunkSettings, IndexSettings, SecuritySettings
    from retrieval.text.sparse import SparseEncoder

    root = tmp_path_factory.mktemp("samples_index")
    index = open_index(IndexSettings(path=root / "index"), real_embedder.dimension)
    report = Ingestor(index, real_embedder, SparseEncoder(), ChunkSettings(), SecuritySettings(), SAMPLES).ingest([SAMPLES])
    assert not report.failed, [r for f in report.files for r in f.reasons]
    index.flush()
    yield index
    index.close()
