"""Sparse (lexical) vectors for Japanese text from fugashi/UniDic lemmas, for BM25-like search.

Terms are content-word lemmas (nouns, verbs, adjectives, adverbs; no particles, auxiliaries,
symbols or stop words) plus compounds built from runs of nouns/prefixes/suffixes
(マイ+ナンバー+カード -> マイナンバーカード, with the adjacent pairs マイナンバー / ナンバーカード).
Numerals are folded to arabic digits (第五条 -> 第5条) so kanji and digit spellings meet. The
index applies IDF; documents carry a saturated term frequency, queries weight 1 per term.

>>> enc = SparseEncoder()
>>> "法人税率" in enc.terms("法人税率の引下げについて伺います")
True
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import Counter, OrderedDict
from typing import Any, Literal, NamedTuple

from retrieval.errors import ConfigError
from retrieval.text.dates import kanji_to_int
from retrieval.text.normalize import normalize
from retrieval.types import SparseVector

__all__ = ["SparseEncoder", "DEFAULT_STOP_LEMMAS", "term_id", "morphemes", "raw_morphemes"]

Weighting = Literal["bm25", "log", "raw"]

# Lemmas (UniDic lemma forms) that carry no topic: light verbs, formal nouns, the parts of
# compound particles (について = に+つく+て, により = に+因る), and the courtesy verbs of Diet speech.
DEFAULT_STOP_LEMMAS: frozenset[str] = frozenset(
    """
    為る 有る 居る 成る 出来る 来る 行く 仕舞う 頂く 下さる 呉れる 貰う 遣る 置く 見る 給う
    御座る 致す 申す 申し上げる 存ずる 参る 伺う 思う 言う 云う
    つく 付く 対する 関する 因る 依る 於く 係る 伴う 基づく 通ずる 亘る 渡る 当たる 従う 向ける
    事 物 為 様 所 等 時 方 中 上 下 内 際 訳 筈 旨 点 件 毎 的 達 他 外 後 前 次 以上 以下 場合
    其れ 此れ 彼れ 何 何れ 此の 其の
    又 更に 特に 既に 尚 先ず 是非 実際 今 今回 本日 一方 若しくは 及び 並びに 且つ 或いは
    """.split()
)

# UniDic pos1 values that can carry content.
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "副詞"}
_COMPOUND_POS = {"名詞", "接頭辞", "接尾辞"}
# Pronouns, auxiliary stems (よう/そう) and verb/adjective-making suffixes (がる/っぽい) break runs.
_NOT_IN_COMPOUND = {"代名詞", "助動詞語幹", "動詞的", "形容詞的"}

_tagger_lock = threading.Lock()
_tagger: Any = None
_tagger_pid: int | None = None


def _get_tagger() -> Any:
    """The process-wide fugashi Tagger, created on first use (and again after a fork)."""
    global _tagger, _tagger_pid
    if _tagger is None or _tagger_pid != os.getpid():
        import fugashi  # heavy import kept out of module import time

        _tagger = fugashi.Tagger()
        _tagger_pid = os.getpid()
    return _tagger


def term_id(term: str) -> int:
    """Stable unsigned 32-bit id of a term (blake2b, same in every process and Python run)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


class _Tok(NamedTuple):
    """One morpheme reduced to what term building needs."""

    term: str  # lemma (digits for numerals), ASCII lowercased
    pos1: str
    pos2: str
    pos3: str


# Texts whose terms are kept (passages and sentences that answers and support checks revisit).
TERMS_CACHE_SIZE = 4096

_END = _Tok("", "", "", "")
_SPACE = (" ", " ", "空白", "", "")


def _is_suffix_unit(run: list[_Tok], units: list[tuple[str, bool]], k: int) -> bool:
    """True if unit ``k`` is the run's leading suffix (a run can start with one after a break)."""
    return k == 0 and run[0].pos1 == "接尾辞"


def raw_morphemes(text: str) -> list[tuple[str, list[str]]]:
    """(surface, UniDic CSV fields) per morpheme of ``text`` as MeCab sees it (no normalization),
    through the same process-wide tagger; for checks that need conjugation forms and readings
    (field 5 cForm, field 17 kana). Whitespace is dropped, as MeCab drops it."""
    with _tagger_lock:  # a MeCab tagger is not thread-safe
        return [(word.surface, word.feature_raw.split(",", 18)[:18]) for word in _get_tagger()(text)]


def morphemes(text: str) -> list[tuple[str, str, str, str, str]]:
    """(surface, lemma, pos1, pos2, pos3) per morpheme. Reads the raw UniDic CSV (lemma is
    field 7; unknown words have 6 fields and use their surface): much faster than ``.feature``."""
    out = []
    with _tagger_lock:  # a MeCab tagger is not thread-safe
        for word in _get_tagger()(text):
            if word.white_space:
                out.append(_SPACE)  # MeCab drops spaces; a space still ends a compound
            surface = word.surface
            fields = word.feature_raw.split(",", 8)
            lemma = fields[7] if len(fields) > 7 and fields[7] not in ("", "*") else surface
            if fields[1] == "固有名詞":
                lemma = surface  # UniDic lemmas of names are readings (柘植 -> ツゲ, トヨタ -> 豊田)
            if "-" in lemma and not lemma.isascii():
                # "カード-card", "円-助数詞": UniDic appends a gloss or sense tag after a hyphen.
                lemma = lemma.partition("-")[0] or lemma
            if lemma.isascii():
                lemma = lemma.lower()
            out.append((surface, lemma, fields[0], fields[1], fields[2]))
    return out


class SparseEncoder:
    """Japanese text -> SparseVector of lemma/compound terms (the index applies IDF).

    Knobs (all constructor parameters, for tuning on dev sets): ``compounds`` (add whole noun
    runs), ``compound_pairs`` (add adjacent pairs inside runs), ``stop_lemmas``, ``weighting``
    ("bm25": tf*(k1+1)/(tf+k1*(1-b+b*len/avglen)); "log": 1+log(tf); "raw": tf), ``k1``, ``b``,
    ``avglen`` (terms per chunk), ``keep_numbers`` (standalone numerals of 4+ digits as terms).

    >>> SparseEncoder().encode_query("マイナンバーカード").values
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(
        self,
        *,
        compounds: bool = True,
        compound_pairs: bool = True,
        stop_lemmas: frozenset[str] | set[str] | None = None,
        weighting: Weighting = "bm25",
        k1: float = 1.2,
        b: float = 0.75,
        avglen: float = 120.0,
        keep_numbers: bool = True,
        max_run: int = 8,
    ) -> None:
        if weighting not in ("bm25", "log", "raw"):
            raise ConfigError(f"疎ベクトルの重み付け方式 {weighting!r} は不明です。'bm25'、'log'、'raw' のいずれかを指定してください。")
        if avglen <= 0 or k1 < 0 or not 0 <= b <= 1:
            raise ConfigError(f"BM25のパラメータが不正です(avglen={avglen}, k1={k1}, b={b})。avglen>0、k1>=0、0<=b<=1 にしてください。")
        self.compounds = compounds
        self.compound_pairs = compound_pairs
        self.stop_lemmas = frozenset(DEFAULT_STOP_LEMMAS if stop_lemmas is None else stop_lemmas)
        self.weighting = weighting
        self.k1, self.b, self.avglen = k1, b, avglen
        self.keep_numbers = keep_numbers
        self.max_run = max_run
        self._terms_cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._cache_lock = threading.Lock()  # one encoder serves every UI session's thread

    # -- tokenization -------------------------------------------------------------------------

    def _tokens(self, text: str) -> list[_Tok]:
        """Morphemes of normalized ``text``; consecutive numerals merged and folded to digits."""
        text = normalize(text)
        if not text:
            return []
        words = morphemes(text)
        return self._merge_numbers(words)

    @staticmethod
    def _merge_numbers(words: list[tuple[str, str, str, str, str]]) -> list[_Tok]:
        """Merge numeral runs (十+一, 1+,+000) into one token whose term is arabic digits."""
        toks: list[_Tok] = []
        num_run: list[str] = []

        def flush() -> None:
            if num_run:
                raw = "".join(num_run)
                value = kanji_to_int(raw.replace(",", ""))
                toks.append(_Tok(str(value) if value is not None else raw, "名詞", "数詞", ""))
                num_run.clear()

        for i, (surface, lemma, pos1, pos2, pos3) in enumerate(words):
            if pos2 == "数詞":
                num_run.append(surface)
                continue
            if (surface == "," and num_run and i + 1 < len(words) and words[i + 1][3] == "数詞"):
                continue  # thousands separator inside 1,000
            flush()
            toks.append(_Tok(lemma, pos1, pos2, pos3))
        flush()
        return toks

    def _is_content(self, tok: _Tok) -> bool:
        if tok.pos1 not in _CONTENT_POS or tok.pos2 in ("数詞", "代名詞", "助動詞語幹"):
            return False
        if len(tok.term) == 1 and tok.term.isascii():
            return False  # stray letters (the G of 5G) say nothing on their own
        return tok.term not in self.stop_lemmas

    def terms(self, text: str) -> list[str]:
        """Terms of ``text`` in order of appearance (with repeats): lemmas, then compounds per run.

        Answers and support checks ask again and again for the terms of the same passages and
        sentences: recent results are kept (bounded; a copy is returned, callers may mutate it).
        """
        with self._cache_lock:
            cached = self._terms_cache.get(text)
            if cached is not None:
                self._terms_cache.move_to_end(text)
                return list(cached)
        terms = self._terms(text)
        with self._cache_lock:
            self._terms_cache[text] = tuple(terms)
            if len(self._terms_cache) > TERMS_CACHE_SIZE:
                self._terms_cache.popitem(last=False)
        return terms

    def _terms(self, text: str) -> list[str]:
        toks = self._tokens(text)
        out: list[str] = []
        run: list[_Tok] = []
        for tok in toks + [_END]:
            if tok.pos1 in _COMPOUND_POS and tok.pos2 not in _NOT_IN_COMPOUND:
                run.append(tok)
                continue
            if run:
                out.extend(self._run_terms(run))
                run = []
            if tok.pos1 and self._is_content(tok):
                out.append(tok.term)
        return out

    def _units(self, run: list[_Tok]) -> list[tuple[str, bool]]:
        """Group a run into (term, is_plain_noun) units: prefixes and a counter stick to a numeral
        (第+5+条 -> 第5条, 6+年 -> 6年), so dates and article numbers stay one unit."""
        units: list[tuple[str, bool]] = []
        prefix = ""
        i = 0
        while i < len(run):
            tok = run[i]
            if tok.pos1 == "接頭辞":
                if i + 1 < len(run) and run[i + 1].pos2 == "数詞":
                    prefix += tok.term
                else:
                    units.append((tok.term, False))
                i += 1
                continue
            if tok.pos2 == "数詞":
                term = prefix + tok.term
                if i + 1 < len(run) and (run[i + 1].pos3 == "助数詞可能" or run[i + 1].pos2 == "助数詞"
                                         or (run[i + 1].pos1 == "接尾辞" and run[i + 1].pos3 == "助数詞")):
                    term += run[i + 1].term
                    i += 1
                units.append((term, False))
            else:
                # A lone counter (年, 月, 条 without its number) is no topic on its own.
                counter = len(tok.term) == 1 and tok.pos3 == "助数詞可能"
                units.append((tok.term, tok.pos1 == "名詞" and not counter))
            prefix = ""
            i += 1
        return units

    def _run_terms(self, run: list[_Tok]) -> list[str]:
        """Terms of a run of nouns/prefixes/suffixes: content nouns, numbered units, adjacent
        pairs and the whole compound."""
        units = self._units(run)
        out: list[str] = []
        for term, plain in units:
            if plain:
                if term not in self.stop_lemmas and not (len(term) == 1 and term.isascii()):
                    out.append(term)
            elif term.isdigit():
                if self.keep_numbers and len(term) >= 4:
                    out.append(term)  # years and other long numbers are searchable
            elif any(ch.isdigit() for ch in term):
                out.append(term)  # 第5条, 6年, 5g
        # Leading stop words/suffixes/御 and trailing stop words (等, 事...) are not in compounds.
        start, end = 0, len(units)
        while start < end and (units[start][0] in self.stop_lemmas or units[start][0] == "御"
                               or _is_suffix_unit(run, units, start)):
            start += 1
        while end > start and units[end - 1][0] in self.stop_lemmas:
            end -= 1
        parts = [u[0] for u in units[start:end]]
        if len(parts) < 2:
            return out
        if self.compound_pairs and len(parts) > 2:
            out.extend(a + b for a, b in zip(parts, parts[1:]))
        if self.compounds and len(parts) <= self.max_run:
            out.append("".join(parts))
        return out

    # -- vectors ----------------------------------------------------------------------------------

    def _weight(self, tf: int, length: int) -> float:
        if self.weighting == "raw":
            return float(tf)
        if self.weighting == "log":
            return 1.0 + math.log(tf)
        norm = self.k1 * (1.0 - self.b + self.b * length / self.avglen)
        return tf * (self.k1 + 1.0) / (tf + norm)

    def encode(self, text: str) -> SparseVector:
        """Document vector: saturated term frequency per term id (sorted by id)."""
        terms = self._terms(text)  # ingestion: each chunk once, not worth caching
        counts = Counter(terms)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            tid = term_id(term)
            weights[tid] = weights.get(tid, 0.0) + self._weight(tf, len(terms))
        return _to_vector(weights)

    def encode_query(self, text: str) -> SparseVector:
        """Query vector: weight 1 for each distinct term (IDF comes from the index)."""
        return _to_vector({term_id(t): 1.0 for t in set(self.terms(text))})

    def encode_many(self, texts: list[str]) -> list[SparseVector]:
        """Document vectors for several texts."""
        return [self.encode(t) for t in texts]


def _to_vector(weights: dict[int, float]) -> SparseVector:
    ids = sorted(weights)
    return SparseVector(indices=ids, values=[round(weights[i], 6) for i in ids])
