"""What gets embedded and keyword-encoded for a chunk: its title and section as context, without
an id posing as a title and without the title counted twice."""

from __future__ import annotations

from ingest.pipeline import Ingestor
from retrieval.types import Chunk


def chunk(**kw) -> Chunk:
    base = dict(doc_id="laws/405AC0000000088.xml", ordinal=0, text="この法律は、行政運営における公正の確保を目的とする。",
                title="行政手続法", doc_type="law", section="第一章 総則 > 第一条")
    return Chunk(**{**base, **kw})


def test_title_and_section_give_context():
    assert Ingestor._passage_text(chunk()) == "行政手続法 第一章 総則 > 第一条\nこの法律は、行政運営における公正の確保を目的とする。"


def test_an_id_is_not_a_title_and_a_repeated_section_is_dropped():
    record = chunk(doc_id="corpus:nta-25", title="corpus:nta-25", section="corpus:nta-25", doc_type="faq")
    assert Ingestor._passage_text(record) == record.text
    titled = chunk(doc_id="corpus:lawqa-1", title="金融商品取引法 第二条（定義）", section="金融商品取引法 第二条（定義）")
    assert Ingestor._passage_text(titled) == "金融商品取引法 第二条（定義）\n" + titled.text
