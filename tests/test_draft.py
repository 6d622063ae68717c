"""Diet answer drafts: template assembly, numbering, the relevance gate and the LLM path (fast,
with a fake finder and the hash embedder), then a real draft from the real minutes of
data_samples/kokkai with the real embedder (slow): every sentence cited, the 答弁 style, a point
with nothing relevant marked for a human, and the consistency check on a real answer sentence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from retrieval.answer_types import FLAG_INVALID_CITATION, AnswerSentence, Source
from retrieval.draft import Drafter, adapt_sentences, load_templates, number_sources
from retrieval.draft_types import NEEDS_REVIEW, DocumentCandidate, PastAnswer, PointDraft
from retrieval.embedder import HashEmbedder
from retrieval.past_answers import PastAnswerFinder
from retrieval.question_analysis import Point, analyze_question
from retrieval.search import Searcher
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access
from retrieval.verify import ContradictionChecker

from .conftest import SAMPLES
from .support_helpers import offline_judge
from .test_past_answers import index_minutes_and_law

PUBLIC = Access(clearance=1, groups=["all"])
KOKKAI = SAMPLES / "kokkai"
FX = "121314370X00120240823_051"  # 鈴木財務大臣: 為替介入の総額・目的・効果
INTERVENTION = "御指摘の六月の二十七日から七月二十九日には、総額にいたしますと五兆五千三百四十八億円の為替介入を実施いたしました。"
PURPOSE = "為替介入には、そのような為替相場の過度な変動に対しその安定を図るという意義があると思います。"


def real_speech(speech_id: str) -> dict:
    for path in sorted(KOKKAI.glob("*.json")):
        for rec in json.loads(path.read_text(encoding="utf-8")).get("speechRecord", []):
            if rec["speechID"] == speech_id:
                return rec
    raise AssertionError(speech_id)


def source(n: int, chunk: str, text: str, rel: float, **payload: Any) -> Source:
    return Source(n, chunk, f"doc-{chunk}", f"資料{chunk}", normalize(text), 1.0, {"relevance": rel, **payload})


# -- fast: templates --------------------------------------------------------------------------------


def test_adapted_sentences_get_the_opening_and_the_closing_and_keep_their_facts():
    texts = adapt_sentences(["まず、為替相場は安定的に推移することが重要です。", PURPOSE], "為替介入の効果")
    assert texts[0] == "お尋ねの為替介入の効果については、為替相場は安定的に推移することが重要です。"
    assert texts[1] == "為替介入には、そのような為替相場の過度な変動に対しその安定を図るという意義があると考えております。"
    # The first sentence names its own topic: that becomes the opening (no double opening).
    [own] = adapt_sentences(["防衛力強化の財源につきましては、税制措置で確保することとしております。"], "財源")
    assert own == "お尋ねの防衛力強化の財源については、税制措置で確保することとしております。"
    [fact] = adapt_sentences([INTERVENTION], "")
    assert fact.startswith("お尋ねの点については、") and "五兆五千三百四十八億円" in fact
    assert fact.endswith("為替介入を実施したところでございます。")


def test_sentences_tied_to_their_exchange_are_not_reused_and_topics_come_from_the_question():
    t = load_templates()
    assert not t.usable("先ほど申し上げたとおり、効果があったと考えております。")
    assert not t.usable("委員御指摘のとおりでございます。") and not t.usable("私は防衛大臣に就任しました。")
    assert t.usable("日米合同委員会の合意は、在日米軍に関する通報の手続を定めたものです。")
    point = Point("次に、防衛費の財源について伺います。財源は何か。", (0, 20), question_sentence="次に、防衛費の財源について伺います。")
    assert t.topic_of(point) == "防衛費の財源"
    assert t.topic_of(Point("法人税率はどうか。", (0, 9), terms=["法人税率"], question_sentence="法人税率はどうか。")) == "法人税率"


def test_sources_are_numbered_once_in_the_order_the_draft_cites_them():
    a, b, c = source(1, "a", "甲。", 0.9), source(2, "b", "乙。", 0.9), source(3, "c", "丙。", 0.9)
    b_again = source(2, "b", "乙。", 0.9)  # the same chunk found for the second point
    q = source(4, "q", "問。", 0.9)
    p1 = PointDraft(Point("一", (0, 1)), [PastAnswer(a, question=q), PastAnswer(b)], [DocumentCandidate(c)],
                    sentences=[AnswerSentence("乙。", [2]), AnswerSentence("甲。", [1])])
    p2 = PointDraft(Point("二", (1, 2)), [PastAnswer(b_again)], [], sentences=[AnswerSentence("乙。", [2])])
    sources = number_sources([p1, p2])
    assert [(s.chunk_id, s.n) for s in sources] == [("b", 1), ("a", 2), ("c", 3), ("q", 4)]
    assert [s.citations for s in p1.sentences] == [[1], [2]] and p2.sentences[0].citations == [1]
    assert p2.past_answers[0].answer is p1.past_answers[1].answer  # one source, one number


class FakeFinder:
    """Returns fixed candidates: point text containing a key -> those past answers/documents."""

    def __init__(self, answers: dict[str, list[Source]], documents: dict[str, list[Source]]) -> None:
        self.answers, self.documents = answers, documents

    def find(self, point, access, filters=None, k=5, *, context=None):
        assert access is PUBLIC
        return [PastAnswer(s) for key, srcs in self.answers.items() if key in point.text for s in srcs][:k]

    def find_documents(self, point, access, k=3, filters=None):
        assert access is PUBLIC
        return [s for key, srcs in self.documents.items() if key in point.text for s in srcs][:k]


def fake_drafter(llm=None, checker=None, style=None, speech: str | None = None) -> Drafter:
    speech = speech or normalize(real_speech(FX)["speech"].split("\u3000", 1)[1])
    finder = FakeFinder(
        {"為替介入": [source(0, "fx", speech, 0.92, doc_type="diet_speech")],
         "富士山": [source(0, "weak", "登山道の整備は地方公共団体が行っております。", 0.70)]},
        {"為替介入": [source(0, "law", "外国為替及び外国貿易法に基づき、財務大臣は為替の安定に努めるものとする。", 0.88, doc_type="law")]},
    )
    sparse = SparseEncoder()
    return Drafter(finder, HashEmbedder(64), sparse, checker, llm=llm, min_relevance=0.86, style=style,
                   judge=offline_judge(sparse))


QUESTION = "一 為替介入の目的と効果について政府の見解を示されたい。\n二 富士山の登山道の整備の現状を示されたい。"


def test_template_draft_cites_every_sentence_and_marks_unsupported_points():
    draft = fake_drafter().draft(QUESTION, PUBLIC)
    assert draft.method == "template" and len(draft.points) == 2
    fx, fuji = draft.points
    assert not fx.needs_review and fx.sentences
    assert fx.sentences[0].text.startswith("お尋ねの為替介入の目的と効果については、")
    numbers = {s.n for s in draft.sources}
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    for sentence in fx.sentences:
        assert sentence.citations and all(draft.source(n) is not None for n in sentence.citations)
    assert fuji.needs_review and fuji.sentences == [] and fuji.text == NEEDS_REVIEW  # relevance 0.70 < 0.86
    assert "[1]" in fx.text


SPOKEN = ("為替介入の手続きにつきましては、えー、総額五兆五千三百四十八億円の介入を、為替相場の安定を図る為に"
          "鈴木財務大臣が判断を致し、関係機関と協議した上で実施する事としております。")


def test_template_drafts_get_the_certain_style_fixes_and_keep_numbers_names_and_stance():
    from retrieval.style import StyleChecker

    plain = fake_drafter(speech=SPOKEN).draft(QUESTION, PUBLIC).points[0].text
    fixed = fake_drafter(style=StyleChecker(), speech=SPOKEN).draft(QUESTION, PUBLIC).points[0].text
    assert "手続き" in plain and "実施する事" in plain and "図る為に" in plain and "判断を致し" in plain
    assert "えー" not in plain  # the filler goes with the written-style rules (prompts/draft_style.yaml)
    assert "手続" in fixed and "手続き" not in fixed and "実施すること" in fixed and "図るために" in fixed
    assert "えー" not in fixed and "判断をいたし" in fixed
    # Numbers, names, citations and stance are as they were; the kanji numeral is only flagged.
    assert "五兆五千三百四十八億円" in fixed and "鈴木財務大臣" in fixed and "[1]" in fixed
    assert fixed.count("ない") == plain.count("ない")
    remaining = {f.rule_id for f in StyleChecker().check(fixed)}
    assert "suuji-kansuuji" in remaining and not remaining & {"okurigana-noun", "keishiki-koto", "hojo-itasu"}


def test_dropped_candidates_are_not_used():
    drafter = fake_drafter()
    draft = drafter.draft(QUESTION, PUBLIC, kept={"fx": False, "law": False})
    fx = draft.points[0]
    assert fx.needs_review and not fx.past_answers[0].kept and fx.documents[0].kept is False


class ScriptedChat(FakeListChatModel):
    """A chat model that streams its scripted reply and keeps the prompt it was sent."""

    seen: list[Any] = []

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        self.seen.append(messages)
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)


class BrokenChat(FakeListChatModel):
    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        raise ConnectionRefusedError("接続が拒否されました")
        yield  # pragma: no cover


def test_llm_draft_has_its_citations_validated():
    reply = "お尋ねの為替介入の目的と効果については、過度な変動に対し安定を図る意義があると考えております[1]。根拠のない文です[9]。"
    chat = ScriptedChat(responses=[reply], seen=[])
    draft = fake_drafter(llm=chat).draft(QUESTION, PUBLIC)
    assert draft.method == "llm"
    first, second = draft.points[0].sentences
    assert first.citations == [1] and draft.source(1).chunk_id in ("fx", "law")
    assert FLAG_INVALID_CITATION in second.flags and second.citations == []
    prompt = "\n".join(str(m.content) for m in chat.seen[0])
    assert "<passage n=" in prompt and "お尋ねの" in prompt


def test_llm_failure_falls_back_to_templates_with_a_japanese_warning():
    draft = fake_drafter(llm=BrokenChat(responses=["x"])).draft(QUESTION, PUBLIC)
    assert draft.method == "template" and draft.points[0].sentences
    assert any("論点1" in w and "定型文" in w for w in draft.warnings)


def test_checker_sees_the_draft_but_not_its_own_copy_as_a_conflict():
    checker = ContradictionChecker(HashEmbedder(64), SparseEncoder())
    draft = fake_drafter(checker=checker).draft(QUESTION, PUBLIC)
    assert draft.points[0].sentences and draft.points[0].conflicts == []


# -- slow: real minutes, real embedder --------------------------------------------------------------


@pytest.fixture(scope="module")
def drafter(tmp_path_factory, real_embedder, model_cache_dir):
    from retrieval.support_judge import SupportJudge
    from retrieval.support_model import support_model_from_cache

    index = index_minutes_and_law(tmp_path_factory.mktemp("draft"), real_embedder)
    sparse = SparseEncoder()
    finder = PastAnswerFinder(Searcher(index, real_embedder, sparse))
    judge = SupportJudge(real_embedder, sparse, support_model_from_cache(real_embedder, model_cache_dir))
    yield Drafter(finder, real_embedder, sparse, ContradictionChecker(real_embedder, sparse), judge=judge)
    index.close()


REAL_QUESTION = (
    "為替介入等に関する質問主意書\n"
    "一 本年六月二十七日から七月二十九日までの間に行われた為替介入について、その目的と効果に関する政府の見解を示されたい。\n"
    "二 富士山の登山道における落石対策の現状を示されたい。\n"
    "右質問する。"
)


@pytest.mark.slow
def test_real_draft_is_cited_in_answer_style_and_flags_what_it_cannot_support(drafter):
    progress: list[str] = []
    draft = drafter.draft(REAL_QUESTION, PUBLIC, on_progress=lambda msg, done, total: progress.append(msg))
    assert [p.point.label for p in draft.points] == ["一", "二"] and progress
    fx, fuji = draft.points
    assert f"kokkai:{FX}" in [pa.answer.doc_id for pa in fx.past_answers]
    assert not fx.needs_review and fx.sentences
    assert fx.sentences[0].text.startswith("お尋ねの")
    assert fx.text.endswith(("ております。", "ございます。", "です。", "ます。")) or "]" in fx.text[-4:]
    for sentence in fx.sentences:
        assert sentence.citations
        for n in sentence.citations:
            cited = draft.source(n)
            assert cited is not None and cited in fx.evidence()
        assert not load_templates().situational.search(sentence.text.split("については、", 1)[-1])
    assert fx.conflicts == []  # drafted from the past answers: consistent with them
    assert fuji.needs_review and fuji.text == NEEDS_REVIEW
    assert all(s.n == i + 1 for i, s in enumerate(draft.sources))


@pytest.mark.slow
def test_changed_figure_or_flipped_negation_of_a_real_answer_is_flagged_against_it(drafter):
    analysis = analyze_question(REAL_QUESTION)
    [answer] = [pa.answer for pa in drafter.finder.find(analysis.points[0], PUBLIC, k=5) if pa.answer.doc_id == f"kokkai:{FX}"]
    checker = drafter.checker
    assert checker.check([INTERVENTION], [answer]) == []
    [changed] = checker.check([INTERVENTION.replace("五兆五千三百四十八億円", "三兆五千三百四十八億円")], [answer])
    assert changed.kind == "number" and changed.evidence_source is answer
    [flipped] = checker.check([INTERVENTION.replace("実施いたしました", "実施いたしませんでした")], [answer])
    assert flipped.kind == "polarity" and flipped.evidence == normalize(INTERVENTION)
