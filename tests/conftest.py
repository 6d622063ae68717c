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
