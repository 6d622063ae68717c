"""Backend-neutral filter rules shared by every ``Index`` implementation.

The access rule and the user's ``Filters`` are turned into a small list of plain conditions here,
once; each backend only translates those conditions into its own filter classes. That keeps the
security-relevant logic (who may read what) in one place that both implementations share.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Union

from retrieval.errors import IndexError_
from retrieval.types import PUBLIC_GROUP, Access, Chunk, DocInfo, Filters, Hit, Query, SearchMode


# Payload fields read by ``documents()`` (never the text: listings must stay cheap).
DOC_FIELDS = ("doc_id", "title", "doc_type", "content_hash", "doc_chunks", "source_path", "embedding_path",
              "confidentiality", "groups", "date", "ingested_by", "ingested_at")

# Page size for scrolling through payloads.
SCROLL_PAGE = 1024


@dataclass(frozen=True)
class MatchValue:
    """``key`` equals ``value`` (for list fields: contains it)."""

    key: str
    value: str


@dataclass(frozen=True)
class MatchAny:
    """``key`` equals any of ``values`` (for list fields: shares at least one)."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class AtMost:
    """Integer ``key`` is ``<= value``."""

    key: str
    value: int


@dataclass(frozen=True)
class DateRange:
    """ISO datetime ``key`` in ``[gte, lt)``; either bound may be open. Missing dates match only
    with ``or_missing``."""

    key: str
    gte: str | None
    lt: str | None
    or_missing: bool = False


Condition = Union[MatchValue, MatchAny, AtMost, DateRange]


def best_first(hits: list[Hit]) -> list[Hit]:
    """Hits by score, equal scores in chunk-id order. Engines return ties (a dense first and a
    sparse first both score 1/k in RRF) in an order that changes from one process to the next,
    and the same question must give the same answer and the same evaluation. Scores are compared
    to 9 places: two copies of one vector differ in the last bit of their cosine."""
    return sorted(hits, key=lambda h: (-round(h.score, 9), h.chunk_id))


def in_document_order(hits: list[Hit]) -> list[Hit]:
    """Fetched chunks by document, then by their place in it (``ordinal``)."""
    return sorted(hits, key=lambda h: (str(h.payload.get("doc_id") or ""), int(h.payload.get("ordinal") or 0), h.chunk_id))


def prefetch_limit(k: int) -> int:
    """How many candidates each hybrid branch fetches before fusion."""
    return max(k * 4, 40)


def access_conditions(access: Access | None) -> list[Condition]:
    """The access rule: clearance covers the chunk's confidentiality and a group matches.

    ``access=None`` is the unrestricted maintenance view (ingestion, deletion, listings for admins).
    A chunk with no groups at all is readable by nobody but that view.
    """
    if access is None:
        return []
    groups = tuple(dict.fromkeys([*access.groups, PUBLIC_GROUP]))
    return [AtMost("confidentiality", int(access.clearance)), MatchAny("groups", groups)]


def filter_conditions(filters: Filters | None) -> list[Condition]:
    """The user's narrowing. Empty lists and empty strings count as "not given"."""
    if filters is None:
        return []
    out: list[Condition] = []
    if filters.doc_types:
        out.append(MatchAny("doc_type", tuple(filters.doc_types)))
    if filters.doc_ids:
        out.append(MatchAny("doc_id", tuple(filters.doc_ids)))
    for key in ("house", "meeting", "speaker"):
        value = getattr(filters, key)
        if value:
            out.append(MatchValue(key, value))
    if filters.date_from or filters.date_to:
        gte = _day_start(filters.date_from, "date_from") if filters.date_from else None
        lt = _day_after(filters.date_to, "date_to") if filters.date_to else None
        out.append(DateRange("date", gte, lt, or_missing=filters.keep_undated))
    return out


def conditions(access: Access | None, filters: Filters | None) -> list[Condition]:
    """Access rule first, then the user's filters; all must hold."""
    return access_conditions(access) + filter_conditions(filters)


def doc_condition(doc_id: str) -> list[Condition]:
    """Every chunk of one document."""
    return [MatchValue("doc_id", doc_id)]


def _parse_day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise IndexError_(
            f"日付の指定 {name}='{value}' を解釈できません。YYYY-MM-DD（例: 2024-04-01）の形式で指定してください。"
        ) from None


def _day_start(value: str, name: str) -> str:
    return _parse_day(value, name).isoformat() + "T00:00:00Z"


def _day_after(value: str, name: str) -> str:
    # date_to is inclusive: everything before the start of the next day.
    return (_parse_day(value, name) + dt.timedelta(days=1)).isoformat() + "T00:00:00Z"


def aggregate_documents(payloads: Iterable[dict[str, Any]]) -> dict[str, DocInfo]:
    """Fold chunk payloads (``DOC_FIELDS``) into one ``DocInfo`` per document."""
    docs: dict[str, DocInfo] = {}
    for p in payloads:
        doc_id = p.get("doc_id")
        if not doc_id:
            continue
        info = docs.get(doc_id)
        if info is None:
            info = DocInfo(
                doc_id=doc_id,
                title=p.get("title") or "",
                doc_type=p.get("doc_type") or "other",
                content_hash=p.get("content_hash") or "",
                doc_chunks=int(p.get("doc_chunks") or 0),
                chunks_found=0,
                source_path=p.get("source_path"),
                confidentiality=int(p.get("confidentiality") or 1),
                groups=sorted(p.get("groups") or []),
                date=p.get("date"),
            )
            docs[doc_id] = info
        info.chunks_found += 1
        info.hashes.add(p.get("content_hash") or "")
        if p.get("embedding_path"):
            info.embedding_paths.add(p["embedding_path"])
        info.confidentiality = max(info.confidentiality, int(p.get("confidentiality") or 1))
        info.groups = sorted(set(info.groups) | set(p.get("groups") or []))
        info.ingested_by = info.ingested_by or p.get("ingested_by")
        info.ingested_at = max(filter(None, (info.ingested_at, p.get("ingested_at"))), default=None)
    return docs


def check_vectors(chunk: Chunk, dimension: int, where: object) -> None:
    """Reject a chunk without both vectors or with the wrong dense size, naming the document."""
    if chunk.dense is None or chunk.sparse is None:
        raise IndexError_(
            f"{where}: 文書 {chunk.doc_id} のチャンク {chunk.ordinal} にベクトルがありません"
            "（密ベクトルと疎ベクトルの両方が必要です）。"
        )
    if len(chunk.dense) != dimension:
        raise IndexError_(
            f"{where}: 文書 {chunk.doc_id} のチャンク {chunk.ordinal} のベクトルは {len(chunk.dense)} 次元ですが、"
            f"インデックスは {dimension} 次元です。埋め込みモデルの設定を確認してください。"
        )


def require_vectors(query: Query, has_dense: bool, has_sparse: bool) -> None:
    """A mode needs its vector; hybrid runs on whichever of the two the query has.

    A sparse vector with no terms counts as present for ``sparse`` mode (it simply matches nothing).
    """
    mode = SearchMode(query.mode)
    if mode == SearchMode.DENSE and not has_dense:
        raise IndexError_("密ベクトル検索（dense）には質問の密ベクトルが必要です。")
    if mode == SearchMode.SPARSE and query.sparse is None:
        raise IndexError_("疎ベクトル検索（sparse）には質問の疎ベクトルが必要です。")
    if mode == SearchMode.HYBRID and not (has_dense or has_sparse):
        raise IndexError_("ハイブリッド検索には質問の密ベクトルか疎ベクトルが必要です。")
