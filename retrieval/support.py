"""Sentence splitting and vector cosine shared by answers, drafts and the support judge.

The support judge itself (whether passages back a sentence, and what they do not say) is
:mod:`retrieval.support_judge`.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

_SENTENCE_END = re.compile(r"(?<=[。！？!?])")


def split_sentences(text: str) -> list[str]:
    """Japanese sentences (。！？ end a sentence; line breaks too). Empty pieces dropped."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(p.strip() for p in _SENTENCE_END.split(line) if p.strip())
    return out


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0
