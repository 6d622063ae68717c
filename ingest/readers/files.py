"""Readers for office, web and text files, one function per format.

Each is ``read_<kind>(path, doc_id) -> Document`` and raises
:class:`~retrieval.errors.ReaderError` (file name + Japanese cause) for anything wrong with the
file. Heavy libraries (pypdfium2, unstructured, lxml, LibreOffice) load on first use only.

    >>> from ingest.readers import files
    >>> doc = files.read_pdf(Path("report.pdf"), "report.pdf")  # doctest: +SKIP

Large text files: :func:`read_txt_stream` returns the Document and a lazy section iterator.
"""

from __future__ import annotations

from ingest.readers.html import read_html
from ingest.readers.markdown import read_md
from ingest.readers.office import read_doc, read_docx
from ingest.readers.pdf import read_pdf
from ingest.readers.text import iter_text_sections, read_txt, read_txt_stream

__all__ = [
    "iter_text_sections",
    "read_doc",
    "read_docx",
    "read_html",
    "read_md",
    "read_pdf",
    "read_txt",
    "read_txt_stream",
]
