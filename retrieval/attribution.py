"""Who says what: an extractive answer's quoted sentences attributed where they stand.

A sentence copied from a passage is shown inside 「」 with its speaker: the law and provision
(「行政手続法第五条第一項は、「…」と定めています。」), the Diet speaker, date and meeting, or the
document and heading. The quote itself is never changed (inner 「」 become 『』). The wording is
data: ``prompts/answer_attribution.yaml``.

Also here: the sentences that qualify a chosen one (ただし…, この場合…), which an answer must not
drop, and the e-Gov anchor of a law article, so that a link opens the article, not the whole law.

>>> attribute("行政庁は、審査基準を定めるものとする。", payload, passage, start)
'行政手続法第五条第一項は、「行政庁は、審査基準を定めるものとする。」と定めています。'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from retrieval.text.dates import kanji_to_int, to_wareki as wareki

__all__ = ["attribute", "provision_of", "article_anchor", "qualifier_pattern", "max_qualifiers", "wareki"]

# A paragraph line of an article: 「2 行政庁は…」 (項 2 onwards carry their number).
_PARAGRAPH = re.compile(r"^([0-9０-９]{1,3})[ 　]")
# An item line: 「一 …」「十二 …」 (号), or a sub-item 「イ …」.
_ITEM = re.compile(r"^(?:[一二三四五六七八九十]{1,4}|[イロハニホヘトチリヌルヲ])[ 　]")
_ITEM_NUMBER = re.compile(r"^([一二三四五六七八九十]{1,4})[ 　]")
_ARTICLE_LINE = re.compile(r"^第[一二三四五六七八九十百千]+条")
# A division of a law's main provision, and the e-Gov element id letters for it.
_DIVISION = re.compile(r"^第([一二三四五六七八九十百]+)(編|章|節|款|目)(?:の([一二三四五六七八九十]+))?")
_DIVISION_IDS = {"編": "Pa", "章": "Ch", "節": "Se", "款": "Ss", "目": "Di"}
_KANJI_NUM = "〇一二三四五六七八九"
# A heading's own number: 「第9節 」「（1） 」「2.3. 」「イ 」「一 」.
_HEADING_NUMBER = re.compile(r"^(?:第[0-9０-９一二三四五六七八九十百]+[編章節款目条]|[(（][0-9０-９一二三四五六七八九十]+[)）]"
                             r"|(?:[0-9０-９]+[.．])*[0-9０-９]+[.．]?|[ア-ン]|[一二三四五六七八九十]+)[ 　]+")


@dataclass(frozen=True)
class _Wording:
    templates: dict[str, str]
    government: re.Pattern[str]
    member_suffix: str
    qualifiers: re.Pattern[str]
    max_qualifiers: int


@functools.lru_cache(maxsize=None)
def _wording() -> _Wording:
    import yaml

    from prompts import load_text

    spec = yaml.safe_load(load_text("answer_attribution.yaml"))
    keys = ("law", "law_same_article", "law_no_provision", "law_supplementary", "speech_government", "speech_other", "speech_no_date",
            "faq", "document_section", "document")
    return _Wording(templates={k: spec[k] for k in keys}, government=re.compile(spec["government_roles"]),
                    member_suffix=spec["member_suffix"], qualifiers=re.compile(spec["qualifiers"]),
                    max_qualifiers=int(spec["max_qualifiers"]))


def qualifier_pattern() -> re.Pattern[str]:
    """Sentences that qualify the one before them (ただし書き, 場合分け, exceptions)."""
    return _wording().qualifiers


def max_qualifiers() -> int:
    return _wording().max_qualifiers


def attribute(quote: str, payload: dict[str, Any], passage: str = "", start: int = 0, *,
              previous: tuple[str, str] | None = None) -> str:
    """``quote`` (one or more sentences copied from ``passage`` at ``start``) as one attributed
    sentence. Without enough metadata the quote is named by its document's title. ``previous``:
    the (doc id, provision) of the quote before it, so a second paragraph of the same article
    reads 「同条第二項は」."""
    w = _wording().templates
    quote = strip_paragraph_number(quote).replace("「", "『").replace("」", "』")
    kind = payload.get("doc_type")
    if kind == "law" and (payload.get("law_name") or payload.get("title")):
        law = payload.get("law_name") or payload.get("title")
        if payload.get("supplementary"):
            return w["law_supplementary"].format(law=law, quote=quote)
        provision = provision_of(payload, passage, start)
        article = str(payload.get("article") or "")
        if (previous and provision != article and previous[0] == payload.get("doc_id")
                and previous[1].startswith(article) and previous[1] != provision):
            return w["law_same_article"].format(paragraph=provision[len(article):], quote=quote)
        if provision:
            return w["law"].format(law=law, provision=provision, quote=quote)
        return w["law_no_provision"].format(law=law, quote=quote)
    if kind == "diet_speech" and payload.get("speaker"):
        return _speech(quote, payload)
    title = str(payload.get("title") or payload.get("doc_id") or "資料")
    if kind == "faq":
        return w["faq"].format(title=title, quote=quote)
    section = _last_heading(payload.get("section"))
    if section and section != title and section not in title:
        return w["document_section"].format(title=title, section=section, quote=quote)
    return w["document"].format(title=title, quote=quote)


def _speech(quote: str, payload: dict[str, Any]) -> str:
    wording = _wording()
    position = str(payload.get("speaker_position") or "")
    if position:
        role = f"（{position}）"
    elif payload.get("speaker_group"):
        role = wording.member_suffix
    else:
        role = ""
    meeting = "".join(str(payload[k]) for k in ("house", "meeting") if payload.get(k)) or "国会"
    date = wareki(str(payload.get("date") or ""))
    if not date:
        return wording.templates["speech_no_date"].format(speaker=payload["speaker"], role=role, meeting=meeting, quote=quote)
    key = "speech_government" if position and wording.government.search(position) else "speech_other"
    return wording.templates[key].format(speaker=payload["speaker"], role=role, date=date, meeting=meeting, quote=quote)


def strip_paragraph_number(text: str) -> str:
    """「2 行政庁は…」 / 「六 審査基準…」 -> the text: a law line's 項 or 号 number is not part of the quote."""
    return _ITEM_NUMBER.sub("", _PARAGRAPH.sub("", text, count=1), count=1)


def provision_of(payload: dict[str, Any], passage: str, start: int) -> str:
    """「第五条第二項」 for a sentence at ``start`` of a law passage; the article alone when the
    paragraph cannot be told (the passage begins inside it) or the article has one paragraph."""
    article = payload.get("article")
    if not article:
        return ""
    lines = passage[:start].split("\n")
    current = passage[start:].split("\n", 1)[0]
    paragraph: int | None = None
    for line in [lines[-1] + current, *reversed(lines[:-1])]:
        m = _PARAGRAPH.match(line)
        if m:
            paragraph = int(m.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789")))
            break
        if _ARTICLE_LINE.match(line):
            paragraph = 1
            break
        if _ITEM.match(line):
            continue  # an item belongs to the paragraph above it
    several = any(_PARAGRAPH.match(line) for line in passage.split("\n"))
    line = lines[-1] + current
    item = _ITEM_NUMBER.match(line)
    number = f"第{item.group(1)}号" if item else ""
    if paragraph is None or (paragraph == 1 and not several):
        return f"{article}{number}" if paragraph is not None or not number else ""
    return f"{article}第{_kanji(paragraph)}項{number}"


def article_anchor(payload: dict[str, Any]) -> str | None:
    """The e-Gov element id of a main-provision article (``Mp-Ch_2-At_5``), from the section path
    and ``article_num``; None for 附則, appendices and documents that are not laws."""
    num = payload.get("article_num")
    if payload.get("doc_type") != "law" or not num or payload.get("supplementary"):
        return None
    parts = ["Mp"]
    for heading in str(payload.get("section") or "").split(" > ")[:-1]:
        m = _DIVISION.match(heading.strip())
        if not m:
            continue
        number = kanji_to_int(m.group(1))
        if number is None:
            return None
        sub = f"_{kanji_to_int(m.group(3))}" if m.group(3) else ""
        parts.append(f"{_DIVISION_IDS[m.group(2)]}_{number}{sub}")
    parts.append(f"At_{num}")
    return "-".join(parts)


def _last_heading(section: Any) -> str:
    """The last level of a heading path, without its leading number (「（1） 郵政事業の…」)."""
    if not section:
        return ""
    last = str(section).split(" > ")[-1].strip()
    return _HEADING_NUMBER.sub("", last).strip() or last


def _kanji(n: int) -> str:
    """1..99 in kanji, as law provisions are written (第十二項)."""
    if n < 10:
        return _KANJI_NUM[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _KANJI_NUM[tens]) + "十" + (_KANJI_NUM[ones] if ones else "")
