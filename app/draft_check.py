"""The 矛盾チェック as the drafter sees it, kept current without Streamlit.

The drafter checks each point once (``retrieval.draft.check_point``). On the 答弁作成 page the
text changes (edits, 公用文 fixes) and so do the candidates kept: :func:`recheck` runs the same
``ContradictionChecker`` again on a point whose check is stale (its ``CheckStamp`` no longer
matches the text and the used evidence), through a :class:`CheckCache` so that an unchanged text
is not checked again on every rerun. :func:`check_status` says in Japanese what is known — and
only for the text it was computed on: a stale check is 「未確認」, never 「なし」.

>>> cache = CheckCache()
>>> recheck_all(draft, drafter.checker, cache)  # doctest: +SKIP
>>> check_status(draft.points[0]).line  # doctest: +SKIP
'矛盾の可能性: なし（3 文を過去答弁・資料 2 件と照合）'
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from retrieval.draft import check_point
from retrieval.draft_types import CheckStamp, Draft, PointDraft
from retrieval.verify import Conflict, ContradictionChecker

__all__ = ["CheckCache", "CheckStatus", "check_status", "is_current", "phrase", "recheck", "recheck_all"]

State = Literal["none", "found", "unchecked", "no_text", "no_evidence"]


@functools.lru_cache(maxsize=None)
def _phrases() -> dict[str, Any]:
    import yaml

    from prompts import load_text

    return yaml.safe_load(load_text("draft_ui.yaml"))


def phrase(key: str, **values: Any) -> str:
    """A fixed phrase of ``prompts/draft_ui.yaml`` by its dotted key (``"conflict.none"``), filled
    in with ``values``; a placeholder without a value raises ``KeyError`` (never a half phrase)."""
    node: Any = _phrases()
    for part in key.split("."):
        node = node[part]
    return str(node).format(**values)


def _key(pd: PointDraft) -> tuple[str, tuple[str, ...]]:
    return pd.text, tuple(s.chunk_id for s in pd.evidence())


def is_current(pd: PointDraft) -> bool:
    """True when ``pd.conflicts`` were computed on the point's present text and evidence."""
    return pd.checked is not None and (pd.checked.text, pd.checked.evidence_ids) == _key(pd)


class CheckCache:
    """Results by (point text, evidence chunk ids), the most recent ``size`` kept: going back to
    an earlier text (an undo) does not run the checker again."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._results: OrderedDict[tuple[str, tuple[str, ...]], tuple[list[Conflict], CheckStamp]] = OrderedDict()
        self.runs = 0  # how many times the checker really ran (for tests and timings)

    def get(self, key: tuple[str, tuple[str, ...]]) -> tuple[list[Conflict], CheckStamp] | None:
        found = self._results.get(key)
        if found is not None:
            self._results.move_to_end(key)
        return found

    def put(self, key: tuple[str, tuple[str, ...]], conflicts: list[Conflict], stamp: CheckStamp) -> None:
        self._results[key] = (list(conflicts), stamp)
        self._results.move_to_end(key)
        while len(self._results) > self.size:
            self._results.popitem(last=False)


def recheck(pd: PointDraft, checker: ContradictionChecker | None, cache: CheckCache | None = None) -> bool:
    """Bring the point's 矛盾チェック up to date; True when the checker ran. Without a checker the
    result stays as it is (stale, so it is shown and exported as 「未確認」)."""
    if is_current(pd) or checker is None:
        return False
    key = _key(pd)
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        pd.conflicts, pd.checked = list(hit[0]), hit[1]
        return False
    check_point(checker, pd)
    if cache is not None:
        cache.runs += 1
        cache.put(key, pd.conflicts, pd.checked)
    return True


def recheck_all(draft: Draft, checker: ContradictionChecker | None, cache: CheckCache | None = None) -> int:
    """:func:`recheck` every point (before showing the results or exporting); how many ran."""
    return sum(recheck(pd, checker, cache) for pd in draft.points)


@dataclass(frozen=True)
class CheckStatus:
    """What can be said about a point's 矛盾チェック: ``state`` and the line that says it."""

    state: State
    line: str
    conflicts: tuple[Conflict, ...] = ()


def check_status(pd: PointDraft) -> CheckStatus:
    """The point's 矛盾チェック result, stated only for the text it was computed on."""
    if pd.needs_review or not pd.sentences:
        return CheckStatus("no_text", phrase("conflict.no_text"))
    if not is_current(pd):
        return CheckStatus("unchecked", phrase("conflict.unchecked"))
    assert pd.checked is not None
    n, m = pd.checked.sentences, len(pd.checked.evidence_ids)
    if not m:
        return CheckStatus("no_evidence", phrase("conflict.no_evidence"))
    if pd.conflicts:
        return CheckStatus("found", phrase("conflict.found", count=len(pd.conflicts), sentences=n, evidence=m),
                           tuple(pd.conflicts))
    return CheckStatus("none", phrase("conflict.none", sentences=n, evidence=m))
