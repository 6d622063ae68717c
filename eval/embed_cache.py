"""A disk cache of embeddings, keyed by text and model, so evaluation reruns skip the model.

Embedding a dev set takes minutes on 2 cores; the vectors only change when the text or the model
does. :class:`CachedEmbedder` wraps any ``Embedder`` (same protocol) and stores every vector in
one ``.npz`` file (``keys``: sha256 of kind + text, ``vectors``: float32). Cached vectors are
the exact float32 values the model gave, so a rerun gives the same numbers.

Usage::

    emb = CachedEmbedder(real_embedder, Path("var/eval/embeddings/<model-key>/nta_faq.npz"))
    vectors = emb.embed_documents(texts)   # only unseen texts reach the model
    emb.save()
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from retrieval.embedder import Embedder

__all__ = ["CachedEmbedder", "embedder_key"]

SAVE_EVERY_S = 30.0  # a killed run loses at most this much embedding work


def _resolved_path(precision: str) -> str:
    """"auto" as the path this CPU takes first: vectors cached on one machine's path are not
    silently reused for another's (they agree, but a report must say what it measured)."""
    if precision != "auto":
        return precision
    from retrieval.cpu import auto_paths, detect_cpu, onnx_runtime_available

    return auto_paths(detect_cpu(), onnx_runtime_available())[0]


def embedder_key(embedding_settings: Any) -> str:
    """Short id of everything that changes the vectors: model, prompts, precision, max length."""
    fields = {
        "model": str(embedding_settings.model),
        "query_prompt": embedding_settings.query_prompt,
        "passage_prompt": embedding_settings.passage_prompt,
        "precision": _resolved_path(embedding_settings.precision),
        "max_seq_length": embedding_settings.max_seq_length,
    }
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _key(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\x00{text}".encode()).hexdigest()


class CachedEmbedder:
    """An ``Embedder`` that answers from ``path`` when it can and asks ``inner`` otherwise."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.cache_file = Path(path)
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = 0
        self._last_save = time.monotonic()
        self.hits = 0
        self.misses = 0
        if self.cache_file.exists():
            with np.load(self.cache_file, allow_pickle=False) as data:
                for key, vec in zip(data["keys"].tolist(), data["vectors"]):
                    self._vectors[key] = vec

    @property
    def path(self) -> str:
        """The inner embedder's inference path (what the index records for each chunk)."""
        from retrieval.embedder import embedder_path

        return embedder_path(self.inner)

    @property
    def dimension(self) -> int:
        """The inner embedder's dimension (taken from the cache when possible: no model load)."""
        if self._vectors:
            return int(next(iter(self._vectors.values())).shape[0])
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors, in order; unseen texts are embedded in one call to ``inner``."""
        return self._embed(list(texts), "passage", self.inner.embed_documents)

    def embed_query(self, text: str) -> list[float]:
        """Query vector (query prompt), cached like passages."""
        return self._embed([text], "query", lambda ts: [self.inner.embed_query(ts[0])])[0]

    def _embed(self, texts: list[str], kind: str, compute: Any) -> list[list[float]]:
        keys = [_key(kind, t) for t in texts]
        # First position of each unseen key: a text repeated in one call is embedded once.
        missing = list({k: i for i, k in reversed(list(enumerate(keys))) if k not in self._vectors}.values())
        missing.sort()
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = compute([texts[i] for i in missing])
            for i, vec in zip(missing, fresh):
                self._vectors[keys[i]] = np.asarray(vec, dtype=np.float32)
            self._dirty += len(missing)
            if time.monotonic() - self._last_save > SAVE_EVERY_S:
                self.save()
        return [self._vectors[k].tolist() for k in keys]

    def save(self) -> None:
        """Write the cache if anything new was added (atomically: temp file, then rename)."""
        if not self._dirty:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U64")
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        tmp = self.cache_file.with_name(self.cache_file.name + ".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, self.cache_file)
        self._dirty = 0
        self._last_save = time.monotonic()


class LazyEmbedder:
    """The configured embedder, loaded only when a text is missing from the cache (a re-run
    whose embeddings are all cached never loads the model)."""

    def __init__(self, embedding_settings: Any) -> None:
        self._settings = embedding_settings
        self._inner: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not set yet (copy, pickle): never load the model for these
            raise AttributeError(name)
        if self._inner is None:
            from retrieval.embedder import embedder_from_settings

            self._inner = embedder_from_settings(self._settings)
        return getattr(self._inner, name)

