"""The 公用文チェック: text in, findings (rule, character span, explanation, suggested fix) out.

Rules come from ``prompts/style_rules.yaml`` (:mod:`retrieval.style.rules`); parts of speech from
fugashi/UniDic (:mod:`retrieval.style.morph`), so 「その時」 (a noun of time) stays while
「起きた時」 (a formal noun) becomes 「とき」. A fix is *certain* only when the rule says so and
the span touches no proper noun; only certain fixes are applied without a human.

>>> checker = StyleChecker()
>>> [(f.rule_id, f.text, f.suggestion) for f in checker.check("事故が起きた時は連絡いたします。")]
[('keishiki-toki', '時', 'とき')]
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from retrieval.style.builtin import BUILTIN_CHECKS
from retrieval.style.morph import Morph, hiragana, tag
from retrieval.style.rules import Condition, Rule, RuleSet, load_rules

__all__ = ["Finding", "StyleChecker"]


@dataclass(frozen=True)
class Finding:
    """One departure from the rules at ``text[start:end]``; ``suggestion`` replaces that span
    (None: no mechanical fix, a human rewrites it); ``certain``: safe to apply automatically."""

    rule_id: str
    group: str  # Japanese group label
    start: int
    end: int
    text: str
    message: str
    suggestion: str | None
    certain: bool
    source: str

    @property
    def fixable(self) -> bool:
        """True when the finding carries a replacement (one click on the page)."""
        return self.suggestion is not None and self.suggestion != self.text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matches(cond: Condition, m: Morph | None) -> bool:
    if m is None:
        return False
    if cond.surface and m.surface not in cond.surface:
        return False
    if cond.surface_re is not None and not cond.surface_re.search(m.surface):
        return False
    if cond.lemma and m.lemma.partition("-")[0] not in cond.lemma:
        return False
    if cond.pos and not any(m.pos.startswith(p) for p in cond.pos):
        return False
    if cond.not_pos and any(m.pos.startswith(p) for p in cond.not_pos):
        return False
    if cond.cform and not any((m.cform == "") if c == "" else m.cform.startswith(c) for c in cond.cform):
        return False
    return True


def _named_fix(name: str, span: str, morph: Morph | None) -> str | None:
    if name == "reading":
        return hiragana(morph.kana) if morph is not None and morph.kana else None
    if name == "nfkc":
        return unicodedata.normalize("NFKC", span)
    if name == "fullwidth_parens":
        return "（" + span[1:-1] + "）"
    if name == "collapse_punct":
        return "。" if "。" in span else "、"
    if name == "ja_punct":
        return span.replace(",", "、").replace(".", "。")
    return None


class StyleChecker:
    """Checks Japanese text against the 公用文 rules.

    ``rules``: a RuleSet (default: the packaged file); ``max_sentence_chars`` and ``horizontal``
    override the file's settings; ``statute``: the text is a law's (rules marked
    ``skip_in_statutes`` do not apply); ``disabled``: rule ids not to apply.

    >>> StyleChecker(max_sentence_chars=60).check(text)  # doctest: +SKIP
    """

    def __init__(self, rules: RuleSet | None = None, *, max_sentence_chars: int | None = None,
                 horizontal: bool | None = None, statute: bool = False, disabled: Iterable[str] = ()) -> None:
        self._rules = rules
        self._max_chars = max_sentence_chars
        self._horizontal = horizontal
        self.statute = statute
        self.disabled = frozenset(disabled)

    @property
    def rules(self) -> RuleSet:
        """The rule set (the packaged file is read on first use)."""
        if self._rules is None:
            self._rules = load_rules()
        return self._rules

    @property
    def options(self) -> dict[str, Any]:
        """The effective settings: the file's, overridden by the constructor's."""
        s = self.rules.settings
        return {"max_sentence_chars": self._max_chars or int(s.get("max_sentence_chars", 100)),
                "horizontal": bool(s.get("horizontal", True)) if self._horizontal is None else self._horizontal}

    def check(self, text: str) -> list[Finding]:
        """Every finding in ``text``, by position (same rule, same span: once)."""
        if not text or not text.strip():
            return []
        morphs = tag(text)
        options = self.options
        found: dict[tuple[str, int, int], Finding] = {}
        quoted = _quoted_ranges(text)
        for rule in self.rules.rules:
            if rule.id in self.disabled or (rule.horizontal_only and not options["horizontal"]) \
                    or (rule.skip_in_statutes and self.statute):
                continue
            for start, end, suggestion, details in self._hits(rule, text, morphs, options):
                if rule.skip_quoted and _inside(quoted, start, end):
                    continue
                certain = rule.certain and suggestion is not None and not _touches_name(morphs, start, end)
                message = rule.explanation.format(**details) if details else rule.explanation
                found.setdefault((rule.id, start, end), Finding(
                    rule_id=rule.id, group=rule.group_label, start=start, end=end, text=text[start:end],
                    message=message, suggestion=suggestion, certain=certain, source=rule.source_text))
        order = {r.id: i for i, r in enumerate(self.rules.rules)}
        findings, seen = [], set()
        for f in sorted(found.values(), key=lambda f: (f.start, -f.end, order[f.rule_id])):
            if f.suggestion is not None and (f.start, f.end, f.suggestion) in seen:
                continue  # two rules saying the same thing about the same span: once
            seen.add((f.start, f.end, f.suggestion))
            findings.append(f)
        return findings

    # -- matching --------------------------------------------------------------------------------------

    def _hits(self, rule: Rule, text: str, morphs: list[Morph], options: dict[str, Any]):
        if rule.kind == "morph":
            yield from _morph_hits(rule, text, morphs)
        elif rule.kind in ("regex", "words"):
            yield from _pattern_hits(rule, text, morphs)
        else:
            yield from BUILTIN_CHECKS[rule.check](text, morphs, rule, options)


def _adjacent(morphs: list[Morph], i: int, step: int) -> Morph | None:
    j = i + step
    if not 0 <= j < len(morphs):
        return None
    a, b = (morphs[j], morphs[i]) if step < 0 else (morphs[i], morphs[j])
    return morphs[j] if a.end == b.start else None  # a space or a line break in between: not adjacent


def _morph_hits(rule: Rule, text: str, morphs: list[Morph]):
    for i, m in enumerate(morphs):
        if not _matches(rule.match, m):
            continue
        if rule.prev is not None and not _matches(rule.prev, _adjacent(morphs, i, -1)):
            continue
        if rule.next is not None and not _matches(rule.next, _adjacent(morphs, i, 1)):
            continue
        if rule.prev_not is not None and _matches(rule.prev_not, _adjacent(morphs, i, -1)):
            continue
        if rule.next_not is not None and _matches(rule.next_not, _adjacent(morphs, i, 1)):
            continue
        start, end = m.start, m.end
        k = i
        while (nxt := _adjacent(morphs, k, 1)) is not None and nxt.surface in rule.absorb_next:
            end, k = nxt.end, k + 1
        yield start, end, _suggestion(rule, text[start:end], m), {}


def _covering(morphs: list[Morph], start: int, end: int) -> list[Morph]:
    """The morphemes overlapping [start, end) (morphemes are in text order)."""
    ends = _Ends(morphs)
    i = bisect.bisect_right(ends, start)
    out = []
    while i < len(morphs) and morphs[i].start < end:
        out.append(morphs[i])
        i += 1
    return out


class _Ends:
    """A sequence view of the morphemes' end offsets, for bisect (no copy)."""

    def __init__(self, morphs: list[Morph]) -> None:
        self.morphs = morphs

    def __len__(self) -> int:
        return len(self.morphs)

    def __getitem__(self, i: int) -> int:
        return self.morphs[i].end


def _pattern_hits(rule: Rule, text: str, morphs: list[Morph]):
    for match in rule.pattern.finditer(text):
        group = "m" if "m" in rule.pattern.groupindex and match.group("m") is not None else 0
        start, end = match.span(group)
        if start == end:
            continue
        covering = _covering(morphs, start, end)
        if rule.not_pos and any(m.pos.startswith(p) for m in covering for p in rule.not_pos):
            continue  # e.g. the verb 取り扱う, not the noun 取扱い
        if rule.next_not is not None:
            after = _covering(morphs, end, end + 1)
            if after and after[0].start == end and _matches(rule.next_not, after[0]):
                continue
        if rule.kind == "words" and not (any(m.start == start for m in covering) and any(m.end == end for m in covering)):
            continue  # inside a longer word
        yield start, end, _suggestion(rule, text[start:end], None), {}


def _suggestion(rule: Rule, span: str, morph: Morph | None) -> str | None:
    fix = rule.fix
    if rule.kind == "words":
        return rule.words.get(span)
    if isinstance(fix, str):
        return _named_fix(fix, span, morph)
    if isinstance(fix, dict) and "replace" in fix:
        return str(fix["replace"])
    if isinstance(fix, dict) and "append" in fix:
        return span + str(fix["append"])
    return None


def _touches_name(morphs: list[Morph], start: int, end: int) -> bool:
    """True when the span overlaps a proper noun (names are never changed automatically)."""
    return any("固有名詞" in m.pos for m in _covering(morphs, start, end))


def _quoted_ranges(text: str) -> list[tuple[int, int]]:
    """Spans inside 「」 and 『』 (outermost pairs; an unclosed quote quotes nothing)."""
    ranges, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "「『":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch in "」』" and depth:
            depth -= 1
            if depth == 0:
                ranges.append((start, i))
    return ranges


def _inside(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in ranges)
