"""Past government answers (過去答弁) and supporting documents for one 論点 of a Diet question.

Two routes find a past answer, and their rankings are fused (reciprocal rank fusion):

* the answer route: the point's text (its policy terms weighted up on the keyword side) searched
  among government speeches (大臣, 副大臣, 政府参考人 ...: see :func:`is_government_speech`);
* the question route: the point searched among members' past questions; each similar question
  leads to the government answer that followed it in the same meeting (the next speech orders,
  fetched through the index with ``Filters(doc_ids=...)``, chair speeches in between skipped).

A candidate found by both keeps its best rank; one found only through a question has
``via="question"``. Each answer carries the member question that preceded it when it is indexed.
The whole question can be given as ``context``: its own search joins the fusion (a point such as
「それはなぜか。」 means little alone). Every search runs with the caller's ``Access``.

>>> finder = PastAnswerFinder(searcher)
>>> for pa in finder.find(point, Access(clearance=1, groups=["all"]), k=5):  # doctest: +SKIP
...     print(pa.answer.label, pa.via)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from retrieval.answer import hit_source, relevance
from retrieval.answer_types import Source
from retrieval.draft_types import PastAnswer
from retrieval.question_analysis import GENERIC_TERMS, Point, QuestionAnalysis, policy_terms
from retrieval.search import OVERFETCH, Searcher, collapse_overlaps
from retrieval.support import cosine
from retrieval.text.normalize import normalize
from retrieval.text.sparse import term_id
from retrieval.types import DEFAULT_RRF_K, Access, Filters, Hit, Query, SearchMode, SparseVector

__all__ = ["PastAnswerFinder", "is_government_speech", "is_member_question", "GOVERNMENT_ROLES", "CHAIR_ROLES"]

# Label roles of those who answer for the government (the NDL speaker label, as ingest.readers.kokkai
# stores it in ``label_role``). 参考人 (e.g. 日本銀行総裁), 公述人 and bill sponsors are not government.
GOVERNMENT_ROLES = frozenset({
    "内閣総理大臣", "国務大臣", "副大臣", "大臣政務官", "政府参考人", "政府特別補佐人", "内閣官房副長官",
    "会計検査院当局者", "説明員",
})
# Who presides (mirrors ingest.readers.kokkai.CHAIR_ROLES: retrieval never imports ingest).
CHAIR_ROLES = frozenset({"議長", "副議長", "仮議長", "委員長", "委員長代理", "会長", "会長代理", "小委員長",
                         "小委員長代理", "主査", "主査代理", "分科会主査", "理事"})
_NOT_GOVERNMENT = CHAIR_ROLES | {"参考人", "公述人", "証人", "委員", "議員"}
HEADER_SPEAKER = "会議録情報"
# How far to look for the answer after a question (or the question before an answer): at most two
# short chair speeches (「鈴木国務大臣。」) stand between them in the minutes.
NEIGHBOURS = 3
_ORDER_RE = re.compile(r"^(?P<stem>.+_)(?P<order>\d{3,})$")


def _role(payload: dict[str, Any]) -> str | None:
    return payload.get("label_role") or payload.get("speaker_role")


def is_government_speech(payload: dict[str, Any]) -> bool:
    """A Diet speech by a government answerer: its label names a government role, or it has a
    speaker position (大臣, 局長 ...) and is no chair, member, 参考人 or procedural speech.

    Works for ingested NDL minutes (``label_role``, ``speaker_position``) and for records that
    carry only a ``position`` (the diet_qa evaluation corpus: government answers only).
    """
    if payload.get("procedural") or payload.get("speaker") == HEADER_SPEAKER:
        return False
    role = _role(payload)
    if role in GOVERNMENT_ROLES:
        return True
    if role in _NOT_GOVERNMENT:
        return False
    position = payload.get("speaker_position") or payload.get("position")
    return bool(position) and not str(position).endswith(("参考人", "公述人", "委員長", "会長"))


def is_member_question(payload: dict[str, Any]) -> bool:
    """A member's (non-procedural, non-chair, non-government) Diet speech."""
    if payload.get("doc_type") != "diet_speech" or payload.get("procedural"):
        return False
    if payload.get("speaker") == HEADER_SPEAKER or is_government_speech(payload):
        return False
    role = _role(payload)
    return role not in CHAIR_ROLES and role not in ("参考人", "公述人", "証人")


def _is_chair(payload: dict[str, Any]) -> bool:
    return bool(payload.get("procedural")) or _role(payload) in CHAIR_ROLES


def neighbour_ids(doc_id: str, order: int | None, steps: Sequence[int]) -> list[str]:
    """Doc ids of the speeches ``steps`` away in the same meeting (``kokkai:<issueID>_<order:03>``)."""
    m = _ORDER_RE.match(doc_id)
    if not m:
        return []
    base = int(m.group("order")) if order is None else int(order)
    width = len(m.group("order"))
    return [f"{m.group('stem')}{base + s:0{width}d}" for s in steps if base + s >= 0]


def _order(hit: Hit) -> int | None:
    value = hit.payload.get("speech_order")
    if isinstance(value, int):
        return value
    m = _ORDER_RE.match(str(hit.payload.get("doc_id", "")))
    return int(m.group("order")) if m else None


@dataclass
class _Candidate:
    hit: Hit
    rel: float
    fused: float = 0.0
    routes: set[str] = field(default_factory=set)
    question: Hit | None = None


class PastAnswerFinder:
    """Finds past government answers and supporting documents for a point, access-filtered.

    ``speech_types``: the doc types that hold Diet speeches (None: any type, for an evaluation
    corpus of answers stored as plain records); ``depth``: chunks fetched per route;
    ``term_boost``: how much a point's policy-term weight adds to that term's keyword weight
    (``generic_weight``: the weight of generic Diet words such as 取組, 見解); in the fusion,
    ``question_weight`` is the question route's share, ``context_weight`` the whole question's
    share next to one point (``find``), ``point_weight`` each point's share next to the whole
    question (``find_for_question``; measured on diet_qa: points add little there); ``rrf_k``:
    the fusion constant.
    """

    def __init__(self, searcher: Searcher, *, speech_types: Sequence[str] | None = ("diet_speech",),
                 document_types: Sequence[str] = ("law", "faq", "guideline", "notice", "white_paper", "other"),
                 depth: int = 30, term_boost: float = 1.0, context_weight: float = 0.5,
                 question_weight: float = 0.7, point_weight: float = 0.1, generic_weight: float = 1.0,
                 rrf_k: int = DEFAULT_RRF_K) -> None:
        self.searcher = searcher
        self.speech_types = list(speech_types) if speech_types else None
        self.document_types = list(document_types)
        self.depth = depth
        self.term_boost = term_boost
        self.context_weight = context_weight
        self.question_weight = question_weight
        self.point_weight = point_weight
        self.generic_weight = generic_weight
        self.rrf_k = rrf_k

    # -- searching ---------------------------------------------------------------------------------

    def _weighted_sparse(self, text: str, weights: dict[str, float]) -> SparseVector:
        """The query's keyword vector with policy terms up and generic Diet words down."""
        values: dict[int, float] = {}
        for term in set(self.searcher.sparse.terms(text)):
            values[term_id(term)] = self.generic_weight if term in GENERIC_TERMS else 1.0
        for term, w in weights.items():
            tid = term_id(term)
            if tid in values:
                values[tid] += self.term_boost * w
        ids = sorted(values)
        return SparseVector(ids, [round(values[i], 4) for i in ids])

    def _search(self, text: str, vector: list[float], weights: dict[str, float], access: Access,
                filters: Filters | None, k: int) -> list[Hit]:
        """Hybrid search (dense + weighted sparse) with the caller's access; hits carry vectors."""
        query = Query(dense=vector, mode=SearchMode.HYBRID, with_dense=True, rrf_k=self.searcher.rrf_k)
        query.sparse = self._weighted_sparse(text, weights)
        if not query.sparse.indices:
            query.mode, query.sparse = SearchMode.DENSE, None
        return collapse_overlaps(self.searcher.index.search(query, access, filters, k * OVERFETCH))[:k]

    def _filters(self, base: Filters | None, doc_types: list[str] | None) -> Filters:
        f = Filters(**vars(base)) if base is not None else Filters()
        if doc_types is not None:
            f.doc_types = [t for t in doc_types if not f.doc_types or t in f.doc_types] or f.doc_types
        return f

    def _answer_route(self, text: str, vector: list[float], weights: dict[str, float], access: Access,
                      filters: Filters | None) -> list[Hit]:
        hits = self._search(text, vector, weights, access, self._filters(filters, self.speech_types), self.depth)
        return _best_per_doc([h for h in hits if is_government_speech(h.payload)])

    def _question_route(self, text: str, vector: list[float], weights: dict[str, float], access: Access,
                        filters: Filters | None) -> list[tuple[Hit, Hit]]:
        """(question, the government answer that followed it), by the question's rank."""
        hits = self._search(text, vector, weights, access, self._filters(filters, ["diet_speech"]), self.depth)
        questions = _best_per_doc([h for h in hits if is_member_question(h.payload)])[: self.depth // 3]
        if not questions:
            return []
        wanted = {q.payload["doc_id"]: neighbour_ids(q.payload["doc_id"], _order(q), range(1, NEIGHBOURS + 1))
                  for q in questions}
        found = self._fetch([d for ids in wanted.values() for d in ids], vector, access)
        pairs = []
        for q in questions:
            answer = _first_answer([found.get(d) for d in wanted[q.payload["doc_id"]]])
            if answer is not None:
                pairs.append((q, answer))
        return pairs

    def _fetch(self, doc_ids: list[str], vector: list[float], access: Access) -> dict[str, Hit]:
        """The chunk of each listed speech closest to ``vector`` (missing or unreadable: absent)."""
        if not doc_ids:
            return {}
        chunks = self.searcher.index.fetch(access, Filters(doc_ids=list(dict.fromkeys(doc_ids))), with_dense=True)
        best: dict[str, Hit] = {}
        for h in chunks:
            h = replace(h, score=cosine(vector, h.dense) if h.dense else 0.0)
            doc_id = str(h.payload.get("doc_id"))
            if doc_id not in best or h.score > best[doc_id].score:
                best[doc_id] = h
        return best

    def _attach_questions(self, cands: list[_Candidate], vector: list[float], access: Access) -> None:
        """The member question that preceded each answer (nearest earlier non-chair speech)."""
        todo = [c for c in cands if c.question is None]
        wanted = {id(c): neighbour_ids(c.hit.payload["doc_id"], _order(c.hit), range(-1, -NEIGHBOURS - 1, -1))
                  for c in todo}
        found = self._fetch([d for ids in wanted.values() for d in ids], vector, access)
        for c in todo:
            for d in wanted[id(c)]:
                hit = found.get(d)
                if hit is None or _is_chair(hit.payload):
                    continue
                if is_member_question(hit.payload):
                    c.question = hit
                break

    # -- public ------------------------------------------------------------------------------------

    def find(self, point: Point | str, access: Access, filters: Filters | None = None, k: int = 5, *,
             context: str | None = None) -> list[PastAnswer]:
        """The ``k`` best past government answers for ``point`` (best first), each with its question."""
        text, weights = _point_text(point)
        texts = [(text, weights, 1.0)]
        if context and normalize(context) != text:
            texts.append((normalize(context), policy_terms(normalize(context)), self.context_weight))
        return self._find(texts, access, filters, k)

    def find_for_question(self, question: QuestionAnalysis | str, access: Access, filters: Filters | None = None,
                          k: int = 5) -> list[PastAnswer]:
        """Past answers for a whole question: its own search fused with each point's search."""
        if isinstance(question, str):
            from retrieval.question_analysis import analyze_question

            question = analyze_question(question)
        texts = [(question.text, policy_terms(question.text), 1.0)]
        for p in question.points:
            if p.text != question.text:
                texts.append((p.text, p.term_weights or policy_terms(p.text), self.point_weight))
        return self._find(texts, access, filters, k)

    def _find(self, texts: list[tuple[str, dict[str, float], float]], access: Access, filters: Filters | None,
              k: int) -> list[PastAnswer]:
        cands: dict[str, _Candidate] = {}
        first_vector: list[float] | None = None
        for i, (text, weights, weight) in enumerate(texts):
            if not text.strip():
                continue
            vector = list(self.searcher.embedder.embed_query(text))
            first_vector = first_vector or vector
            rel_vector = first_vector  # relevance is judged against the point itself
            for rank, hit in enumerate(self._answer_route(text, vector, weights, access, filters)):
                c = self._candidate(cands, hit, rel_vector)
                c.fused += weight / (self.rrf_k + rank + 1)
                c.routes.add("answer")
            if self.speech_types is None or "diet_speech" in self.speech_types:
                for rank, (question, answer) in enumerate(self._question_route(text, vector, weights, access, filters)):
                    c = self._candidate(cands, answer, rel_vector)
                    c.fused += self.question_weight * weight / (self.rrf_k + rank + 1)
                    c.routes.add("question")
                    c.question = c.question or question
        ranked = sorted(cands.values(), key=lambda c: -c.fused)[:k]
        if ranked and first_vector is not None:
            self._attach_questions(ranked, first_vector, access)
        return [PastAnswer(answer=hit_source(c.hit, c.rel),
                           question=hit_source(c.question, relevance(first_vector or [], c.question)) if c.question else None,
                           via="answer" if "answer" in c.routes else "question", score=round(c.fused, 6))
                for c in ranked]

    @staticmethod
    def _candidate(cands: dict[str, _Candidate], hit: Hit, vector: list[float]) -> _Candidate:
        doc = str(hit.payload.get("doc_id"))
        rel = relevance(vector, hit)
        c = cands.get(doc)
        if c is None:
            c = cands[doc] = _Candidate(hit, rel)
        elif rel > c.rel:
            c.hit, c.rel = hit, rel  # the chunk of this speech closest to the point
        return c

    def find_documents(self, point: Point | str, access: Access, k: int = 3, filters: Filters | None = None) -> list[Source]:
        """Supporting laws, guidelines, FAQs and white papers for ``point`` (no Diet speeches)."""
        text, weights = _point_text(point)
        if not text.strip():
            return []
        vector = list(self.searcher.embedder.embed_query(text))
        hits = self._search(text, vector, weights, access, self._filters(filters, self.document_types), k * 3)
        hits = [h for h in hits if h.payload.get("doc_type") != "diet_speech"
                and not ("speaker" in h.payload and (h.payload.get("position") or h.payload.get("speaker_position")))]
        return [hit_source(h, relevance(vector, h)) for h in hits[:k]]


def _point_text(point: Point | str) -> tuple[str, dict[str, float]]:
    if isinstance(point, Point):
        return point.text, point.term_weights or policy_terms(point.text)
    text = normalize(point)
    return text, policy_terms(text)


def _best_per_doc(hits: list[Hit]) -> list[Hit]:
    seen: set[str] = set()
    out = []
    for h in hits:
        doc = str(h.payload.get("doc_id"))
        if doc not in seen:
            seen.add(doc)
            out.append(h)
    return out


def _first_answer(following: list[Hit | None]) -> Hit | None:
    """The government speech right after a question, skipping chair speeches (stop at anyone else)."""
    for hit in following:
        if hit is None:
            return None  # not indexed (or not readable): the chain is broken
        if is_government_speech(hit.payload):
            return hit
        if not _is_chair(hit.payload):
            return None
    return None
