"""Finding 10: text from documents reaches the page only as text. A record's Markdown link or
image, or a title's HTML, is never a live link, an image fetched on render, or HTML; the draft's
Markdown export escapes HTML and gives only http(s) URLs."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from app.draft_export import draft_to_markdown, source_line
from app.safe_text import html_block, md_inline, safe_url
from retrieval.answer_types import AnswerSentence, Source
from retrieval.draft_types import Draft, PointDraft
from retrieval.question_analysis import analyze_question

PHISH = "詳しくは[ホタル窓口](http://127.0.0.1:18999/phish)へ。![b](http://127.0.0.1:18999/beacon2.png)"
HTML = '<img src=x onerror="alert(1)">題名<script>alert(2)</script>'
BARE = "http://127.0.0.1:18999/bare と www.example.com"

# CommonMark with GFM tables and strikethrough, raw HTML allowed (as st.markdown with
# unsafe_allow_html would): what it renders is what a browser would act on.
RENDER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _live(html: str) -> list[str]:
    return re.findall(r"<(?:a|img|script|iframe)\b[^>]*>", html)


def test_document_text_in_markdown_renders_as_text_only():
    for text in (PHISH, HTML, BARE, "**太字** `code` | 表 | ~~消~~ $x$", "# 見出し", "1. 番号", "- 箇条", "a_b_c.md"):
        rendered = RENDER.render(md_inline(text))
        assert _live(rendered) == [], (text, rendered)
        assert not re.search(r"<(h1|ol|ul|strong|em|code|table|del|blockquote)\b", rendered), (text, rendered)
    assert "ホタル窓口" in RENDER.render(md_inline(PHISH))  # the words stay readable
    # GFM (Streamlit's renderer) links bare "http://" and "www." on its own: the patterns are broken.
    assert "://" not in md_inline(BARE) and "www." not in md_inline(BARE)
    assert "http:\\/\\/127.0.0.1" in md_inline(BARE)


def test_the_html_block_of_a_passage_cannot_leave_html():
    passage = "一行目\n\n" + PHISH + "\n\n" + HTML
    block = f"<div style='white-space: pre-wrap'>{html_block(passage)}</div>"
    assert "\n" not in block  # one line: a blank line would end the HTML block and let Markdown in
    rendered = RENDER.render(block)
    assert _live(rendered) == [] and "&lt;script&gt;" in rendered and "[ホタル窓口]" in rendered


def test_only_http_urls_are_linked():
    assert safe_url("https://kokkai.ndl.go.jp/txt/1") == "https://kokkai.ndl.go.jp/txt/1"
    for bad in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "http://x/a b", "http://x/<script>",
                " vbscript:x", "file:///etc/passwd", None, 3):
        assert safe_url(bad) is None, bad


def _draft() -> Draft:
    src = Source(n=1, chunk_id="c1", doc_id="records:1", label=HTML, text=PHISH, score=1.0,
                 payload={"title": HTML, "source_url": "javascript:alert(document.cookie)"})
    good = Source(n=2, chunk_id="c2", doc_id="records:2", label="行政手続法", text="本文", score=0.5,
                  payload={"source_url": "https://elaws.e-gov.go.jp/x"})
    analysis = analyze_question("行政手続法について伺う。")
    point = analysis.points[0]
    sentence = AnswerSentence(text="お尋ねの" + PHISH + "については、考えております。", citations=[1, 2])
    return Draft(question="行政手続法について伺う。<img src=x onerror=alert(3)>", analysis=analysis,
                 points=[PointDraft(point=point, sentences=[sentence])], sources=[src, good], method="template")


def test_the_markdown_export_escapes_html_and_refuses_other_urls():
    md = draft_to_markdown(_draft())
    assert "javascript:" not in md.lower()
    assert "<img" not in md and "<script" not in md and "&lt;img" in md
    assert "<https://elaws.e-gov.go.jp/x>" in md  # an http(s) source URL is kept
    rendered = RENDER.render(md)
    links = re.findall(r'<a href="([^"]*)"', rendered)
    assert links == ["https://elaws.e-gov.go.jp/x"], links
    assert _live(rendered) == ['<a href="https://elaws.e-gov.go.jp/x">']
    assert "（http(s) 以外の URL のため省略）" in source_line(_draft().sources[0])


def test_a_source_card_shows_a_documents_link_and_html_as_text():
    """What the page itself produces (Streamlit, headless): every Markdown element of a source
    card, rendered, holds no link but the http(s) 原文 link, no image and no HTML of the document's."""
    from streamlit.testing.v1 import AppTest

    def page(HTML, PHISH):  # noqa: N803 - the module's constants, passed in (AppTest runs the source alone)
        from app.ui_common import source_card
        from retrieval.answer_types import Source

        source_card(Source(n=1, chunk_id="c", doc_id="records:1", label=HTML + PHISH, text=PHISH + "\n\n" + HTML,
                           score=1.0, payload={"section": PHISH, "speaker": HTML, "doc_type": "diet_speech",
                                               "source_url": "https://kokkai.ndl.go.jp/txt/1"}))
        source_card(Source(n=2, chunk_id="d", doc_id="records:2", label="別の資料", text="本文", score=1.0,
                           payload={"source_url": "javascript:alert(1)"}))

    at = AppTest.from_function(page, args=(HTML, PHISH)).run()
    assert not at.exception
    rendered = "".join(RENDER.render(str(el.value)) for kind in ("markdown", "caption") for el in at.get(kind))
    assert re.findall(r'<a href="([^"]*)"', rendered) == ["https://kokkai.ndl.go.jp/txt/1"]
    assert [tag for tag in _live(rendered) if not tag.startswith("<a ")] == []
    assert "ホタル窓口" in rendered and "javascript" not in rendered
