"""Read e-Gov laws (standard law XML, and the HTML pages of laws.e-gov.go.jp) into one Document.

One Section per article (第N条, 第N条の二 ...). Its text is the article title and caption on the
first line, then one line per paragraph (項, numbered ２, ３ ...), item (号: 一, 二 ...) and sub-item
(イ, ロ ...), table rows cells joined by 「　」::

    第一条（目的等）
    この法律は、…目的とする。
    ２　処分、行政指導及び…

The heading is the structural path, e.g. 「第三章 不利益処分 > 第二節 聴聞 > 第十五条」.
Section.meta: article (第十五条), article_num ("15", "36_3"), article_caption, chapter, and
supplementary (bool). Deleted articles (本文が「削除」) are skipped.

附則 (supplementary provisions) are kept as sections marked ``supplementary=True`` (heading
「附則 > 第一条」, or 「附則（平成一一年一二月八日法律第一五一号） > 第一条」 for an amending law's
provisions) so retrieval can filter or down-weight them; pass ``include_supplementary=False`` to
drop them. 別表 (appendix tables) become sections marked ``appendix=True``.

The document id is ``law:<law id>``; the law id and the version come from the e-Gov file name
``<law id>_<yyyymmdd>_<amending law id>`` (e.g. 405AC0000000088_20240401_504AC0100000052).
``Document.date`` is that version date (the text as in force from that day, 20240401 ->
2024-04-01), else the promulgation date; both are in the metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Union

from ingest.document import Document, Section
from ingest.readers.file_common import read_bytes
from retrieval.errors import ReaderError

EGOV_LAW_URL = "https://laws.e-gov.go.jp/law/{law_id}"

_FILENAME_RE = re.compile(r"^(?P<law_id>\d{3}[0-9A-Z]{12})(?:_(?P<date>\d{8})_(?P<amend>[0-9A-Z]{15}))?")
# Structural divisions of the main provision, outermost first.
_DIVISIONS = ("Part", "Chapter", "Section", "Subsection", "Division")
_ERA_START = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
_ERA_ATTR = {"Meiji": "明治", "Taisho": "大正", "Showa": "昭和", "Heisei": "平成", "Reiwa": "令和"}
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_DELETED = "削除"


# ---------------------------------------------------------------- sniffers


def looks_like_egov_xml(head: bytes) -> bool:
    """True when the first bytes look like e-Gov standard law XML (a ``<Law>`` element)."""
    return re.search(rb"<Law[\s>]", head) is not None and (
        b"<LawNum" in head or b"<LawBody" in head or b"LawType=" in head
    )


def looks_like_egov_html(head: bytes) -> bool:
    """True when the first bytes look like a law page of laws.e-gov.go.jp.

    The page opens with ~27 KB of CSS, so the body markers (``lawTitleNo``, ``MainProvision``)
    are found only in a large head; within the first 8 KB the viewer's own CSS ids are used.
    """
    strong = (b'id="lawTitleNo"', b'class="active MainProvision"', b"_div_ArticleTitle")
    if any(marker in head for marker in strong):
        return True
    viewer_css = (b"#pNavi", b"#tocCheckbox", b"#outlineList")
    return b"<title>" in head and all(marker in head for marker in viewer_css)


# ---------------------------------------------------------------- Japanese numbers and dates


def kanji_to_int(text: str) -> int:
    """「三十六」 -> 36, 「千三百五」 -> 1305, 「一〇二」 -> 102; ValueError for anything else."""
    text = text.strip()
    if not text:
        raise ValueError("empty number")
    if text.isdigit():
        return int(text)
    if all(ch in _KANJI_DIGITS for ch in text):  # positional form (一〇二)
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _KANJI_DIGITS:
            digit = _KANJI_DIGITS[ch]
        elif ch in _KANJI_UNITS:
            total += (1 if digit is None else digit) * _KANJI_UNITS[ch]
            digit = None
        else:
            raise ValueError(f"not a kanji number: {text}")
    return total + (digit or 0)


def article_num_from_title(title: str) -> str | None:
    """「第三十六条の三」 -> "36_3", 「第二十七条の二十二の二」 -> "27_22_2"; None if not an article."""
    match = re.fullmatch(r"第([〇零一二三四五六七八九十百千\d]+)条((?:の[〇零一二三四五六七八九十百千\d]+)*)", title.strip())
    if not match:
        return None
    parts = [str(kanji_to_int(match.group(1)))]
    parts += [str(kanji_to_int(p)) for p in match.group(2).split("の") if p]
    return "_".join(parts)


def wareki_to_iso(text: str) -> str | None:
    """The first Japanese-era date in ``text`` as ISO: 「令和6年8月1日現在」 -> "2024-08-01".

    Accepts Arabic, full-width and kanji numerals and 元年; None when there is no such date.
    """
    import unicodedata

    norm = unicodedata.normalize("NFKC", text)
    num = r"[0-9〇零一二三四五六七八九十百千]+|元"
    match = re.search(rf"(明治|大正|昭和|平成|令和)({num})年({num})月({num})日", norm)
    if not match:
        return None
    try:
        year = 1 if match.group(2) == "元" else kanji_to_int(match.group(2))
        month, day = kanji_to_int(match.group(3)), kanji_to_int(match.group(4))
    except ValueError:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{_ERA_START[match.group(1)] + year - 1:04d}-{month:02d}-{day:02d}"


def _ids_from_filename(path: Path) -> dict[str, Any]:
    match = _FILENAME_RE.match(path.stem)
    if not match:
        return {"law_id": None, "version": None, "version_date": None, "amend_law_id": None}
    date = match.group("date")
    return {
        "law_id": match.group("law_id"),
        "version": path.stem[: match.end()] if date else None,
        "version_date": f"{date[:4]}-{date[4:6]}-{date[6:]}" if date else None,
        "amend_law_id": match.group("amend"),
    }


def _clean_title(text: str) -> str:
    return re.sub(r"[\s　]+", " ", text).strip()


# ---------------------------------------------------------------- format-neutral structure


@dataclass
class _Article:
    title: str  # 第三十六条の三
    caption: str  # （目的等） or ""
    lines: list[str]  # paragraphs, items, table rows
    num: str | None  # "36_3"


# What both parsers emit, in document order: a division heading (level, title), an article, or
# the lines of paragraphs that stand outside any article (附則 １, ２ ... or article-less laws).
_Node = Union[tuple[int, str], _Article, list[str]]


def _sections(nodes: Iterable[_Node], *, base: list[str], supplementary: bool, extra: dict[str, Any]) -> list[Section]:
    """Sections from parser nodes; ``base`` prefixes every heading (["附則（…）"] for 附則)."""
    titles: list[str | None] = [None] * len(_DIVISIONS)
    out: list[Section] = []
    loose: list[str] = []
    for node in nodes:
        if isinstance(node, tuple):
            level, title = node
            titles[level:] = [title] + [None] * (len(_DIVISIONS) - level - 1)
        elif isinstance(node, _Article):
            lines = [line for line in node.lines if line.strip()]
            if not lines or "".join(lines).strip() == _DELETED:
                continue  # 「第三条　削除」: nothing to retrieve
            meta = {"article": node.title, "article_num": node.num, "article_caption": node.caption or None,
                    "chapter": titles[1], "supplementary": supplementary, **extra}
            path = [*base, *(t for t in titles if t), node.title]
            out.append(Section(text="\n".join([f"{node.title}{node.caption}", *lines]),
                               heading=" > ".join(path), meta=meta))
        else:
            loose.extend(line for line in node if line.strip())
    if loose:
        meta = {"article": None, "article_num": None, "article_caption": None, "chapter": None,
                "supplementary": supplementary, **extra}
        heading = " > ".join([*base, *(t for t in titles if t)]) or "本則"
        out.insert(0 if supplementary else len(out), Section(text="\n".join(loose), heading=heading, meta=meta))
    return out


def _appendix_section(title: str, lines: list[str]) -> Section:
    meta = {"article": None, "article_num": None, "article_caption": None, "chapter": None,
            "supplementary": False, "appendix": True}
    return Section(text="\n".join([title, *(line for line in lines if line.strip())]), heading=title, meta=meta)


def _suppl_heading(amend: str | None) -> str:
    return f"附則（{amend}）" if amend else "附則"


def _document(path: Path, sections: list[Section], *, law_name: str, law_number: str | None,
              promulgation_date: str | None, extra: dict[str, Any]) -> Document:
    if not any(not s.meta["supplementary"] and not s.meta.get("appendix") for s in sections):
        raise ReaderError(path, "法令の本則（条文）が見つかりません。e-Gov の法令ファイルか確認してください")
    ids = _ids_from_filename(path)
    law_id = ids["law_id"]
    return Document(
        doc_id=f"law:{law_id or path.stem}",
        title=law_name,
        doc_type="law",
        sections=sections,
        date=ids["version_date"] or promulgation_date,
        source_url=EGOV_LAW_URL.format(law_id=law_id) if law_id else None,
        source_path=str(path),
        metadata={"law_name": law_name, "law_number": law_number, **ids,
                  "promulgation_date": promulgation_date, **extra},
    )


# ---------------------------------------------------------------- XML


def read_egov_xml(path: str | Path, *, include_supplementary: bool = True) -> Document:
    """Read an e-Gov standard law XML file (法令標準XML, also inside an API v2 reply) into a Document.

    Example: ``read_egov_xml("405AC0000000088_20240401_504AC0100000052.xml").title == "行政手続法"``.
    """
    from lxml import etree

    path = Path(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        root = etree.fromstring(read_bytes(path), parser)
    except etree.XMLSyntaxError as exc:
        raise ReaderError(path, f"XMLとして読めません（{exc}）。ファイルが途中で切れていないか確認してください") from exc
    law = root if root.tag == "Law" else root.find(".//Law")
    if law is None:
        raise ReaderError(path, "e-Gov法令XMLではありません（<Law> 要素がありません）")
    body = law.find("LawBody")
    if body is None:
        raise ReaderError(path, "e-Gov法令XMLに <LawBody>（法令本体）がありません")
    title_el = body.find("LawTitle")
    law_name = _clean_title(_xml_text(title_el))
    if not law_name:
        raise ReaderError(path, "e-Gov法令XMLに法令名（<LawTitle>）がありません")

    main = body.find("MainProvision")
    sections = _sections(_xml_nodes(main) if main is not None else [], base=[], supplementary=False, extra={})
    for child in body:
        if child.tag == "SupplProvision" and include_supplementary:
            amend = child.get("AmendLawNum")
            sections += _sections(_xml_nodes(child), base=[_suppl_heading(amend)], supplementary=True,
                                  extra={"amend_law_num": amend})
        elif isinstance(child.tag, str) and child.tag.startswith("Appdx"):
            sections.append(_xml_appendix(child))
    extra = {
        "law_type": law.get("LawType"),
        "law_name_kana": title_el.get("Kana"),
        "law_abbrev": title_el.get("Abbrev"),
    }
    return _document(path, sections, law_name=law_name, law_number=_clean_title(_xml_text(law.find("LawNum"))) or None,
                     promulgation_date=_xml_promulgation(law), extra=extra)


def _xml_promulgation(law: Any) -> str | None:
    era = _ERA_ATTR.get(law.get("Era") or "")
    try:
        year, month, day = (int(law.get(k) or "") for k in ("Year", "PromulgateMonth", "PromulgateDay"))
    except ValueError:
        return None
    return f"{_ERA_START[era] + year - 1:04d}-{month:02d}-{day:02d}" if era else None


def _xml_text(el: Any) -> str:
    """Text of an element without ruby readings (<Rt>); "" for None."""
    if el is None:
        return ""
    parts = [el.text or ""]
    for child in el:
        if child.tag != "Rt":
            parts.append(_xml_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _xml_nodes(el: Any) -> Iterator[_Node]:
    """Divisions, articles and loose paragraphs under a MainProvision / SupplProvision."""
    for child in el:
        tag = child.tag
        if tag in _DIVISIONS:
            title = _clean_title(_xml_text(child.find(f"{tag}Title")))
            if title:
                yield _DIVISIONS.index(tag), title
            yield from _xml_nodes(child)
        elif tag == "Article":
            title = _clean_title(_xml_text(child.find("ArticleTitle")))
            lines = [line for part in child if part.tag not in ("ArticleTitle", "ArticleCaption")
                     for line in _xml_lines(part)]
            yield _Article(title, _xml_text(child.find("ArticleCaption")).strip(), lines,
                           child.get("Num") or article_num_from_title(title))
        elif tag == "Paragraph":
            yield _xml_lines(child)


def _xml_lines(el: Any) -> list[str]:
    """Lines of a Paragraph / Item / SubitemN (caption, 「num　sentence」, nested) or a table/list."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "TableStruct":
        rows = el.iter("TableRow", "TableHeaderRow")
        cells = (["".join(_xml_text(c).split()) for c in row if isinstance(c.tag, str)] for row in rows)
        return ["　".join(row) for row in cells if any(row)]
    if tag in ("FigStruct", "Fig", ""):
        return []
    if tag not in ("Paragraph", "Item") and not re.fullmatch(r"Subitem\d+", tag):
        text = re.sub(r"\s*\n\s*", "", _xml_text(el)).strip()  # List, AmendProvision, Remarks ...
        return [text] if text else []
    lines: list[str] = []
    num, sentence, nested = "", "", []
    for child in el:
        ctag = child.tag if isinstance(child.tag, str) else ""
        if ctag.endswith("Caption"):
            lines.append(_xml_text(child).strip())
        elif ctag == "ParagraphNum" or ctag.endswith("Title"):
            num = _xml_text(child).strip()
        elif ctag.endswith("Sentence"):
            columns = child.findall("Column")  # 「法令　法律、…」: term and definition
            sentence = "　".join(_xml_text(c).strip() for c in columns) if columns else _xml_text(child).strip()
        elif ctag:
            nested.append(child)
    head = f"{num}　{sentence}" if num and sentence else (num or sentence)
    return [*lines, *([head] if head else []), *(line for child in nested for line in _xml_lines(child))]


def _xml_appendix(el: Any) -> Section:
    title_el = next((c for c in el if isinstance(c.tag, str) and c.tag.endswith("Title")), None)
    related = el.find("RelatedArticleNum")
    title = (_clean_title(_xml_text(title_el)) or el.tag) + _xml_text(related).strip()
    lines = [line for child in el if child is not title_el and child is not related for line in _xml_lines(child)]
    return _appendix_section(title, lines)


# ---------------------------------------------------------------- HTML


def read_egov_html(path: str | Path, *, include_supplementary: bool = True) -> Document:
    """Read a law page saved from laws.e-gov.go.jp (HTML) into a Document, like read_egov_xml."""
    import lxml.html

    path = Path(path)
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReaderError(path, f"UTF-8として読めません（{exc.start}バイト目）") from exc
    if "</html>" not in text[-2000:].lower():
        raise ReaderError(path, "HTMLが途中で切れています（</html> がありません）。ファイルを保存し直してください")
    try:
        root = lxml.html.document_fromstring(text)
    except Exception as exc:  # lxml raises several types (ParserError, ValueError) for garbage
        raise ReaderError(path, f"HTMLとして読めません（{exc}）") from exc
    main = root.xpath('//section[contains(concat(" ", @class, " "), " MainProvision ")]')
    if not main:
        raise ReaderError(path, "e-Gov法令ページではありません（本則 MainProvision が見つかりません）")
    name_el, num_el = root.xpath('//*[@id="lawTitle"]'), root.xpath('//*[@id="lawTitleNo"]')
    law_name = _clean_title(_html_text(name_el[0]) if name_el else root.findtext(".//title") or "")
    if not law_name:
        raise ReaderError(path, "e-Gov法令ページに法令名がありません")

    sections = _sections(_html_nodes(main[0]), base=[], supplementary=False, extra={})
    for sec in main[0].getparent():
        classes = _html_classes(sec)
        if "SupplProvision" in classes and include_supplementary:
            label = sec.xpath('./div[contains(concat(" ", @class, " "), " SupplProvisionLabel ")]')
            match = re.search(r"（([^）]*)）", _html_text(label[0]) if label else "")
            amend = match.group(1) if match else None
            sections += _sections(_html_nodes(sec), base=[_suppl_heading(amend)], supplementary=True,
                                  extra={"amend_law_num": amend})
        elif any(c.startswith("Appdx") for c in classes):
            title_div = sec.xpath('./div[contains(@class, "Title")]')
            title = _clean_title(_html_text(title_div[0])) if title_div else "別表"
            lines = [line for child in sec if not title_div or child is not title_div[0] for line in _html_lines(child)]
            sections.append(_appendix_section(title, lines))
    law_number = _clean_title(_html_text(num_el[0])) if num_el else ""
    return _document(path, sections, law_name=law_name, law_number=law_number or None, promulgation_date=None,
                     extra={"law_type": None, "law_name_kana": None, "law_abbrev": None})


def _html_classes(el: Any) -> list[str]:
    return (el.get("class") or "").split() if isinstance(el.tag, str) else []


def _html_text(el: Any) -> str:
    """Visible law text of an element: skips the viewer's boxes (_shokanBox, _inyoBox) and <rt>."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag != "rt" and not {"_shokanBox", "_inyoBox"} & set(_html_classes(child)):
            parts.append(_html_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _html_lines(el: Any) -> list[str]:
    """Lines of one element inside an article: a sentence/item div, a table, or a nested section."""
    if not isinstance(el.tag, str):
        return []
    if el.tag == "section":
        return [line for child in el for line in _html_lines(child)]
    tables = list(el.iter("table"))
    if tables:
        rows = (["".join(_html_text(c).split()) for c in tr if c.tag in ("td", "th")] for t in tables for tr in t.iter("tr"))
        return ["　".join(row) for row in rows if any(row)]
    text = re.sub(r"\s*\n\s*", "", _html_text(el)).strip()
    return [text] if text else []


def _html_article(sec: Any) -> _Article | None:
    caption, title, lines = "", "", []
    for child in sec:
        classes = _html_classes(child)
        if "_div_ArticleCaption" in classes:
            caption = "".join(_html_text(child).split())
        elif "_div_ArticleTitle" in classes and not title:
            # 「<span>第二条</span>　<span>本文…</span>」: the title, then the first paragraph
            bold = child.find("span")
            full = re.sub(r"\s*\n\s*", "", _html_text(child)).strip()
            title = _clean_title(_html_text(bold)) if bold is not None else full.split("　", 1)[0]
            lines.append(full[len(title):].lstrip("　 ") if full.startswith(title) else full)
        else:
            lines.extend(_html_lines(child))
    return _Article(title, caption, lines, article_num_from_title(title)) if title else None


def _html_nodes(container: Any) -> Iterator[_Node]:
    """Divisions, articles and loose paragraphs of a page, where headings are sibling sections."""
    for sec in container:
        if sec.tag != "section":
            continue
        classes = _html_classes(sec)
        if "Article" in classes:
            article = _html_article(sec)
            if article is not None:
                yield article
        elif "Paragraph" in classes:
            yield _html_lines(sec)
        else:
            for level, name in enumerate(_DIVISIONS):  # the class may be misspelt (「Sectiot」): use the title div
                found = sec.xpath(f'.//div[contains(concat(" ", @class, " "), " {name}Title ")]')
                if found:
                    yield level, _clean_title(_html_text(found[-1]))
                    break
            yield from _html_nodes(sec)  # flat pages have nothing here; nested ones do
