"""Edits a drafter makes on the 答弁作成 page, applied to a ``Draft`` without Streamlit: keep or
drop candidate past answers and documents, replace a point's text with the edited one (its [n]
markers become the sentences' citations again, so exports keep their footnotes), and decide
which points a redraft may rewrite (never an edited one, unless the drafter asks for that point).
Every new or changed sentence is judged again by the support judge against the sources it cites:
a claim typed in that they do not make is flagged, on the page and in the .docx."""

from __future__ import annotations

import re

from app.draft_confirm import revoke
from retrieval.answer_types import AnswerSentence
from retrieval.draft_types import REVIEW_TEXTS, Draft, PointDraft
from retrieval.support_judge import SupportJudge

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?((?:\[\d+\])*)")
_MARK = re.compile(r"\[(\d+)\]")
# A marker typed with a Japanese IME: ［２］ (full-width brackets and digits), read as [2].
_WIDE_MARK = re.compile(r"[\[［]\s*([0-9０-９]+)\s*[\]］]")


def parse_sentences(text: str, known: set[int] | None = None) -> list[AnswerSentence]:
    """Sentences of an edited text with their [n] citations; numbers not in ``known`` are dropped
    and the sentence flagged ``invalid_citation``; a sentence with none is flagged ``uncited``."""
    out = []
    text = _WIDE_MARK.sub(lambda m: f"[{int(m.group(1))}]", text)  # int() reads full-width digits
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
    phrases); every other cited sentence is judged against the passages it cites. The point
    is then ``edited`` and, if it had been confirmed, 未確認 again (with the whole draft)."""
    text = text.strip()
    if text == pd.text.strip():
        return False
    pd.edited = True
    revoke(draft, pd)  # a changed point is 未確認 again, and so is the draft
    if not text or text in REVIEW_TEXTS:
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
    """Mark the relevant past answers and documents kept or dropped, in the order the page lists
    them (``retrieval.draft.Drafter`` reads ``kept`` when it drafts again). A candidate below the
    relevance gate has no checkbox and is never used, so it is not in these lists."""
    for candidate, keep in zip([pa for pa in pd.past_answers if pa.relevant], kept_answers):
        candidate.kept = bool(keep)
    for doc, keep in zip([d for d in pd.documents if d.relevant], kept_documents):
        doc.kept = bool(keep)


Choices = tuple[tuple[str, bool], ...]


def choices_of(pd: PointDraft) -> Choices:
    """The point's keep/drop choices as (chunk id, kept), to tell later whether they changed."""
    return tuple((pa.answer.chunk_id, pa.kept) for pa in pd.past_answers) + tuple(
        (d.source.chunk_id, d.kept) for d in pd.documents)


def points_to_redraft(draft: Draft, drafted_with: list[Choices]) -> list[int]:
    """Indices of the points 「チェックした候補だけで作り直す」 rewrites: those whose choices differ
    from the ones they were drafted with (``drafted_with``, one per point) and that the drafter
    has not edited. An edited point keeps its text: the drafter's work is never thrown away
    without asking (the per-point button asks)."""
    return [i for i, (pd, before) in enumerate(zip(draft.points, drafted_with))
            if not pd.edited and choices_of(pd) != before]
