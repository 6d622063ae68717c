"""Plain data shared by ingestion and retrieval: chunks, filters, queries and hits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Namespace for deterministic chunk ids: uuid5(NAMESPACE, f"{doc_id}#{ordinal}").
CHUNK_NAMESPACE = uuid.UUID("6f1c1c3e-5b0a-4d7e-9a51-3f2a8c9e0b17")

DOC_TYPES = ("law", "diet_speech", "faq", "guideline", "notice", "white_paper", "other")


def chunk_id_for(doc_id: str, ordinal: int) -> str:
    """Stable id of the ``ordinal``-th chunk of ``doc_id`` (re-ingesting overwrites, never duplicates)."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}#{ordinal}"))


@dataclass
class SparseVector:
    """Term ids (uint32) and weights; the index applies IDF."""

    indices: list[int]
    values: list[float]


@dataclass
class Chunk:
    """One searchable, citable span of a document, with everything filters and citations need.

    ``char_start``/``char_end`` are offsets into the document's normalized text; ``text`` equals
    that slice. ``doc_chunks`` is how many chunks the document has (to detect half-indexed docs).
    ``extra`` holds source-specific fields (house, meeting, speaker, speaker_position,
    speech_order, procedural, law_name, law_number, article_caption, ...), stored flat in the payload.
    """

    doc_id: str
    ordinal: int
    text: str
    title: str
    doc_type: str
    section: str = ""
    page: int | None = None
    char_start: int = 0
    char_end: int = 0
    date: str | None = None
    source_url: str | None = None
    source_path: str | None = None
    confidentiality: int = 1
    groups: list[str] = field(default_factory=list)
    content_hash: str = ""
    doc_chunks: int = 1
    embedding_path: str = ""  # the inference path that made ``dense`` (retrieval/cpu.py)
    extra: dict[str, Any] = field(default_factory=dict)
    dense: list[float] | None = None
    sparse: SparseVector | None = None

    @property
    def chunk_id(self) -> str:
        return chunk_id_for(self.doc_id, self.ordinal)

    def payload(self) -> dict[str, Any]:
        """The payload stored with the point (no vectors)."""
        base = {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "ordinal": self.ordinal,
            "text": self.text,
            "title": self.title,
            "doc_type": self.doc_type,
            "section": self.section,
            "page": self.page,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "date": self.date,
            "source_url": self.source_url,
            "source_path": self.source_path,
            "confidentiality": self.confidentiality,
            "groups": list(self.groups),
            "content_hash": self.content_hash,
            "doc_chunks": self.doc_chunks,
            "embedding_path": self.embedding_path,
        }
        for key, value in self.extra.items():
            base.setdefault(key, value)
        return base


class SearchMode(str, Enum):
    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


# Everyone may read chunks whose ``groups`` contain this value.
PUBLIC_GROUP = "all"


@dataclass
class Access:
    """Who is asking: clearance level (1-3) and groups. Applied inside every index query."""

    clearance: int = 1
    groups: list[str] = field(default_factory=list)


@dataclass
class Filters:
    """Optional narrowing of a search. Dates are ISO strings (inclusive)."""

    doc_types: list[str] | None = None
    date_from: str | None = None
    date_to: str | None = None
    house: str | None = None
    meeting: str | None = None
    speaker: str | None = None
    doc_ids: list[str] | None = None
    # Also keep documents that carry no date (FAQs, guidelines): set for date phrases found in a
    # question, which should narrow dated records without hiding undated reference material.
    keep_undated: bool = False


# The hybrid fusion constant: k=20 beat 60 on all three dev sets (eval/fusion_variants.py,
# eval/README.md). k=10 ranked better still but let two more unanswerable questions of the
# answerability set through the relevance gate (86.8% refused, against 89.5% at 20 and 92.1% at
# 60), so 20. A sparse weight other than 1 did not pay, so it stays 1.
DEFAULT_RRF_K = 20


@dataclass
class Query:
    """What the index needs for one search: vectors for the chosen mode."""

    dense: list[float] | None = None
    sparse: SparseVector | None = None
    mode: SearchMode = SearchMode.HYBRID
    # Return each hit's stored dense vector (answers gate relevance on the query-passage cosine).
    with_dense: bool = False
    # Hybrid fusion: the reciprocal-rank-fusion constant (smaller: top ranks count more), and the
    # weight of the sparse ranking against the dense one's 1 (weighted RRF; eval/fusion_variants.py).
    rrf_k: int = DEFAULT_RRF_K
    sparse_weight: float = 1.0


@dataclass
class Hit:
    """One search result: the chunk's payload and its score (higher is better)."""

    chunk_id: str
    score: float
    payload: dict[str, Any]
    dense: list[float] | None = None  # only when the query asked ``with_dense``

    @property
    def text(self) -> str:
        return self.payload.get("text", "")


@dataclass
class DocInfo:
    """What the index knows about one document (for skip/replace decisions and listings)."""

    doc_id: str
    title: str
    doc_type: str
    content_hash: str
    doc_chunks: int
    chunks_found: int
    hashes: set[str] = field(default_factory=set)
    source_path: str | None = None
    embedding_paths: set[str] = field(default_factory=set)  # paths its vectors were made with
    confidentiality: int = 1  # the highest level among its chunks
    groups: list[str] = field(default_factory=list)
    date: str | None = None  # the document's own date
    ingested_by: str | None = None  # who uploaded it (文書管理), None for the command line
    ingested_at: str | None = None  # when it was written (ISO, JST)

    @property
    def complete(self) -> bool:
        """All chunks present and from one version of the document."""
        return len(self.hashes) == 1 and self.chunks_found == self.doc_chunks
