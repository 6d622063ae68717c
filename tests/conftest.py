"""Shared fixtures: the real built-in embedder (built once per session) and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where the built-in model is built: the user's cache (built once, reused across runs)."""
    from retrieval.settings import EmbeddingSettings

    return Path(os.environ.get("GYOSEI_TEST_MODEL_CACHE", EmbeddingSettings().cache_dir))


@pytest.fixture(scope="session")
def real_embedder(model_cache_dir: Path):
    """The default embedder exactly as the product configures it."""
    from retrieval.embedder import open_embedder
    from retrieval.settings import EmbeddingSettings

    cfg = EmbeddingSettings(cache_dir=model_cache_dir)
    return open_embedder(
        cfg.model,
        query_prompt=cfg.query_prompt,
        passage_prompt=cfg.passage_prompt,
        precision=cfg.precision,
        batch_size=cfg.batch_size,
        max_seq_length=cfg.max_seq_length,
        cache_dir=cfg.cache_dir,
    )
