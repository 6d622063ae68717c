"""Property tests (hypothesis) for the readers: whatever the bytes of a file, reading it either
gives documents or raises ReaderError (a Japanese reason naming the file), never another error.

Inputs: random bytes under every extension; random Japanese text in the encodings offices use;
HTML tag soup; NDL-minutes-shaped JSON, e-Gov-shaped XML and JSONL records with random values;
real PDF and DOCX samples truncated and overwritten at random places; Word documents generated
with random content. Parsing runs in this process (``parse_timeout_s=0``), so an exception
the child-process worker would have wrapped still fails the test here.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from ingest.document import Document
from ingest.readers import read_path
from retrieval.errors import ReaderError
from retrieval.settings import LimitsSettings

from .conftest import SAMPLES

IN_PROCESS = LimitsSettings(parse_timeout_s=0)
PDF = SAMPLES / "digital_agency/451-4-1_institution_datamodel_class_diagram.pdf"
DOCX = SAMPLES / "digital_agency/430_core_datamodel_overview.docx"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_counter = itertools.count()

JA = "行政手続法国会答弁令和年度第条項申請届出処分職員機密情報あいうえおかきくけこさしすせそアイウエオｶﾞｲﾄﾞ。、「」（）①　\n"
ja_text = st.text(st.one_of(st.sampled_from(JA), st.characters(codec="utf-8")), max_size=600)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "cp932", "euc_jp", "utf-16", "iso-2022-jp", "latin-1"])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def read(folder: Path, name: str, data: bytes) -> list[Document]:
    """Write ``data`` as a fresh file ``name`` and read it fully (sections included)."""
    path = folder / f"{next(_counter)}" / name
    path.parent.mkdir()
    path.write_bytes(data)
    try:
        docs = list(read_path(path, name, limits=IN_PROCESS))
        for doc in docs:
            for section in doc.sections:  # text files stream their sections lazily
                assert isinstance(section.text, str)
        event(f"{path.suffix}: read, {len(docs)} document(s)" if docs else f"{path.suffix}: read, no documents")
        return docs
    except ReaderError as exc:
        event(f"{path.suffix}: ReaderError")
        assert exc.path == str(path) and str(path) in str(exc)
        assert any("\u3040" <= ch <= "\u9fff" for ch in exc.reason), exc.reason  # a Japanese reason
        return []


EXTENSIONS = [".txt", ".md", ".html", ".json", ".jsonl", ".xml", ".pdf", ".docx", ".doc"]


@FUZZ
@given(st.sampled_from(EXTENSIONS), st.sampled_from([b"", b"%PDF-1.7\n", b"PK\x03\x04", b"\xef\xbb\xbf", b"{", b"<"]), st.binary(max_size=4096))
def test_random_bytes_under_any_extension(folder, ext, prefix, data):
    read(folder, f"random{ext}", prefix + data)


@FUZZ
@given(st.sampled_from([".txt", ".md", ".html", ".json", ".xml"]), ja_text, encodings)
def test_random_japanese_text_in_office_encodings(folder, ext, text, encoding):
    read(folder, f"文書{ext}", text.encode(encoding, errors="replace"))


tags = st.sampled_from(["h1", "h2", "h3", "p", "div", "table", "tr", "td", "th", "ul", "li", "br", "main", "script", "style", "header", "footer", "nav", "span", "a", "meta"])
attrs = st.sampled_from(["", ' hidden', ' style="display:none"', ' role="main"', ' rowspan="9999999"', ' colspan="-1"', ' charset="shift_jis"', ' charset="bogus"', ' aria-hidden="true"'])
html_piece = st.one_of(
    st.builds(lambda t, a: f"<{t}{a}>", tags, attrs),
    st.builds(lambda t: f"</{t}>", tags),
    ja_text,
    st.sampled_from(["<!--", "-->", "<![CDATA[", "&#0;", "&#xD800;", "&amp;", "<?xml version='1.0'?>", "<!DOCTYPE html>"]),
)


@FUZZ
@given(st.lists(html_piece, max_size=60).map("".join), st.sampled_from(["utf-8", "cp932", "euc_jp"]))
# Found by this test: a control character right after an element the reader drops (a script, a
# hidden block) made lxml's drop_tree raise ValueError (Word-exported pages carry \x0b).
@example("<p>申請の手引き</p><script>track()</script>\x0b本文です。", "utf-8")
@example("<h1 hidden></h1>\x1f", "utf-8")
def test_html_tag_soup(folder, body, encoding):
    read(folder, "page.html", body.encode(encoding, errors="replace"))


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), ja_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["speechID", "speech", "speaker", "speakerPosition", "speechOrder", "date", "nameOfHouse",
         "nameOfMeeting", "issueID", "speechRecord", "meetingRecord", "id", "title", "text",
         "question", "answer", "doc_type", "metadata", "related_laws", "url"]), inner, max_size=6)),
    max_leaves=25,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["numberOfRecords", "speechRecord", "meetingRecord", "nextRecordPosition"]), json_value, min_size=1))
def test_minutes_shaped_json(folder, reply):
    read(folder, "minutes.json", json.dumps({"numberOfRecords": 1, **reply}, ensure_ascii=False).encode())


@FUZZ
@given(st.lists(st.one_of(json_value, st.dictionaries(st.sampled_from(["id", "title", "text", "question", "answer", "doc_type", "date", "metadata"]), json_value)), max_size=8))
def test_jsonl_records(folder, rows):
    read(folder, "records.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())


xml_tags = st.sampled_from(["Law", "LawNum", "LawBody", "LawTitle", "MainProvision", "Chapter", "ChapterTitle", "Article", "ArticleTitle", "Paragraph", "ParagraphSentence", "Sentence", "Item", "ItemSentence", "SupplProvision", "Ruby", "Rt", "data", "speechRecord", "speech"])


@FUZZ
@given(st.lists(st.one_of(st.builds(lambda t: f"<{t}>", xml_tags), st.builds(lambda t: f"</{t}>", xml_tags), ja_text.map(lambda s: s.replace("<", "").replace("&", ""))), max_size=60))
def test_law_shaped_xml(folder, pieces):
    body = '<?xml version="1.0" encoding="UTF-8"?><Law Era="Reiwa" LawType="Act"><LawNum>令和元年法律第一号</LawNum><LawBody>' + "".join(pieces)
    read(folder, "law.xml", body.encode())


def mutate(raw: bytes, cut: float, patches: list[tuple[float, bytes]]) -> bytes:
    data = bytearray(raw[: max(1, int(len(raw) * cut))])
    for where, junk in patches:
        at = int(where * len(data))
        data[at : at + len(junk)] = junk
    return bytes(data)


patches = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=64)), max_size=8)


@FUZZ
@given(st.floats(0.0, 1.0), patches)
def test_damaged_real_pdf(folder, cut, damage):
    read(folder, "白書.pdf", mutate(PDF.read_bytes(), cut, damage))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.0, 1.0), patches)
def test_damaged_real_docx(folder, cut, damage):
    read(folder, "概要.docx", mutate(DOCX.read_bytes(), cut, damage))


xml_safe = st.text(st.one_of(st.sampled_from(JA), st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"])), max_size=200)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["Title", "Heading 1", "Heading 2", "Normal", "List Bullet", "table"]), xml_safe), max_size=10))
def test_generated_word_documents(folder, blocks):
    import docx

    document = docx.Document()
    for style, text in blocks:
        if style == "table":
            table = document.add_table(rows=2, cols=2)
            for i, cell in enumerate(table._cells):
                cell.text = text[i::4]
        else:
            document.add_paragraph(text, style=style)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.docx"
        document.save(path)
        docs = read(folder, "生成.docx", path.read_bytes())
    if docs:
        assert all(s.text.strip() for s in docs[0].sections)
