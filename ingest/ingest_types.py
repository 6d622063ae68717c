"""What an ingestion run takes and gives back: per-run options, the result per file and the
run's report, and the progress observer the CLI and the UI implement (``ingest.pipeline``
does the work)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from retrieval.types import Access

__all__ = ["FileResult", "IngestReport", "IngestObserver", "NullObserver", "IngestOptions"]


@dataclass
class FileResult:
    """What happened to one file: indexed / skipped / failed (with a Japanese reason)."""

    path: str
    status: str
    documents: int = 0
    chunks: int = 0
    skipped_documents: int = 0
    reasons: list[str] = field(default_factory=list)
    # Records or documents of this file that could not be indexed (each has a reason).
    failed_documents: int = 0
    # Existing documents this file replaced although another file wrote them (confirmed replacements).
    replaced: list[str] = field(default_factory=list)
    # Confirmed replacements that changed who may read: {"doc_id", "from": [level, groups], "to": [...]}.
    access_changes: list[dict] = field(default_factory=list)


@dataclass
class IngestReport:
    """The summary of one run."""

    files: list[FileResult] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def indexed(self) -> int:
        return self._count("indexed")

    @property
    def skipped(self) -> int:
        return self._count("skipped")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files)

    @property
    def failed_documents(self) -> int:
        """Records or documents refused inside files that were otherwise indexed (or skipped)."""
        return sum(f.failed_documents for f in self.files if f.status != "failed")

    @property
    def replaced(self) -> list[str]:
        """Documents written over although they came from another file (for the audit log)."""
        return [doc_id for f in self.files for doc_id in f.replaced]

    @property
    def access_changes(self) -> list[dict]:
        """Replacements that changed a document's confidentiality or groups (for the audit log)."""
        return [change for f in self.files for change in f.access_changes]

    @property
    def documents(self) -> int:
        return sum(f.documents for f in self.files)

    @property
    def nothing_indexed(self) -> bool:
        """True when files were given but none could be used (indexed or skipped as unchanged)."""
        return bool(self.files) and self.indexed == 0 and self.skipped == 0


class IngestObserver(Protocol):
    """Receives progress events (the CLI draws a progress bar, the UI a st.progress)."""

    def files_found(self, count: int) -> None: ...

    def file_done(self, result: FileResult) -> None: ...

    def chunks_written(self, count: int) -> None: ...


class NullObserver:
    def files_found(self, count: int) -> None:
        pass

    def file_done(self, result: FileResult) -> None:
        pass

    def chunks_written(self, count: int) -> None:
        pass


@dataclass
class IngestOptions:
    """Per-run overrides; ``None`` means: folder defaults, then the reader's, then settings."""

    doc_type: str | None = None
    confidentiality: int | None = None
    groups: list[str] | None = None
    sync: bool = False
    # Who is writing (an upload through 文書管理); None: the operator at the command line.
    # A writer may replace an existing document only if it may read it, and only with ``replace``.
    writer: Access | None = None
    # Replace documents that another file wrote (a confirmed replacement).
    replace: bool = False
    # Prefix for the ids of documents that a file names itself (records, speeches), so that an
    # upload's ``records:1`` becomes ``uploads/records:1`` and never meets an ingested folder's.
    id_scope: str = ""
    # Who uploaded (文書管理): stored with every chunk, with the time, outside the content hash.
    ingested_by: str | None = None
    # An upload may replace a document at another confidentiality or other groups only with this
    # (the page asks first: access never changes as a side effect of a replacement).
    allow_access_change: bool = False
