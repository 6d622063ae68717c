"""Property tests (hypothesis) for the normalizer and the chunker, on generated Japanese-heavy text.

Properties: ``normalize`` never raises and keeps its documented form; ``chunk_document`` raises
only ``ConfigError`` (for bad sizes); every chunk's offsets map back to exactly its text in the
normalized document, both in ``chunk_document`` and in what the ingestion pipeline writes.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunker import SECTION_SEPARATOR, chunk_document, split_section
from ingest.document import Document, Section
from ingest.ingest_types import FileResult, IngestOptions
from ingest.pipeline import Ingestor
from retrieval.embedder import HashEmbedder
from retrieval.errors import ConfigError
from retrieval.settings import ChunkSettings, SecuritySettings
from retrieval.text.normalize import join_wrapped_lines, normalize, remove_cjk_spaces
from retrieval.text.sparse import SparseEncoder
from retrieval.types import DocInfo

# Characters Japanese administrative text is made of, plus the awkward ones normalization handles:
# half-width kana and voicing marks, full-width ASCII, circled numbers, odd spaces and dashes,
# zero-width and bidi characters, CR/LF/form feed, surrogate-free astral characters.
JA_ALPHABET = (
    "あいうえおかがきぎくぐけこさしすせそただちつてとなにぬねのはばぱひふへほまみむめもやゆよらりるれろわをんっゃゅょ"
    "アイウエオカガキクケコサシスセソタチツテトナニヌネノハバパヒフヘホマミムメモヤユヨラリルレロワヲンッャュョー・"
    "行政手続法国会答弁令和年度第条項号章節申請届出処分指導目的確保透明性向上職員機密情報出力"
    "ｱｲｳｴｵｶﾞｷﾞｸﾞﾊﾟﾋﾟﾌﾟｰﾞﾟ０１２３４５６７８９ＡＢＣａｂｃ"
    "。、「」『』（）【】！？：；…‥―‐－～〜 \u3000\t\n\n\n\r\x0c"
    "①②③⑩⑳㉑㊿\u200b\u200d\ufeff\u202e\u3099\u309a\ufe0f\U00020b9f\U0001f600"
    "0123456789abcXYZ.,;:!?()[]<>-~\"'"
)
ja_char = st.one_of(st.sampled_from(JA_ALPHABET), st.characters(codec="utf-8"))
ja_text = st.text(ja_char, max_size=1500)
sentence = st.text(st.sampled_from(JA_ALPHABET), min_size=1, max_size=80).map(lambda s: s + "。")
prose = st.lists(sentence, max_size=40).map("".join)
section_text = st.one_of(ja_text, prose)
sections = st.lists(
    st.builds(Section, text=section_text, heading=st.text(st.sampled_from(JA_ALPHABET), max_size=20),
              page=st.one_of(st.none(), st.integers(1, 500))),
    max_size=6,
)

# A real law sentence somewhere among the generated sections: the document always has a body.
REAL = Section("第一条　この法律は、処分、行政指導及び届出に関する手続に関し、共通する事項を定める。", heading="第一条")
nonempty_sections = st.builds(lambda secs, i: secs[:i] + [REAL] + secs[i:], sections, st.integers(0, 6))


@st.composite
def chunk_params(draw) -> tuple[int, int, int]:
    size = draw(st.integers(2, 600))
    return size, draw(st.integers(0, size - 1)), draw(st.integers(0, size - 1))


@settings(max_examples=300, deadline=None)
@given(ja_text)
def test_normalize_never_fails_and_keeps_its_form(text):
    out = normalize(text)
    assert normalize(out) == out, "idempotent"
    assert out == out.strip(" \n") and "\r" not in out and "  " not in out and "\n\n\n" not in out
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in out)
    assert " \n" not in out and "\n " not in out
    # Helpers for wrapped text never fail either (their results are normalized again later).
    assert isinstance(join_wrapped_lines(text), str) and isinstance(remove_cjk_spaces(text), str)


@settings(max_examples=200, deadline=None)
@given(sections, chunk_params())
def test_chunk_offsets_map_back_to_the_normalized_document(secs, params):
    size, overlap, min_size = params
    doc = Document("d", "題名", "other", secs)
    chunked = chunk_document(doc, size, overlap, min_size)
    bodies = [b for b in (normalize(s.text) for s in secs) if b]
    assert chunked.text == SECTION_SEPARATOR.join(bodies)
    # Offsets of each section inside the document text: chunks stay inside one section.
    bounds, at = [], 0
    for body in bodies:
        bounds.append((at, at + len(body)))
        at += len(body) + len(SECTION_SEPARATOR)
    last_start = -1
    for span in chunked.spans:
        text = chunked.text[span.start : span.end]
        assert text and text == text.strip(), "no empty chunk, no chunk starting/ending in whitespace"
        assert any(lo <= span.start < span.end <= hi for lo, hi in bounds)
        assert span.end - span.start <= size + min_size
        assert span.start > last_start, "chunks advance"
        last_start = span.start
    # Every non-space character of every section lands in some chunk.
    covered = set()
    for span in chunked.spans:
        covered.update(range(span.start, span.end))
    for lo, hi in bounds:
        assert all(i in covered for i in range(lo, hi) if not chunked.text[i].isspace())


@settings(max_examples=100, deadline=None)
@given(section_text, st.integers(-5, 700), st.integers(-5, 700), st.integers(-5, 700))
def test_only_config_error_escapes_the_chunker(text, size, overlap, min_size):
    doc = Document("d", "t", "other", [Section(text)])
    try:
        chunked = chunk_document(doc, size, overlap, min_size)
    except ConfigError as exc:
        assert str(exc)  # a Japanese message that names the bad value
        assert not (size >= 2 and 0 <= overlap < size and 0 <= min_size < size)
        return
    assert all(chunked.text[s.start : s.end] for s in chunked.spans)
    body = normalize(text)
    assert [(s.start, s.end) for s in chunked.spans] == split_section(body, size, overlap, min_size)


class CapturingIndex:
    """Keeps what the pipeline writes (the real Index is tested elsewhere; here: offsets only)."""

    def __init__(self) -> None:
        self.chunks = []

    def documents(self, access=None) -> dict[str, DocInfo]:
        return {}

    def upsert(self, chunks) -> None:
        self.chunks.extend(chunks)

    def delete(self, doc_id: str) -> int:
        return 0

    def flush(self) -> None:
        pass


@settings(max_examples=100, deadline=None)
@given(nonempty_sections, chunk_params())
def test_pipeline_chunks_carry_offsets_into_the_documents_normalized_text(secs, params):
    size, overlap, min_size = params
    index = CapturingIndex()
    ingestor = Ingestor(index, HashEmbedder(8), SparseEncoder(), ChunkSettings(size=size, overlap=overlap, min_size=min_size),
                        SecuritySettings(), overlap=False)
    doc = Document("d", "題名", "other", secs, metadata={"confidentiality": 1, "groups": ["all"]})
    written = ingestor._ingest_document(doc, IngestOptions(), FileResult("d", "skipped"))
    ingestor._flush()
    ingestor._write_in_flight()
    full = SECTION_SEPARATOR.join(b for b in (normalize(s.text) for s in secs) if b)
    assert written == len(index.chunks) > 0
    for ordinal, chunk in enumerate(index.chunks):
        assert chunk.ordinal == ordinal and chunk.doc_chunks == written
        assert chunk.text == full[chunk.char_start : chunk.char_end]
