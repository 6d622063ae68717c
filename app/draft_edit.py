"""Edits a drafter makes on the 答弁作成 page, applied to a ``Draft`` without Streamlit: keep or
drop candidate past answers and documents, and replace a point's text with the edited one
(its [n] markers become the sentences' citations again, so exports keep their footnotes). Every
new or changed sentence is judged again by the support judge against the sources it cites: a
claim typed in that they do not make is flagged, on the page and in the .docx."""

from __future__ import annotations

import re

from retrieval.answer_types import AnswerSentence
from retrieval.draft_types import NEEDS_REVIEW, Draft, PointDraft
from retrieval.support_judge import SupportJudge

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?((?:\[\d+\])*)")
_MARK = re.compile(r"\[(\d+)\]")


def parse_sentences(text: str, known: set[int] | None = None) -> list[AnswerSentence]:
    """Sentences of an edited text with their [n] citations; numbers not in ``known`` are dropped
    and the sentence flagged ``invalid_citation``; a sentence with none is flagged ``uncited``."""
    out = []
    for m in _SENTENCE.finditer(text):
        chunk = m.group(0).strip()
        if not chunk:
            continue
        numbers = [int(n) for n in _MARK.findall(chunk)]
        body = _MARK.sub("", chunk).strip()
        if not body:
            continue
        flags = []
        if known is not None and any(n not in known for n in numbers):
            flags.append("invalid_citation")
            numbers = [n for n in numbers if n in known]
        if not numbers:
            flags.append("uncited")
        out.append(AnswerSentence(text=body, citations=list(dict.fromkeys(numbers)), support=0.0, flags=flags))
    return out


def apply_text(draft: Draft, pd: PointDraft, text: str, judge: SupportJudge) -> bool:
    """Replace ``pd``'s sentences with the edited ``text``; False when nothing changed.

    A sentence left as drafted keeps its verdict (a template sentence wraps a quote in fixed
    phrases); every other cited sentence is judged against the passages it cites."""
    text = text.strip()
    if text == pd.text.strip():
        return False
    if not text or text == NEEDS_REVIEW:
        pd.sentences, pd.needs_review = [], True
        return True
    before = {(s.text, tuple(s.citations)): s for s in pd.sentences}
    sentences = []
    for sentence in parse_sentences(text, {s.n for s in draft.sources}):
        kept = before.get((sentence.text, tuple(sentence.citations)))
        if kept is not None and not sentence.flags:
            sentences.append(kept)
            continue
        cited = [src.text for n in sentence.citations if (src := draft.source(n)) is not None]
        if cited:
            judge.mark(sentence, cited)
        sentences.append(sentence)
    pd.sentences = sentences
    pd.needs_review = False
    return True


def apply_choices(pd: PointDraft, kept_answers: list[bool], kept_documents: list[bool]) -> None:
    """Mark past answers and documents kept or dropped (``retrieval.draft.Drafter`` reads
    ``PastAnswer.kept`` and a document's ``payload["kept"]`` when it drafts again)."""
    for candidate, keep in zip(pd.past_answers, kept_answers):
        candidate.kept = bool(keep)
    for doc, keep in zip(pd.documents, kept_documents):
        doc.payload["kept"] = bool(keep)
