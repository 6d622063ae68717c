"""Build the real components from settings. Only faces (CLI, Streamlit) call this."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.ai_notice import NoticeContext
from retrieval.answer import Answerer
from retrieval.embedder import Embedder, embedder_from_settings
from retrieval.llm import chat_model_from_settings
from retrieval.index import open_index
from retrieval.index.base import Index
from retrieval.search import Searcher
from retrieval.settings import Settings
from retrieval.support_judge import SupportJudge
from retrieval.support_model import support_model_from_cache
from retrieval.text.sparse import SparseEncoder

if TYPE_CHECKING:
    from retrieval.draft import Drafter
    from retrieval.style import StyleChecker
    from retrieval.answer import gate_from_settings
    from retrieval.followup import FollowUpMiner
    from retrieval.verify import ContradictionChecker


def build_embedder(settings: Settings) -> Embedder:
    """The configured dense embedder (the built-in e5 is built offline on first use)."""
    return embedder_from_settings(settings.embedding)


def build_index(settings: Settings, embedder: Embedder, read_only: bool = False) -> Index:
    """Open (or create) the configured index for the embedder's dimension."""
    return open_index(settings.index, embedder.dimension, read_only=read_only)


def build_searcher(settings: Settings, embedder: Embedder, index: Index) -> Searcher:
    return Searcher(index, embedder, SparseEncoder(), rrf_k=settings.search.rrf_k)


def build_support_judge(settings: Settings, embedder: Embedder, sparse: SparseEncoder | None = None) -> SupportJudge:
    """The one support judge of answers, drafts and evaluations (its model trained once into the
    cache on first use: ``gyosei setup`` does it ahead of time)."""
    return SupportJudge(embedder, sparse or SparseEncoder(), support_model_from_cache(embedder, settings.embedding.cache_dir))


def build_answerer(settings: Settings, embedder: Embedder, index: Index) -> Answerer:
    """The answerer: extractive by default, with the configured LLM when there is one."""
    searcher = build_searcher(settings, embedder, index)
    scorer = build_support_judge(settings, embedder, searcher.sparse)
    llm = expand = None
    chat_model = chat_model_from_settings(settings.llm)
    if chat_model is not None:
        from retrieval.answer_llm import LLMAnswerer, expand_query  # langchain only when an LLM is set

        llm = LLMAnswerer(chat_model, scorer, timeout_s=settings.llm.timeout_s)
        if settings.llm.expand_queries:
            timeout = min(settings.llm.timeout_s, 15.0)
            expand = lambda question: expand_query(question, chat_model, timeout)  # noqa: E731
    return Answerer(searcher, embedder, scorer, settings.answer, llm=llm, expand=expand,
                    notice=notice_context(settings), llm_limit=settings.llm_limit)


def notice_context(settings: Settings) -> NoticeContext:
    """What the AI-output notice of answers and drafts says about the model in use."""
    return NoticeContext.from_settings(settings.llm, settings.export.timezone)


def build_checker(settings: Settings, embedder: Embedder, sparse: SparseEncoder) -> "ContradictionChecker":
    """The 矛盾チェック: rules, plus an NLI judge (the configured LLM, else the small classifier,
    trained once into the cache on first use: ``gyosei setup`` does it ahead of time)."""
    from retrieval.nli import LLMJudge, classifier_from_cache
    from retrieval.verify import ContradictionChecker

    chat_model = chat_model_from_settings(settings.llm)
    judge = LLMJudge(chat_model) if chat_model is not None else classifier_from_cache(embedder, settings.embedding.cache_dir)
    return ContradictionChecker(embedder, sparse, judge, nli_limit=settings.llm_limit if chat_model is not None else None)


def build_style_checker(settings: Settings, *, vertical: bool = False) -> "StyleChecker":
    """The 公用文チェック with the configured sentence length (rules from prompts/style_rules.yaml)."""
    from retrieval.style import StyleChecker

    return StyleChecker(max_sentence_chars=settings.style.max_sentence_chars, horizontal=False if vertical else None)


def build_drafter(settings: Settings, embedder: Embedder, index: Index) -> "Drafter":
    """The Diet-answer drafter: past answers and documents per 論点, templates or the LLM, 矛盾チェック."""
    from retrieval.answer import gate_from_settings
    from retrieval.draft import Drafter
    from retrieval.past_answers import PastAnswerFinder

    searcher = build_searcher(settings, embedder, index)
    return Drafter(PastAnswerFinder(searcher, rrf_k=settings.search.rrf_k), embedder, searcher.sparse,
                   build_checker(settings, embedder, searcher.sparse), chat_model_from_settings(settings.llm),
                   judge=build_support_judge(settings, embedder, searcher.sparse),
                   min_relevance=settings.answer.min_relevance, llm_timeout_s=settings.llm.timeout_s,
                   style=build_style_checker(settings) if settings.style.auto_fix_drafts else None,
                   gate=gate_from_settings(settings.answer), notice=notice_context(settings),
                   llm_limit=settings.llm_limit)


def build_followups(settings: Settings, embedder: Embedder, index: Index) -> "FollowUpMiner":
    """再質問予測: follow-ups mined from the indexed minutes (and 想定問答 from the LLM, if any)."""
    from retrieval.answer import gate_from_settings
    from retrieval.followup import FollowUpMiner

    return FollowUpMiner(build_searcher(settings, embedder, index), chat_model=chat_model_from_settings(settings.llm),
                         timeout_s=settings.llm.timeout_s, min_similarity=settings.answer.min_relevance,
                         gate=gate_from_settings(settings.answer), llm_limit=settings.llm_limit)
