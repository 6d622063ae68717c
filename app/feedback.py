"""Feedback on answers (good/bad and a comment), stored as ``feedback`` events in the audit log,
so the usage dashboard and auditors read one place.

>>> record_feedback(log, user, "質問", question="行政手続法の目的", rating="good", comment="", question_event=12)
"""

from __future__ import annotations

from typing import Any

from app.audit import AuditEvent, AuditLog
from app.auth import User
from retrieval.errors import GyoseiError

RATINGS = ("good", "bad")
RATING_LABELS = {"good": "良い", "bad": "悪い"}
RATING_VALUES = {label: value for value, label in RATING_LABELS.items()}  # what the radio shows -> stored
MAX_COMMENT_CHARS = 1000


class FeedbackError(GyoseiError):
    """Feedback that cannot be stored (Japanese message)."""


def record_feedback(log: AuditLog, user: User, page: str, *, question: str, rating: str, comment: str = "",
                    question_event: int | None = None, doc_ids: list[str] | None = None,
                    extra: dict[str, Any] | None = None) -> AuditEvent:
    """Store one rating of an answer or draft; ``question_event`` links it to the question's event."""
    if rating not in RATINGS:
        raise FeedbackError("評価は「良い」か「悪い」を選んでください。")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"コメントが長すぎます（{len(comment)} 文字。{MAX_COMMENT_CHARS} 文字以内にしてください）。")
    params: dict[str, Any] = {"page": page, "question": question, "rating": rating, "comment": comment,
                              "question_event": question_event, **(extra or {})}
    return log.record(user.name, "feedback", params, doc_ids=doc_ids or [])
