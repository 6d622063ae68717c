"""The server index: one collection on a Qdrant server or cluster, through qdrant-client.

In tests ``QdrantClient(":memory:")`` (or ``path=``) stands in for the server: it speaks the same
API but searches by brute force in Python and ignores payload indexes (creating them only warns).
Hybrid search is one ``query_points`` call with a dense and a sparse prefetch fused by RRF with
an explicit ``k`` (parameterized RRF needs Qdrant server >= 1.16).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Iterator, Sequence

from qdrant_client import QdrantClient, models

from retrieval.errors import IndexError_
from retrieval.index import filters as F
from retrieval.index.base import (
    DATETIME_FIELDS,
    DENSE_VECTOR,
    FETCH_LIMIT,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
)
from retrieval.types import Access, Chunk, DocInfo, Filters, Hit, Query, SearchMode

UPSERT_BATCH = 256


class QdrantIndex:
    """An ``Index`` on ``collection`` of a qdrant-client connection (created if missing).

    >>> index = QdrantIndex(QdrantClient(url="http://qdrant:6333"), "gyosei", dimension=384)
    """

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        dimension: int,
        *,
        read_only: bool = False,
        close_client: bool = False,
    ) -> None:
        self.client = client
        self.collection = collection
        self.dimension = int(dimension)
        self.read_only = read_only
        self._close_client = close_client
        self._where = f"Qdrant コレクション '{collection}'"
        exists = self._call(client.collection_exists, collection)
        if exists:
            self._validate()
        elif read_only:
            raise IndexError_(f"{self._where} がありません。先に文書を取り込んでください。")
        else:
            self._call(
                client.create_collection,
                collection,
                vectors_config={DENSE_VECTOR: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        if not read_only:
            self._ensure_payload_indexes()

    # -- Index protocol ---------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or overwrite chunks (same ``chunk_id`` = same point); waits until applied."""
        self._writable()
        for start in range(0, len(chunks), UPSERT_BATCH):
            points = [self._point(c) for c in chunks[start : start + UPSERT_BATCH]]
            self._call(self.client.upsert, self.collection, points=points, wait=True)

    def delete(self, doc_id: str) -> int:
        """Remove every chunk of ``doc_id``; return how many were removed."""
        self._writable()
        flt = _client_filter(F.doc_condition(doc_id))
        n = self._call(self.client.count, self.collection, count_filter=flt, exact=True).count
        if n:
            selector = models.FilterSelector(filter=flt)
            self._call(self.client.delete, self.collection, points_selector=selector, wait=True)
        return int(n)

    def set_access(self, doc_id: str, confidentiality: int, groups: list[str]) -> int:
        """Change the confidentiality and groups of every chunk of ``doc_id``; return how many."""
        self._writable()
        flt = _client_filter(F.doc_condition(doc_id))
        n = self._call(self.client.count, self.collection, count_filter=flt, exact=True).count
        if n:
            payload = {"confidentiality": int(confidentiality), "groups": sorted(set(groups))}
            self._call(self.client.set_payload, self.collection, payload=payload, points=models.FilterSelector(filter=flt),
                       wait=True)
        return int(n)

    def search(self, query: Query, access: Access, filters: Filters | None = None, k: int = 10) -> list[Hit]:
        """Top ``k`` readable chunks; hybrid fuses dense and sparse in Qdrant with RRF."""
        flt = _client_filter(F.conditions(access, filters))
        dense = list(map(float, query.dense)) if query.dense is not None and query.mode != SearchMode.SPARSE else None
        sparse = None
        if query.sparse is not None and query.sparse.indices and query.mode != SearchMode.DENSE:
            sparse = models.SparseVector(indices=list(query.sparse.indices), values=list(query.sparse.values))
        F.require_vectors(query, dense is not None, sparse is not None)
        if query.mode == SearchMode.HYBRID:
            limit = F.prefetch_limit(k)
            pairs = [(vec, name, w) for vec, name, w in ((dense, DENSE_VECTOR, 1.0), (sparse, SPARSE_VECTOR, query.sparse_weight))
                     if vec is not None]
            prefetch = [models.Prefetch(query=vec, using=name, limit=limit, filter=flt) for vec, name, _ in pairs]
            weights = [w for _, _, w in pairs]
            rrf = models.Rrf(k=query.rrf_k, weights=weights) if len(set(weights)) > 1 else models.Rrf(k=query.rrf_k)
            kwargs: dict[str, Any] = {"prefetch": prefetch, "query": models.RrfQuery(rrf=rrf)}
        elif query.mode == SearchMode.DENSE:
            kwargs = {"query": dense, "using": DENSE_VECTOR}
        else:
            if sparse is None:  # a sparse query without any known term matches nothing
                return []
            kwargs = {"query": sparse, "using": SPARSE_VECTOR}
        result = self._call(
            self.client.query_points,
            self.collection,
            query_filter=flt,
            limit=k,
            with_payload=True,
            with_vectors=[DENSE_VECTOR] if query.with_dense else False,
            **kwargs,
        )
        return F.best_first([
            Hit(chunk_id=str(p.id), score=float(p.score), payload=dict(p.payload or {}), dense=_dense_of(p))
            for p in result.points
        ])

    def fetch(self, access: Access, filters: Filters, *, with_dense: bool = False, limit: int = FETCH_LIMIT) -> list[Hit]:
        """The selected readable chunks in document order (a filtered scroll, no query vector)."""
        records = self._scroll(_client_filter(F.conditions(access, filters)), True, [DENSE_VECTOR] if with_dense else False)
        hits = [Hit(chunk_id=str(r.id), score=0.0, payload=dict(r.payload or {}), dense=_dense_of(r))
                for r in itertools.islice(records, FETCH_LIMIT)]
        return F.in_document_order(hits)[:limit]

    def count(self, access: Access | None = None, filters: Filters | None = None) -> int:
        """Number of chunks ``access`` may read (``None``: all chunks)."""
        flt = _client_filter(F.conditions(access, filters))
        return int(self._call(self.client.count, self.collection, count_filter=flt, exact=True).count)

    def documents(self, access: Access | None = None) -> dict[str, DocInfo]:
        """Per-document summary, read from the payload fields in ``filters.DOC_FIELDS`` only."""
        records = self._scroll(_client_filter(F.access_conditions(access)), list(F.DOC_FIELDS), False)
        payloads = (r.payload or {} for r in records)
        return F.aggregate_documents(payloads)

    def flush(self) -> None:
        """Nothing to do: upserts wait for the server, which persists and indexes on its own."""

    def close(self) -> None:
        """Close the client if this index created it (``close_client=True``)."""
        if self._close_client:
            self.client.close()

    def __enter__(self) -> "QdrantIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------

    def _validate(self) -> None:
        params = self._call(self.client.get_collection, self.collection).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        sparse = params.sparse_vectors or {}
        if DENSE_VECTOR not in vectors or SPARSE_VECTOR not in sparse:
            raise IndexError_(
                f"{self._where} は gyosei の形式（名前付きベクトル '{DENSE_VECTOR}' と '{SPARSE_VECTOR}'）"
                "ではありません。別のコレクション名を設定してください。"
            )
        stored = vectors[DENSE_VECTOR].size
        if stored != self.dimension:
            raise IndexError_(
                f"{self._where} のベクトル次元は {stored} ですが、現在の埋め込みモデルは {self.dimension} 次元です。"
                "作成時と同じモデルを設定するか、コレクションを削除して文書を取り込み直してください。"
            )

    def _ensure_payload_indexes(self) -> None:
        info = self._call(self.client.get_collection, self.collection)
        existing = set(info.payload_schema or {})
        wanted = (
            [(f, models.PayloadSchemaType.KEYWORD) for f in KEYWORD_FIELDS]
            + [(f, models.PayloadSchemaType.INTEGER) for f in INTEGER_FIELDS]
            + [(f, models.PayloadSchemaType.DATETIME) for f in DATETIME_FIELDS]
        )
        with warnings.catch_warnings():
            # Local mode warns that payload indexes have no effect there; the server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field, schema in wanted:
                if field not in existing:
                    self._call(self.client.create_payload_index, self.collection, field, schema, wait=True)

    def _writable(self) -> None:
        if self.read_only:
            raise IndexError_(f"{self._where} は読み取り専用で開かれているため書き込めません。")

    def _point(self, chunk: Chunk) -> models.PointStruct:
        F.check_vectors(chunk, self.dimension, self._where)
        vector = {
            DENSE_VECTOR: [float(x) for x in chunk.dense],
            SPARSE_VECTOR: models.SparseVector(indices=list(chunk.sparse.indices), values=list(chunk.sparse.values)),
        }
        return models.PointStruct(id=chunk.chunk_id, vector=vector, payload=chunk.payload())

    def _scroll(self, flt: models.Filter | None, with_payload: Any, with_vectors: Any) -> Iterator[Any]:
        """Every record ``flt`` selects, page by page."""
        offset = None
        while True:
            records, offset = self._call(self.client.scroll, self.collection, scroll_filter=flt, limit=F.SCROLL_PAGE,
                                         offset=offset, with_payload=with_payload, with_vectors=with_vectors)
            yield from records
            if offset is None:
                return

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the client, turning connection and server errors into a Japanese ``IndexError_``."""
        try:
            return fn(*args, **kwargs)
        except IndexError_:
            raise
        except Exception as exc:
            raise IndexError_(f"{self._where} の操作に失敗しました（{type(exc).__name__}: {exc}）。"
                              "Qdrant サーバーの URL・API キー・稼働状況を確認してください。") from exc


def _client_filter(conds: list[F.Condition]) -> models.Filter | None:
    if not conds:
        return None
    must: list[Any] = []
    for c in conds:
        if isinstance(c, F.MatchValue):
            must.append(models.FieldCondition(key=c.key, match=models.MatchValue(value=c.value)))
        elif isinstance(c, F.MatchAny):
            must.append(models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.values))))
        elif isinstance(c, F.AtMost):
            must.append(models.FieldCondition(key=c.key, range=models.Range(lte=c.value)))
        elif isinstance(c, F.DateRange):
            in_range: Any = models.FieldCondition(key=c.key, range=models.DatetimeRange(gte=c.gte, lt=c.lt))
            if c.or_missing:
                in_range = models.Filter(
                    should=[
                        in_range,
                        models.IsNullCondition(is_null=models.PayloadField(key=c.key)),
                        models.IsEmptyCondition(is_empty=models.PayloadField(key=c.key)),
                    ]
                )
            must.append(in_range)
        else:  # pragma: no cover - a new condition type must be translated here
            raise TypeError(f"unknown condition {c!r}")
    return models.Filter(must=must)


def _dense_of(point: Any) -> list[float] | None:
    vectors = point.vector
    if isinstance(vectors, dict) and DENSE_VECTOR in vectors:
        return [float(x) for x in vectors[DENSE_VECTOR]]
    return None
