"""Answer a question with numbered, checkable citations: the function the CLI, UI and eval share.

1. plan the question (normalization, date phrases) and search hybrid, access-filtered;
2. gate on relevance: the cosine between the question and each passage (the embedder's own
   vectors, returned by the index). Below ``min_relevance`` nothing is relevant and the answer is
   「該当する資料が見つかりませんでした。」: no answer beats a wrong one;
3. answer from the relevant passages: with an LLM configured, generated and its citations
   validated (falls back to the extractive answer on any LLM failure, with a warning); otherwise
   extractive: picked sentences, each followed by its [n].

>>> answerer = Answerer(searcher, embedder, SupportJudge(embedder, sparse, model), AnswerSettings())
>>> result = answerer.answer("行政手続法の目的は何か", Access(clearance=1, groups=["all"]))
>>> print(result.text)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable, Protocol, Sequence

from retrieval.ai_notice import NoticeContext, make_notice
from retrieval.answer_types import NO_ANSWER, Answer, AnswerSentence, Source
from retrieval.attribution import attribute, max_qualifiers, provision_of, qualifier_pattern
from retrieval.citation import describe_source
from retrieval.embedder import Embedder
from retrieval.errors import LLMError
from retrieval.llm_limit import limit_note, withheld_sources
from retrieval.relevance import RelevanceGate, judged_text
from retrieval.extractive import SentencePicker, Span, contiguous, with_qualifiers
from retrieval.search import Searcher
from retrieval.settings import AnswerSettings
from retrieval.support import cosine
from retrieval.support_judge import SupportJudge
from retrieval.types import Access, Filters, Hit, SearchMode


class GeneratesAnswers(Protocol):
    """What an LLM answerer offers (``retrieval.answer_llm.LLMAnswerer``)."""

    def answer(self, question: str, sources: list[Source], on_delta: Callable[[str], None] | None = None) -> Answer: ...


class Answerer:
    """Answers questions for one configuration; ``access`` is required on every call."""

    def __init__(
        self,
        searcher: Searcher,
        embedder: Embedder,
        scorer: SupportJudge,
        settings: AnswerSettings | None = None,
        llm: GeneratesAnswers | None = None,
        expand: Callable[[str], list[str]] | None = None,
        *,
        notice: NoticeContext | None = None,
        llm_limit: int | None = None,
    ) -> None:
        self.searcher = searcher
        self.embedder = embedder
        self.scorer = scorer
        self.settings = settings or AnswerSettings()
        self.llm = llm
        self.expand = expand  # optional LLM query expansion (keywords for the sparse side)
        self.notice = notice or NoticeContext()  # what the AI-output notice says about the model
        self.llm_limit = llm_limit  # the highest 機密性 a passage sent to the LLM may have (None: no limit)
        self.picker = SentencePicker(embedder, scorer.sparse.terms, max_sentences=self.settings.max_sentences)
        self.gate = gate_from_settings(self.settings)

    def answer(
        self,
        question: str,
        access: Access,
        filters: Filters | None = None,
        mode: SearchMode | str = SearchMode.HYBRID,
        *,
        on_delta: Callable[[str], None] | None = None,
        today: dt.date | None = None,
        use_llm: bool = True,
    ) -> Answer:
        """The cited answer to ``question`` from what ``access`` may read, with its AI notice."""
        result = self._answer(question, access, filters, mode, on_delta=on_delta, today=today, use_llm=use_llm)
        result.notice = make_notice("answer", result.method, self.notice)
        return result

    def _answer(self, question: str, access: Access, filters: Filters | None, mode: SearchMode | str, *,
                on_delta: Callable[[str], None] | None, today: dt.date | None, use_llm: bool) -> Answer:
        started = time.perf_counter()
        plan = self.searcher.plan(question, filters, today)
        if self.expand is not None and use_llm:
            plan.expansions = self.expand(plan.text)
        notes = [date_note(plan.text, plan.date_hint)] if plan.date_hint else []
        qv = list(self.embedder.embed_query(plan.text)) if plan.text.strip() else []
        hits = (
            self.searcher.search_plan(plan, access, mode, self.settings.passages, with_dense=True, query_vector=qv)
            if qv
            else []
        )
        searched = time.perf_counter()
        cosines = [relevance(qv, h) for h in hits]
        judged = self.gate.judge(plan.text, [(c, judged_text(h.text, h.payload)) for c, h in zip(cosines, hits)])
        relevant = [(h, c) for h, c, ok in zip(hits, cosines, judged.relevant) if ok]
        timings = {"search": searched - started}
        if not relevant:
            closest = [hit_source(h, c, i + 1) for i, (h, c) in enumerate(zip(hits[:3], cosines))]
            timings["total"] = time.perf_counter() - started
            return Answer(question, [], closest, "none", refused=True, notes=notes, timings=timings, gate_reason=judged.reason)

        warnings: list[str] = []
        withheld = withheld_sources([h for h, _ in relevant], self.llm_limit) if self.llm is not None and use_llm else []
        if withheld:  # a passage above the limit never reaches the model: extractive, and why
            warnings.append(limit_note("answer", withheld, self.llm_limit))
        elif self.llm is not None and use_llm:
            sources = [hit_source(h, r, i + 1) for i, (h, r) in enumerate(relevant)]
            try:
                result = self.llm.answer(question, sources, on_delta)
                result.notes = notes + result.notes
                result.timings = {**timings, **result.timings, "total": time.perf_counter() - started}
                return result
            except LLMError as exc:
                warnings.append(f"{exc} 抽出型の回答を表示します。")
        result = self._extractive(question, qv, relevant)
        result.warnings, result.notes = warnings + result.warnings, notes
        result.timings = {**timings, "select": time.perf_counter() - searched, "total": time.perf_counter() - started}
        if on_delta is not None:
            on_delta(result.text)
        return result

    def _extractive(self, question: str, qv: Sequence[float], relevant: list[tuple[Hit, float]]) -> Answer:
        passages = [h.text for h, _ in relevant]
        picked = self.picker.pick(question, qv, passages, [r for _, r in relevant])
        picked = with_qualifiers(picked, passages, qualifier_pattern(), max_qualifiers())
        # Number sources in the order the answer first cites them; uncited relevant ones follow.
        order: list[int] = []
        for i, _, _ in picked:
            if i not in order:
                order.append(i)
        order += [i for i in range(len(relevant)) if i not in order]
        number = {i: n + 1 for n, i in enumerate(order)}
        sources = [hit_source(*relevant[i], number[i]) for i in order]
        by_number = {s.n: s for s in sources}
        sentences = []
        previous: tuple[str, str] | None = None  # (doc id, provision) of the quote before
        for i, spans in quote_groups(picked, passages, [h.payload for h, _ in relevant]):
            n = number[i]
            by_number[n].highlights.extend((span.start, span.end) for span in spans)
            quote = "".join(span.text for span in spans)
            payload = relevant[i][0].payload
            text = attribute(quote, payload, passages[i], spans[0].start, previous=previous)
            previous = (str(payload.get("doc_id")), provision_of(payload, passages[i], spans[0].start))
            sentence = AnswerSentence(text=text, citations=[n], quote=quote)
            self.scorer.mark(sentence, [relevant[i][0].text])  # the quote is judged: supported, probability 1
            sentences.append(sentence)
        if not sentences:  # relevant passages without one answer-like sentence: cite the best passage
            return Answer(question, [], sources, "none", refused=True)
        return Answer(question, sentences, sources, "extractive")


def quote_groups(picked: list[tuple[int, Span, float]], passages: Sequence[str],
                 payloads: Sequence[dict]) -> list[tuple[int, list[Span]]]:
    """Picked sentences as quotes: neighbours in one passage (and, in a law, one provision)
    become one quote, so each quote is attributed once."""
    groups: list[tuple[int, list[Span]]] = []
    for i, span, _ in picked:
        if groups and groups[-1][0] == i:
            last = groups[-1][1][-1]
            if contiguous(passages[i], last, span) and (
                    provision_of(payloads[i], passages[i], last.start) == provision_of(payloads[i], passages[i], span.start)):
                groups[-1][1].append(span)
                continue
        groups.append((i, [span]))
    return groups


def gate_from_settings(settings: AnswerSettings) -> RelevanceGate:
    """The one relevance judgement, with the configured cosines."""
    return RelevanceGate(floor=settings.floor_relevance, mid=settings.mid_relevance, sure=settings.min_relevance,
                         min_coverage=settings.min_coverage)


def date_note(text: str, hint) -> str:
    """Tell the user which words of the question narrowed the period, and to what."""
    phrases = "」「".join(text[a:b] for a, b in hint.spans) or hint.label
    return f"質問中の「{phrases}」により、期間を{hint.label}に絞り込みました（日付のない資料は対象のままです）。"


def relevance(query_vector: Sequence[float], hit: Hit) -> float:
    """Cosine between the question and a hit's stored dense vector (0 when not returned)."""
    if hit.dense is None or not query_vector:
        return 0.0
    return cosine(query_vector, hit.dense)


def hit_source(hit: Hit, rel: float, n: int = 0) -> Source:
    """A hit as a citable Source numbered ``n`` (0: numbered later, as drafts do); its relevance
    to the question kept in the payload."""
    payload = {k: v for k, v in hit.payload.items() if k != "text"}
    payload["relevance"] = round(rel, 4)
    return Source(
        n=n,
        chunk_id=hit.chunk_id,
        doc_id=str(hit.payload.get("doc_id", "")),
        label=describe_source(hit.payload),
        text=hit.text,
        score=hit.score,
        payload=payload,
    )


__all__ = ["Answerer", "relevance", "NO_ANSWER"]
