"""Chunking real documents (law articles, Diet speeches, the white paper) and random ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ingest.chunker import SECTION_SEPARATOR, ChunkedDocument, chunk_document, split_section
from ingest.document import Document, Section
from retrieval.errors import ConfigError
from retrieval.text.normalize import normalize

CORPUS = Path(__file__).resolve().parents[1] / "data_samples"  # copies of shared/corpus
SIZE, OVERLAP, MIN_SIZE = 450, 60, 40


def law_document() -> Document:
    """行政手続法 (e-Gov XML): one section per article of the main provisions."""
    tree = etree.parse(str(CORPUS / "laws" / "405AC0000000088_20240401_504AC0100000052.xml"))
    sections = []
    for art in tree.findall(".//MainProvision//Article"):
        title = art.findtext("ArticleTitle") or ""
        lines = ["".join(p.itertext()) for p in art.iter("Paragraph", "Item", "Subitem1")]
        sections.append(Section("\n".join(lines), heading=title, meta={"caption": art.findtext("ArticleCaption")}))
    return Document("law:405AC0000000088", "行政手続法", "law", sections)


def speech_document() -> Document:
    """The longest speech of a Diet meeting record (NDL API reply), not the meeting header."""
    records = json.loads((CORPUS / "kokkai" / "ndl_speech_121314370X00120240823.json").read_text("utf-8"))
    rec = max((r for r in records["speechRecord"] if r["speechOrder"] > 0), key=lambda r: len(r["speech"]))
    return Document(f"kokkai:{rec['speechID']}", rec["nameOfMeeting"], "diet_speech",
                    [Section(rec["speech"], heading=rec["speaker"])])


def white_paper_document() -> Document:
    """The white paper chapter, one section per heading-delimited block (as a reader would)."""
    text = (CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt").read_text("utf-8")
    blocks = re.split(r"\n(?=第\d節|\d　)", text)
    return Document("white_paper/r05_ch5", "情報通信白書 第5章", "white_paper",
                    [Section(b, heading=b.split("\n", 1)[0], page=i + 1) for i, b in enumerate(blocks)])


def check_invariants(doc: Document, cd: ChunkedDocument, size: int = SIZE, min_size: int = MIN_SIZE) -> None:
    """Spans are exact, in bounds, inside one section, trimmed, short enough and cover everything."""
    bodies = [normalize(s.text) for s in doc.sections]
    assert cd.text == SECTION_SEPARATOR.join(b for b in bodies if b)
    covered = [False] * len(cd.text)
    # Section boundaries in the text, for the "never crosses a section" check.
    bounds, offset = [], 0
    for b in (b for b in bodies if b):
        bounds.append((offset, offset + len(b)))
        offset += len(b) + len(SECTION_SEPARATOR)
    prev = (-1, -1)
    for span in cd.spans:
        chunk = cd.text[span.start : span.end]
        assert 0 <= span.start < span.end <= len(cd.text)
        assert chunk == chunk.strip(), "a span starts or ends with whitespace"
        assert len(chunk) <= size + min_size
        assert any(a <= span.start and span.end <= b for a, b in bounds), "span crosses a section"
        assert (span.start, span.end) > prev, "spans are not in order"
        prev = (span.start, span.end)
        for i in range(span.start, span.end):
            covered[i] = True
    for a, b in bounds:
        missing = [i for i in range(a, b) if not covered[i] and not cd.text[i].isspace()]
        assert not missing, f"uncovered text: {cd.text[missing[0]:missing[0] + 20]!r}"


@pytest.mark.parametrize("make", [law_document, speech_document, white_paper_document])
def test_real_documents(make) -> None:  # type: ignore[no-untyped-def]
    doc = make()
    cd = chunk_document(doc)
    check_invariants(doc, cd)
    assert cd.spans
    assert chunk_document(doc) == cd  # deterministic


def test_law_articles_are_chunks_with_their_heading() -> None:
    doc = law_document()
    cd = chunk_document(doc)
    first = cd.spans[0]
    assert first.section == "第一条"
    assert first.meta == {"caption": "（目的等）"}
    assert cd.text[first.start : first.end].startswith("この法律は、処分、行政指導及び届出に関する手続")
    # Short articles fit in one chunk each; every article gives at least one chunk.
    assert {s.section for s in cd.spans} == {s.heading for s in doc.sections}
    short = [s for s in doc.sections if len(normalize(s.text)) <= SIZE]
    for sec in short:
        assert sum(1 for s in cd.spans if s.section == sec.heading) == 1


def test_long_speech_cut_at_sentence_ends_with_overlap() -> None:
    doc = speech_document()
    cd = chunk_document(doc)
    texts = cd.chunk_texts()
    assert len(texts) >= 4
    # Interior chunks end at a sentence end (the speech has plenty of 。).
    ends_at_sentence = sum(t.endswith(("。", "。」", "？")) for t in texts[:-1])
    assert ends_at_sentence >= 0.8 * (len(texts) - 1)
    # Consecutive chunks overlap, by at most the allowance.
    for a, b in zip(cd.spans, cd.spans[1:]):
        repeated = a.end - b.start
        assert 0 < repeated <= OVERLAP, repeated
    # Diet sentences are longer than the overlap: it then starts after a 、 or at a word start
    # (a kanji after a particle), never mid-word.
    for b in cd.spans[1:]:
        prev, first = cd.text[b.start - 1], cd.text[b.start]
        assert prev in "。\n、 " or ("ぁ" <= prev <= "ゟ" and not "ぁ" <= first <= "ゟ"), cd.text[b.start - 5 : b.start + 5]


def test_overlap_is_whole_sentences_when_they_fit() -> None:
    sentences = [f"これは{i:02d}番目の文であり、内容は十分に長いものです。" for i in range(40)]  # 26 chars
    text = "".join(sentences)
    spans = split_section(text, size=200, overlap=60, min_size=20)
    assert len(spans) > 3
    for (a_start, a_end), (b_start, b_end) in zip(spans, spans[1:]):
        assert text[a_end - 1] == "。" and text[b_start - 1] == "。"
        assert a_end - b_start == 2 * 26  # the two last sentences (52 <= 60) are repeated


def test_white_paper_pages_and_sections_carried() -> None:
    doc = white_paper_document()
    cd = chunk_document(doc)
    assert {s.page for s in cd.spans} == set(range(1, len(doc.sections) + 1))
    sizes = [s.end - s.start for s in cd.spans]
    assert max(sizes) <= SIZE + MIN_SIZE
    assert sum(sizes) / len(sizes) > 200


def test_quote_close_stays_with_sentence() -> None:
    sentence = "大臣は「検討します。」と述べた。"
    text = "前置きの文です。" * 40 + "「本件は重要である。」" + sentence * 20
    spans = split_section(text, size=100, overlap=20, min_size=10)
    for start, end in spans:
        chunk = text[start:end]
        assert not chunk.startswith("」"), chunk
        assert not chunk.startswith("と述べた"), chunk


def test_tiny_tail_merges_into_previous_chunk() -> None:
    text = "あ" * 95 + "。" + "い" * 10 + "。"
    spans = split_section(text, size=100, overlap=0, min_size=20)
    assert spans == [(0, len(text))]


def test_no_sentence_end_falls_back_to_lines_then_hard_cut() -> None:
    lines = "\n".join(["行" * 30] * 10)
    spans = split_section(lines, size=100, overlap=0, min_size=10)
    assert all(lines[e - 1] == "行" and (e == len(lines) or lines[e] == "\n") for _, e in spans)
    solid = "字" * 1000
    spans = split_section(solid, size=100, overlap=10, min_size=10)
    assert all(e - s <= 100 for s, e in spans)
    assert spans[0] == (0, 100)


def test_empty_and_whitespace_sections_are_skipped() -> None:
    doc = Document("d", "t", "other", [Section("  \n\u3000"), Section("本文。", heading="A"), Section("")])
    cd = chunk_document(doc)
    assert cd.text == "本文。"
    assert [(s.start, s.end, s.section) for s in cd.spans] == [(0, 3, "A")]


def test_bad_parameters() -> None:
    doc = Document("d", "t", "other", [Section("本文。")])
    with pytest.raises(ConfigError):
        chunk_document(doc, size=100, overlap=100)
    with pytest.raises(ConfigError):
        chunk_document(doc, size=100, min_size=100)


# -- property tests ---------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "行政手続法に基づく申請である。",
        "大臣は「検討します。」と答えた。",
        "「デジタル社会の実現」を目指す。",
        "（令和6年度予算）",
        "・本人確認書類",
        "第五条　目的",
        "\n",
        "\n\n",
        "　",
        " ",
        "、",
        "AI and IoT data. ",
        "ＡＢＣ１２３",
        "ﾏｲﾅﾝﾊﾞｰｶｰﾄﾞ",
        "質問です？",
        "あ" * 120,
        "x" * 70,
    ]
)
_SECTION_TEXT = st.lists(_PIECES, max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    sections=st.lists(_SECTION_TEXT, min_size=1, max_size=4),
    size=st.integers(min_value=20, max_value=500),
    overlap_frac=st.floats(min_value=0.0, max_value=0.5),
    min_frac=st.floats(min_value=0.0, max_value=0.3),
)
def test_property_invariants(sections: list[str], size: int, overlap_frac: float, min_frac: float) -> None:
    overlap, min_size = int(size * overlap_frac), int(size * min_frac)
    doc = Document("d", "t", "other", [Section(t, heading=f"s{i}") for i, t in enumerate(sections)])
    cd = chunk_document(doc, size=size, overlap=overlap, min_size=min_size)
    check_invariants(doc, cd, size=size, min_size=min_size)
    # The overlap never exceeds the allowance nor half of the earlier chunk.
    for a, b in zip(cd.spans, cd.spans[1:]):
        if a.section == b.section:
            assert a.end - b.start <= max(overlap, 0) or b.start >= a.end
            assert a.end - b.start <= (a.end - a.start) // 2 or b.start >= a.end
