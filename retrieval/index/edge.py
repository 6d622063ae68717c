"""The embedded index: one Qdrant Edge shard in a folder on disk (the offline default).

Qdrant Edge (``qdrant-edge-py``, beta) is Qdrant's in-process engine: same segment format, HNSW,
named dense + sparse vectors with IDF, prefetch + RRF fusion and payload indexes, but its own API
(``EdgeShard``) rather than qdrant-client's. Facts this module relies on (measured with 0.9.0):

* Edge locks its write-ahead log while a shard is open, so only ONE ``EdgeShard`` (reader or
  writer, in any process) can have a folder open; a second ``load`` fails with ``WouldBlock``.
  We add our own writer lock file anyway so that two writers get a clear message before Edge is
  touched, and map Edge's ``WouldBlock`` to ``IndexLockedError`` for readers.
* Updates go through the WAL, so they survive a crash even before ``flush()``; ``flush()`` writes
  segments and ``optimize()`` builds the HNSW graph for segments above the indexing threshold
  (until then search is exact brute force over that segment: ~70 ms hybrid at 100k points).
  Building costs ~10 s per 10k and ~160 s per 100k points on 2 cores: call ``flush()`` once per
  ingestion run, not per document.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import qdrant_edge as qe

from retrieval.errors import IndexError_, IndexLockedError
from retrieval.index import filters as F
from retrieval.index.base import (
    DATETIME_FIELDS,
    DENSE_VECTOR,
    FETCH_LIMIT,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
)
from retrieval.index.lock import WriterLock
from retrieval.types import Access, Chunk, DocInfo, Filters, Hit, Query, SearchMode

CONFIG_FILE = "edge_config.json"  # written by Edge itself next to ``segments/`` and ``wal/``
UPSERT_BATCH = 256


class EdgeIndex:
    """An ``Index`` on a Qdrant Edge shard at ``path`` (created on first open for writing).

    >>> index = EdgeIndex(Path("var/index"), dimension=384)
    >>> index.upsert(chunks); index.flush(); index.close()
    """

    def __init__(self, path: Path, dimension: int, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.dimension = int(dimension)
        self.read_only = read_only
        self._lock: WriterLock | None = None
        self._shard: Any = None
        if not read_only:
            if not self.path.exists():
                self.path.mkdir(parents=True, mode=0o700)  # 機密性3 text is stored in plain form here
            self._lock = WriterLock(self.path)  # before reading the config: no creator races us
        try:
            stored = _stored_dimension(self.path)
            if stored is not None and stored != self.dimension:
                raise IndexError_(
                    f"{self.path}: インデックスのベクトル次元は {stored} ですが、現在の埋め込みモデルは "
                    f"{self.dimension} 次元です。作成時と同じモデルを設定するか、インデックスを削除して"
                    "文書を取り込み直してください。"
                )
            if read_only:
                if stored is None:
                    raise IndexError_(f"{self.path}: インデックスがまだありません。先に文書を取り込んでください。")
                self._shard = self._load(writer=False)
            elif stored is None:
                self._shard = _call(self.path, qe.EdgeShard.create, str(self.path), self._config())
            else:
                self._shard = self._load(writer=True)
            if not read_only:
                self._ensure_payload_indexes()
        except BaseException:
            self.close()
            raise

    # -- Index protocol ---------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or overwrite chunks (same ``chunk_id`` = same point)."""
        self._writable()
        for start in range(0, len(chunks), UPSERT_BATCH):
            points = [self._point(c) for c in chunks[start : start + UPSERT_BATCH]]
            _call(self.path, self._shard.update, qe.UpdateOperation.upsert_points(points))

    def delete(self, doc_id: str) -> int:
        """Remove every chunk of ``doc_id``; return how many were removed."""
        self._writable()
        flt = _edge_filter(F.doc_condition(doc_id))
        n = _call(self.path, self._shard.count, qe.CountRequest(filter=flt, exact=True))
        if n:
            _call(self.path, self._shard.update, qe.UpdateOperation.delete_points_by_filter(flt))
        return int(n)

    def set_access(self, doc_id: str, confidentiality: int, groups: list[str]) -> int:
        """Change the confidentiality and groups of every chunk of ``doc_id``; return how many."""
        self._writable()
        flt = _edge_filter(F.doc_condition(doc_id))
        n = _call(self.path, self._shard.count, qe.CountRequest(filter=flt, exact=True))
        if n:
            payload = {"confidentiality": int(confidentiality), "groups": sorted(set(groups))}
            _call(self.path, self._shard.update, qe.UpdateOperation.set_payload_by_filter(flt, payload))
        return int(n)

    def search(self, query: Query, access: Access, filters: Filters | None = None, k: int = 10) -> list[Hit]:
        """Top ``k`` readable chunks; hybrid fuses dense and sparse inside Edge with RRF."""
        flt = _edge_filter(F.conditions(access, filters))
        dense, sparse = _query_vectors(query)
        with_vector = [DENSE_VECTOR] if query.with_dense else None
        if query.mode == SearchMode.HYBRID:
            limit = F.prefetch_limit(k)
            pairs = [(q, w) for q, w in ((dense, 1.0), (sparse, query.sparse_weight)) if q is not None]
            prefetches = [qe.Prefetch(limit=limit, query=q, filter=flt) for q, _ in pairs]
            weights = [w for _, w in pairs]
            fusion = qe.Fusion.Rrf(k=query.rrf_k, weights=weights) if len(set(weights)) > 1 else qe.Fusion.Rrf(k=query.rrf_k)
            request = qe.QueryRequest(
                limit=k, prefetches=prefetches, query=fusion, filter=flt, with_payload=True, with_vector=with_vector
            )
        else:
            vector = dense if query.mode == SearchMode.DENSE else sparse
            if vector is None:  # a sparse query without any known term matches nothing
                return []
            request = qe.QueryRequest(limit=k, query=vector, filter=flt, with_payload=True, with_vector=with_vector)
        points = _call(self.path, self._shard.query, request)
        return F.best_first([
            Hit(chunk_id=str(p.id), score=float(p.score), payload=dict(p.payload or {}), dense=_dense_of(p))
            for p in points
        ])

    def fetch(self, access: Access, filters: Filters, *, with_dense: bool = False, limit: int = FETCH_LIMIT) -> list[Hit]:
        """The selected readable chunks in document order (a filtered scroll, no query vector)."""
        records = self._scroll(_edge_filter(F.conditions(access, filters)), True, [DENSE_VECTOR] if with_dense else None)
        hits = [Hit(chunk_id=str(r.id), score=0.0, payload=dict(r.payload or {}), dense=_dense_of(r))
                for r in itertools.islice(records, FETCH_LIMIT)]
        return F.in_document_order(hits)[:limit]

    def count(self, access: Access | None = None, filters: Filters | None = None) -> int:
        """Number of chunks ``access`` may read (``None``: all chunks)."""
        flt = _edge_filter(F.conditions(access, filters))
        return int(_call(self.path, self._shard.count, qe.CountRequest(filter=flt, exact=True)))

    def documents(self, access: Access | None = None) -> dict[str, DocInfo]:
        """Per-document summary, read from the payload fields in ``filters.DOC_FIELDS`` only."""
        selector = qe.PayloadSelector.Include(list(F.DOC_FIELDS))
        payloads = (r.payload or {} for r in self._scroll(_edge_filter(F.access_conditions(access)), selector, None))
        return F.aggregate_documents(payloads)

    def flush(self) -> None:
        """Build HNSW for large segments (``optimize``, seconds to minutes), then write to disk."""
        if self._shard is None or self.read_only:
            return
        _call(self.path, self._shard.optimize)
        _call(self.path, self._shard.flush)

    def close(self) -> None:
        """Persist pending writes (without optimizing), close the shard, drop the writer lock."""
        try:
            if self._shard is not None:
                if not self.read_only:
                    _call(self.path, self._shard.flush)
                self._shard.close()
        finally:
            self._shard = None
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> "EdgeIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------

    def _config(self) -> Any:
        # Measured on 2 cores (bench/index_speed.py): int8 scalar quantization makes the HNSW build
        # ~3x faster (Edge builds on the quantized vectors; search rescores with the originals), and
        # payload_m=0 skips the extra per-payload-value HNSW graphs, which dominated the build at 100k
        # points. Filtered searches then use the payload indexes and the planner instead.
        return qe.EdgeConfig(
            vectors={DENSE_VECTOR: qe.EdgeVectorParams(size=self.dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000, payload_m=0),
            quantization_config=qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, always_ram=True),
        )

    def _load(self, *, writer: bool) -> Any:
        try:
            return qe.EdgeShard.load(str(self.path))
        except Exception as exc:  # Edge raises plain Exception with a Rust message
            if "WouldBlock" in str(exc):
                if writer:
                    msg = "別のプロセス（アプリや検索など）がこのインデックスを開いているため、書き込み用に開けません。"
                else:
                    msg = "別のプロセスがこのインデックスを開いています（取り込み中の可能性があります）。"
                raise IndexLockedError(f"{self.path}: {msg}そのプロセスを終了してから再実行してください。") from exc
            raise IndexError_(f"{self.path}: インデックスを開けません（{exc}）。") from exc

    def _ensure_payload_indexes(self) -> None:
        # Reopened shards may predate a field: create what is missing, keep what exists.
        existing = set(self._shard.info().payload_schema)
        wanted = (
            [(f, qe.PayloadSchemaType.Keyword) for f in KEYWORD_FIELDS]
            + [(f, qe.PayloadSchemaType.Integer) for f in INTEGER_FIELDS]
            + [(f, qe.PayloadSchemaType.Datetime) for f in DATETIME_FIELDS]
        )
        for field, schema in wanted:
            if field not in existing:
                _call(self.path, self._shard.update, qe.UpdateOperation.create_field_index(field, schema))

    def _scroll(self, flt: Any, with_payload: Any, with_vector: Any) -> Iterator[Any]:
        """Every record ``flt`` selects, page by page."""
        offset = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=F.SCROLL_PAGE, filter=flt, with_payload=with_payload,
                                       with_vector=with_vector)
            records, offset = _call(self.path, self._shard.scroll, request)
            yield from records
            if offset is None:
                return

    def _writable(self) -> None:
        if self.read_only:
            raise IndexError_(f"{self.path}: 読み取り専用で開いたインデックスには書き込めません。")
        if self._shard is None:
            raise IndexError_(f"{self.path}: インデックスは既に閉じられています。")

    def _point(self, chunk: Chunk) -> Any:
        F.check_vectors(chunk, self.dimension, self.path)
        vector = {
            DENSE_VECTOR: [float(x) for x in chunk.dense],
            SPARSE_VECTOR: qe.SparseVector(indices=list(chunk.sparse.indices), values=list(chunk.sparse.values)),
        }
        return qe.Point(id=chunk.chunk_id, vector=vector, payload=chunk.payload())


def _query_vectors(query: Query) -> tuple[Any, Any]:
    """Edge queries for the vectors the mode needs (``None`` for an unused or empty one)."""
    dense = sparse = None
    if query.dense is not None and query.mode != SearchMode.SPARSE:
        dense = qe.Query.Nearest([float(x) for x in query.dense], using=DENSE_VECTOR)
    if query.sparse is not None and query.sparse.indices and query.mode != SearchMode.DENSE:
        sv = qe.SparseVector(indices=list(query.sparse.indices), values=list(query.sparse.values))
        sparse = qe.Query.Nearest(sv, using=SPARSE_VECTOR)
    F.require_vectors(query, dense is not None, sparse is not None)
    return dense, sparse


def _dense_of(point: Any) -> list[float] | None:
    vectors = getattr(point, "vector", None)
    if isinstance(vectors, dict) and DENSE_VECTOR in vectors:
        return [float(x) for x in vectors[DENSE_VECTOR]]
    return None


def _edge_filter(conds: list[F.Condition]) -> Any:
    if not conds:
        return None
    must = []
    for c in conds:
        if isinstance(c, F.MatchValue):
            must.append(qe.FieldCondition(key=c.key, match=qe.MatchValue(c.value)))
        elif isinstance(c, F.MatchAny):
            must.append(qe.FieldCondition(key=c.key, match=qe.MatchAny(list(c.values))))
        elif isinstance(c, F.AtMost):
            must.append(qe.FieldCondition(key=c.key, range=qe.RangeFloat(lte=float(c.value))))
        elif isinstance(c, F.DateRange):
            in_range = qe.FieldCondition(key=c.key, range=qe.RangeDateTime(gte=c.gte, lt=c.lt))
            if c.or_missing:
                in_range = qe.Filter(should=[in_range, qe.IsNullCondition(c.key), qe.IsEmptyCondition(c.key)])
            must.append(in_range)
        else:  # pragma: no cover - a new condition type must be translated here
            raise TypeError(f"unknown condition {c!r}")
    return qe.Filter(must=must)


def _stored_dimension(path: Path) -> int | None:
    """Dense size recorded in an existing shard's config, or ``None`` if there is no shard."""
    config = path / CONFIG_FILE
    if not config.exists():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        return int(data["vectors"][DENSE_VECTOR]["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexError_(
            f"{config}: gyosei のインデックスとして読めません（{exc}）。フォルダを確認するか、削除して取り込み直してください。"
        ) from exc


def _call(path: Path, fn: Any, *args: Any) -> Any:
    """Call into Edge, turning its untyped exceptions into a Japanese ``IndexError_``."""
    try:
        return fn(*args)
    except IndexError_:
        raise
    except Exception as exc:
        raise IndexError_(f"{path}: インデックスの操作に失敗しました（{exc}）。") from exc
