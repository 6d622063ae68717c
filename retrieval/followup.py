"""Follow-up prediction (再質問予測): what members asked next after past exchanges like this one.

An exchange in the indexed Diet minutes is: a member's question -> the government's answer(s) ->
the SAME member's next question in the same meeting. Chair and procedural speeches in between are
skipped; another member taking the floor, a gap in the record, or a speech the user may not read
ends the exchange (nothing is guessed). The point is searched among member questions and
government answers (hybrid, access-filtered); for each similar speech the neighbouring speeches
are fetched from the index by their doc ids (``kokkai:<issueID>_<order:03d>``) and the exchange
is walked. A follow-up is kept only when the exchange it came after passes the same relevance
gate as the drafter's passages (the point-answer cosine, best chunk, ``min_similarity``), and only
when its question can be read on its own (see :func:`_stands_alone`). With a chat model, 2-3
想定問答 are also generated from the point and its past answers
(``prompts/followup.yaml``); any LLM failure becomes a Japanese warning.

>>> miner = FollowUpMiner(searcher, chat_model=None)
>>> followups = miner.predict("日銀の利上げが中小企業に与える影響は", access, k=3)  # doctest: +SKIP
>>> followups[0].question, followups[0].source.label, followups[0].after.label  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from prompts import load_prompt
from retrieval.answer_llm import endpoint_of, generate
from retrieval.followup_qa import parse_qa
from retrieval.llm_limit import allowed, limit_note, withheld_sources
from retrieval.answer_types import Source
from retrieval.citation import describe_source
from retrieval.draft_types import FollowUp, PastAnswer
from retrieval.errors import LLMError
from retrieval.past_answers import CHAIR_ROLES, GOVERNMENT_ROLES
from retrieval.relevance import RelevanceGate, content_nouns, judged_text
from retrieval.question_analysis import Point, analyze_question
from retrieval.search import QueryPlan, Searcher
from retrieval.settings import DEFAULT_MIN_RELEVANCE
from retrieval.support import cosine
from retrieval.text.normalize import normalize
from retrieval.types import Access, Filters, Hit, SearchMode

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["FollowUpMiner", "speech_role", "speech_doc_id", "parse_qa", "Speech"]

DIET = "diet_speech"
# Who answers members: the government, and the witnesses a committee calls (日銀総裁 is a 参考人).
ANSWER_ROLES = GOVERNMENT_ROLES | {"参考人", "公述人"}
MEMBER_ROLES = frozenset({"委員", "議員"})
# A sentence that asks (a light version of question_analysis' rule, applied to one sentence).
_ASKS_RE = re.compile(
    r"か[。？?]?$|[？?]|伺|お尋ね|お聞き|聞きたい|お答え|答弁を|御?見解|御?所見|お示し|示されたい|"
    r"説明(を|して|いただ|願|され)|教えて|いかが|如何|確認(させ|したい|を)"
)
# A follow-up that opens on a demonstrative (「これ、その後…」) points back into its exchange.
_DEMONSTRATIVE_RE = re.compile(
    r"^[\s、，,]*(?:これ|それ|あれ|この|その|あの|こう|そう|ああ|ここ|そこ|こちら|そちら|今の|先ほどの|さっきの)")
_MIN_STANDALONE_CHARS = 20  # shorter questions rarely say what they ask about
# Whom the question is put to (「内閣府にお聞きしますが、」): not what it is about.
_ADDRESSEE_RE = re.compile(r"^[^、。]{1,20}に(?:お聞き|お伺い|伺い|お尋ね|質問)(?:します|いたします|をします)?が?、")


def speech_doc_id(issue_id: str, order: int) -> str:
    """The doc id of a Diet speech: ``kokkai:<speechID>``, speechID being ``<issueID>_<order:03d>``."""
    return f"kokkai:{issue_id}_{int(order):03d}"


def speech_role(payload: dict[str, Any]) -> str:
    """"chair" (presiding or procedural), "answer" (government / witnesses), "member" or "other"."""
    label_role = payload.get("label_role")
    position = payload.get("speaker_position")
    if payload.get("procedural") or label_role in CHAIR_ROLES or position in CHAIR_ROLES:
        return "chair"
    if position or payload.get("speaker_role") or label_role in ANSWER_ROLES:
        return "answer"
    if label_role is None or label_role in MEMBER_ROLES:
        return "member"
    return "other"


@dataclass
class Speech:
    """One whole speech rebuilt from its chunks (ordered, overlaps removed)."""

    doc_id: str
    issue_id: str
    order: int
    speaker: str
    role: str
    text: str
    chunks: list[Hit] = field(default_factory=list)

    @classmethod
    def from_chunks(cls, chunks: list[Hit]) -> "Speech":
        chunks = sorted(chunks, key=lambda h: int(h.payload.get("ordinal") or 0))
        text, end = "", None
        for hit in chunks:
            start = int(hit.payload.get("char_start") or 0)
            if end is None or start >= end:
                text += hit.text
            else:  # neighbouring chunks overlap: append only what is new
                text += hit.text[end - start:]
            end = max(end or 0, int(hit.payload.get("char_end") or 0))
        first = chunks[0].payload
        return cls(
            doc_id=str(first.get("doc_id", "")),
            issue_id=str(first.get("issue_id") or ""),
            order=int(first.get("speech_order") or 0),
            speaker=str(first.get("speaker") or ""),
            role=speech_role(first),
            text=text,
            chunks=chunks,
        )

    def relevance(self, qv: Sequence[float]) -> float:
        """The point-speech cosine: its best chunk's (the drafter's gate is per chunk too)."""
        return max((cosine(qv, h.dense) for h in self.chunks if h.dense), default=0.0)

    def source(self, score: float, highlight: str = "") -> Source:
        """The whole speech as a (number-less) Source; ``highlight`` is marked where it occurs."""
        first = self.chunks[0].payload
        payload = {k: v for k, v in first.items() if k != "text"}
        payload["char_end"] = max(int(h.payload.get("char_end") or 0) for h in self.chunks)
        payload["relevance"] = round(score, 4)
        at = self.text.find(highlight) if highlight else -1
        return Source(
            n=0,  # not cited in the draft: follow-ups show their sources beside them
            chunk_id=self.chunks[0].chunk_id,
            doc_id=self.doc_id,
            label=describe_source(first),
            text=self.text,
            score=score,
            payload=payload,
            highlights=[(at, at + len(highlight))] if at >= 0 else [],
        )


@dataclass
class _Match:
    """A similar past speech found for the point (a member question or a government answer)."""

    speech_id: str
    issue_id: str
    order: int
    role: str
    similarity: float


class FollowUpMiner:
    """Predicts follow-up questions for a 論点 from the indexed Diet minutes (and an optional LLM).

    ``candidates``: chunks searched for similar past speeches; ``window``: how many speeches
    around a match are looked at to find its question and the next one; ``min_similarity``: the
    point-speech cosine (the embedder's) below which a past exchange is not "similar" (default:
    the answers' calibrated relevance gate for the built-in e5, ``AnswerSettings.min_relevance``;
    another embedder needs its own); ``max_generated``: 想定問答 asked of the LLM.
    """

    def __init__(
        self,
        searcher: Searcher,
        *,
        chat_model: BaseChatModel | None = None,
        timeout_s: float = 60.0,
        candidates: int = 20,
        window: int = 8,
        min_similarity: float = DEFAULT_MIN_RELEVANCE,
        max_generated: int = 3,
        gate: RelevanceGate | None = None,
        llm_limit: int | None = None,
    ) -> None:
        self.searcher = searcher
        self.chat_model = chat_model
        self.llm_limit = llm_limit  # the highest 機密性 a passage sent to the model may have (None: no limit)
        self.timeout_s = timeout_s
        self.candidates = candidates
        self.window = window
        self.min_similarity = min_similarity
        self.max_generated = max_generated
        # The answers' relevance judgement for the exchange a follow-up came after (None: the
        # plain cosine gate at ``min_similarity``).
        self.gate = gate or RelevanceGate.for_threshold(min_similarity)

    # -- public ----------------------------------------------------------------------------------

    def predict(
        self,
        point_text: str | Point,
        access: Access,
        k: int = 3,
        *,
        past_answers: Sequence[Source | PastAnswer] | None = None,
        warnings: list[str] | None = None,
    ) -> list[FollowUp]:
        """Up to ``k`` mined follow-ups (best first), then, with a chat model, generated 想定問答.

        ``past_answers`` are the passages the 想定問答 may rely on (default: the answers of the
        similar exchanges found). LLM problems are appended to ``warnings`` (Japanese).
        """
        text = point_text.text if isinstance(point_text, Point) else point_text
        mined, answers = self._mine(text, access, k)
        if self.chat_model is None:
            return mined
        if past_answers is not None:
            answers = [pa.answer if isinstance(pa, PastAnswer) else pa for pa in past_answers]
        return mined + self.generate(text, answers, warnings)

    def mine(self, point_text: str | Point, access: Access, k: int = 3) -> list[FollowUp]:
        """Only the mined follow-ups (no LLM): the same member's next questions, best first."""
        return self._mine(point_text.text if isinstance(point_text, Point) else point_text, access, k)[0]

    def generate(self, point_text: str, passages: Sequence[Source], warnings: list[str] | None = None) -> list[FollowUp]:
        """2-3 想定問答 written by the chat model from the point and ``passages``; ``[]`` on failure."""
        if self.chat_model is None:
            return []
        withheld = withheld_sources(passages, self.llm_limit)
        if withheld:  # never sent to the model; the rest may be
            _warn(warnings, limit_note("followup", withheld, self.llm_limit))
            passages = [s for s in passages if allowed(s, self.llm_limit)]
        items = [
            {"n": i, "label": s.label, "text": s.text[:800]} for i, s in enumerate(list(passages)[:4], start=1)
        ]
        try:
            messages = load_prompt("followup").render(point=point_text, passages=items, count=self.max_generated)
            reply = generate(self.chat_model, messages, self.timeout_s, endpoint=endpoint_of(self.chat_model))
        except LLMError as exc:
            _warn(warnings, f"{exc} 想定問答は作成しませんでした。")
            return []
        except Exception as exc:  # a draft must never fail because of the optional 想定問答
            _warn(warnings, f"想定問答の作成中にエラーが発生しました（{type(exc).__name__}）。想定問答は作成しませんでした。")
            return []
        echo = "\n".join(content for _, content in messages)
        pairs = [(q, a) for q, a in parse_qa(reply) if q not in echo][: self.max_generated]
        if not pairs:
            _warn(warnings, "LLM の応答から想定問答を読み取れませんでした（「問：」「答：」の形式ではありません）。")
        return [FollowUp(question=q, generated=True, suggested_answer=a) for q, a in pairs]

    # -- mining ----------------------------------------------------------------------------------

    def _mine(self, point_text: str, access: Access, k: int) -> tuple[list[FollowUp], list[Source]]:
        text = normalize(point_text or "")
        if not text.strip() or k <= 0:
            return [], []
        qv = list(self.searcher.embedder.embed_query(text))
        # Dates stay plain words here: 「令和六年の答弁」 should not hide other years' exchanges.
        plan = QueryPlan(text=text, filters=Filters(doc_types=[DIET]))
        hits = self.searcher.search_plan(plan, access, SearchMode.HYBRID, self.candidates, with_dense=True, query_vector=qv)
        matches: dict[str, _Match] = {}
        for hit in hits:
            p = hit.payload
            role = speech_role(p)
            if role not in ("member", "answer") or not p.get("issue_id") or p.get("speech_order") is None:
                continue
            sim = cosine(qv, hit.dense) if hit.dense else 0.0
            if sim < min(self.gate.floor, self.min_similarity):
                continue  # below the judgement's floor: never relevant
            doc = str(p.get("doc_id"))
            if doc not in matches or matches[doc].similarity < sim:
                matches[doc] = _Match(doc, str(p["issue_id"]), int(p["speech_order"]), role, sim)
        if not matches:
            return [], []
        speeches = self._fetch(list(matches.values()), access)
        point_terms = set(self.searcher.sparse.terms(text))
        subject = [normalize(n) for n in content_nouns(text)]  # what the 論点 is about
        found: dict[str, FollowUp] = {}
        answers: dict[str, Source] = {}
        for m in matches.values():  # in search order (hybrid: the words and the meaning), best first
            exchange = self._exchange(m, speeches.get(m.issue_id, {}), point_terms)
            if exchange is None:
                continue
            after, nxt, question = exchange
            if subject and not any(n in normalize(nxt.text) for n in subject):
                continue  # the member moved on to another subject (中小企業 -> 国土強靱化)
            # The exchange itself must be on the point: the answer the question followed passes
            # the drafter's gate (a similar member question may have been answered off the point).
            relevance = after.relevance(qv)
            # The exchange (the answer and the next question) is judged as answers judge passages.
            judged = self.gate.judge(text, [(relevance, judged_text(after.text, after.chunks[0].payload)),
                                            (nxt.relevance(qv), judged_text(nxt.text, nxt.chunks[0].payload))])
            if not judged.relevant or not judged.relevant[0]:
                continue
            after_source = answers.setdefault(after.doc_id, after.source(relevance))
            if nxt.doc_id not in found:  # the first route to a next question is its best
                found[nxt.doc_id] = FollowUp(
                    question=question,
                    source=nxt.source(relevance, highlight=question),
                    after=after_source,
                    similarity=round(relevance, 4),
                )
        return _dedupe_text(list(found.values()))[:k], list(answers.values())

    def _fetch(self, matches: list[_Match], access: Access) -> dict[str, dict[int, Speech]]:
        """The speeches around each match, per meeting, rebuilt from the index (access applies)."""
        ids: list[str] = []
        for m in matches:
            for order in range(max(1, m.order - self.window), m.order + self.window + 1):
                ids.append(speech_doc_id(m.issue_id, order))
        filters = Filters(doc_types=[DIET], doc_ids=list(dict.fromkeys(ids)))
        hits = self.searcher.index.fetch(access, filters, with_dense=True)
        by_doc: dict[str, list[Hit]] = {}
        for hit in hits:
            by_doc.setdefault(str(hit.payload.get("doc_id")), []).append(hit)
        out: dict[str, dict[int, Speech]] = {}
        for chunks in by_doc.values():
            sp = Speech.from_chunks(chunks)
            out.setdefault(sp.issue_id, {})[sp.order] = sp
        return out

    def _exchange(self, m: _Match, speeches: dict[int, Speech], point_terms: set[str] | None = None,
                  ) -> tuple[Speech, Speech, str] | None:
        """(the answer the next question followed, the next question, its asking sentence) or None."""
        matched = speeches.get(m.order)
        if matched is None:
            return None
        if m.role == "member":
            member, answers, start = matched.speaker, [], m.order
        else:  # an answer: find who asked (the nearest member speech before it)
            asker = None
            for order in range(m.order - 1, max(0, m.order - self.window) - 1, -1):
                sp = speeches.get(order)
                if sp is None or sp.role == "other":
                    return None
                if sp.role == "member":
                    asker = sp
                    break
            if asker is None:
                return None
            member, answers, start = asker.speaker, [matched], m.order
        for order in range(start + 1, start + self.window + 1):
            sp = speeches.get(order)
            if sp is None or sp.role == "other":
                return None  # a gap, or a speech the user may not read: the chain is unknown
            if sp.role == "chair":
                continue
            if sp.role == "answer":
                answers.append(sp)
                continue
            if sp.speaker != member:
                return None  # another member has the floor
            if not answers:
                continue  # the same question goes on after an interruption
            question = self._asking_sentence(sp.text, point_terms)
            if not question:
                return None  # thanks, a closing remark or a request: no follow-up question
            after = matched if m.role == "answer" else answers[-1]
            return after, sp, question
        return None


    def _asking_sentence(self, text: str, point_terms: set[str] | None = None) -> str:
        """The first sentence of a member's speech that asks something and can be read on its
        own ("" when none does)."""
        for point in analyze_question(text).points:
            sentence = point.question_sentence.strip()
            if sentence and _ASKS_RE.search(sentence.rstrip("。 ")) and \
                    (point_terms is None or _stands_alone(sentence, point_terms, self.searcher.sparse.terms)):
                return sentence
        return ""


def _stands_alone(sentence: str, point_terms: set[str], terms: Any) -> bool:
    """False for a question that only makes sense inside its exchange: short, or opening on a
    demonstrative (「これ、その後、具体化どうなっているんでしょう」), and sharing no content word
    with the point. Such a line is not offered as a 再質問: the drafter cannot prepare an answer
    to 「これ」 without reading the whole exchange, and the past answers list already shows it.
    The next asking sentence of the same speech is tried instead; with none, the exchange gives
    no follow-up (nothing is guessed)."""
    body = _ADDRESSEE_RE.sub("", normalize(sentence).strip())
    vague = len(body) < _MIN_STANDALONE_CHARS or bool(_DEMONSTRATIVE_RE.match(body))
    return not vague or bool(point_terms & set(terms(body)))


def _dedupe_text(followups: list[FollowUp]) -> list[FollowUp]:
    """Drop a follow-up whose question repeats a better-ranked one word for word."""
    seen: set[str] = set()
    out = []
    for f in followups:
        key = re.sub(r"\s+", "", f.question)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def _warn(warnings: list[str] | None, message: str) -> None:
    if warnings is not None and message not in warnings:
        warnings.append(message)
