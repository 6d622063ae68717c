"""Draft a Diet answer (国会答弁案) point by point, from past answers and supporting documents.

1. analyze the question into 論点 (:func:`retrieval.question_analysis.analyze_question`);
2. per point: past government answers (:class:`retrieval.past_answers.PastAnswerFinder`, the whole
   question as context) and supporting documents, access-filtered; the drafter's ``kept`` choices
   drop candidates;
3. gate on relevance (:class:`retrieval.relevance.RelevanceGate`, the answers' judgement), decided
   once per candidate (``relevant`` on PastAnswer / DocumentCandidate): a candidate below it is
   never used, never checked against, never numbered; with nothing usable the point is
   ``needs_review`` (a human writes it);
4. draft: with no LLM, the most relevant sentences of the kept passages (SentencePicker; answers of
   the ministry concerned and recent ones preferred), put in written 答弁 style and chosen by role
   (:mod:`retrieval.draft_style`, ``prompts/draft_style.yaml``: 現状の認識・事実 -> 取組 -> 今後の方針,
   sentences bound to another period marked 【時点確認】 with their date or left out), adapted
   only through the fixed phrases of ``prompts/draft_templates.yaml`` (opening 「お尋ねの〜について
   は、」, closing 「〜と考えております。」), sentences tied to their original exchange left out,
   every sentence citing its source, the certain 公用文 fixes applied (:mod:`retrieval.style`:
   spellings such as 「時は」->「ときは」, fillers; never numbers, names or stance); with an LLM, ``prompts/draft.yaml`` and the citations
   validated as for answers (falls back to templates, with a warning, on any LLM failure);
5. consistency check (矛盾チェック, :func:`check_point`) of each point's sentences against its used
   past answers and documents, stamped with the text it was computed on.
Sources are numbered once for the whole draft, in the order the draft first cites them.
:meth:`Drafter.redraft` rewrites chosen points only, from their candidates as they are now.

>>> drafter = Drafter(finder, embedder, SparseEncoder(), checker, judge=SupportJudge(embedder, sparse, model))
>>> draft = drafter.draft(question_text, Access(clearance=1, groups=["all"]))  # doctest: +SKIP
>>> print(draft.points[0].text)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Callable

from retrieval.ai_notice import NoticeContext, make_notice
from retrieval.answer_types import AnswerSentence, Source
from retrieval.draft_sources import check_point, number_sources
from retrieval.llm_limit import limit_note, withheld_sources
from retrieval.draft_style import Candidate, DraftStyle, load_draft_style, preferred_relevance, select_sentences
from retrieval.draft_types import NEEDS_REVIEW, NEEDS_REVIEW_NO_SENTENCE, Draft, DocumentCandidate, PastAnswer, PointDraft
from retrieval.embedder import Embedder
from retrieval.errors import LLMError
from retrieval.extractive import SentencePicker, sentence_spans
from retrieval.past_answers import PastAnswerFinder
from retrieval.relevance import RelevanceGate, judged_text
from retrieval.settings import DEFAULT_MIN_RELEVANCE
from retrieval.question_analysis import GENERIC_TERMS, Point, analyze_question
from retrieval.support_judge import SupportJudge
from retrieval.text.normalize import normalize
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access
from retrieval.verify import ContradictionChecker

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.style import StyleChecker

__all__ = ["Drafter", "Templates", "load_templates", "adapt_sentences", "number_sources", "check_point"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Templates:
    """The fixed phrases and conversion rules of ``prompts/draft_templates.yaml``."""

    opening: str
    opening_no_topic: str
    topic_clause: re.Pattern[str]
    question_topic: re.Pattern[str]
    topic_max_chars: int
    topic_demonstrative: re.Pattern[str]
    item_marker: re.Pattern[str]
    leading_connectives: re.Pattern[str]
    situational: re.Pattern[str]
    rewrites: tuple[tuple[re.Pattern[str], str], ...]
    closings: tuple[tuple[re.Pattern[str], str], ...]

    def usable(self, sentence: str) -> bool:
        """False for sentences tied to their original exchange (先ほど, 御質問, 本日, 私は ...)."""
        return not self.situational.search(sentence)

    def topic_of(self, point: Point) -> str:
        """What the point asks about: 「防衛費の財源」 of 「防衛費の財源について伺う」, else its main term."""
        for text in (point.question_sentence, point.text):
            found = [m.group("topic") for m in self.question_topic.finditer(normalize(text or ""))]
            found = [self.leading_connectives.sub("", self.item_marker.sub("", t)).strip() for t in found]
            found = [self.topic_demonstrative.sub("", t) for t in found]  # 「この日本の国際収支」-> 「日本の国際収支」
            found = [t for t in found if 2 <= len(t) <= self.topic_max_chars and self.usable(t) and t not in GENERIC_TERMS]
            if found:
                return found[-1]
        if not point.terms:
            return ""
        # The main term, widened to the whole compound it sits in (小企業 -> 中小企業).
        term, text = point.terms[0], normalize(point.text or "")
        at = text.find(term)
        if at < 0:
            return term
        start, end = at, at + len(term)
        while start > 0 and re.match(r"[一-龥ァ-ヶー々]", text[start - 1]) and end - start < self.topic_max_chars:
            start -= 1
        return text[start:end]


@functools.lru_cache(maxsize=None)
def load_templates() -> Templates:
    """The templates file, parsed once (package data, so it works when installed)."""
    import yaml

    spec = yaml.safe_load(files("prompts").joinpath("draft_templates.yaml").read_text(encoding="utf-8"))
    return Templates(
        opening=spec["opening"],
        opening_no_topic=spec["opening_no_topic"],
        topic_clause=re.compile(spec["topic_clause"]),
        question_topic=re.compile(spec["question_topic"]),
        topic_max_chars=int(spec["topic_max_chars"]),
        topic_demonstrative=re.compile(spec["topic_demonstrative"]),
        item_marker=re.compile(spec["item_marker"]),
        leading_connectives=re.compile(spec["leading_connectives"]),
        situational=re.compile(re.sub(r"\s+", "", spec["situational"])),
        rewrites=tuple((re.compile(p), r) for p, r in spec["rewrites"]),
        closings=tuple((re.compile(p), r) for p, r in spec["closings"]),
    )


def adapt_sentences(sentences: list[str], topic: str, templates: Templates | None = None) -> list[str]:
    """Past-answer sentences turned into one point's draft, through the fixed phrases only:
    the opening before the first sentence, spoken phrasing rewritten, the answer-style closing
    on the last one. Facts, figures and stance are left as they are."""
    t = templates or load_templates()
    out = []
    for i, text in enumerate(sentences):
        for pattern, repl in t.rewrites:
            text = pattern.sub(repl, text)
        if i == 0:
            text = t.leading_connectives.sub("", text)
            clause = t.topic_clause.match(text)
            if clause:  # the sentence names its own topic: keep it, in the opening's words
                text = t.opening.format(topic=clause.group("topic")) + text[clause.end():]
            else:
                text = (t.opening.format(topic=topic) if topic else t.opening_no_topic) + text
        if i == len(sentences) - 1:
            for pattern, repl in t.closings:
                if pattern.search(text):
                    text = pattern.sub(repl, text)
                    break
        out.append(text)
    return out


def _masked(text: str, t: Templates, ds: DraftStyle | None = None) -> str:
    """``text`` with the sentences a draft cannot use blanked out: tied to their original exchange,
    or left out of a written answer (``ds``: 「…御容赦いただきたい…」); judged on their written form,
    so 「先ほど申し上げたとおり、」 alone does not lose a sentence. Line breaks of the same length
    keep the offsets of the other sentences pointing into the original text."""
    out = list(text)
    for start, sentence in sentence_spans(text):
        written = ds.written(sentence) if ds is not None else sentence
        if written is None or not t.usable(written):
            out[start:start + len(sentence)] = "\n" * len(sentence)
    return "".join(out)


class Drafter:
    """Drafts Diet answers for one configuration; ``access`` is required on every call.

    ``min_relevance``: the point-passage cosine a passage needs to support a draft (the answer's
    calibrated gate); ``past_answers``/``documents``: candidates per point; ``max_sentences``:
    sentences per point's draft; ``llm``: a LangChain chat model (None: templates only); ``judge``:
    the support judge that marks every sentence (the 答弁作成 page marks edited ones with it too);
    ``style``: the 公用文チェック whose certain fixes template drafts get (None: no fixes);
    ``draft_style``: the written-style rules (None: ``prompts/draft_style.yaml``).
    """

    def __init__(self, finder: PastAnswerFinder, embedder: Embedder, sparse: SparseEncoder,
                 checker: ContradictionChecker | None, llm: BaseChatModel | None = None, *, judge: SupportJudge,
                 min_relevance: float = DEFAULT_MIN_RELEVANCE, past_answers: int = 5, documents: int = 3, max_sentences: int = 3,
                 llm_timeout_s: float = 120.0, templates: Templates | None = None,
                 style: StyleChecker | None = None, gate: RelevanceGate | None = None,
                 draft_style: DraftStyle | None = None, notice: NoticeContext | None = None,
                 llm_limit: int | None = None) -> None:
        self.finder = finder
        self.notice = notice or NoticeContext()  # what the AI-output notice says about the model
        self.llm_limit = llm_limit  # the highest 機密性 a passage sent to the LLM may have (None: no limit)
        self.embedder = embedder
        self.sparse = sparse
        self.checker = checker
        self.llm = llm
        self.min_relevance = min_relevance
        # The answers' relevance judgement (None: the plain cosine gate at ``min_relevance``).
        self.gate = gate or RelevanceGate.for_threshold(min_relevance)
        self.past_answers = past_answers
        self.documents = documents
        self.max_sentences = max_sentences
        self.llm_timeout_s = llm_timeout_s
        self.templates = templates
        self.style = style
        self.draft_style = draft_style
        self.judge = judge  # the support judge: every sentence's 「裏付けあり」 and its note
        # Extra candidates, within a wider margin of the best: sentences are then chosen by role
        # (現状 -> 取組 -> 今後) and period-bound ones left out where another serves.
        self.picker = SentencePicker(embedder, sparse.terms, max_sentences=max_sentences + 5, max_embedded=10,
                                     margin=0.03)

    def draft(self, question_text: str, access: Access, *, kept: dict[str, bool] | None = None,
              on_progress: Progress | None = None) -> Draft:
        """The draft for ``question_text``. ``kept`` maps a candidate's chunk id to False to drop
        it (past answers and documents); ``on_progress(message, done, total)`` reports each point."""
        started = time.perf_counter()
        analysis = analyze_question(question_text)
        total = len(analysis.points)
        context = analysis.text if total > 1 else None
        points: list[PointDraft] = []
        for i, point in enumerate(analysis.points):
            if on_progress is not None:
                on_progress(f"論点{i + 1}/{total}の過去答弁と資料を検索しています", i, total)
            past = self.finder.find(point, access, k=self.past_answers, context=context)
            docs = [DocumentCandidate(d) for d in self.finder.find_documents(point, access, k=self.documents)]
            # The relevance gate, decided once per (point, candidate): the list, the draft, the
            # 矛盾チェック and the export all read these two fields.
            for c in past:
                c.kept = (kept or {}).get(c.answer.chunk_id, True)
                c.relevance = float(c.answer.payload.get("relevance") or 0.0)
            for c in docs:
                c.kept = (kept or {}).get(c.source.chunk_id, True)
                c.relevance = float(c.source.payload.get("relevance") or 0.0)
            # Past answers and documents are judged apart: a strong past answer must not push a
            # relevant law out of the margin, nor the other way round.
            for group, sources in ((past, [c.answer for c in past]), (docs, [c.source for c in docs])):
                judged = self.gate.judge(point.text, [(c.relevance, judged_text(src.text, src.payload))
                                                      for c, src in zip(group, sources)])
                for c, ok in zip(group, judged.relevant):
                    c.relevant = ok
            points.append(PointDraft(point=point, past_answers=past, documents=docs))
        searched = time.perf_counter()
        # Provisional numbers (unique per chunk) so that sentences can cite before final numbering.
        provisional: dict[str, int] = {}
        for pd in points:
            for src in pd.candidate_sources():
                src.n = provisional.setdefault(src.chunk_id, len(provisional) + 1)
        warnings: list[str] = []
        methods = set()
        for i, pd in enumerate(points):
            if on_progress is not None:
                on_progress(f"論点{i + 1}/{total}の答弁案を作成しています", i, total)
            methods.add(self._draft_point(pd, i + 1, warnings))
        drafted = time.perf_counter()
        sources = number_sources(points)
        for pd in points:
            if self.checker is not None:
                check_point(self.checker, pd)
        if on_progress is not None:
            on_progress("答弁案を作成しました", total, total)
        method = "llm" if "llm" in methods else "template"
        return Draft(question=question_text, analysis=analysis, points=points, sources=sources, method=method,
                     warnings=warnings, timings={"search": searched - started, "draft": drafted - searched,
                                                 "total": time.perf_counter() - started},
                     notice=make_notice("draft", method, self.notice))

    def redraft(self, draft: Draft, points: list[int]) -> Draft:
        """Draft again only the points at the (0-based) indices ``points``, from their candidates
        as they are now (the drafter's keep/drop choices; no new search). The other points keep
        their text, edits included; sources are renumbered once for the whole draft and every
        point's citations follow, so an edited point still cites the same passages."""
        started = time.perf_counter()
        methods = {self._draft_point(draft.points[i], i + 1, draft.warnings) for i in points}
        if "llm" in methods:
            draft.method = "llm"
        draft.sources = number_sources(draft.points)
        for i in points:
            if self.checker is not None:
                check_point(self.checker, draft.points[i])
        draft.timings["redraft"] = time.perf_counter() - started
        draft.notice = make_notice("draft", draft.method, self.notice)
        draft.confirmed_by = draft.confirmed_at = ""  # rewritten points: the draft is 未確認 again
        return draft

    # -- steps ---------------------------------------------------------------------------------------

    def _draft_point(self, pd: PointDraft, number: int, warnings: list[str]) -> str:
        """(Re)write one point's sentences from its used candidates; returns the method used."""
        t = self.templates or load_templates()
        pd.sentences, pd.needs_review, pd.review_note = [], False, NEEDS_REVIEW
        pd.conflicts, pd.checked, pd.edited, pd.origins = [], None, False, {}
        pd.confirmed_by = pd.confirmed_at = ""  # a rewritten point is 未確認
        support = self._supporting(pd)
        if not support:
            pd.needs_review = True
            return "template"
        method = "template"
        withheld = withheld_sources(support, self.llm_limit) if self.llm is not None else []
        if withheld:  # never sent: this point is drafted from the templates, and says why
            warnings.append(limit_note("draft", withheld, self.llm_limit, point=number))
        elif self.llm is not None:
            try:
                pd.sentences = self._llm_sentences(pd.point, t.topic_of(pd.point), support)
                method = "llm"
            except LLMError as exc:
                warnings.append(f"論点{number}: {exc} 定型文による答弁案を表示します。")
        if not pd.sentences:
            origins: dict[int, tuple[str, str]] = {}
            pd.sentences = self._template_sentences(pd.point, support, t, origins)
            pd.origins = {s.text: origins[id(s)] for s in pd.sentences if id(s) in origins}
        if not pd.sentences:
            pd.needs_review, pd.review_note = True, NEEDS_REVIEW_NO_SENTENCE
        return method

    def _supporting(self, pd: PointDraft) -> list[Source]:
        """The used (kept and relevant) past answers, then documents."""
        return pd.evidence()

    def _template_sentences(self, point: Point, support: list[Source], t: Templates,
                            origins: dict[int, tuple[str, str]]) -> list[AnswerSentence]:
        """The point's draft from past-answer sentences: picked by relevance (answers of the
        ministry concerned and recent ones first), put in written 答弁 style, chosen by role and
        ordered 現状 -> 取組 -> 今後, period-bound ones marked with their answer's date."""
        ds = self.draft_style or load_draft_style()
        qv = list(self.embedder.embed_query(point.text))
        picked = self.picker.pick(point.text, qv, [_masked(s.text, t, ds) for s in support],
                                  preferred_relevance(support, ds, point.ministry))
        candidates = []
        for i, span, rel in picked:
            written = ds.written(span.text)
            if written is not None:
                candidates.append(Candidate(i, span, rel, written, ds.role(written), ds.period_bound(written)))
        chosen = select_sentences(candidates, ds, self.max_sentences)
        if not chosen:
            return []
        texts = adapt_sentences([c.written for c in chosen], t.topic_of(point), t)
        if self.style is not None:
            from retrieval.style import fix_certain

            texts = [fix_certain(text, self.style)[0] for text in texts]
        out = []
        for c, text in zip(chosen, texts):
            src = support[c.index]
            if src.payload.get("doc_type") != "diet_speech":
                text = ds.as_reported(text, src.payload.get("doc_type"))
            if c.bound:
                text = ds.period_mark(src.payload.get("date")) + text
            src.highlights.append((c.span.start, c.span.end))
            # The source's own sentence is what is judged (the written-style rewrite around it is ours).
            sentence = AnswerSentence(text=text, citations=[src.n], support=self.judge.score(c.span.text, src.text))
            origins[id(sentence)] = (normalize(c.span.text), src.chunk_id)
            out.append(sentence)
        return out

    def _llm_sentences(self, point: Point, topic: str, support: list[Source]) -> list[AnswerSentence]:
        from prompts import load_prompt
        from retrieval.answer_llm import endpoint_of, generate, validate_citations

        messages = load_prompt("draft").render(
            question=point.text, topic=topic or "点",
            passages=[{"n": s.n, "label": s.label, "text": s.text} for s in support])
        text = generate(self.llm, messages, self.llm_timeout_s, endpoint=endpoint_of(self.llm))
        sentences = validate_citations(text, support, self.judge)
        if not any(s.citations for s in sentences):
            raise LLMError("LLM の答弁案に出典番号付きの文がありませんでした。")
        return sentences
