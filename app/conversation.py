"""Conversation context for follow-up questions on the 質問 page.

A follow-up such as 「その期限は？」 or 「申請の場合は？」 says little on its own. When a new question
refers back (opens with それ/その/では/また…) or names almost no topic of its own, the previous
question's topic terms are carried into the search, and the page shows the user exactly what
was searched. Plain data in, plain data out: no Streamlit here.

>>> turn = contextualize("その期限はいつまでですか", [Turn("行政手続法の標準処理期間とは", "行政手続法の標準処理期間とは")])
>>> turn.carried  # doctest: +SKIP
['標準処理期間', '行政手続法']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

# Openings that point back at the previous exchange.
_REFERS_BACK = re.compile(
    r"^(それ|その|この|これ|あれ|あの|同じ|同様|同法|同条|同制度|当該|前述|上記|先ほど|さっき|では|じゃあ|それでは|"
    r"なら|ならば|また|さらに|更に|他に|ほかに|具体的に|例えば|逆に|一方|加えて|あと|次に|それ以外)"
)
MAX_CARRIED = 3
SHORT_CHARS = 20  # a question this short with under two topic terms of its own is a follow-up


@dataclass
class Turn:
    """One exchange: what the user typed, what was searched, and the answer shown."""

    question: str
    searched: str
    carried: list[str] = field(default_factory=list)
    answer: Any = None  # retrieval.answer_types.Answer
    event_id: int | None = None  # the audit event of this question (feedback refers to it)
    feedback: str | None = None  # "good" | "bad" once given


@dataclass
class Contextualized:
    """The text to search for a new question and the topic terms carried from before (if any)."""

    searched: str
    carried: list[str] = field(default_factory=list)
    previous: str = ""

    @property
    def note(self) -> str:
        """What the page tells the user when context was carried (Japanese), else ''."""
        if not self.carried:
            return ""
        return f"前の質問「{self.previous}」の話題（{'・'.join(self.carried)}）を引き継いで検索しました。"


def _default_terms(text: str) -> list[str]:
    from retrieval.question_analysis import policy_terms

    return list(policy_terms(text))


def is_follow_up(question: str, terms: list[str]) -> bool:
    """True when the question refers back or is too short to stand alone."""
    q = question.strip()
    return bool(_REFERS_BACK.match(q)) or (len(q) <= SHORT_CHARS and len(terms) < 2)


def contextualize(question: str, history: list[Turn], *, enabled: bool = True,
                  terms: Callable[[str], list[str]] = _default_terms) -> Contextualized:
    """Carry the previous turn's topic terms into ``question`` when it is a follow-up."""
    question = question.strip()
    if not enabled or not history:
        return Contextualized(question)
    own = terms(question)
    if not is_follow_up(question, own):
        return Contextualized(question)
    previous = history[-1]
    carried = [t for t in terms(previous.searched) if t not in question and not any(t in o or o in t for o in own)]
    # Keep whole compounds only: 標準処理期間 already says 標準処理 and 処理期間.
    carried = [t for t in carried if not any(t != o and t in o for o in carried)][:MAX_CARRIED]
    if not carried:
        return Contextualized(question)
    return Contextualized(f"{' '.join(carried)} {question}", carried, previous.question)
