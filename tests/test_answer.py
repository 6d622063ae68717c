"""Answers with citations: sentence extraction logic (fast), the Answerer's gate, numbering and
LLM fallback (fast, real Edge index with the hash embedder), and real questions over real sample
documents with the real embedder (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.pipeline import IngestOptions, Ingestor
from retrieval.answer import Answerer
from retrieval.answer_types import NO_ANSWER, Answer, AnswerSentence
from retrieval.embedder import HashEmbedder
from retrieval.errors import LLMError
from retrieval.extractive import candidate_sentences, sentence_spans
from retrieval.index import open_index
from retrieval.search import Searcher, collapse_overlaps
from retrieval.settings import AnswerSettings, ChunkSettings, IndexSettings, SecuritySettings
from tests.support_helpers import offline_judge
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, Hit

from .conftest import SAMPLES

PUBLIC = Access(clearance=1, groups=["all"])
LAW = SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml"  # 行政手続法
WHITE_PAPER = SAMPLES / "white_paper" / "r05_chapter5_soumu_ict_policy.txt"


# -- sentence extraction ------------------------------------------------------------------------


def test_sentences_do_not_break_inside_brackets():
    text = "この法律は、透明性（その内容が明らかであることをいう。第四十六条において同じ。）の向上を図ることを目的とする。次の文。"
    pieces = [t for _, t in sentence_spans(text)]
    assert pieces[0].endswith("目的とする。") and "をいう。第四十六条" in pieces[0]
    assert pieces[1] == "次の文。"


def test_candidates_skip_the_faq_question_headings_and_tables():
    passage = (
        "【照会要旨】\n共同保険の経費を幹事会社が立て替えた場合、仕入税額控除はどうなりますか。\n\n"
        "【回答要旨】\n(1) 非幹事会社は精算書の保存をもって仕入税額控除を行うことができます。\n"
        "| 区分 | 税率 |\n| --- | --- |\n第3節 概要\n"
        "この場合、幹事会社は必要な事項を精算書に記載しておく必要があります。"
    )
    spans = candidate_sentences(passage)
    shown = [s.text for s in spans]
    assert shown == [
        "非幹事会社は精算書の保存をもって仕入税額控除を行うことができます。",
        "この場合、幹事会社は必要な事項を精算書に記載しておく必要があります。",
    ]
    # Offsets point at the sentence in the passage (the list marker "(1) " is outside the shown text).
    for span in spans:
        assert span.text in passage[span.start : span.end]


def test_collapse_drops_overlapping_spans_of_one_document_and_repeated_text():
    def hit(cid, doc, start, end, text):
        return Hit(cid, 1.0, {"doc_id": doc, "char_start": start, "char_end": end, "text": text})

    hits = [
        hit("a", "d1", 0, 450, "一"),
        hit("b", "d1", 390, 840, "二"),  # overlaps a: dropped
        hit("c", "d1", 840, 1200, "三"),  # adjacent, no overlap: kept
        hit("d", "d2", 0, 100, "一"),  # same text as a under another id: dropped
        hit("e", "d2", 100, 300, "四"),
    ]
    assert [h.chunk_id for h in collapse_overlaps(hits)] == ["a", "c", "e"]


# -- the Answerer on a real Edge index (hash embedder: logic only) ----------------------------


@pytest.fixture(scope="module")
def law_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("answer")
    docs = root / "docs"
    docs.mkdir()
    shutil.copy(LAW, docs / LAW.name)
    secret = root / "secret"
    secret.mkdir()
    shutil.copy(WHITE_PAPER, secret / WHITE_PAPER.name)
    index = open_index(IndexSettings(path=root / "index"), 64)
    ingestor = Ingestor(index, HashEmbedder(64), SparseEncoder(), ChunkSettings(), SecuritySettings(), root)
    ingestor.ingest([docs])
    ingestor.ingest([secret], IngestOptions(confidentiality=2, groups=["soumu"]))
    index.flush()
    yield index
    index.close()


def make_answerer(index, embedder=None, llm=None, **settings) -> Answerer:
    embedder = embedder or HashEmbedder(64)
    sparse = SparseEncoder()
    return Answerer(Searcher(index, embedder, sparse), embedder, offline_judge(sparse),
                    AnswerSettings(**settings), llm=llm)


def test_nothing_relevant_means_no_answer_not_a_guess(law_index):
    result = make_answerer(law_index, min_relevance=0.999).answer("行政手続法の目的", PUBLIC)
    assert result.refused and result.text == NO_ANSWER and result.sentences == []
    assert result.method == "none" and result.sources  # the closest material is still listed


def test_extractive_answer_cites_numbered_sources_with_exact_highlights(law_index):
    deltas: list[str] = []
    result = make_answerer(law_index, min_relevance=-1.0).answer("行政手続法の目的", PUBLIC, on_delta=deltas.append)
    assert result.method == "extractive" and not result.refused and result.sentences
    numbers = [s.n for s in result.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    first_cited = [n for s in result.sentences for n in s.citations]
    assert first_cited[0] == 1  # sources are numbered in the order the answer cites them
    by_n = {s.n: s for s in result.sources}
    for sentence in result.sentences:
        assert sentence.grounded and sentence.support == 1.0  # verbatim sentences of the source
        (n,) = sentence.citations
        # The quote is the source's own words, each of its sentences a highlighted span.
        highlighted = "".join(by_n[n].text[a:b] for a, b in sorted(by_n[n].highlights))
        assert sentence.quote and sentence.quote.replace("\n", "") in highlighted.replace("\n", "")
        assert sentence.quote.replace("「", "『").replace("」", "』") in sentence.text
    assert deltas == [result.text] and "[1]" in result.text
    assert set(result.timings) >= {"search", "select", "total"}


@pytest.mark.parametrize("refuse", [False, True])
def test_answers_never_show_what_the_user_may_not_read(law_index, refuse):
    answerer = make_answerer(law_index, min_relevance=0.999 if refuse else -1.0, passages=10)
    question = "郵便局におけるマイナンバーカードの普及と総務省の取組"
    insider = answerer.answer(question, Access(clearance=2, groups=["soumu"]))
    assert any("r05_chapter5" in s.doc_id for s in insider.sources)
    for outsider in (Access(clearance=1, groups=["soumu"]), Access(clearance=2, groups=["other"])):
        result = answerer.answer(question, outsider)
        assert result.sources and all("r05_chapter5" not in s.doc_id for s in result.sources)
        assert "郵便局" not in result.text


class FailingLLM:
    def answer(self, question, sources, on_delta=None) -> Answer:
        raise LLMError("LLM サーバーの応答が 1 秒以内にありませんでした（タイムアウト）。")


class ScriptedLLM:
    def __init__(self):
        self.given = None

    def answer(self, question, sources, on_delta=None) -> Answer:
        self.given = sources
        return Answer(question, [AnswerSentence("資料のとおりです。", [1], 0.9)], sources, "llm", timings={"generate": 0.1})


def test_llm_failure_falls_back_to_the_extractive_answer_with_a_warning(law_index):
    result = make_answerer(law_index, llm=FailingLLM(), min_relevance=-1.0).answer("行政手続法の目的", PUBLIC)
    assert result.method == "extractive" and result.sentences
    assert any("タイムアウト" in w and "抽出型" in w for w in result.warnings)


def test_llm_gets_only_the_relevant_numbered_passages(law_index):
    llm = ScriptedLLM()
    result = make_answerer(law_index, llm=llm, min_relevance=-1.0, passages=3).answer("行政手続法の目的", PUBLIC)
    assert result.method == "llm" and [s.n for s in llm.given] == [1, 2, 3]
    assert "total" in result.timings and "generate" in result.timings
    assert make_answerer(law_index, llm=llm, min_relevance=-1.0).answer("行政手続法", PUBLIC, use_llm=False).method == "extractive"


# -- real questions, real embedder ---------------------------------------------------------------


@pytest.fixture
def sample_index(samples_index):
    """data_samples, embedded for real (the session's index: built once for every real test)."""
    return samples_index


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, doc_part, words",
    [
        ("行政手続法の目的は何ですか", "405AC0000000088", ["公正の確保", "透明性"]),
        ("郵便局でマイナンバーカードの普及をどう進めているか", "white_paper", ["郵便局", "マイナンバーカード"]),
    ],
)
def test_real_questions_get_cited_answers_from_the_right_document(sample_index, real_embedder, question, doc_part, words):
    result = make_answerer(sample_index, real_embedder).answer(question, PUBLIC)
    assert not result.refused and result.method == "extractive"
    first = result.sources[0]
    assert first.n == 1 and doc_part in first.doc_id
    assert all(w in result.text for w in words)
    # Every cited number resolves to a given source whose text contains the sentence.
    by_n = {s.n: s for s in result.sources}
    for sentence in result.sentences:
        for n in sentence.citations:
            assert sentence.quote in by_n[n].text.replace("\n", "")


@pytest.mark.slow
@pytest.mark.parametrize("question", ["富士山の高さは何メートルですか", "今日の大阪の天気を教えてください"])
def test_real_unanswerable_questions_are_refused(sample_index, real_embedder, question):
    result = make_answerer(sample_index, real_embedder).answer(question, PUBLIC)
    assert result.refused and result.text == NO_ANSWER


def test_query_expansion_widens_the_keyword_side_only(law_index):
    searcher = Searcher(law_index, HashEmbedder(64), SparseEncoder())
    plan = searcher.plan("ぴよぴよ")
    assert searcher.search_plan(plan, PUBLIC, "sparse", 5) == []
    plan.expansions = ["行政指導"]
    hits = searcher.search_plan(plan, PUBLIC, "sparse", 5)
    assert hits and all("行政指導" in h.text for h in hits)
    seen: list[str] = []
    answerer = make_answerer(law_index, min_relevance=-1.0)
    answerer.expand = lambda q: seen.append(q) or ["行政指導"]
    answerer.answer("ぴよぴよ", PUBLIC, mode="sparse")
    assert seen == ["ぴよぴよ"]
    answerer.answer("ぴよぴよ", PUBLIC, mode="sparse", use_llm=False)
    assert seen == ["ぴよぴよ"]  # --no-llm: no expansion either
