"""Word readers: DOCX through unstructured's ``partition_docx``, old DOC through LibreOffice.

Headings come from Word paragraph styles (unstructured labels Heading N / Title / Subtitle
paragraphs as ``Title`` with a depth); tables are kept as text, one row per line, cells joined
by " | ". The document title is the paragraph styled "Title", else the first heading.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ingest.document import Document
from ingest.readers.file_common import (
    SectionBuilder,
    check_input,
    describe_exception,
    html_table_rows,
    require_text,
    rows_to_text,
)
from ingest.readers.unstructured_offline import ensure_offline
from retrieval.errors import ReaderError

LIBREOFFICE_TIMEOUT_S = 120.0
# An encrypted OOXML file is an OLE2 container holding this stream (name in UTF-16LE).
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def _docx_title_styles(path: Path) -> tuple[set[str], set[str]]:
    """Texts of the paragraphs styled Title and Subtitle (unstructured reports both as
    ``Title`` elements, indistinguishable from headings)."""
    import docx

    titles: set[str] = set()
    subtitles: set[str] = set()
    for paragraph in docx.Document(str(path)).paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style in ("Title", "Subtitle"):
            text = " ".join(paragraph.text.split())
            if text:
                (titles if style == "Title" else subtitles).add(text)
    return titles, subtitles


def _check_docx_container(path: Path) -> None:
    """A .docx must be a ZIP holding word/document.xml; say clearly what else it is."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile:
        raise ReaderError(path, "DOCXファイルが壊れているか、途中で切れています（ZIPとして開けません）。") from None
    if "word/document.xml" not in names:
        if any(n.startswith("xl/") for n in names):
            found = "Excelファイル(.xlsx)"
        elif any(n.startswith("ppt/") for n in names):
            found = "PowerPointファイル(.pptx)"
        else:
            found = "Word文書ではないZIPファイル"
        raise ReaderError(path, f"拡張子は.docxですが、中身は{found}のようです。")


def _is_encrypted_ooxml(path: Path) -> bool:
    with path.open("rb") as fh:
        return _ENCRYPTED_PACKAGE in fh.read(4 * 1024 * 1024)


def read_docx(path: Path, doc_id: str) -> Document:
    """Read a Word .docx: heading paths from heading styles, tables as " | " rows.

    >>> doc = read_docx(Path("guide.docx"), "guide.docx")  # doctest: +SKIP
    >>> doc.sections[0].heading
    '1 はじめに > 1.1 背景'
    """
    path = Path(path)
    kind = check_input(path, ("zip", "ole2"), "Word文書(.docx)").kind
    if kind == "ole2":
        # An OLE2 file named .docx is either password-protected or an old .doc misnamed.
        if _is_encrypted_ooxml(path):
            raise ReaderError(
                path, "パスワードで保護されたWord文書は読み込めません。保護を解除してから登録してください。"
            )
        return read_doc(path, doc_id)
    _check_docx_container(path)
    return _read_docx_unchecked(path, doc_id, source=path)


def _read_docx_unchecked(path: Path, doc_id: str, source: Path) -> Document:
    ensure_offline()
    from unstructured.partition.docx import partition_docx

    try:
        elements = partition_docx(filename=str(path))
        titles, subtitles = _docx_title_styles(path)
    except ReaderError:
        raise
    except Exception as exc:  # python-docx/lxml raise many types on damaged files
        raise ReaderError(
            source, f"Word文書の内容を解析できません。ファイルが壊れている可能性があります（{describe_exception(exc)}）。"
        ) from None

    builder = SectionBuilder()
    title = ""
    first_heading = ""
    for element in elements:
        kind = type(element).__name__
        text = element.text or ""
        if kind in ("PageBreak", "Header", "Footer") or not text.strip():
            continue  # page furniture repeats on every page and carries no content
        flat = " ".join(text.split())
        if kind == "Title":
            if flat in titles:
                title = title or flat
                builder.heading(1, flat)
            elif flat in subtitles:
                builder.add(flat)  # dates and issuing bodies under the document title
            else:
                depth = element.metadata.category_depth or 0
                first_heading = first_heading or flat
                builder.heading(depth + 1, flat)
        elif kind == "Table":
            html = element.metadata.text_as_html
            builder.add(_table_text(html, text) if html else text)
        else:
            builder.add(text)
    sections = require_text(source, builder.finish(), "Word文書")
    return Document(
        doc_id=doc_id,
        title=title or first_heading or source.stem,
        doc_type="other",
        sections=sections,
        source_path=str(source),
    )


def _table_text(html: str, plain: str) -> str:
    """Rows of unstructured's table HTML as " | " lines; ``plain`` if the HTML is unusable."""
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:  # a malformed fragment: the space-joined cell text still carries the words
        return plain
    text = "\n".join(rows_to_text(html_table_rows(t)) for t in root.xpath(".//table"))
    return text or plain


def find_libreoffice() -> str | None:
    """Path of the LibreOffice command (``soffice``), or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_with_libreoffice(
    path: Path,
    target: str,
    workdir: Path,
    infilter: str | None = None,
    timeout: float = LIBREOFFICE_TIMEOUT_S,
) -> Path:
    """Convert ``path`` with headless LibreOffice into ``target`` format inside ``workdir``.

    ``infilter`` pins the import filter (else LibreOffice imports unknown bytes as plain text).
    A private user profile keeps parallel conversions (and a user's open LibreOffice) apart;
    the whole process group is killed on timeout.
    """
    soffice = find_libreoffice()
    if soffice is None:
        raise ReaderError(
            path,
            f".{path.suffix.lstrip('.') or 'doc'}形式の読み込みにはLibreOfficeが必要です。"
            "LibreOfficeをインストールするか、Wordで.docx形式に保存し直してください。",
        )
    src = workdir / f"input{path.suffix.lower()}"
    shutil.copyfile(path, src)  # a plain ASCII name avoids quoting issues inside soffice
    out = workdir / "out"
    cmd = [
        soffice,
        f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
        "--headless", "--norestore", "--nologo",
        *([f"--infilter={infilter}"] if infilter else []),
        "--convert-to", target, "--outdir", str(out), str(src),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=workdir
    )
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ReaderError(path, f"LibreOfficeでの変換が{int(timeout)}秒以内に終わりませんでした。") from None
    result = out / f"input.{target.split(':')[0]}"
    if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
        # stderr also carries harmless warnings (javaldx); keep the line that names the error.
        detail = [ln for ln in err.decode("utf-8", "replace").splitlines() if "rror" in ln][-1:]
        raise ReaderError(
            path,
            "LibreOfficeで変換できませんでした。ファイルが壊れているか、パスワードで保護されている可能性があります"
            + (f"（{detail[0][:150]}）。" if detail else "。"),
        )
    return result


def read_doc(path: Path, doc_id: str) -> Document:
    """Read an old Word .doc (or RTF) by converting it to .docx with LibreOffice.

    Raises ReaderError when LibreOffice is not installed.
    """
    path = Path(path)
    kind = check_input(path, ("ole2", "rtf", "zip"), "Word文書(.doc)").kind
    if kind == "zip":  # a .docx saved under the old extension
        _check_docx_container(path)
        return _read_docx_unchecked(path, doc_id, source=path)
    if find_libreoffice() is None:
        raise ReaderError(
            path,
            ".doc形式の読み込みにはLibreOfficeが必要です。LibreOfficeをインストールするか、"
            "Wordで.docx形式に保存し直してください。",
        )
    with tempfile.TemporaryDirectory(prefix="gyosei-doc-") as tmp:
        infilter = "Rich Text Format" if kind == "rtf" else "MS Word 97"
        converted = convert_with_libreoffice(path, "docx", Path(tmp), infilter=infilter)
        return _read_docx_unchecked(converted, doc_id, source=path)

