"""What the 文書管理 page does, without Streamlit: save uploads safely, ingest them into the shared
index (one writer at a time), list/search/open/delete documents, index statistics.

Uploads are saved under ``<index folder's parent>/uploads`` (``var/uploads`` by default) with a
sanitized name, so their document ids read ``uploads/<name>``, and the records inside an upload
``uploads/<id>`` (``uploads/records:1``): never an ingested folder's id. An upload that would
write over an existing document (an earlier upload of the same name) is refused unless the
uploader may read that document and confirmed the replacement (``IngestOptions.replace``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ingest.pipeline import FileResult, IngestOptions, IngestReport, Ingestor
from ingest.safety import check_file, sanitize_filename
from retrieval.cpu import PATH_LABELS, index_path_note
from retrieval.errors import GyoseiError, ReaderError
from retrieval.settings import LimitsSettings, Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, DocInfo, Filters

log = logging.getLogger(__name__)

UPLOADS = "uploads"
STATUS_LABELS = {"indexed": "登録しました", "skipped": "変更なし（登録済み）", "failed": "失敗"}


class BusyError(GyoseiError):
    """Another ingest or delete is writing to the index right now."""


def uploads_dir(settings: Settings) -> Path:
    """Where uploaded files are kept (next to the embedded index; ``var/uploads`` for a server)."""
    base = settings.index.path.parent if settings.index.backend == "edge" else Path("var")
    return base / UPLOADS


def save_upload(name: str, data: bytes, dest: Path, limits: LimitsSettings) -> Path:
    """Write one uploaded file under ``dest`` with a safe name; ReaderError (Japanese, naming the
    file) when it is too large or not what its extension says (the file is then removed)."""
    safe = sanitize_filename(name, limits.max_filename_chars)
    if len(data) > limits.max_file_mb * 1024 * 1024:
        raise ReaderError(Path(safe), f"ファイルが大きすぎます（{len(data) / 1024 / 1024:.1f} MB。上限 {limits.max_file_mb:g} MB）")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = dest / safe
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # an upload may be 機密性3
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)
    try:
        check_file(path, limits)
    except ReaderError:
        path.unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def writing(lock: Any) -> Iterator[None]:
    """Hold the index's write lock, or say at once that someone else is writing."""
    if not lock.acquire(blocking=False):
        raise BusyError("別の取り込みまたは削除を実行中です。終わってから、もう一度お試しください。")
    try:
        yield
    finally:
        lock.release()


class CallbackObserver:
    """An ``IngestObserver`` that forwards file events to callables (the page's progress bar)."""

    def __init__(self, on_found: Callable[[int], None], on_file: Callable[[FileResult], None]) -> None:
        self.on_found, self.on_file = on_found, on_file

    def files_found(self, count: int) -> None:
        self.on_found(count)

    def file_done(self, result: FileResult) -> None:
        self.on_file(result)

    def chunks_written(self, count: int) -> None:
        pass


def ingest_files(res: Any, paths: list[Path], options: IngestOptions, observer: Any = None) -> IngestReport:
    """Ingest ``paths`` (saved uploads) into the shared index ``res.index`` under its write lock,
    their ids scoped under ``uploads/``. Set ``options.writer`` to the uploader's access: nothing
    they may not read is written over."""
    s = res.settings
    options = dataclasses.replace(options, id_scope=f"{UPLOADS}/")
    with writing(res.write_lock):
        ingestor = Ingestor(res.index, res.embedder, SparseEncoder(), s.chunk, s.security, uploads_dir(s).parent, observer,
                            limits=s.limits)
        return ingestor.ingest(paths, options)


def file_message(result: FileResult) -> str:
    """One line about one file, in Japanese."""
    name = Path(result.path).name
    reasons = "；".join(r.replace(result.path, name) for r in result.reasons)
    if result.status == "indexed":
        line = f"{name}: {STATUS_LABELS['indexed']}（{result.documents} 文書、{result.chunks} チャンク）"
        if result.replaced:
            line += f" — 既存の文書を置き換えました（{'、'.join(result.replaced)}）"
        for change in result.access_changes:
            (a, ga), (b, gb) = change["from"], change["to"]
            line += f" — 閲覧範囲を変更: 機密性{a}（{'、'.join(ga)}）→ 機密性{b}（{'、'.join(gb)}）"
        return line + (f" — 読めなかった記録 {result.failed_documents} 件: {reasons}" if result.failed_documents else "")
    if result.status == "skipped":
        return f"{name}: {STATUS_LABELS['skipped']}"
    return f"{name}: {STATUS_LABELS['failed']} — {reasons or '読み込めませんでした'}"


@dataclass
class DocumentRow:
    """One line of the document list."""

    doc_id: str
    title: str
    doc_type: str
    chunks: int
    complete: bool
    confidentiality: int = 1
    groups: list[str] = dataclasses.field(default_factory=list)
    ingested_by: str | None = None
    ingested_at: str | None = None
    date: str | None = None

    def as_dict(self, labels: dict[str, str]) -> dict[str, Any]:
        return {"文書ID": self.doc_id, "題名": self.title, "種別": labels.get(self.doc_type, self.doc_type),
                "機密性": f"機密性{self.confidentiality}", "閲覧グループ": "、".join(self.groups),
                "登録者": self.ingested_by or "（コマンドで取り込み）",
                "登録日時": (self.ingested_at or "")[:16].replace("T", " "), "文書の日付": (self.date or "")[:10],
                "チャンク数": self.chunks, "状態": "正常" if self.complete else "未完了（再取り込みが必要）"}


def document_rows(docs: dict[str, DocInfo], query: str = "", doc_types: list[str] | None = None) -> list[DocumentRow]:
    """The documents whose title or id contains ``query`` (case-insensitive), sorted by id."""
    q = query.strip().lower()
    rows = []
    for info in docs.values():
        if doc_types and info.doc_type not in doc_types:
            continue
        if q and q not in info.title.lower() and q not in info.doc_id.lower():
            continue
        rows.append(DocumentRow(info.doc_id, info.title, info.doc_type, info.chunks_found, info.complete,
                                info.confidentiality, list(info.groups), info.ingested_by, info.ingested_at, info.date))
    return sorted(rows, key=lambda r: r.doc_id)


def index_stats(docs: dict[str, DocInfo]) -> list[tuple[str, int, int]]:
    """(doc_type, documents, chunks) per type, sorted by type."""
    by_type: dict[str, list[int]] = {}
    for info in docs.values():
        row = by_type.setdefault(info.doc_type, [0, 0])
        row[0] += 1
        row[1] += info.chunks_found
    return [(t, n, c) for t, (n, c) in sorted(by_type.items())]


UNRECORDED_PATH = "不明（記録のない旧い索引）"


def embedding_paths(docs: dict[str, DocInfo]) -> dict[str, int]:
    """Documents per embedding path their vectors were made with (retrieval/cpu.py)."""
    counts: dict[str, int] = {}
    for info in docs.values():
        for path in info.embedding_paths or {UNRECORDED_PATH}:
            counts[path] = counts.get(path, 0) + 1
    return dict(sorted(counts.items()))


def embedding_path_summary(docs: dict[str, DocInfo], current: str) -> tuple[str, str | None]:
    """One Japanese line (paths of the index and of this process) and the note if they differ."""
    counts = embedding_paths(docs)
    made = "、".join(f"{PATH_LABELS.get(p, p)} {n} 文書" for p, n in counts.items())
    line = f"ベクトルの作成方式: {made or 'なし'}。この環境の検索: {PATH_LABELS.get(current, current)}"
    return line, index_path_note(current, set(counts) - {UNRECORDED_PATH})


def document_passages(res: Any, doc_id: str, access: Access, limit: int = 40) -> list[dict[str, Any]]:
    """The first ``limit`` chunks of one document the user may read, in document order (none if
    they may not read it: ``fetch`` applies the access rule)."""
    return [h.payload for h in res.index.fetch(access, Filters(doc_ids=[doc_id]), limit=limit)]


def delete_document(res: Any, doc_id: str, access: Access) -> int:
    """Delete a document the user may read (under the write lock); remove its uploaded file too.
    Returns the chunks removed; GyoseiError when the user may not see it."""
    info = res.index.documents(access).get(doc_id)
    if info is None:
        raise GyoseiError(f"文書 {doc_id} は見つからないか、削除する権限がありません。")
    with writing(res.write_lock):
        removed = res.index.delete(doc_id)
        res.index.flush()
        source = info.source_path or doc_id
        # A records file holds several documents: its file goes with the last of them.
        if not any(d.source_path == source for d in res.index.documents().values()):
            remove_saved_upload(res.settings, source)
    return removed


def change_access(res: Any, doc_id: str, level: int, groups: list[str], access: Access) -> tuple[int, list[str], int]:
    """Set a document's confidentiality and groups (an explicit action of 文書管理). The user must
    read it now and may not set a level above their own clearance or the environment's limit.
    Returns the previous (level, groups) and the chunks changed; GyoseiError otherwise."""
    info = res.index.documents(access).get(doc_id)
    if info is None:
        raise GyoseiError(f"文書 {doc_id} は見つからないか、変更する権限がありません。")
    limit = min(access.clearance, res.settings.security.max_confidentiality)
    if not 1 <= int(level) <= limit:
        raise GyoseiError(f"機密性{level} には変更できません（設定できる上限は機密性{limit}です）。")
    groups = sorted({g.strip() for g in groups if g.strip()})
    if not groups:
        raise GyoseiError("閲覧できるグループを 1 つ以上選んでください。")
    with writing(res.write_lock):
        changed = res.index.set_access(doc_id, int(level), groups)
        res.index.flush()
    return info.confidentiality, list(info.groups), changed


def remove_saved_upload(settings: Settings, doc_id: str) -> None:
    """Delete the file 文書管理 saved for an uploaded document (``uploads/...``), if any; never
    anything outside the uploads folder."""
    if doc_id.startswith(f"{UPLOADS}/"):
        root = uploads_dir(settings).resolve()
        path = (root.parent / doc_id).resolve()
        if path.is_relative_to(root):  # only files we saved ourselves
            path.unlink(missing_ok=True)
