"""PDF reader: one section per page, text from pypdfium2 (right reading order for Japanese).

unstructured's PDF path needs heavy dependencies (and pdfminer misorders LibreOffice PDFs), so
this reader talks to pdfium directly. Pages without text are skipped; a PDF without any text
layer (a scan) is an error, since OCR is not supported.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ingest.document import Document, Section
from ingest.readers.file_common import check_input, describe_exception
from retrieval.errors import ReaderError

# pdfium's FPDF_ERR_* codes (pypdfium2 puts them on PdfiumError.err_code).
_ERR_FILE = 2
_ERR_FORMAT = 3
_ERR_PASSWORD = 4
_ERR_SECURITY = 5

# Japanese script: kanji, kana, CJK punctuation and full-width forms.
_CJK = r"\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# A space that pdf extraction put between two Japanese characters, or around a number that
# stands between Japanese characters ("令和 6 年" -> "令和6年"; "1 はじめに" keeps its space).
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])[ \t\u00a0]+(?=[{_CJK}])")
_CJK_DIGIT_SPACE = re.compile(rf"(?<=[{_CJK}])[ \t\u00a0]*([0-9]+(?:[.,][0-9]+)*)[ \t\u00a0]*(?=[{_CJK}])")
# "2026 年", "30 日": a number followed by a counter or unit never has a space in Japanese.
_DIGIT_UNIT_SPACE = re.compile(r"(?<=[0-9])[ \t\u00a0]+(?=[年月日時分秒円人件条項号章節款歳回個台枚頁倍％万億千])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# A line may continue the previous one when it starts with Japanese text, not with a bullet,
# a note mark or an opening bracket of a new item.
_CONTINUES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff10-\uff5a、。，．）」』】]")
_ENDS_SENTENCE = "。．！？!?：:"
_TITLE_JUNK = re.compile(r"^(Microsoft (Word|PowerPoint|Excel) - )|\.(pdf|docx?|xlsx?|pptx?)$", re.I)


def _width(line: str) -> float:
    """Display width of a line: full-width characters count 1, half-width 0.5."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.5 for c in line)


def join_lines(text: str) -> str:
    """Undo pdf line wrapping in Japanese text and drop spaces pdf extraction put between
    Japanese characters. Only lines that fill the page width are joined, so headings and list
    items keep their own lines."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CJK_SPACE.sub("", text)
    text = _CJK_DIGIT_SPACE.sub(r"\1", text)
    text = _DIGIT_UNIT_SPACE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    widths = sorted(_width(line) for line in lines if line.strip())
    if not widths:
        return ""
    # The typical full line width: a high percentile, robust to one overlong line.
    full = widths[int(len(widths) * 0.9) - 1 if len(widths) >= 10 else -1]
    out: list[str] = []
    for line in lines:
        if (
            out
            and out[-1]
            and line
            and _width(out[-1]) >= 0.85 * full
            and full >= 15
            and out[-1][-1] not in _ENDS_SENTENCE
            and re.match(rf"[{_CJK}]", out[-1][-1])
            and _CONTINUES.match(line.lstrip())
        ):
            out[-1] += line.lstrip()
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _open(path: Path):  # noqa: ANN202 - pypdfium2 types are optional
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == _ERR_PASSWORD:
            reason = "パスワードで保護されたPDFは読み込めません。パスワードを解除してから登録してください。"
        elif code == _ERR_SECURITY:
            reason = "対応していない方式で暗号化されたPDFです。暗号化を解除してから登録してください。"
        elif code == _ERR_FILE:
            reason = "PDFファイルを開けません（見つからないか、読む権限がありません）。"
        else:
            reason = "PDFファイルが壊れているか、途中で切れています（読み込みに失敗しました）。"
        raise ReaderError(path, reason) from None


def _title(pdf, path: Path) -> str:  # noqa: ANN001
    """The document title from the PDF metadata (cleaned of tool prefixes and extensions)."""
    try:
        raw = (pdf.get_metadata_dict().get("Title") or "").strip()
    except Exception:  # metadata is optional; a broken Info dict must not fail the read
        raw = ""
    title = _TITLE_JUNK.sub("", raw).strip()
    return title if title and title.lower() not in {"untitled", "無題"} else path.stem


def read_pdf(path: Path, doc_id: str) -> Document:
    """Read a PDF into one section per page (``page`` 1-based), Japanese lines re-joined.

    >>> doc = read_pdf(Path("report.pdf"), "report.pdf")  # doctest: +SKIP
    >>> doc.sections[0].page
    1
    """
    path = Path(path)
    check_input(path, "pdf", "PDF")
    pdf = _open(path)
    try:
        sections: list[Section] = []
        n_pages = len(pdf)
        for index in range(n_pages):
            try:
                page = pdf[index]
                textpage = page.get_textpage()
                raw = textpage.get_text_bounded()
                textpage.close()
                page.close()
            except Exception as exc:  # pdfium raises on damaged page objects
                raise ReaderError(
                    path, f"PDFの{index + 1}ページ目が壊れていて読めません（{describe_exception(exc)}）。"
                ) from None
            text = join_lines(raw)
            if text:
                sections.append(Section(text=text, page=index + 1))
        title = _title(pdf, path)
    finally:
        pdf.close()
    if not sections:
        raise ReaderError(
            path,
            "PDFにテキストが含まれていません（スキャン画像のみのPDFと思われます）。"
            "OCRには対応していないため、テキスト付きのPDFを用意してください。",
        )
    return Document(
        doc_id=doc_id,
        title=title,
        doc_type="other",
        sections=sections,
        source_path=str(path),
        metadata={"pages": n_pages},
    )
