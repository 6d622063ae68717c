"""The one structured answer that the CLI, the UI and the evaluation harness share.

An answer is a list of sentences, each carrying the numbers ``[n]`` of the sources it cites and a
support score (how well those sources back it). Sources are numbered passages with everything a
reader needs to check them: title, section/article/page, date, speaker, URL and the exact span to
highlight. Nothing here knows how the answer was made (extractive or by an LLM).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.ai_notice import AINotice

NO_ANSWER = "該当する資料が見つかりませんでした。"

# Sentence flags (why a sentence must not be shown as grounded).
FLAG_UNCITED = "uncited"  # no [n] at all
FLAG_INVALID_CITATION = "invalid_citation"  # cited a number that was not given; marker removed
FLAG_UNSUPPORTED = "unsupported"  # its cited passages do not back it


@dataclass
class Source:
    """One numbered passage given to (or chosen for) the answer."""

    n: int  # the number shown as [n]
    chunk_id: str
    doc_id: str
    label: str  # one line naming the source (retrieval.citation.describe_source)
    text: str  # the passage text (normalized document text, char_start..char_end)
    score: float  # retrieval score
    payload: dict[str, Any] = field(default_factory=dict)  # title, section, page, date, speaker, url...
    # Spans inside ``text`` (passage-relative [start, end)) that the answer used: highlight these.
    highlights: list[tuple[int, int]] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        """Where the reader checks it: a law at its article, a speech at the speech."""
        from retrieval.citation import source_link

        return source_link(self.payload)

    def doc_span(self, start: int, end: int) -> tuple[int, int]:
        """A passage-relative span as offsets into the document's normalized text."""
        base = int(self.payload.get("char_start") or 0)
        return base + start, base + end


@dataclass
class AnswerSentence:
    """One sentence of the answer with its citations (source numbers) and support in [0, 1]."""

    text: str
    citations: list[int] = field(default_factory=list)
    support: float = 0.0  # the support judge's calibrated probability that its sources back it
    flags: list[str] = field(default_factory=list)
    # The source's own words inside ``text``, verbatim, when the sentence quotes its source (an
    # extractive answer: 「行政手続法第五条第一項は、「<quote>」と定めています。」); "" otherwise.
    quote: str = ""
    note: str = ""  # what its sources do not back, in Japanese (「『AIで検出』は出典にありません」)

    @property
    def grounded(self) -> bool:
        """Shown as backed by its sources only when cited, valid and supported."""
        return bool(self.citations) and not self.flags

    def flag_notes(self, labels: dict[str, str]) -> list[str]:
        """The flags as the user reads them: ``labels`` per flag, the judge's note (and its
        probability) in place of the generic label of an unsupported sentence."""
        out = []
        for flag in self.flags:
            if flag == FLAG_UNSUPPORTED and self.note:
                out.append(f"{self.note}（裏付けの確からしさ {self.support:.2f}）")
            else:
                out.append(labels.get(flag, flag))
        return out


@dataclass
class Answer:
    """What ``answer_question`` returns: sentences, numbered sources, timings (seconds)."""

    question: str
    sentences: list[AnswerSentence]
    sources: list[Source]
    method: str  # "extractive" | "llm" | "none"
    refused: bool = False  # True when nothing relevant was found (the text is NO_ANSWER)
    warnings: list[str] = field(default_factory=list)  # Japanese, for the user (e.g. LLM fell back)
    notes: list[str] = field(default_factory=list)  # Japanese, e.g. which date filter a phrase set
    timings: dict[str, float] = field(default_factory=dict)
    gate_reason: str = ""  # Japanese: why the relevance gate refused (retrieval.relevance)
    notice: AINotice | None = None  # the AI-output notice (retrieval.ai_notice), set by the Answerer

    @property
    def text(self) -> str:
        """The answer as plain text with its [n] markers."""
        if self.refused:
            return NO_ANSWER
        return "".join(s.text + "".join(f"[{n}]" for n in s.citations) for s in self.sentences)

    @property
    def cited_sources(self) -> list[Source]:
        used = {n for s in self.sentences for n in s.citations}
        return [s for s in self.sources if s.n in used]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        return data
