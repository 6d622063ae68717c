"""Rule checks for contradictions between two Japanese sentences on the same topic.

Each rule compares only things that line up: a quantity with a quantity of the same unit whose
surrounding words match, a date with a date in the same context, a predicate with the same
predicate, an article number of the same law. A pair that merely mentions different figures for
different things must stay silent: a drafter stops reading warnings that are mostly wrong.

>>> [h.kind for h in compare("予算は三千億円を計上した。", "予算は2,000億円を計上した。")]
['number']
>>> compare("予算は三千億円を計上した。", "予算は3000億円を計上した。")
[]
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from retrieval.text.dates import find_dates
from retrieval.text.figures import KANJI_DIGITS as _KD
from retrieval.text.figures import find_figures, parse_number
from retrieval.text.normalize import normalize

__all__ = ["RuleHit", "compare", "rule_features", "RULE_FEATURE_NAMES", "parse_number", "quantities", "predicates", "stance", "articles", "aligned", "law_names"]


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired: its kind, a Japanese reason and a confidence in [0, 1]."""

    kind: str  # number | date | polarity | modality | law
    reason: str
    score: float


# ----------------------------------------------------------------------------- tokens

_lock = threading.Lock()
_tagger: Any = None


@dataclass(frozen=True)
class Tok:
    """One morpheme: surface, lemma, UniDic pos1/pos2/pos3 and its character offset."""

    surface: str
    lemma: str
    pos1: str
    pos2: str
    pos3: str
    start: int


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[Tok, ...]:
    """Morphemes of already normalized ``text`` with offsets (fugashi + unidic-lite)."""
    global _tagger
    out: list[Tok] = []
    with _lock:  # a MeCab tagger is not thread-safe
        if _tagger is None:
            import fugashi  # heavy: loaded on first use only

            _tagger = fugashi.Tagger()
        pos = 0
        for word in _tagger(text):
            found = text.find(word.surface, pos)
            pos = found if found >= 0 else pos
            f = word.feature_raw.split(",", 8)
            lemma = f[7] if len(f) > 7 and f[7] not in ("", "*") else word.surface
            lemma = lemma.partition("-")[0] or lemma if not lemma.isascii() else lemma
            out.append(Tok(word.surface, lemma, f[0], f[1] if len(f) > 1 else "", f[2] if len(f) > 2 else "", pos))
            pos += len(word.surface)
    return tuple(out)


_STOP = frozenset("為る 有る 居る 成る 御座る 致す 申す 申し上げる 存ずる 参る 思う 言う 考える 認識 事 物 様 所 等 時 方 中 上 内 際 訳 旨 点 件 的 こと".split())


def _content(tok: Tok) -> bool:
    return tok.pos1 in ("名詞", "動詞", "形容詞", "形状詞") and tok.pos2 not in ("数詞", "代名詞", "非自立可能") and tok.lemma not in _STOP


def content_terms(text: str) -> set[str]:
    """Content lemmas of ``text`` (nouns, verbs, adjectives; no numerals, light verbs)."""
    return {t.lemma for t in tokens(normalize(text)) if _content(t)}


def _window_terms(toks: tuple[Tok, ...], start: int, end: int, before: int = 14, after: int = 6) -> set[str]:
    """Content lemmas (and numerals) in the characters around ``[start, end)``: a figure's context."""
    out = set()
    for t in toks:
        t_end = t.start + len(t.surface)
        if (start - before <= t.start and t_end <= start) or (end <= t.start < end + after):
            if _content(t) or t.pos2 == "数詞":
                out.add(t.lemma)
    return out


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


# ----------------------------------------------------------------------------- numbers

@dataclass(frozen=True)
class Quantity:
    """A figure with its normalized unit, its text and its context lemmas."""

    values: frozenset[float]
    unit: str
    text: str
    context: frozenset[str]


def quantities(text: str) -> list[Quantity]:
    """Figures with units in ``text`` (dates excluded), each with its surrounding words."""
    text = normalize(text)
    toks = tokens(text)
    return [Quantity(f.values, f.unit, text[f.start:f.end], frozenset(_window_terms(toks, f.start, f.end)))
            for f in find_figures(text)]


def _number_hits(claim: str, evidence: str) -> list[RuleHit]:
    cq, eq = quantities(claim), quantities(evidence)
    hits = []
    stated = sum(any(q.values & e.values for e in eq if e.unit == q.unit) for q in cq)
    if len(cq) - stated > max(1, len(cq) // 2):
        return []  # most figures differ: another scenario or period, not a changed figure
    for q in cq:
        same_unit = [e for e in eq if e.unit == q.unit]
        if not same_unit or any(q.values & e.values for e in same_unit):
            continue  # the figure is stated in the evidence, or nothing comparable is
        claim_vals = {v for c in cq if c.unit == q.unit for v in c.values}
        best = max(same_unit, key=lambda e: _jaccard(set(q.context), set(e.context)))
        sim = _jaccard(set(q.context), set(best.context))
        if sim < 0.3 or best.values & claim_vals:
            continue  # different things counted, or the evidence's figure is also in the claim
        what = {"円": "金額", "%": "割合"}.get(q.unit, "数値")
        hits.append(RuleHit("number", f"{what}が異なります: {q.text} ↔ {best.text}", round(0.6 + 0.4 * sim, 3)))
    return hits


def _date_hits(claim: str, evidence: str) -> list[RuleHit]:
    c, e = normalize(claim), normalize(evidence)
    cd, ed = find_dates(c), find_dates(e)
    ct, et = tokens(c), tokens(e)
    e_isos = {d.iso for d in ed}
    c_isos = {d.iso for d in cd}
    hits = []
    for d in cd:
        if d.iso in e_isos:
            continue
        ctx = _window_terms(ct, d.start, d.end)
        cands = [x for x in ed if x.precision == d.precision and x.iso not in c_isos]
        if not cands:
            continue
        best = max(cands, key=lambda x: _jaccard(ctx, _window_terms(et, x.start, x.end)))
        sim = _jaccard(ctx, _window_terms(et, best.start, best.end))
        if sim >= 0.3:
            hits.append(RuleHit("date", f"日付が異なります: {c[d.start:d.end]} ↔ {e[best.start:best.end]}", round(0.6 + 0.4 * sim, 3)))
    return hits


# ----------------------------------------------------------------------------- predicates

_NEG_AUX = {"ない", "ず", "ぬ", "ん"}
_EXIST = {"有る": False, "御座る": False, "無い": True}  # lemma -> negative by itself
_TRANSPARENT_NOUNS = {"訳", "事", "筈", "の", "ところ", "所"}
_TOPIC_PARTICLES = {"は", "が", "も"}
_LIGHT = frozenset("為る 有る 居る 成る 御座る 致す 申す 申し上げる 存ずる 参る 言う 事 物 様 所 等 時 方 訳".split())


def predicates(text: str) -> dict[str, list[bool]]:
    """Predicate key -> polarities (True = negated) of each occurrence in ``text``.

    A verb, adjective or サ変 noun is negated by an odd number of ない/ず/ぬ in its auxiliary tail
    (しないわけではない is affirmative); noun + は/が/も + ある/ない/ございません gives the noun; a
    light verb or copula (いたす, なる, でございます) is keyed by the content word before it.
    """
    toks = tokens(normalize(text))
    out: dict[str, list[bool]] = {}
    for i, t in enumerate(toks):
        key = None
        start = i + 1
        if t.pos1 in ("動詞", "形容詞", "形状詞") and t.pos2 != "非自立可能" and t.lemma not in _LIGHT:
            key = t.lemma
        elif t.pos1 == "名詞" and t.pos2 not in ("代名詞", "数詞") and t.lemma not in _LIGHT:
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            verbal = t.pos3 in ("サ変可能", "形状詞可能")
            if verbal and nxt and (nxt.lemma in ("為る", "出来る", "だ", "です") or nxt.pos1 == "助動詞"):
                key = t.lemma
            elif nxt and nxt.lemma in _TOPIC_PARTICLES and i + 2 < len(toks) and toks[i + 2].lemma in _EXIST:
                key, start = t.lemma, i + 2  # 意義がある / 意義はない: any noun, not only サ変
        elif (t.lemma in _LIGHT and t.pos1 == "動詞") or (t.pos1 == "助動詞" and t.lemma in ("だ", "です")):
            prev = [u for u in toks[max(0, i - 4):i] if _content(u) or u.pos3 in ("サ変可能", "形状詞可能")]
            if prev and i > 0 and toks[i - 1].pos1 != "助動詞":
                key = prev[-1].lemma + "+"
        if key is None:
            continue
        neg = 0
        for u in toks[start:]:
            if u.pos1 == "助動詞" or (u.pos1 == "助詞" and u.pos2 in ("接続助詞", "終助詞") and u.lemma in ("て", "で", "ね", "よ")):
                neg += u.lemma in _NEG_AUX
            elif u.pos2 == "非自立可能" or u.lemma in _EXIST:
                neg += _EXIST.get(u.lemma, False)
            elif u.lemma in _TRANSPARENT_NOUNS or (u.pos1 == "助詞" and u.lemma in ("で", "は", "も")):
                continue
            else:
                break
        out.setdefault(key, []).append(bool(neg % 2))
    return out


def _polarity_hits(claim: str, evidence: str) -> list[RuleHit]:
    cp, ep = predicates(claim), predicates(evidence)
    hits = []
    for key in cp.keys() & ep.keys():
        a, b = set(cp[key]), set(ep[key])
        if len(a) == 1 and len(b) == 1 and a != b:  # each side says one thing about it
            say = {False: "肯定", True: "否定"}
            hits.append(RuleHit("polarity", f"否定が逆です: 「{key}」が{say[a.pop()]} ↔ {say[b.pop()]}", 0.85))
    return hits


# Stance classes: lemma -> (class, sign). A negated lemma flips its sign.
_STANCE = {
    "実施": ("do", 1), "導入": ("do", 1), "実行": ("do", 1), "推進": ("do", 1), "進める": ("do", 1),
    "検討": ("do", 1), "予定": ("do", 1), "取り組む": ("do", 1), "着手": ("do", 1), "継続": ("do", 1),
    "見送る": ("do", -1), "見送り": ("do", -1), "見合わせる": ("do", -1), "中止": ("do", -1),
    "断念": ("do", -1), "撤回": ("do", -1), "凍結": ("do", -1), "取り止める": ("do", -1),
    "取りやめる": ("do", -1), "廃止": ("do", -1),
    "前向き": ("attitude", 1), "積極": ("attitude", 1), "慎重": ("attitude", -1), "消極": ("attitude", -1),
    "可能": ("can", 1), "出来る": ("can", 1), "困難": ("can", -1), "難しい": ("can", -1), "不可能": ("can", -1),
}  # fmt: skip
# 考える / 思う are neutral when affirmative (「〜と考えております」) but a stance when negated.
_NEG_ONLY = {"考える": ("do", 1), "思う": ("do", 1)}
STANCE_WORDS = frozenset(_STANCE) | frozenset(_NEG_ONLY)


def stance(text: str) -> list[tuple[str, int, str]]:
    """Stance words of the sentence as (class, sign, lemma): +1 will do / possible, -1 not."""
    toks = tokens(normalize(text))
    preds = predicates(text)
    counters: dict[str, int] = {}
    out = []
    for t in toks:
        lex = _STANCE.get(t.lemma) or _NEG_ONLY.get(t.lemma)
        if lex is None:
            continue
        k = counters.get(t.lemma, 0)
        counters[t.lemma] = k + 1
        pol = preds.get(t.lemma, [])
        negated = pol[k] if k < len(pol) else False
        if t.lemma in _NEG_ONLY and not negated:
            continue
        out.append((lex[0], -lex[1] if negated else lex[1], t.lemma))
    return out


def _modality_hits(claim: str, evidence: str, polarity: list[RuleHit]) -> list[RuleHit]:
    if polarity:
        return []  # the same flip is already reported as a negation
    cs, es = stance(claim), stance(evidence)
    only_c = [x for x in cs if x not in es]
    only_e = [x for x in es if x not in cs]
    pairs = []
    for cls in {x[0] for x in only_c}:
        last_c = [x for x in cs if x[0] == cls][-1]
        last_e = [x for x in es if x[0] == cls][-1:]
        if last_c in only_c and last_e and last_e[0][1] != last_c[1]:
            pairs.append((last_c, last_e[0]))  # the main stance changed (実施する -> 実施を見送る)
    for x in only_c:  # or a stance word the evidence lacks, against one only the evidence has
        other = next((y for y in only_e if y[0] == x[0] and y[1] != x[1]), None)
        if other is not None:
            pairs.append((x, other))
    if not pairs:
        return []
    word = lambda x: x[2] + ("（否定）" if x[2] in _NEG_ONLY or (x[1] < 0 and _STANCE.get(x[2], ("", 0))[1] > 0) else "")  # noqa: E731
    return [RuleHit("modality", f"方針が異なります: {word(pairs[0][0])} ↔ {word(pairs[0][1])}", 0.75)]


# ----------------------------------------------------------------------------- laws

_ART_RE = re.compile(
    rf"(?P<law>[一-龥ァ-ヶー]{{2,30}}?(?:法律|法|政令|施行令|施行規則|規則|府令|省令|条例))?"
    rf"第(?P<a>[0-9{_KD}十百千]+)条(?:の(?P<s>[0-9{_KD}十百千]+))?(?:第(?P<p>[0-9{_KD}十百千]+)項)?"
)


def articles(text: str) -> list[tuple[str, str, str]]:
    """(law name or "", article id such as 27の2-3, surface) for each 第N条 in ``text``."""
    out = []
    for m in _ART_RE.finditer(normalize(text)):
        n = [parse_number(m.group(g)) if m.group(g) else None for g in ("a", "s", "p")]
        art = f"{n[0]:.0f}" + (f"の{n[1]:.0f}" if n[1] else "") + (f"-{n[2]:.0f}" if n[2] else "")
        out.append((m.group("law") or "", art, m.group(0)))
    return out


def _law_hits(claim: str, evidence: str) -> list[RuleHit]:
    ca, ea = articles(claim), articles(evidence)
    hits = []
    e_arts = {a for _, a, _ in ea}
    for law, art, surface in ca:
        if art in e_arts and (not law or any(el == law or not el for el, a, _ in ea if a == art)):
            continue
        same_law = [x for x in ea if x[0] == law]
        if same_law and art not in e_arts:
            hits.append(RuleHit("law", f"条番号が異なります: {surface} ↔ {same_law[0][2]}", 0.8))
        elif law and art in e_arts:
            other = next(x for x in ea if x[1] == art and x[0] and x[0] != law)
            hits.append(RuleHit("law", f"法令名が異なります: {surface} ↔ {other[2]}", 0.8))
    return hits


# ----------------------------------------------------------------------------- entry points


def extra_terms(claim: str, evidence: str) -> set[str]:
    """Content words of ``claim`` absent from ``evidence`` (stance words aside): what is new in it."""
    return content_terms(claim) - content_terms(evidence) - STANCE_WORDS


def aligned(claim: str, evidence: str, max_extra: float = 0.1) -> bool:
    """True when ``claim`` says nothing beyond ``evidence`` but its figures/stance (same statement)."""
    terms = content_terms(claim)
    return bool(terms) and len(extra_terms(claim, evidence)) <= max_extra * len(terms)


_LAW_NAME = re.compile(r"[一-龥ァ-ヶー]{1,24}?(?:法律|法|施行令|施行規則|府令|省令|条例)")
_NOT_LAW = ("方法", "手法", "憲法上", "用法", "文法", "寸法", "製法", "違法", "合法", "適法", "不法", "立法", "司法")


def law_names(text: str) -> set[str]:
    """Law names written in ``text`` (所得税法, 特定秘密保護法...); 方法 and 違法 are not laws."""
    return {m.group(0) for m in _LAW_NAME.finditer(normalize(text)) if m.group(0) not in _NOT_LAW and len(m.group(0)) >= 3}


def _law_name_hit(claim: str, evidence: str) -> list[RuleHit]:
    """One law name replaced by another, the rest the same statement."""
    cl, el = law_names(claim) - law_names(evidence), law_names(evidence) - law_names(claim)
    if len(cl) != 1 or len(el) != 1:
        return []
    a, b = next(iter(cl)), next(iter(el))
    if a in b or b in a or not aligned(normalize(claim).replace(a, b), evidence):
        return []
    return [RuleHit("law", f"法令名が異なります: {a} ↔ {b}", 0.8)]


def compare(claim: str, evidence: str) -> list[RuleHit]:
    """Rules that find ``claim`` contradicting ``evidence`` (at most one hit per kind).

    Only a claim that states the same thing as the evidence (same content words, see
    :func:`aligned`) is compared: two statements about different things never conflict. A figure
    is compared only when the dates agree, and a date only when the figures agree.
    """
    if not aligned(claim, evidence):
        return _law_name_hit(claim, evidence)
    polarity = _polarity_hits(claim, evidence)
    numbers, dates = _number_hits(claim, evidence), _date_hits(claim, evidence)
    eq = quantities(evidence)
    figures_agree = all(any(q.values & e.values for e in eq if e.unit == q.unit) for q in quantities(claim))
    # Another period with other figures is a different statement, not a changed one.
    numbers, dates = (numbers if not dates else []), (dates if figures_agree else [])
    hits = numbers[:1] + dates[:1] + polarity[:1] + _modality_hits(claim, evidence, polarity) + (_law_hits(claim, evidence) or _law_name_hit(claim, evidence))[:1]
    return hits


RULE_FEATURE_NAMES = ("number", "date", "polarity", "modality", "law", "term_overlap", "neg_count_diff")


def rule_features(premise: str, hypothesis: str) -> list[float]:
    """Fixed-length features of a pair for the NLI classifier (rule scores and overlaps)."""
    hits = compare(hypothesis, premise)
    by_kind = {k: max((h.score for h in hits if h.kind == k), default=0.0) for k in RULE_FEATURE_NAMES[:5]}
    a, b = content_terms(hypothesis), content_terms(premise)
    overlap = len(a & b) / len(a) if a else 0.0
    neg = lambda s: sum(t.lemma in _NEG_AUX or t.lemma == "無い" for t in tokens(normalize(s)))  # noqa: E731
    return [*by_kind.values(), overlap, float(neg(hypothesis) - neg(premise))]
