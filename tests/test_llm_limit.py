"""No passage above ``llm.max_confidentiality`` reaches a model's prompt, on any path that prompts
one: answers (and query expansion), drafts, 想定問答 (follow-ups) and the NLI judge of the
矛盾チェック. The index of tests/test_access_paths.py holds 機密性1, 2 and 3 documents; a reader
cleared for all of them asks with a recording chat model and a limit of 1, and no sentence of a
level-2 or level-3 chunk may appear in any prompt. Positive controls: the same paths with no
limit do send those sentences, and the answers/drafts say why they fell back."""

from __future__ import annotations

import re

import pytest

from prompts import data_text
from retrieval.answer import Answerer
from retrieval.answer_llm import LLMAnswerer, expand_query
from retrieval.embedder import HashEmbedder
from retrieval.nli import LLMJudge
from retrieval.settings import AnswerSettings, LLMSettings, SecuritySettings, Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.verify import ContradictionChecker

from .support_helpers import offline_judge
from .test_access_paths import ADMIN, ALL_QUESTIONS, DIM, DOCS, RecordingChat, built, index, searcher_for  # noqa: F401

LIMIT = 1


class RecordingJudgeChat(RecordingChat):
    """Also records ``invoke`` (the NLI judge does not stream)."""

    def _call(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        self.prompts.append("\n".join(str(m.content) for m in messages))
        return "neutral 0.1"


def above_limit_sentences(built) -> set[str]:
    """Every sentence (15+ characters, as a prompt would carry it) of a chunk above the limit."""
    out = set()
    for doc_id, texts in built["texts"].items():
        if DOCS[built["folder_of"][doc_id]][1] > LIMIT:
            for text in texts:
                out |= {data_text(s) for s in re.split(r"(?<=[。．！？])", text) if len(s.strip()) >= 15}
    return out


def leaked(prompts: list[str], sentences: set[str]) -> list[str]:
    return [s for s in sentences for p in prompts if s.strip() in p]


def test_settings_limit_follows_the_endpoint():
    local = Settings(llm=LLMSettings(provider="openai_compatible", model="m", base_url="http://127.0.0.1:8080/v1"),
                     security=SecuritySettings(max_confidentiality=3))
    assert not local.llm.external and local.llm_limit == 3
    for url in ("http://localhost:11434/v1", "http://[::1]:8000/v1"):
        assert Settings(llm=LLMSettings(provider="openai_compatible", model="m", base_url=url)).llm_limit == 2
    remote = Settings(llm=LLMSettings(provider="openai_compatible", model="m", base_url="https://api.example.com/v1"),
                      security=SecuritySettings(max_confidentiality=3))
    assert remote.llm.external and remote.llm.host == "api.example.com" and remote.llm_limit == 1
    assert Settings(llm=LLMSettings(provider="langchain", model="openai:gpt-4o-mini")).llm_limit == 1
    assert Settings(llm=LLMSettings(provider="langchain", model="ollama:llama3")).llm_limit == 2
    explicit = LLMSettings(provider="openai_compatible", model="m", base_url="https://x.example/v1", max_confidentiality=2)
    assert Settings(llm=explicit).llm_limit == 2


@pytest.mark.parametrize("limit", [LIMIT, None], ids=["limit1", "no-limit"])
def test_answers_and_query_expansion(built, index, limit):
    embedder, sparse = HashEmbedder(DIM), SparseEncoder()
    chat = RecordingChat(responses=["資料によれば、そのとおりです[1]。"] * 40, prompts=[])
    answerer = Answerer(searcher_for(index), embedder, offline_judge(sparse),
                        AnswerSettings(min_relevance=-1.0, passages=8), llm=LLMAnswerer(chat, offline_judge(sparse), timeout_s=30),
                        expand=lambda q: expand_query(q, chat, 15), llm_limit=limit)
    results = [answerer.answer(q, ADMIN) for q in ALL_QUESTIONS]
    leaks = leaked(chat.prompts, above_limit_sentences(built))
    if limit is None:  # positive control: without the limit these passages do go to the model
        assert leaks and all(r.method == "llm" for r in results)
        return
    assert not leaks
    fell_back = [r for r in results if r.method == "extractive"]
    assert fell_back and all(any("機密性1を超える資料" in w for w in r.warnings) for r in fell_back)
    for r in fell_back:  # the extractive answer may still show them to this reader: it is no prompt
        assert r.notice is not None and r.notice.path == "extractive"


@pytest.mark.parametrize("limit", [LIMIT, None], ids=["limit1", "no-limit"])
def test_drafts_follow_ups_and_nli_judge(built, index, limit):
    from app.draft_service import make_draft
    from retrieval.draft import Drafter
    from retrieval.followup import FollowUpMiner
    from retrieval.past_answers import PastAnswerFinder

    embedder, sparse = HashEmbedder(DIM), SparseEncoder()
    chat = RecordingChat(responses=["お尋ねの件については、資料のとおりと考えております[1]。"] * 80, prompts=[])
    judge_chat = RecordingJudgeChat(responses=["neutral 0.1"], prompts=[])
    checker = ContradictionChecker(None, sparse, LLMJudge(judge_chat), min_overlap=0.0, nli_min_overlap=0.0,
                                   nli_limit=limit)
    drafter = Drafter(PastAnswerFinder(searcher_for(index)), embedder, sparse, checker, chat, min_relevance=-1.0,
                      documents=5, judge=offline_judge(sparse), llm_limit=limit)
    miner = FollowUpMiner(searcher_for(index), chat_model=chat, min_similarity=-1.0, llm_limit=limit)
    drafts = [make_draft(drafter, miner, q, ADMIN) for q in [
        "在沖縄米軍事件の通報事案について政府の対応を伺う。また、防衛省・自衛隊の不適切事案の再発防止策はどうか。",
        "API導入とデータ品質管理について、政府の取組を伺う。また、行政手続法の目的は何か。"]]
    sentences = above_limit_sentences(built)
    leaks = leaked(chat.prompts + judge_chat.prompts, sentences)
    if limit is None:
        assert leaks and judge_chat.prompts
        return
    assert not leaks, leaks[:3]
    notes = [w for d in drafts for w in d.warnings]
    assert any("定型文で答弁案を作成しました" in w for w in notes)
    # The model was still used where every passage was within the limit.
    assert chat.prompts
