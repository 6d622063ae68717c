"""Choose the reader for a file by its extension and its first bytes, and run it.

Every reader yields ``Document`` objects and raises ``ReaderError`` (a Japanese reason naming the
file) for input it cannot use. Readers are imported lazily: unstructured and LibreOffice are only
touched when such a file is met.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ingest.document import Document
from retrieval.errors import ReaderError

if TYPE_CHECKING:
    from retrieval.settings import LimitsSettings

SNIFF_BYTES = 8192
# e-Gov law pages open with ~27 KB of CSS before the markers that identify them.
HTML_SNIFF_BYTES = 65536

FILE_EXTENSIONS = {".pdf", ".docx", ".doc", ".html", ".htm", ".md", ".markdown", ".txt"}
RECORD_EXTENSIONS = {".json", ".xml", ".jsonl"}
SUPPORTED_EXTENSIONS = FILE_EXTENSIONS | RECORD_EXTENSIONS


def is_supported(path: Path) -> bool:
    """True when some reader handles this extension."""
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def read_path(
    path: Path,
    doc_id: str,
    on_problem: Callable[[str], None] | None = None,
    limits: LimitsSettings | None = None,
) -> Iterator[Document]:
    """Yield the documents in ``path``; ``doc_id`` names single-document files.

    Record files (Diet minutes, JSONL, e-Gov law XML) give their documents ids of their own.
    ``on_problem`` receives (Japanese) reasons for parts skipped inside a usable file, such as a
    bad line of a JSONL file. ``limits`` (default: ``LimitsSettings()``) bound the file's size and
    ZIP expansion (:func:`ingest.safety.check_file`, before any parser runs) and the parse time of
    formats whose parsers can hang (PDF, Word, HTML), which then run in a child process.
    """
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        supported = "、".join(sorted(SUPPORTED_EXTENSIONS))
        raise ReaderError(path, f"対応していないファイル形式です（拡張子 {ext or 'なし'}）。対応形式: {supported}")
    from ingest.safety import check_file, parse_with_timeout

    if limits is None:
        from retrieval.settings import LimitsSettings

        limits = LimitsSettings()
    check_file(path, limits)

    # Parsers that build a whole document (pdfium, python-docx, LibreOffice, lxml, json) can spin
    # or balloon on crafted input: they run in a child process with a time and a memory limit.
    # Text and JSONL are read line by line here (memory bounded by one line of a size-checked file).
    def parse(fn: Callable[..., Any], *args: Any) -> Any:
        return parse_with_timeout(fn, path, limits.parse_timeout_s, *args, memory_mb=limits.parse_memory_mb)

    try:
        with path.open("rb") as fh:
            head = fh.read(HTML_SNIFF_BYTES if ext in {".html", ".htm"} else SNIFF_BYTES)
    except OSError as exc:
        raise ReaderError(path, f"ファイルを開けません（{exc.strerror or exc}）") from exc
    if not head.strip():
        raise ReaderError(path, "ファイルが空です")

    if ext == ".json":
        from ingest.readers.kokkai import looks_like_kokkai_json, read_kokkai_json

        if not looks_like_kokkai_json(head):
            raise ReaderError(path, "対応していないJSON形式です（国会会議録検索システムAPIの応答のみ読み込めます。記録の一覧は .jsonl で渡してください）")
        yield from parse(_all_of, read_kokkai_json)
    elif ext == ".xml":
        from ingest.readers.kokkai import looks_like_kokkai_xml, read_kokkai_xml
        from ingest.readers.laws import looks_like_egov_xml, read_egov_xml

        if looks_like_egov_xml(head):
            yield parse(read_egov_xml)
        elif looks_like_kokkai_xml(head):
            yield from parse(_all_of, read_kokkai_xml)
        else:
            raise ReaderError(path, "対応していないXML形式です（e-Gov法令XMLと国会会議録検索システムAPIの応答のみ読み込めます）")
    elif ext == ".jsonl":
        from ingest.readers.records import read_jsonl_records

        def on_error(line_no: int, reason: str) -> None:
            if on_problem is not None:
                on_problem(f"{path} {line_no}行目: {reason}")

        yield from read_jsonl_records(path, on_error=on_error)
    elif ext in {".html", ".htm"}:
        from ingest.readers.laws import looks_like_egov_html, read_egov_html

        if looks_like_egov_html(head):
            yield parse(read_egov_html)
        else:
            from ingest.readers import files

            yield parse(files.read_html, doc_id)
    else:
        from ingest.readers import files

        if ext == ".txt":
            yield _streamed_text(path, doc_id)
            return
        if ext in {".md", ".markdown"}:
            yield parse(files.read_md, doc_id)
            return
        reader = {".pdf": files.read_pdf, ".docx": files.read_docx, ".doc": files.read_doc}[ext]
        yield parse(reader, doc_id)


def _all_of(path: Path, reader: Callable[[Path], Iterator[Document]]) -> list[Document]:
    """Every document ``reader`` yields for ``path``, as a list (what the parse worker sends back)."""
    return list(reader(path))


class _TextSections:
    """Sections of a text file, read anew on each iteration (a 50 MB file is never held whole)."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = encoding

    def __iter__(self):
        from ingest.readers.text import iter_text_sections

        return iter_text_sections(self.path, encoding=self.encoding)


def _streamed_text(path: Path, doc_id: str) -> Document:
    from ingest.readers.text import read_txt_stream

    doc, _sections = read_txt_stream(path, doc_id)
    doc.sections = _TextSections(path, doc.metadata["encoding"])  # type: ignore[assignment]
    return doc
