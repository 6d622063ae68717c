"""Morphemes with character offsets into the original text, for the 公用文 checker.

The text is tagged as it is (no normalization: width and punctuation are what the rules look
at), line by line, through the project's one fugashi tagger (:func:`retrieval.text.sparse.raw_morphemes`).

>>> [m.surface for m in tag("その時は")]
['その', '時', 'は']
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.text.sparse import raw_morphemes

__all__ = ["Morph", "tag", "hiragana"]

_KATA_TO_HIRA = {c: c - 0x60 for c in range(ord("ァ"), ord("ヶ") + 1)}


def hiragana(text: str) -> str:
    """Katakana in ``text`` turned into hiragana (ー and other characters kept)."""
    return text.translate(_KATA_TO_HIRA)


@dataclass(frozen=True)
class Morph:
    """One morpheme: its surface, where it sits in the text, and the UniDic fields rules use."""

    surface: str
    start: int
    end: int
    pos: str  # "pos1,pos2,pos3,pos4"
    cform: str  # conjugation form ("連体形-一般"), "" for words that do not conjugate
    lemma: str
    kana: str  # reading of this surface form, katakana ("" when unknown)

    @property
    def pos1(self) -> str:
        return self.pos.split(",", 1)[0]


def _field(fields: list[str], i: int) -> str:
    value = fields[i] if len(fields) > i else ""
    return "" if value == "*" else value


def tag(text: str) -> list[Morph]:
    """Morphemes of ``text`` with offsets (whitespace, which MeCab drops, is skipped)."""
    out: list[Morph] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            cursor = 0
            for surface, fields in raw_morphemes(line):
                at = line.find(surface, cursor)
                if at < 0:  # never expected (MeCab returns slices of its input); keep order anyway
                    at = cursor
                cursor = at + len(surface)
                out.append(Morph(surface=surface, start=offset + at, end=offset + cursor,
                                 pos=",".join(_field(fields, i) or "*" for i in range(4)),
                                 cform=_field(fields, 5), lemma=_field(fields, 7) or surface,
                                 kana=_field(fields, 17)))
        offset += len(line) + 1
    return out
