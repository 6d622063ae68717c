"""Retrieval evaluation: index a BEIR set through the product's own ingestion path, run every
query in each search mode (and the two baselines), and score documents with :mod:`eval.metrics`.

The corpus goes through ``ingest.pipeline.Ingestor`` (the JSONL/BEIR records reader, chunking,
fugashi sparse terms, the embedder) into an Edge index of its own under
``<work_dir>/<dataset>-<key>/index`` (``work_dir`` defaults to ``var/eval`` next to the configured
index). The key hashes the corpus, the chunk/embedding/sparse settings and the source of the
code that shapes the index, so a changed tokenizer gets a fresh index while an unchanged set is
reused. Embeddings are cached by text (:mod:`eval.embed_cache`): a fresh index of an already
embedded corpus costs seconds, not minutes.

Usage::

    report = evaluate_retrieval(Path("eval/datasets/nta_faq"), Settings.load())
    report["metrics"]["hybrid"]["ndcg@10"]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from eval.baselines import BM25Baseline, LangChainBaseline
from eval.beir import BeirDataset, BeirQuery, load_beir
from eval.embed_cache import CachedEmbedder, embedder_key
from eval.metrics import first_relevant_rank, mean_metrics, metric_names, query_metrics, rank_documents
from eval.report import build_retrieval_report
from retrieval.embedder import Embedder
from retrieval.errors import GyoseiError
from retrieval.search import Searcher
from retrieval.settings import IndexSettings, Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, SearchMode

__all__ = ["evaluate_retrieval", "ensure_index", "IndexInfo", "index_key", "default_work_dir", "BASELINES"]

Progress = Callable[[str, int, "int | None"], None]

EVAL_FORMAT = 1  # bump when this module changes what gets indexed or how queries are run
BASELINES = ("bm25", "langchain")
EVAL_ACCESS = Access(clearance=3, groups=["all"])  # the evaluator may read everything
MAX_DEPTH_FACTOR = 8  # deepen a chunk search at most this much to fill k documents
# Modules whose source decides what the index holds: editing one of them means a fresh index.
INDEX_CODE = ("ingest.pipeline", "ingest.chunker", "ingest.readers.records", "retrieval.text.sparse",
              "retrieval.text.dates", "retrieval.text.normalize", "retrieval.index.edge")
# "Today" for relative date phrases (今年, 昨年...) in queries without a date of their own: pinned so
# that a rerun on another day gives the same numbers. Queries with metadata.date use that date.
EVAL_TODAY = dt.date(2026, 11, 1)


@dataclass
class IndexInfo:
    """The evaluation index of one set: where it is, what it holds, and what this run added."""

    path: Path
    key: str
    documents: int
    chunks: int
    new_chunks: int
    seconds: float


def default_work_dir(settings: Settings) -> Path:
    """``var/eval`` beside the configured index folder (``GYOSEI_INDEX__PATH`` moves both)."""
    return Path(settings.index.path).parent / "eval"


def _sparse_config(sparse: SparseEncoder) -> dict[str, Any]:
    """The encoder's settings (its public attributes; private ones are caches and locks)."""
    return {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in sorted(vars(sparse).items())
            if not k.startswith("_")}


def _code_hash() -> str:
    import importlib

    digest = hashlib.sha256()
    for name in INDEX_CODE:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    return digest.hexdigest()[:12]


def index_key(ds: BeirDataset, settings: Settings, sparse: SparseEncoder, model_key: str) -> dict[str, Any]:
    """Everything the evaluation index depends on; its hash names the index folder."""
    return {
        "format": EVAL_FORMAT,
        "corpus_sha256": ds.corpus_fingerprint,
        "embedding": model_key,
        "chunk": settings.chunk.model_dump(),
        "sparse": _sparse_config(sparse),
        "code": _code_hash(),
    }


def _short_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:10]


class _Observer:
    """Forwards the Ingestor's chunk counts to ``progress('index', done, None)``."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.chunks = progress, 0

    def files_found(self, count: int) -> None:
        pass

    def file_done(self, result: Any) -> None:
        pass

    def chunks_written(self, count: int) -> None:
        self.chunks += count
        if self.progress is not None:
            self.progress("index", self.chunks, None)


def ensure_index(ds: BeirDataset, settings: Settings, embedder: Embedder, sparse: SparseEncoder,
                 work_dir: Path, model_key: str, progress: Progress | None = None) -> IndexInfo:
    """Index the set's corpus through the product's Ingestor (unchanged documents are skipped)."""
    from ingest.pipeline import Ingestor
    from retrieval.index import open_index

    key = index_key(ds, settings, sparse, model_key)
    folder = Path(work_dir) / f"{ds.name}-{_short_hash(key)}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")
    started = time.perf_counter()
    index = open_index(IndexSettings(backend="edge", path=folder / "index"), embedder.dimension)
    try:
        observer = _Observer(progress)
        ingestor = Ingestor(index, embedder, sparse, settings.chunk, settings.security, ds.path, observer)
        report = ingestor.ingest([ds.path / "corpus.jsonl"])
        problems = [r for f in report.files for r in f.reasons]
        if report.failed or problems:
            raise GyoseiError(f"{ds.path / 'corpus.jsonl'}: 評価用の索引を作れませんでした: {'; '.join(problems[:3])}")
        documents, chunks = len(index.documents()), index.count()
    finally:
        index.close()
    if documents != len(ds.corpus):
        raise GyoseiError(f"{folder}: 索引の文書数（{documents}）がコーパス（{len(ds.corpus)}）と一致しません。フォルダを削除して再実行してください。")
    return IndexInfo(folder / "index", _short_hash(key), documents, chunks, report.chunks, time.perf_counter() - started)


def query_today(query: BeirQuery) -> dt.date:
    """The day a query was asked (``metadata.date``, e.g. a Diet speech), else ``EVAL_TODAY``."""
    try:
        return dt.date.fromisoformat(str(query.metadata.get("date"))[:10])
    except ValueError:
        return EVAL_TODAY


def _product_search(searcher: Searcher, mode: str, k: int, depth: int) -> Callable[[BeirQuery], list[tuple[str, float]]]:
    """Chunk hits of the product's search as (BEIR doc id, score); deepens until k documents.

    Same as ``Searcher.search`` (date phrases become filters), with "today" pinned per query."""

    def search(query: BeirQuery) -> list[tuple[str, float]]:
        limit = depth
        plan = searcher.plan(query.text, None, today=query_today(query))
        while True:
            hits = searcher.search_plan(plan, EVAL_ACCESS, mode, limit)
            pairs = [(str(h.payload.get("record_id") or h.payload["doc_id"]), h.score) for h in hits]
            if len({d for d, _ in pairs}) >= k or len(hits) < limit or limit >= depth * MAX_DEPTH_FACTOR:
                return pairs
            limit *= 2

    return search


class _Partial:
    """Per-query results appended as JSON lines, so an interrupted run continues where it stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[tuple[str, str], dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash: that query runs again
                self.done[(row["system"], row["query_id"])] = row
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")

    def add(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.done[(row["system"], row["query_id"])] = row

    def close(self, remove: bool) -> None:
        self._fh.close()
        if remove:
            self.path.unlink(missing_ok=True)


def _run_system(system: str, search: Callable[[BeirQuery], list[tuple[str, float]]], ds: BeirDataset, k: int,
                partial: _Partial, progress: Progress | None) -> tuple[list[dict[str, Any]], float, int]:
    """Run every judged query; return the per-query rows, seconds spent searching, rows resumed."""
    rows, seconds, resumed = [], 0.0, 0
    queries = ds.judged_queries
    for n, query in enumerate(queries, start=1):
        row = partial.done.get((system, query.query_id))
        if row is not None:
            resumed += 1
        else:
            started = time.perf_counter()
            ranked = rank_documents(search(query))
            elapsed = time.perf_counter() - started
            seconds += elapsed
            gold = ds.relevant[query.query_id]
            row = {
                "system": system,
                "query_id": query.query_id,
                "gold": sorted(gold),
                "retrieved": ranked[:k],
                "first_gold_rank": first_relevant_rank(ranked, gold),
                "metrics": query_metrics(ranked, gold, k),
                "ms": round(elapsed * 1000, 2),
            }
            partial.add(row)
        rows.append(row)
        if progress is not None:
            progress(f"query:{system}", n, len(queries))
    return rows, seconds, resumed


def evaluate_retrieval(
    dataset_dir: Path,
    settings: Settings,
    modes: Sequence[str] = ("dense", "sparse", "hybrid"),
    k: int = 10,
    baselines: bool | Sequence[str] = True,
    progress: Progress | None = None,
    *,
    embedder: Embedder | None = None,
    sparse: SparseEncoder | None = None,
    work_dir: Path | None = None,
    chunk_depth: int = 50,
) -> dict[str, Any]:
    """Evaluate retrieval on one BEIR set; return the report dict (see eval/README.md).

    ``embedder`` defaults to the configured model; ``baselines`` is True (both), False, or a list
    of names from ``BASELINES``. ``progress(stage, done, total)`` is called with stages
    ``index``, ``bm25``, ``langchain`` and ``query:<system>``.
    """
    modes = [SearchMode(m).value for m in modes]
    chosen = list(BASELINES) if baselines is True else list(baselines or [])
    unknown = [b for b in chosen if b not in BASELINES]
    if unknown or k < 1 or chunk_depth < 1:
        raise GyoseiError(f"評価の指定が不正です（ベースライン: {unknown or 'OK'}、k={k}、chunk_depth={chunk_depth}）。ベースラインは {', '.join(BASELINES)} から選んでください。")
    ds = load_beir(Path(dataset_dir))
    work_dir = Path(work_dir) if work_dir is not None else default_work_dir(settings)
    sparse = sparse or SparseEncoder()
    if embedder is None:
        from retrieval.embedder import embedder_from_settings

        embedder = embedder_from_settings(settings.embedding)
    model_key = embedder_key(settings.embedding) if type(embedder).__name__ == "SentenceTransformerEmbedder" \
        else f"{type(embedder).__name__}-{embedder.dimension}"  # fakes and test doubles
    cached = CachedEmbedder(embedder, work_dir / "embeddings" / model_key / f"{ds.name}.npz")
    depth = max(chunk_depth, k)
    run_key = _short_hash({"index": index_key(ds, settings, sparse, model_key), "k": k, "depth": depth,
                           "queries": ds.fingerprint, "format": EVAL_FORMAT})
    timings: dict[str, Any] = {"index_s": 0.0, "baseline_build_s": {}, "query_s": {}}
    systems: dict[str, dict[str, Any]] = {}
    index_info: IndexInfo | None = None
    partial = _Partial(work_dir / "runs" / f"{ds.name}-{run_key}.partial.jsonl")
    finished = False
    try:
        if modes:
            index_info = ensure_index(ds, settings, cached, sparse, work_dir, model_key, progress)
            cached.save()
            timings["index_s"] = index_info.seconds
            from retrieval.index import open_index

            index = open_index(IndexSettings(backend="edge", path=index_info.path), cached.dimension, read_only=True)
            try:
                searcher = Searcher(index, cached, sparse, rrf_k=settings.search.rrf_k)
                for mode in modes:
                    systems[mode] = _system(mode, _product_search(searcher, mode, k, depth), ds, k, partial, progress, timings)
            finally:
                index.close()
                cached.save()
        baseline_config: dict[str, Any] = {}
        for name in chosen:
            started = time.perf_counter()
            if name == "bm25":
                baseline = BM25Baseline(ds.corpus, sparse, progress=progress)
            else:
                baseline = LangChainBaseline(ds.corpus, cached, progress=progress)
                cached.save()
            timings["baseline_build_s"][name] = time.perf_counter() - started
            baseline_config[name] = baseline.config()
            systems[name] = _system(name, lambda query, b=baseline: b.search(query.text, depth), ds, k, partial, progress, timings)
            cached.save()
        finished = True
    finally:
        partial.close(remove=finished)
    config = {"k": k, "chunk_depth": depth, "modes": modes, "baselines": baseline_config,
              "embedder": {"class": type(embedder).__name__, "key": model_key}, "sparse": _sparse_config(sparse),
              "access": {"clearance": EVAL_ACCESS.clearance, "groups": EVAL_ACCESS.groups},
              "today": {"default": EVAL_TODAY.isoformat(), "per_query": "metadata.date when present"}, "settings": settings}
    return build_retrieval_report(ds, config, systems, timings, index_info, metric_names(k))


def _system(name: str, search: Callable[[BeirQuery], list[tuple[str, float]]], ds: BeirDataset, k: int,
            partial: _Partial, progress: Progress | None, timings: dict[str, Any]) -> dict[str, Any]:
    rows, seconds, resumed = _run_system(name, search, ds, k, partial, progress)
    timings["query_s"][name] = seconds
    return {"metrics": mean_metrics(r["metrics"] for r in rows), "rows": rows, "resumed": resumed}


if __name__ == "__main__":  # pragma: no cover - convenience: python -m eval.retrieval_eval DIR
    print(json.dumps(evaluate_retrieval(Path(sys.argv[1]), Settings.load())["metrics"], indent=1))
