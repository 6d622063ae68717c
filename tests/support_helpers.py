"""The product's support judge for tests that need one but no real embedder.

Its model is trained on the packaged claim/source pairs without vectors (embedder None: the
cosine features are zero) into the test model cache, once per change of data or code, and then
reused: tests judge sentences exactly as the product does, minus the embedding signal.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from retrieval.support_judge import SupportJudge
from retrieval.support_model import SupportModel, support_model_from_cache
from retrieval.text.sparse import SparseEncoder


@functools.lru_cache(maxsize=1)
def offline_model() -> SupportModel:
    """The support model without embeddings (trained on first use, cached on disk)."""
    from retrieval.settings import EmbeddingSettings

    return support_model_from_cache(None, Path(os.environ.get("GYOSEI_TEST_MODEL_CACHE", EmbeddingSettings().cache_dir)))


def offline_judge(sparse: SparseEncoder | None = None) -> SupportJudge:
    """A support judge with no embedder and the offline model."""
    return SupportJudge(None, sparse or SparseEncoder(), offline_model())
