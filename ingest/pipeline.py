"""The ingestion pipeline: files -> documents -> normalized chunks -> vectors -> the index.

Guarantees (see tests/test_pipeline.py):
- an unchanged document (same content hash) is skipped; a changed one replaces all its chunks;
- a document is written as: delete its old chunks, upsert the new ones; every chunk carries the
  document's hash and chunk count, so a run killed half-way leaves a document that the next run
  sees as incomplete and rewrites: no duplicates, no half-indexed document survives a re-run;
- one bad file never stops the run; its reason (Japanese, naming the file) lands in the report;
- ``sync`` removes documents whose source file is gone, never those of files that failed to read.

Embedding runs in a background thread while the main thread reads, chunks and sparse-encodes
the next batch (``overlap``); batches are still written one at a time, in order, by the main thread.

Usage::

    ingestor = Ingestor(index, embedder, SparseEncoder(), settings.chunk, settings.security)
    report = ingestor.ingest([Path("data_samples")])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from ingest.chunker import chunk_document
from ingest.discover import Candidate, Refused, discover, stable_id
from ingest.document import Document, Section
from ingest.ingest_types import FileResult, IngestObserver, IngestOptions, IngestReport, NullObserver
from ingest.readers import read_path
from retrieval.embedder import Embedder, embedder_path
from retrieval.errors import GyoseiError, ReaderError
from retrieval.index.base import Index
from retrieval.settings import ChunkSettings, LimitsSettings, SecuritySettings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import DOC_TYPES, Chunk, DocInfo

log = logging.getLogger(__name__)
JST = dt.timezone(dt.timedelta(hours=9), "JST")

SECTION_SEPARATOR = "\n\n"

__all__ = ["Ingestor", "FileResult", "IngestReport", "IngestObserver", "NullObserver", "IngestOptions"]


class Ingestor:
    """Writes documents into an index. Cheap to build; the embedder loads on first use."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        sparse: SparseEncoder,
        chunking: ChunkSettings,
        security: SecuritySettings,
        data_dir: Path | None = None,
        observer: IngestObserver | None = None,
        batch_size: int = 128,
        overlap: bool = True,
        limits: LimitsSettings | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.sparse = sparse
        self.chunking = chunking
        self.security = security
        self.data_dir = data_dir
        self.observer = observer or NullObserver()
        self.batch_size = batch_size
        self.limits = limits or LimitsSettings()  # file size, zip bombs, parse timeout
        self.overlap = overlap  # False only to measure what overlapping saves
        self._pending: list[Chunk] = []
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: tuple[list[Chunk], Future[list[list[float]]]] | None = None
        self._existing: dict[str, DocInfo] = {}
        self._readable: set[str] = set()
        self._cleared: set[str] = set()
        self._stamp: dict[str, Any] = {}

    # -- public ---------------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path], options: IngestOptions | None = None) -> IngestReport:
        """Ingest files and folders; return what happened to each file."""
        options = options or IngestOptions()
        if options.doc_type is not None and options.doc_type not in DOC_TYPES:
            raise GyoseiError(f"文書種別 {options.doc_type!r} は使えません。使える種別: {', '.join(DOC_TYPES)}")
        started = time.perf_counter()
        report = IngestReport()
        self._existing = self.index.documents()
        self._readable = set(self.index.documents(options.writer)) if options.writer is not None else set(self._existing)
        self._cleared = set()
        self._stamp = {"ingested_at": dt.datetime.now(JST).isoformat(timespec="seconds"), "ingested_by": options.ingested_by}
        items = list(discover(list(paths), self.data_dir))
        self.observer.files_found(len(items))
        seen_docs: set[str] = set()
        unreadable_sources: set[str] = set()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="embed") if self.overlap else None
        try:
            for item in items:
                if isinstance(item, Refused):
                    result = FileResult(str(item.path), "failed", reasons=[f"{item.path}: {item.reason}"])
                    unreadable_sources.add(stable_id(item.path, self.data_dir))
                else:
                    result = self._ingest_file(item, options, seen_docs)
                    if result.status == "failed":
                        unreadable_sources.add(item.doc_id)
                report.files.append(result)
                self.observer.file_done(result)
            self._flush()
            self._write_in_flight()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)  # an error above: let a running batch end
            self._executor, self._in_flight = None, None
        if options.sync:
            report.removed = self._sync(paths, seen_docs, unreadable_sources)
        self.index.flush()
        report.seconds = time.perf_counter() - started
        return report

    def delete(self, doc_id: str) -> int:
        """Remove one document; return the number of chunks removed."""
        removed = self.index.delete(doc_id)
        self.index.flush()
        return removed

    # -- one file -------------------------------------------------------------------------
    def _ingest_file(self, item: Candidate, options: IngestOptions, seen_docs: set[str]) -> FileResult:
        result = FileResult(str(item.path), "skipped")

        def failed(reason: str) -> None:  # one record or document of the file, not the file
            result.reasons.append(reason)
            result.failed_documents += 1

        try:
            for doc in read_path(item.path, item.doc_id, on_problem=failed, limits=self.limits):
                doc.source_path = item.doc_id  # the stable id of the file it came from
                if options.id_scope and not doc.doc_id.startswith(options.id_scope):
                    doc.doc_id = options.id_scope + doc.doc_id
                if doc.doc_id in seen_docs:
                    failed(f"{item.path}: ID {doc.doc_id} の文書が重複しているため、後の方を読み飛ばしました")
                    continue
                try:
                    self._apply_defaults(doc, item, options)
                    written = self._ingest_document(doc, options, result)
                except ReaderError as exc:
                    failed(str(exc))
                    continue
                except Exception as exc:  # one bad document must not drop the ones after it
                    log.exception("unexpected error while indexing %s from %s", doc.doc_id, item.path)
                    failed(f"{item.path}: 文書 {doc.doc_id} を登録できませんでした（{type(exc).__name__}）")
                    continue
                seen_docs.add(doc.doc_id)
                if written is None:
                    result.skipped_documents += 1
                else:
                    result.documents += 1
                    result.chunks += written
        except ReaderError as exc:
            result.reasons.append(str(exc))
        except Exception as exc:  # a reader bug must not stop the run
            log.exception("unexpected error while reading %s", item.path)
            result.reasons.append(f"{item.path}: 読み込み中に予期しないエラーが発生しました（{type(exc).__name__}）")
        if result.documents:
            result.status = "indexed"
        elif result.reasons:
            result.status = "failed"
        return result

    def _apply_defaults(self, doc: Document, item: Candidate, options: IngestOptions) -> None:
        defaults = item.defaults
        if options.doc_type:
            doc.doc_type = options.doc_type
        elif doc.doc_type in ("", "other") and defaults.get("doc_type"):
            doc.doc_type = str(defaults["doc_type"])
        level = options.confidentiality or defaults.get("confidentiality") or doc.metadata.get("confidentiality") or self.security.default_confidentiality
        level = int(level)
        if not 1 <= level <= 3:
            raise ReaderError(item.path, f"機密性レベル {level} は不正です（1〜3）")
        if level > self.security.max_confidentiality:
            raise ReaderError(
                item.path,
                f"機密性{level}の文書は取り込めません（この環境の上限は機密性{self.security.max_confidentiality}です）: {doc.title or doc.doc_id}",
            )
        doc.metadata["confidentiality"] = level
        groups = options.groups or defaults.get("groups") or doc.metadata.get("groups") or self.security.default_groups
        if isinstance(groups, str) or not isinstance(groups, (list, tuple, set)):
            # A record's "groups": "secret" must not become the groups s, e, c, r, t.
            raise ReaderError(item.path, f"groups は文字列のリストで指定してください（{groups!r}）: {doc.title or doc.doc_id}")
        doc.metadata["groups"] = sorted({str(g) for g in groups})

    # -- one document ---------------------------------------------------------------------
    def _ingest_document(self, doc: Document, options: IngestOptions, result: FileResult) -> int | None:
        """Write ``doc`` unless unchanged; return chunks written, or None when skipped.
        ReaderError when it would replace a document its writer may not replace."""
        content_hash, total = self._fingerprint(doc)
        if total == 0:
            raise ReaderError(doc.source_path or doc.doc_id, f"本文がありません（{doc.title or doc.doc_id}）")
        if total > self.limits.max_chunks_per_document:
            raise ReaderError(doc.source_path or doc.doc_id,
                              f"文書 {doc.doc_id} が大きすぎます（{total} チャンク。上限 {self.limits.max_chunks_per_document}）")
        existing = self._existing.get(doc.doc_id)
        if existing is not None and existing.complete and existing.content_hash == content_hash and existing.doc_chunks == total:
            return None
        if existing is not None:
            self._check_replacement(doc, existing, options, result)
        for chunk in self._chunks(doc, content_hash, total):
            self._pending.append(chunk)
            if len(self._pending) >= self.batch_size:
                self._flush()
        return total

    def _check_replacement(self, doc: Document, existing: DocInfo, options: IngestOptions, result: FileResult) -> None:
        """ReaderError when writing ``doc`` over ``existing`` is refused; a confirmed
        replacement is noted in ``result.replaced``.

        A document belongs to the file that wrote it: another file may replace it only when
        confirmed (``replace``), and an upload (``writer``) only when that user may read it,
        so nobody overwrites what they cannot see. An upload replacing its own file's earlier
        version needs the confirmation too: the page asks before anything is written over.
        """
        other_source = (existing.source_path or "") != (doc.source_path or "")
        if options.writer is None and not other_source:
            return  # the operator re-ingesting a changed file: the normal update
        if doc.doc_id not in self._readable:
            raise ReaderError(doc.source_path or doc.doc_id, f"文書ID {doc.doc_id} は既に別の文書が使っているため登録できません"
                                                            "（その文書を閲覧する権限がありません）。ファイル名か記録の id を変えてください")
        if not options.replace:
            where = f"（{existing.source_path} から登録済み）" if other_source and existing.source_path else ""
            raise ReaderError(doc.source_path or doc.doc_id, f"文書ID {doc.doc_id} は登録済みです{where}。"
                                                            "置き換える場合は「既存の文書を置き換える」を確認して、もう一度取り込んでください")
        if options.writer is not None:
            self._check_access_change(doc, existing, options, result)
        result.replaced.append(doc.doc_id)

    @staticmethod
    def _check_access_change(doc: Document, existing: DocInfo, options: IngestOptions, result: FileResult) -> None:
        """An upload replacing a document at another confidentiality or other groups: refused
        unless ``allow_access_change`` (then reported in ``result.access_changes``)."""
        before = (int(existing.confidentiality), sorted(existing.groups))
        after = (int(doc.metadata["confidentiality"]), sorted(doc.metadata["groups"]))
        if before == after:
            return
        if not options.allow_access_change:
            raise ReaderError(doc.source_path or doc.doc_id,
                              f"文書 {doc.doc_id} は 機密性{before[0]}（{'、'.join(before[1])}）で登録済みです。"
                              f"置き換えると 機密性{after[0]}（{'、'.join(after[1])}）に変わります。変更してよい場合は"
                              "「機密性・グループの変更も承認する」を確認して、もう一度取り込んでください")
        result.access_changes.append({"doc_id": doc.doc_id, "from": [before[0], before[1]], "to": [after[0], after[1]]})

    def _fingerprint(self, doc: Document) -> tuple[str, int]:
        """Content hash over metadata and normalized text, and the number of chunks (pass 1)."""
        digest = hashlib.sha256()
        header = {
            "title": doc.title,
            "doc_type": doc.doc_type,
            "date": doc.date,
            "source_url": doc.source_url,
            "metadata": doc.metadata,
            "chunking": [self.chunking.size, self.chunking.overlap, self.chunking.min_size],
        }
        digest.update(json.dumps(header, ensure_ascii=False, sort_keys=True, default=str).encode())
        total = 0
        for _, section, text, spans in self._sections(doc):
            digest.update(f"\x00{section.heading}\x00{section.page}\x00".encode())
            digest.update(text.encode())
            total += len(spans)
        return digest.hexdigest(), total

    def _sections(self, doc: Document) -> Iterator[tuple[int, Section, str, list[Any]]]:
        """Normalize and chunk section by section (a huge file is never held whole)."""
        offset = 0
        for section in doc.sections:
            single = Document(doc.doc_id, doc.title, doc.doc_type, [section])
            chunked = chunk_document(single, self.chunking.size, self.chunking.overlap, self.chunking.min_size)
            if not chunked.text.strip():
                continue
            yield offset, section, chunked.text, chunked.spans
            offset += len(chunked.text) + len(SECTION_SEPARATOR)

    def _chunks(self, doc: Document, content_hash: str, total: int) -> Iterator[Chunk]:
        meta = dict(doc.metadata)
        level = int(meta.pop("confidentiality"))
        groups = list(meta.pop("groups"))
        ordinal = 0
        for offset, _section, text, spans in self._sections(doc):
            for span in spans:
                extra = {**meta, **(span.meta or {}), **{k: v for k, v in self._stamp.items() if v}}
                yield Chunk(
                    doc_id=doc.doc_id,
                    ordinal=ordinal,
                    text=text[span.start : span.end],
                    title=doc.title,
                    doc_type=doc.doc_type,
                    section=span.section or "",
                    page=span.page,
                    char_start=offset + span.start,
                    char_end=offset + span.end,
                    date=doc.date,
                    source_url=doc.source_url,
                    source_path=doc.source_path,
                    confidentiality=level,
                    groups=groups,
                    content_hash=content_hash,
                    doc_chunks=total,
                    extra=extra,
                )
                ordinal += 1

    # -- writing --------------------------------------------------------------------------
    def _flush(self) -> None:
        """Start embedding the pending chunks; write the batch started before (one in flight)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        texts = [self._passage_text(c) for c in batch]
        if self._executor is None:
            vectors: Future[list[list[float]]] = Future()
            vectors.set_result(self.embedder.embed_documents(texts))
        else:
            vectors = self._executor.submit(self.embedder.embed_documents, texts)
        for chunk, text in zip(batch, texts):  # meanwhile, on this thread
            chunk.sparse = self.sparse.encode(text)
        self._write_in_flight()
        self._in_flight = (batch, vectors)

    def _write_in_flight(self) -> None:
        """Wait for the batch in flight and write it, clearing its documents' old versions first."""
        if self._in_flight is None:
            return
        batch, vectors = self._in_flight
        self._in_flight = None
        path = embedder_path(self.embedder)  # recorded so a search elsewhere can tell
        for chunk, vector in zip(batch, vectors.result()):
            chunk.dense = list(vector)
            chunk.embedding_path = path
        for doc_id in dict.fromkeys(c.doc_id for c in batch):
            if doc_id not in self._cleared:
                if doc_id in self._existing:
                    self.index.delete(doc_id)
                self._cleared.add(doc_id)
        self.index.upsert(batch)
        self.observer.chunks_written(len(batch))

    @staticmethod
    def _passage_text(chunk: Chunk) -> str:
        """What gets embedded: the title and section give a short chunk its context.

        A title that is only the document's id (records without a title) is no context, and a
        section that repeats the title (a record's single section) would count its words twice.
        """
        title = "" if chunk.title == chunk.doc_id else chunk.title
        section = "" if not chunk.section or chunk.section in chunk.title else chunk.section
        context = " ".join(part for part in (title, section) if part)
        return f"{context}\n{chunk.text}" if context else chunk.text

    # -- sync -----------------------------------------------------------------------------
    def _sync(self, paths: Sequence[Path], seen_docs: set[str], unreadable: set[str]) -> list[str]:
        roots = [stable_id(p, self.data_dir) for p in paths]
        removed: list[str] = []
        for doc_id, info in self.index.documents().items():
            source = info.source_path or ""
            under_roots = any(r == "." or source == r or source.startswith(r.rstrip("/") + "/") for r in roots)
            if not under_roots or doc_id in seen_docs or source in unreadable:
                continue
            self.index.delete(doc_id)
            removed.append(doc_id)
        return removed
