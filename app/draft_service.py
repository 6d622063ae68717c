"""The 答弁作成 page's work without Streamlit: draft with the drafter's keep/drop choices, and
add 再質問予測 per 論点."""

from __future__ import annotations

from typing import Any, Callable

from retrieval.draft_types import Draft
from retrieval.types import Access

Progress = Callable[[str], None]


def kept_choices(draft: Draft) -> dict[str, bool]:
    """chunk id -> kept, from the drafter's checkboxes on a previous draft. The drafter's choice
    is per passage: one dropped under any 論点 is dropped under all (a dropped passage is one the
    drafter judged unusable)."""
    kept: dict[str, bool] = {}
    for pd in draft.points:
        for pa in pd.past_answers:
            kept[pa.answer.chunk_id] = kept.get(pa.answer.chunk_id, True) and pa.kept
        for doc in pd.documents:
            kept[doc.source.chunk_id] = kept.get(doc.source.chunk_id, True) and doc.kept
    return kept


def make_draft(drafter: Any, miner: Any, question: str, access: Access, *, kept: dict[str, bool] | None = None,
               on_progress: Progress | None = None, followups: int = 3) -> Draft:
    """Draft ``question`` for ``access`` and predict follow-ups for each 論点 that has none yet."""
    def progress(message: str, *_: Any) -> None:
        if on_progress is not None:
            on_progress(message)

    draft = drafter.draft(question, access, kept=kept, on_progress=progress)
    if miner is not None:
        for i, pd in enumerate(draft.points, 1):
            if pd.followups:
                continue
            progress(f"論点{i}/{len(draft.points)}の再質問を予測しています")
            pd.followups = miner.predict(pd.point, access, k=followups, past_answers=[pa for pa in pd.past_answers if pa.used],
                                         warnings=draft.warnings)
    return draft
