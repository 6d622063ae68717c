"""HTML reader (lxml): page furniture dropped, h1-h6 become section paths, tables kept as text.

Dropped: scripts, styles, forms, navigation, hidden elements, and page-level header, footer and
aside (a header inside an article or main is kept: it often holds the article's h1). When the
page marks its main content (``<main>`` or ``role="main"``) only that is read. The encoding comes
from a BOM, else the meta charset, else detection as for plain text.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ingest.document import Document
from ingest.readers.file_common import (
    SectionBuilder,
    check_input,
    describe_exception,
    html_table_rows,
    require_text,
    rows_to_text,
    strip_title_heading,
)
from ingest.readers.text import detect_encoding
from retrieval.errors import ReaderError

MAX_HTML_BYTES = 64 * 1024 * 1024

_DROP_TAGS = (
    "script", "style", "noscript", "template", "nav", "form", "iframe", "svg", "canvas",
    "button", "select", "input", "textarea", "object", "embed", "map", "dialog",
)
_PAGE_FURNITURE = ("header", "footer", "aside")
_DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "menu", "menubar"}
_BLOCK_TAGS = {
    "address", "article", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "section", "summary",
    "ul", "header", "footer", "tr", "center",
}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
# Aliases browsers apply: Shift_JIS pages are really CP932; EUC-JP pages may use its extensions.
_CHARSET_ALIASES = {"shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
                    "windows-31j": "cp932", "ms932": "cp932", "euc-jp": "euc_jp", "x-euc-jp": "euc_jp"}
_CJK = r"\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_CJK_NEWLINE = re.compile(rf"(?<=[{_CJK}])[ \t\r]*\n\s*(?=[{_CJK}])")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BR = "\x00"  # marks a <br> inside collected inline text (NUL never survives decoding checks)


def _encoding(path: Path, data: bytes) -> str:
    """BOM, then a meta charset that decodes the bytes, then text-style detection."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _META_CHARSET.search(data[:8192])
    if match:
        name = match.group(1).decode("ascii", "ignore").lower()
        name = _CHARSET_ALIASES.get(name, name)
        try:
            codecs.lookup(name)
            data.decode(name)
            return name
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown declaration: fall back to detection
    return detect_encoding(path)


def _drop_noise(root) -> None:  # noqa: ANN001 - lxml element
    for el in list(root.iter(*_DROP_TAGS)):
        el.drop_tree()
    for el in list(root.iter(*_PAGE_FURNITURE)):
        if not any(a.tag in ("main", "article") for a in el.iterancestors()):
            el.drop_tree()
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        style = (el.get("style") or "").replace(" ", "").lower()
        if (
            el.get("hidden") is not None
            or el.get("aria-hidden") == "true"
            or (el.get("role") or "").lower() in _DROP_ROLES
            or "display:none" in style
            or "visibility:hidden" in style
        ):
            el.drop_tree()


def _text_of(el) -> str:  # noqa: ANN001
    return _clean("".join(el.itertext()))


def _clean(text: str) -> str:
    """Collapse HTML whitespace; a source line break between Japanese characters is no space."""
    text = _CJK_NEWLINE.sub("", text)
    return " ".join(text.split())


class _Walker:
    """Turns the element tree into builder calls: headings, blocks of inline text, tables."""

    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder
        self.line: list[str] = []

    def flush(self) -> None:
        lines = [_clean(part) for part in "".join(self.line).split(_BR)]
        self.builder.add("\n".join(line for line in lines if line))
        self.line = []

    def walk(self, el) -> None:  # noqa: ANN001
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in _HEADINGS:
            self.flush()
            self.builder.heading(_HEADINGS[tag], _text_of(el))
            return
        if tag == "table":
            self.flush()
            self.builder.add(rows_to_text(html_table_rows(el)))
            return
        if tag == "pre":
            self.flush()
            self.builder.add("".join(el.itertext()))
            return
        if tag == "br":
            self.line.append(_BR)
            return
        if tag in ("img", "area"):
            alt = (el.get("alt") or "").strip()
            if alt:
                self.line.append(f" {alt} ")
            return
        block = tag in _BLOCK_TAGS or tag in ("td", "th")
        if block:
            self.flush()
        if tag and el.text:
            self.line.append(el.text)
        for child in el:
            self.walk(child)
            if child.tail:
                self.line.append(child.tail)
        if block:
            self.flush()


def read_html(path: Path, doc_id: str) -> Document:
    """Read an HTML page: visible main text under h1-h6 heading paths, title from the first h1
    (else ``<title>``).

    >>> doc = read_html(Path("notice.html"), "notice.html")  # doctest: +SKIP
    """
    import lxml.html

    path = Path(path)
    check_input(path, "text", "HTML")
    if path.stat().st_size > MAX_HTML_BYTES:
        raise ReaderError(path, "HTMLファイルが大きすぎます（64MBまで）。")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReaderError(path, f"HTMLファイルを読めません（{exc.strerror or exc}）。") from None
    encoding = _encoding(path, data)
    try:
        # Control characters (a vertical tab from Word's HTML export) make lxml's drop_tree fail.
        text = _CONTROL_CHARS.sub("", _XML_DECL.sub("", data.decode(encoding)))
        root = lxml.html.document_fromstring(text)
    except UnicodeDecodeError:
        raise ReaderError(path, f"HTMLファイルを{encoding}として読めません。") from None
    except Exception as exc:  # lxml raises ParserError/ValueError on unusable input
        raise ReaderError(path, f"HTMLとして解析できません（{describe_exception(exc)}）。") from None
    page_title = _clean(" ".join(t.text_content() for t in root.iter("title")))
    _drop_noise(root)
    mains = [el for el in root.iter() if isinstance(el.tag, str)
             and (el.tag == "main" or (el.get("role") or "").lower() == "main")]
    content = mains[0] if mains else (root.find("body") if root.find("body") is not None else root)
    h1s = [t for t in (_text_of(h) for h in content.iter("h1")) if t]
    builder = SectionBuilder()
    _Walker(builder).walk(content)
    sections = require_text(path, builder.finish(), "HTMLファイル")
    if len(h1s) == 1:
        strip_title_heading(sections, h1s[0])  # the lone h1 is the title: no need to repeat it
    return Document(
        doc_id=doc_id,
        title=(h1s[0] if h1s else "") or page_title or path.stem,
        doc_type="other",
        sections=sections,
        source_path=str(path),
        metadata={"encoding": encoding.replace("_", "-")},
    )
