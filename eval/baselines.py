"""The two usual recipes the product is compared with, run through the same evaluation code.

- :class:`BM25Baseline`: classic Okapi BM25 (k1=1.5, b=0.75, Lucene's idf) over the product's
  own sparse terms (``SparseEncoder.terms``: fugashi lemmas and compounds), one bag of terms per
  document (title + text), numpy only.
- :class:`LangChainBaseline`: the plain LangChain recipe, ``RecursiveCharacterTextSplitter(
  chunk_size=1000, chunk_overlap=200)`` + the same embedding model (passage/query prompts), exact
  cosine search, a document scored by its best chunk. Pass a ``CachedEmbedder`` so reruns do not
  embed again. The query goes through the product's ``normalize`` (NFKC and a few character folds), as
  the product's queries do: e5's tokenizer applies NFKC itself, so this barely changes the vector
  but lets both share cached query vectors (each long query costs ~0.1-1 s to embed on 2 cores).

Both expose ``search(text, depth) -> [(doc_id, score), ...]`` (best first) and ``config()``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from eval.beir import CorpusDoc
from retrieval.embedder import Embedder
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder

__all__ = ["BM25Baseline", "LangChainBaseline", "doc_text"]

Progress = Callable[[str, int, "int | None"], None]

EMBED_BATCH = 64  # chunks per embedding call (progress granularity; the cache saves between calls)


def doc_text(doc: CorpusDoc) -> str:
    """What a plain recipe indexes: the title (when there is one) above the text."""
    return f"{doc.title}\n{doc.text}" if doc.title.strip() else doc.text


def _top(scores: np.ndarray, ids: Sequence[str], depth: int) -> list[tuple[str, float]]:
    """The ``depth`` best (id, score) pairs; ties keep corpus order (stable sort)."""
    order = np.argsort(-scores, kind="stable")[:depth]
    return [(ids[i], float(scores[i])) for i in order]


class BM25Baseline:
    """Okapi BM25 over one term bag per document; queries count each distinct term once.

    Usage: ``BM25Baseline(dataset.corpus, SparseEncoder()).search("課税売上割合の計算", depth=10)``.
    """

    def __init__(self, docs: Sequence[CorpusDoc], encoder: SparseEncoder, k1: float = 1.5, b: float = 0.75,
                 progress: Progress | None = None) -> None:
        self.encoder = encoder
        self.k1, self.b = k1, b
        self.ids = [d.doc_id for d in docs]
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        lengths = np.zeros(len(docs), dtype=np.float64)
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(docs):
            terms = encoder.terms(doc_text(doc))
            lengths[i] = len(terms)
            for term, tf in Counter(terms).items():
                postings.setdefault(term, []).append((i, tf))
            if progress is not None and (i + 1) % 200 == 0:
                progress("bm25", i + 1, len(docs))
        n = len(docs)
        avgdl = float(lengths.mean()) if n else 0.0
        self._norm = k1 * (1.0 - b + b * lengths / max(avgdl, 1e-9))
        for term, plist in postings.items():
            idx = np.fromiter((p[0] for p in plist), dtype=np.int64, count=len(plist))
            tf = np.fromiter((p[1] for p in plist), dtype=np.float64, count=len(plist))
            idf = math.log(1.0 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            self._postings[term] = (idx, idf * tf * (k1 + 1.0) / (tf + self._norm[idx]))
        if progress is not None:
            progress("bm25", n, n)

    def config(self) -> dict:
        """Parameters for the report."""
        return {"k1": self.k1, "b": self.b, "idf": "log(1 + (N - df + 0.5) / (df + 0.5))",
                "terms": "SparseEncoder.terms(title + text), default parameters", "documents": len(self.ids)}

    def search(self, text: str, depth: int) -> list[tuple[str, float]]:
        """Documents with a positive score, best first (at most ``depth``)."""
        scores = np.zeros(len(self.ids), dtype=np.float64)
        for term in dict.fromkeys(self.encoder.terms(text)):
            posting = self._postings.get(term)
            if posting is not None:
                scores[posting[0]] += posting[1]
        hits = _top(scores, self.ids, depth)
        return [(d, s) for d, s in hits if s > 0]


class LangChainBaseline:
    """RecursiveCharacterTextSplitter(1000/200) chunks, dense cosine, best chunk per document."""

    def __init__(self, docs: Sequence[CorpusDoc], embedder: Embedder, chunk_size: int = 1000,
                 chunk_overlap: int = 200, progress: Progress | None = None) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.embedder = embedder
        self.chunk_size, self.chunk_overlap = chunk_size, chunk_overlap
        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.ids = [d.doc_id for d in docs]
        texts: list[str] = []
        owners: list[int] = []
        for i, doc in enumerate(docs):
            for piece in splitter.split_text(doc_text(doc)):
                texts.append(piece)
                owners.append(i)
        self.chunks = len(texts)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            vectors.extend(embedder.embed_documents(texts[start : start + EMBED_BATCH]))
            if progress is not None:
                progress("langchain", len(vectors), len(texts))
        self._matrix = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        self._owners = np.asarray(owners, dtype=np.int64)

    def config(self) -> dict:
        """Parameters for the report."""
        return {"splitter": "RecursiveCharacterTextSplitter", "chunk_size": self.chunk_size,
                "chunk_overlap": self.chunk_overlap, "chunks": self.chunks, "search": "exact cosine, best chunk per document"}

    def search(self, text: str, depth: int) -> list[tuple[str, float]]:
        """Documents by their best chunk's cosine similarity, best first (at most ``depth``)."""
        query = np.asarray(self.embedder.embed_query(normalize(text)), dtype=np.float32)
        chunk_scores = self._matrix @ query
        doc_scores = np.full(len(self.ids), -np.inf, dtype=np.float32)
        np.maximum.at(doc_scores, self._owners, chunk_scores)
        return _top(doc_scores.astype(np.float64), self.ids, depth)
