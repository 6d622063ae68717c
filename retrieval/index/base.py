"""The ``Index`` seam: one small protocol, several real implementations.

Both implementations store one collection with two named vectors:
``dense`` (cosine, the embedder's dimension) and ``sparse`` (fugashi lemma ids, IDF modifier),
and the payload of ``Chunk.payload()``. Access rules (``Access``) are applied inside every query.
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

from retrieval.types import Access, Chunk, DocInfo, Filters, Hit, Query

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"

# Payload fields that get a payload index (filters use them).
KEYWORD_FIELDS = ("doc_id", "doc_type", "house", "meeting", "speaker", "groups", "content_hash")
INTEGER_FIELDS = ("confidentiality",)
DATETIME_FIELDS = ("date",)

# Most chunks one ``fetch`` reads (a whole long document has a few hundred).
FETCH_LIMIT = 10_000


class Index(Protocol):
    """Stores chunks with their vectors and answers filtered dense/sparse/hybrid searches."""

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or overwrite chunks (each must carry ``dense`` and ``sparse``)."""

    def delete(self, doc_id: str) -> int:
        """Remove every chunk of ``doc_id``; return how many were removed."""

    def search(self, query: Query, access: Access, filters: Filters | None = None, k: int = 10) -> list[Hit]:
        """Top ``k`` chunks for ``query`` among those ``access`` may read, best first."""

    def fetch(self, access: Access, filters: Filters, *, with_dense: bool = False, limit: int = FETCH_LIMIT) -> list[Hit]:
        """The chunks ``filters`` selects among those ``access`` may read, in document order
        (``doc_id``, then ``ordinal``), the first ``limit`` of them; scores are 0. For reading a document or the
        speeches around one, where a search would need a made-up query to list them."""

    def count(self, access: Access | None = None, filters: Filters | None = None) -> int:
        """Number of chunks (``access=None`` means unrestricted: maintenance use only)."""

    def documents(self, access: Access | None = None) -> dict[str, DocInfo]:
        """Per document: title, type, hashes and chunk counts (``access=None``: unrestricted)."""

    def set_access(self, doc_id: str, confidentiality: int, groups: list[str]) -> int:
        """Change the confidentiality and groups of every chunk of ``doc_id``; return how many."""

    def flush(self) -> None:
        """Make writes durable and searchable (optimize/persist as the backend needs)."""

    def close(self) -> None:
        """Release files and connections."""
