"""Applying the checker's fixes to a text: the certain ones automatically (the template drafter,
``gyosei check-style --fix``), or one chosen finding at a time (the page's one-click fix).

A fix replaces exactly its finding's span; findings that overlap one already applied are left
for the next check. Numbers and names are never touched: no certain rule rewrites a numeral or
a proper noun (the checker downgrades any finding over a proper noun to not certain).

>>> fixed, applied = apply_fixes("事故が起きた時は連絡致します。", StyleChecker().check("事故が起きた時は連絡致します。"))
>>> fixed
'事故が起きたときは連絡いたします。'
"""

from __future__ import annotations

from typing import Iterable

from retrieval.style.checker import Finding, StyleChecker

__all__ = ["apply_fixes", "apply_one", "fix_certain"]


def apply_fixes(text: str, findings: Iterable[Finding], *, certain_only: bool = True) -> tuple[str, list[Finding]]:
    """``text`` with the fixes of ``findings`` (only the certain ones unless ``certain_only`` is
    False); returns the new text and the findings applied. Spans refer to ``text``."""
    chosen = sorted((f for f in findings if f.fixable and (f.certain or not certain_only)), key=lambda f: (f.start, f.end))
    out: list[str] = []
    applied: list[Finding] = []
    pos = 0
    for f in chosen:
        if f.start < pos or text[f.start:f.end] != f.text:
            continue  # overlaps a fix already made, or the text changed since the check
        out += [text[pos:f.start], f.suggestion or ""]
        pos = f.end
        applied.append(f)
    out.append(text[pos:])
    return "".join(out), applied


def apply_one(text: str, finding: Finding) -> str:
    """``text`` with one finding's fix (unchanged if the span no longer holds the finding's text)."""
    fixed, _ = apply_fixes(text, [finding], certain_only=False)
    return fixed


def fix_certain(text: str, checker: StyleChecker, *, rounds: int = 3) -> tuple[str, list[Finding]]:
    """``text`` with every certain fix applied, checking again after each round (a deleted
    filler can bring two 読点 together) until nothing certain is left or ``rounds`` are done."""
    applied: list[Finding] = []
    for _ in range(rounds):
        text, done = apply_fixes(text, checker.check(text))
        if not done:
            break
        applied += done
    return text, applied
