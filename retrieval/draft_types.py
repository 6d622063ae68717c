"""The structured Diet-answer draft that the CLI, the UI and the Word/Markdown export share.

A draft answers one question (a committee question or a 質問主意書) point by point (論点). For each
point it holds the past government answers and the supporting documents found for it, the draft
sentences (each citing numbered sources, as answers do), the consistency warnings (矛盾チェック)
and the follow-up questions that came after similar past exchanges (再質問予測). Sources are
numbered once for the whole draft, so a number means the same passage everywhere (footnotes).
Nothing here knows how the draft was made (templates or an LLM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.ai_notice import AINotice
from retrieval.answer_types import AnswerSentence, Source
from retrieval.question_analysis import Point, QuestionAnalysis
from retrieval.verify import Conflict

# Shown in place of a point's draft when nothing supports it: a human must write it.
NEEDS_REVIEW = "【要確認】この論点について、過去の答弁や根拠資料が見つかりませんでした。担当者が作成してください。"
# Shown instead when relevant candidates were kept but none of their sentences could be used.
NEEDS_REVIEW_NO_SENTENCE = ("【要確認】この論点について、関連する過去の答弁・根拠資料はありますが、答弁案に使える文を"
                            "選べませんでした。チェックした候補を参照して担当者が作成してください。")
REVIEW_TEXTS = (NEEDS_REVIEW, NEEDS_REVIEW_NO_SENTENCE)
STATUS_UNCONFIRMED = "未確認"
STATUS_CONFIRMED = "確認済み"


@dataclass
class PastAnswer:
    """A past government answer (a Diet speech) found for a point.

    ``answer`` is the government speech (speaker, position, date, house, meeting and the NDL URL
    are in its payload). ``question`` is the member's speech that preceded it, when indexed.
    ``via`` says how it was found: "answer" (its own text matched the point) or "question" (a
    similar past question led to it).
    """

    answer: Source
    question: Source | None = None
    via: str = "answer"
    score: float = 0.0
    kept: bool = True  # the drafter may drop a candidate; a dropped one is not used in the draft
    relevant: bool = True  # passes the relevance gate for this point (decided once, by the Drafter)
    # The point-passage cosine it was gated on (the passage's payload "relevance" may be another
    # point's once the same chunk, found for two points, is one numbered source).
    relevance: float = 0.0

    @property
    def used(self) -> bool:
        """May support the draft: relevant to the point and not dropped by the drafter."""
        return self.kept and self.relevant


@dataclass
class DocumentCandidate:
    """A supporting document (law, guideline, FAQ, white paper) found for a point, with the same
    two decisions as a past answer: the relevance gate (``relevant``, per point, decided once by
    the Drafter) and the drafter's keep/drop choice (``kept``)."""

    source: Source
    kept: bool = True
    relevant: bool = True
    relevance: float = 0.0  # the point-passage cosine it was gated on

    @property
    def used(self) -> bool:
        """May support the draft: relevant to the point and not dropped by the drafter."""
        return self.kept and self.relevant


@dataclass(frozen=True)
class CheckStamp:
    """What a point's 矛盾チェック was computed on: its text and the evidence it was compared with.
    A check whose stamp no longer matches the point (edited text, other candidates) is stale."""

    text: str
    evidence_ids: tuple[str, ...]
    sentences: int


@dataclass
class FollowUp:
    """A question likely to follow (再質問予測).

    Mined: the same member's next question after a past exchange similar to this point
    (``after`` is that exchange's answer, ``source`` the next question). Generated (by an LLM,
    ``generated=True``): an 想定問答 with no source of its own.
    """

    question: str
    source: Source | None = None
    after: Source | None = None
    similarity: float = 0.0
    generated: bool = False
    suggested_answer: str = ""  # for generated 想定問答 only


@dataclass
class PointDraft:
    """One 論点: what was found for it, its draft sentences, warnings and likely follow-ups."""

    point: Point
    past_answers: list[PastAnswer] = field(default_factory=list)
    documents: list[DocumentCandidate] = field(default_factory=list)  # laws, guidelines, FAQs, white papers
    sentences: list[AnswerSentence] = field(default_factory=list)  # citations: Draft.sources numbers
    needs_review: bool = False  # nothing usable supports this point: the text is ``review_note``
    review_note: str = NEEDS_REVIEW
    conflicts: list[Conflict] = field(default_factory=list)
    checked: CheckStamp | None = None  # what ``conflicts`` were computed on (None: never checked)
    followups: list[FollowUp] = field(default_factory=list)
    edited: bool = False  # the drafter changed the text (a redraft keeps it)
    # Drafted sentence text -> (the normalized sentence it was copied from, that chunk id): the
    # 矛盾チェック does not flag a copied sentence against its own original.
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    # An official's confirmation of this point (app.draft_confirm): who and when (ISO 8601);
    # empty: 未確認. Any change of the text returns it to 未確認.
    confirmed_by: str = ""
    confirmed_at: str = ""

    @property
    def confirmed(self) -> bool:
        return bool(self.confirmed_by)

    @property
    def text(self) -> str:
        """The point's draft as plain text with its [n] markers."""
        if self.needs_review:
            return self.review_note
        return "".join(s.text + "".join(f"[{n}]" for n in s.citations) for s in self.sentences)

    def evidence(self) -> list[Source]:
        """The passages this point may rely on: used past answers, then used documents."""
        return [pa.answer for pa in self.past_answers if pa.used] + [d.source for d in self.documents if d.used]

    def candidate_sources(self) -> list[Source]:
        """Every candidate passage of this point (answers, documents, the answers' questions)."""
        return [pa.answer for pa in self.past_answers] + [d.source for d in self.documents] + [
            pa.question for pa in self.past_answers if pa.question is not None]


@dataclass
class Draft:
    """A whole draft answer: the analysis, one PointDraft per 論点, the numbered sources."""

    question: str
    analysis: QuestionAnalysis
    points: list[PointDraft]
    sources: list[Source]  # every cited passage, numbered once for the whole draft
    method: str  # "template" | "llm"
    warnings: list[str] = field(default_factory=list)  # Japanese, for the drafter
    timings: dict[str, float] = field(default_factory=dict)
    notice: AINotice | None = None  # the AI-output notice (retrieval.ai_notice), set by the Drafter
    # The official who confirmed the whole draft, and when (ISO 8601); empty: 未確認 (a draft
    # written by the system always starts so; editing any point returns it to 未確認).
    confirmed_by: str = ""
    confirmed_at: str = ""

    @property
    def confirmed(self) -> bool:
        return bool(self.confirmed_by)

    @property
    def status(self) -> str:
        """確認済み or 未確認 (the export's header and footer)."""
        return STATUS_CONFIRMED if self.confirmed else STATUS_UNCONFIRMED

    def source(self, n: int) -> Source | None:
        """The source numbered ``n``, or None."""
        return next((s for s in self.sources if s.n == n), None)
