"""The checks that are more than one word or one pattern (the ``builtin`` rules of the rules file):
sentence length, unclosed brackets, kanji numerals in horizontal writing, mixed 読点 and a
missing 句点. Each takes the text, its morphemes and the rule (its params), and returns
``(start, end, suggestion, details)`` tuples; :mod:`retrieval.style.checker` turns them into findings.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from retrieval.extractive import sentence_spans
from retrieval.style.morph import Morph
from retrieval.style.rules import Rule
from retrieval.text.dates import kanji_to_int

__all__ = ["BUILTIN_CHECKS", "Hit", "arabic"]

Hit = tuple[int, int, "str | None", dict[str, Any]]  # start, end, suggestion, details for the message

PAIRS = {"「": "」", "『": "』", "（": "）", "(": ")", "【": "】", "〔": "〕", "［": "］", "[": "]", "｛": "｝", "〈": "〉", "《": "》"}
_CLOSERS = {v: k for k, v in PAIRS.items()}
_CITATION = re.compile(r"\[\d+\]")
_UNITS = re.compile(r"([兆億万])")


def arabic(numeral: str) -> str | None:
    """A kanji numeral in arabic digits, keeping the large units (五兆五千三百四十八億 -> 5兆5348億)."""
    out = []
    for piece in _UNITS.split(numeral):
        if not piece:
            continue
        if _UNITS.fullmatch(piece):
            out.append(piece)
            continue
        value = kanji_to_int(piece)
        if value is None:
            return None
        out.append(str(value))
    text = "".join(out)
    return text if text and text[0].isdigit() else None


def sentence_length(text: str, morphs: list[Morph], rule: Rule, options: dict[str, Any]) -> list[Hit]:
    """Sentences longer than the limit (citation marks [n] and spaces not counted)."""
    limit = int(options["max_sentence_chars"])
    hits = []
    for start, sentence in sentence_spans(text):
        body = sentence.rstrip()
        length = len(_CITATION.sub("", body).replace(" ", "").replace("　", ""))
        if length > limit:
            lead = len(body) - len(body.lstrip())
            marks = re.match(r"(?:\[\d+\])+", body[lead:])  # the previous sentence's citations
            lead += len(marks.group(0)) if marks else 0
            hits.append((start + lead, start + len(body), None, {"length": length, "limit": limit}))
    return hits


def brackets(text: str, morphs: list[Morph], rule: Rule, options: dict[str, Any]) -> list[Hit]:
    """Openers never closed and closers never opened (nesting respected)."""
    stack: list[tuple[str, int]] = []
    hits: list[Hit] = []
    for i, ch in enumerate(text):
        if ch in PAIRS:
            stack.append((ch, i))
        elif ch in _CLOSERS:
            opener = _CLOSERS[ch]
            if any(o == opener for o, _ in stack):
                while stack[-1][0] != opener:  # openers inside it were never closed
                    o, at = stack.pop()
                    hits.append((at, at + 1, None, {"bracket": f"「{o}」に対応する「{PAIRS[o]}」がありません"}))
                stack.pop()
            else:
                hits.append((i, i + 1, None, {"bracket": f"「{ch}」に対応する「{opener}」がありません"}))
    for o, at in stack:
        hits.append((at, at + 1, None, {"bracket": f"「{o}」に対応する「{PAIRS[o]}」がありません"}))
    # 「掲げる情報（」とあるのは: a fragment quoted whole (読替え in laws) may hold half a pair.
    return sorted(h for h in hits if not (text[h[1]:h[1] + 1] == "」" or text[h[0] - 1:h[0]] == "「") or text[h[0]] in "「」")


_KANJI_NUMERAL = re.compile(r"[〇一二三四五六七八九十百千万億兆]+")


def _is_kanji_numeral(m: Morph) -> bool:
    return m.pos.startswith("名詞,数詞") and bool(_KANJI_NUMERAL.fullmatch(m.surface))


def _is_counter(m: Morph | None, extra: frozenset[str] = frozenset()) -> bool:
    return m is not None and ("助数詞" in m.pos or m.surface in extra)


def kanji_numerals(text: str, morphs: list[Morph], rule: Rule, options: dict[str, Any]) -> list[Hit]:
    """Runs of kanji numerals used as numbers, in horizontal writing (idioms and 一つ/二人 kept)."""
    params = rule.params
    if params.get("horizontal_only", True) and not options["horizontal"]:
        return []
    idioms = [str(w) for w in params.get("idioms") or ()]
    counters = set(str(c) for c in params.get("native_counters") or ())
    keep_after_dai = set(str(c) for c in params.get("keep_after_dai") or ())
    extra = frozenset(str(c) for c in params.get("extra_counters") or ())
    hits: list[Hit] = []
    i = 0
    while i < len(morphs):
        if not _is_kanji_numeral(morphs[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(morphs) and _is_kanji_numeral(morphs[j + 1]) and morphs[j + 1].start == morphs[j].end:
            j += 1
        start, end = morphs[i].start, morphs[j].end
        i_start, i = i, j + 1
        numeral = text[start:end]
        after = text[end:end + 1]
        following = morphs[i] if i < len(morphs) and morphs[i].start == end else None
        before = morphs[i_start - 1] if i_start > 0 and morphs[i_start - 1].end == start else None
        after_next = morphs[i + 1] if following is not None and i + 1 < len(morphs) and morphs[i + 1].start == following.end else None
        if numeral == "一" and not _is_counter(following, extra) and text[start - 1:start] != "第":
            continue  # 一形態, 一企業: "one" as part of a word, not a count
        if text[start - 1:start] == "第" and following is not None and (
                not _is_counter(following, extra) or (after_next is not None and after_next.pos.startswith("名詞")
                                                       and not _is_counter(after_next, extra))):
            continue  # 第二委員会, 第三国 (an ordinal in a name); 第二号基礎的電気通信役務 (a defined term)
        if before is not None and before.pos.startswith("名詞") and not before.pos.startswith("名詞,数詞") \
                and following is not None and following.pos.startswith(("名詞", "接尾辞")) and not _is_counter(following, extra):
            continue  # 公益三法: a numeral inside a compound noun names a set, it does not count
        if _in_citation_parens(text, start):
            continue  # （法2八、九、十二）, （令６①九ハ）: abbreviated legal citations
        if after in counters and len(numeral) == 1:
            continue  # 一つ, 二人: counted the native way
        if after == "、" and end + 1 < len(text) and kanji_to_int(text[end + 1]) is not None:
            continue  # 二、三日: an approximate number
        if numeral == "〇":
            continue  # a bullet mark (〇　大学等の…), not a zero
        if _in_citation(text, start, end):
            continue  # 1万7千人 (units after digits); 法法34三, 法2十二の八 (abbreviated citations: 34条3号)
        if text[max(0, start - 3):start] == "別表第":
            continue  # 別表第一: a law's table, cited by its name
        if text[start - 1:start] == "第" and after in keep_after_dai:
            continue  # 第一種事業, 第二種指定電気通信設備: names of legal categories
        if _in_idiom(text, start, end, idioms):
            continue
        suggestion = arabic(numeral)
        hits.append((start, end, suggestion, {}))
    return hits


_CITATION_CHARS = set("0123456789０１２３４５６７８９〇一二三四五六七八九十百千の")


def _in_citation(text: str, start: int, end: int) -> bool:
    """True when the numeral is glued to arabic digits (法法34三, 法令８二十, 別表第二７ハ):
    an abbreviated legal citation or units after digits, not a count written in kanji."""
    a, b = start, end
    while a > 0 and text[a - 1] in _CITATION_CHARS:
        a -= 1
    while b < len(text) and text[b] in _CITATION_CHARS:
        b += 1
    return any(ch.isdigit() for ch in text[a:b])


_PAREN = re.compile(r"[（(]([^（()）\n]*)[）)]")


def _in_citation_parens(text: str, at: int) -> bool:
    """True inside parentheses that hold only a citation: digits and no kana but の (（法2八、九））."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line = text[line_start:line_end if line_end >= 0 else len(text)]
    for m in _PAREN.finditer(line):
        if m.start(1) <= at - line_start < m.end(1):
            inner = m.group(1)
            return any(ch.isdigit() for ch in inner) and not re.search(r"[ぁ-のは-ん]", inner)
    return False


def _in_idiom(text: str, start: int, end: int, idioms: list[str]) -> bool:
    """True if [start, end) lies inside an occurrence of one of ``idioms``."""
    for idiom in idioms:
        lo = max(0, start - len(idiom))
        at = text.find(idiom, lo)
        while 0 <= at < end:
            if at <= start and at + len(idiom) >= end:
                return True
            at = text.find(idiom, at + 1)
    return False


def comma_mix(text: str, morphs: list[Morph], rule: Rule, options: dict[str, Any]) -> list[Hit]:
    """Where both 「、」 and 「，」 serve as 読点: the less used one (「，」 on a tie)."""
    ja, western = text.count("、"), text.count("，")
    if not ja or not western:
        return []
    minority, majority = ("、", "，") if ja < western else ("，", "、")
    return [(m.start(), m.end(), majority, {}) for m in re.finditer(re.escape(minority), text)]


def missing_period(text: str, morphs: list[Morph], rule: Rule, options: dict[str, Any]) -> list[Hit]:
    """Lines of prose that end like a sentence (〜ます, 〜である) but without 「。」."""
    params = rule.params
    endings = re.compile(str(params.get("endings") or "(?:ます|です)$"))
    min_chars = int(params.get("min_chars", 15))
    hits: list[Hit] = []
    offset = 0
    for line in text.split("\n"):
        body = _CITATION.sub("", line).rstrip()
        if len(body.strip()) >= min_chars and endings.search(body):
            stripped = line.rstrip()
            end = offset + len(stripped)
            # Before trailing citation marks: 「…ます[1]」 -> 「…ます。[1]」
            marks = re.search(r"(?:\[\d+\])+$", stripped)
            at = end - (len(marks.group(0)) if marks else 0)
            hits.append((at - 1, at, text[at - 1:at] + "。", {}))
        offset += len(line) + 1
    return hits


BUILTIN_CHECKS: dict[str, Callable[[str, list[Morph], Rule, dict[str, Any]], list[Hit]]] = {
    "sentence_length": sentence_length,
    "brackets": brackets,
    "kanji_numerals": kanji_numerals,
    "comma_mix": comma_mix,
    "missing_period": missing_period,
}
