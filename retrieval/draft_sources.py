"""Numbering a draft's sources and checking a point (矛盾チェック), apart from the drafter itself
(``retrieval.draft`` re-exports both): every source numbered once for the whole draft, and each
point's sentences checked against its used evidence, stamped with what the check was computed on."""

from __future__ import annotations

from retrieval.answer_types import Source
from retrieval.draft_types import CheckStamp, PointDraft
from retrieval.text.normalize import normalize
from retrieval.verify import Conflict, ContradictionChecker

__all__ = ["number_sources", "check_point"]


def number_sources(points: list[PointDraft]) -> list[Source]:
    """Number every source of the draft once (the same chunk, the same number): cited ones in
    the order the draft first cites them, then the other relevant past answers, documents and
    their questions. A passage below the relevance gate for every point is not a source of the
    draft: it gets no number (``n = 0``). Citations in the sentences are renumbered to match."""
    registry: dict[str, Source] = {}

    def reg(src: Source) -> Source:
        kept = registry.setdefault(src.chunk_id, src)
        if kept is not src:  # the same chunk found for another point: one source, all highlights
            kept.highlights.extend(h for h in src.highlights if h not in kept.highlights)
        return kept

    old_number: dict[int, Source] = {}  # numbers the sentences use (provisional, per draft)
    for pd in points:
        for pa in pd.past_answers:
            pa.answer = reg(pa.answer)
            if pa.question is not None:
                pa.question = reg(pa.question)
        for d in pd.documents:
            d.source = reg(d.source)
    for src in registry.values():
        if src.n:
            old_number.setdefault(src.n, src)
    order: list[Source] = []

    def add(src: Source) -> None:
        if all(src is not o for o in order):
            order.append(src)

    for pd in points:
        for s in pd.sentences:
            for n in s.citations:
                if n in old_number:
                    add(old_number[n])
    for pd in points:
        for src in [pa.answer for pa in pd.past_answers if pa.relevant] + [d.source for d in pd.documents if d.relevant]:
            add(src)
    for pd in points:
        for src in [pa.question for pa in pd.past_answers if pa.relevant and pa.question is not None]:
            add(src)
    mapping = {id(src): i + 1 for i, src in enumerate(order)}
    renumber = {n: mapping[id(src)] for n, src in old_number.items() if id(src) in mapping}
    for pd in points:
        for s in pd.sentences:
            s.citations = [renumber[n] for n in s.citations if n in renumber]
    for src in registry.values():
        src.n = mapping.get(id(src), 0)
    return order


def check_point(checker: ContradictionChecker, pd: PointDraft) -> list[Conflict]:
    """The 矛盾チェック of one point: each sentence against the point's used evidence (kept and
    relevant past answers and documents). A sentence the drafter copied (``pd.origins``) is not
    flagged against the very sentence it was copied from; an edited sentence has no origin.
    Records on ``pd.checked`` what the result was computed on."""
    evidence = pd.evidence()
    conflicts: list[Conflict] = []
    if not pd.needs_review and evidence and pd.sentences:
        # One call for all sentences: the evidence sentences are embedded once.
        for c in checker.check([s.text for s in pd.sentences], evidence):
            origin = pd.origins.get(c.claim)
            # The sentence it was copied from (opening and closing added) is its own source.
            if origin and c.evidence_source is not None and c.evidence_source.chunk_id == origin[1] \
                    and normalize(c.evidence) == origin[0]:
                continue
            conflicts.append(c)
    pd.conflicts = conflicts
    pd.checked = CheckStamp(pd.text, tuple(s.chunk_id for s in evidence), 0 if pd.needs_review else len(pd.sentences))
    return conflicts
