"""An official's confirmation of a draft (答弁作成): per 論点 or the whole draft, recorded in the
audit log (action ``confirm``: who, when, which point). A draft the system writes is 未確認; any
edit of a confirmed point returns that point and the whole draft to 未確認 (``revoke``, called by
``app.draft_edit.apply_text``), and the page records that too. Exports read the state from the
typed fields (``PointDraft.confirmed_by``, ``Draft.confirmed_by``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from app.draft_check import phrase
from retrieval.draft_types import Draft, PointDraft
from retrieval.errors import GyoseiError

__all__ = ["ConfirmError", "unconfirmable", "confirm_point", "confirm_draft", "revoke", "confirmed_line", "record_revoked"]

PAGE = "答弁作成"


def _now(tz: str) -> str:
    return dt.datetime.now(ZoneInfo(tz)).isoformat(timespec="seconds")


def _record(audit: Any, user: str, draft: Draft, scope: str, point: int | None, outcome: str = "ok") -> None:
    if audit is None:
        return
    params = {"page": PAGE, "scope": scope, "question": draft.question}
    if point is not None:
        params["point"] = point
    audit.record(user, "confirm", params, doc_ids=[s.doc_id for s in draft.sources], outcome=outcome)


class ConfirmError(GyoseiError):
    """A point (or draft) that cannot be confirmed yet; the message says why, in Japanese."""


def unconfirmable(draft: Draft) -> list[int]:
    """1-based numbers of the points still showing 【要確認】 in place of a text: nobody can
    confirm what a human has yet to write."""
    return [i for i, pd in enumerate(draft.points, 1) if pd.needs_review]


def confirm_point(draft: Draft, index: int, user: str, audit: Any = None, tz: str = "Asia/Tokyo") -> None:
    """Mark 論点 ``index`` (0-based) checked by ``user``; the draft is confirmed once every point is."""
    pd = draft.points[index]
    if pd.needs_review:
        raise ConfirmError(phrase("confirmation.not_written", points=index + 1))
    pd.confirmed_by, pd.confirmed_at = user, _now(tz)
    _record(audit, user, draft, "point", index + 1)
    if all(p.confirmed for p in draft.points) and not draft.confirmed:
        draft.confirmed_by, draft.confirmed_at = user, pd.confirmed_at


def confirm_draft(draft: Draft, user: str, audit: Any = None, tz: str = "Asia/Tokyo") -> None:
    """Mark the whole draft (and every point not yet checked) confirmed by ``user``."""
    missing = unconfirmable(draft)
    if missing:
        raise ConfirmError(phrase("confirmation.not_written", points="、".join(map(str, missing))))
    at = _now(tz)
    for pd in draft.points:
        if not pd.confirmed:
            pd.confirmed_by, pd.confirmed_at = user, at
    draft.confirmed_by, draft.confirmed_at = user, at
    _record(audit, user, draft, "draft", None)


def revoke(draft: Draft, pd: PointDraft) -> bool:
    """The point was changed: it and the draft are 未確認 again. True when it had been confirmed."""
    was = pd.confirmed or draft.confirmed
    pd.confirmed_by = pd.confirmed_at = ""
    draft.confirmed_by = draft.confirmed_at = ""
    return was


def record_revoked(draft: Draft, index: int, user: str, audit: Any) -> None:
    """Record that ``user``'s edit of 論点 ``index`` (0-based) returned the draft to 未確認."""
    _record(audit, user, draft, "point", index + 1, outcome="revoked")


def confirmed_line(draft: Draft) -> str:
    """「確認済み（確認者 NAME、YYYY-MM-DD）」 or 「未確認（AI生成の下書き）」 for the page (the
    exports' header says the same: ``app.docx_office.status_line``)."""
    from app.docx_office import status_line

    return status_line(draft)
