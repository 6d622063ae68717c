"""A Diet-answer draft as a Word document (.docx) and as Markdown, in the conventional layout.

Layout (both formats): title 答弁案, who asks where, warnings, the question; then per 論点 「問」
(the point) and 「答」 (the draft with its [n]), points without support marked 【要確認】; the
sources the draft cites or the drafter kept, as a numbered list whose numbers are the [n] of the
draft (label, date, speaker and position, URL; a candidate below the relevance gate or dropped is
not listed); a separate 「矛盾チェック」 section with each point's result, stated only for the text
it was computed on (「未確認」 for a point edited since: :mod:`app.draft_check`), and each possible
contradiction's two sentences side by side with the reason; and 「再質問予測」 (mined follow-ups with their sources,
generated 想定問答 marked as such). Japanese text uses a Mincho font (``w:eastAsia``). With a
公用文チェック (``style``), each finding left in a 答 becomes a Word comment anchored to its span.

>>> draft_to_docx(draft, "draft.docx")  # doctest: +SKIP
>>> Path("draft.md").write_text(draft_to_markdown(draft), encoding="utf-8")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.docx_office import marks, set_properties, source_numbers, write_header_footer
from app.draft_check import check_status
from app.safe_text import md_inline, safe_url
from retrieval.ai_notice import AINotice, make_notice
from retrieval.answer_types import FLAG_INVALID_CITATION, FLAG_UNCITED, FLAG_UNSUPPORTED, AnswerSentence, Source
from retrieval.draft_types import Draft, FollowUp, PointDraft
from retrieval.verify import Conflict

if TYPE_CHECKING:
    from retrieval.style import Finding, StyleChecker

__all__ = ["draft_to_docx", "draft_to_markdown", "listed_sources", "numbered_sources", "notice_text", "source_line", "REVIEW_MARK", "COMMENT_AUTHOR",
           "style_comment"]

REVIEW_MARK = "【要確認】"
COMMENT_AUTHOR = "公用文チェック"
BODY_FONT = "游明朝"
HEADING_FONT = "游ゴシック"
FLAG_NOTES = {
    FLAG_UNCITED: "出典なし",
    FLAG_INVALID_CITATION: "存在しない出典番号を削除",
    FLAG_UNSUPPORTED: "出典で裏付けられません",
}
CONFLICT_LABELS = {
    "number": "数値", "date": "日付", "polarity": "肯定・否定", "modality": "方針・表現",
    "law": "法令・条番号", "nli": "意味（NLI判定）",
}
METHOD_LABELS = {"template": "定型文による組立て（LLMなし）", "llm": "LLMによる生成（出典を検証済み）"}


# -- shared text pieces ----------------------------------------------------------------------------


def _meta(draft: Draft) -> list[str]:
    a = draft.analysis
    pairs = [("質問者", a.member), ("会派", a.party), ("委員会", a.committee), ("院", a.house)]
    lines = [f"{k}：{v}" for k, v in pairs if v]
    lines.append(f"作成方法：{METHOD_LABELS.get(draft.method, draft.method)}")
    lines.append(f"作成日：{_notice(draft).made_at[:10]}")  # the notice's day, in the configured time zone
    return lines


def _point_title(i: int, pd: PointDraft) -> str:
    label = f"（{pd.point.label}）" if pd.point.label else ""
    flags = REVIEW_MARK if _needs_review(pd) else ""
    if check_status(pd).state == "found":
        flags += "【矛盾の可能性あり】"
    return f"論点{i}{label}{flags}"


def listed_sources(draft: Draft) -> list[Source]:
    """The sources an export lists: those a sentence cites, the used (kept and relevant) past
    answers and documents, and the questions before those answers, in the draft's numbering.
    Candidates below the relevance gate or dropped by the drafter are not sources of the draft."""
    wanted = {n for pd in draft.points for s in pd.sentences for n in s.citations}
    for pd in draft.points:
        wanted |= {src.n for src in pd.evidence()}
        wanted |= {pa.question.n for pa in pd.past_answers if pa.used and pa.question is not None}
    return [s for s in draft.sources if s.n in wanted]


def _conflicts(draft: Draft) -> list[tuple[int, Conflict]]:
    """(point number, conflict) for the points whose check is current and found something."""
    return [(i, c) for i, pd in enumerate(draft.points, 1) for c in check_status(pd).conflicts]


def _needs_review(pd: PointDraft) -> bool:
    return pd.needs_review or any(s.flags for s in pd.sentences)


def _sentence(s: AnswerSentence, numbers: dict[int, int] | None = None) -> tuple[str, str, str]:
    """(text, citation marks, review note) of one draft sentence; ``numbers`` maps the draft's
    source numbers to the export's (one per distinct document)."""
    cited = list(dict.fromkeys((numbers or {}).get(n, n) for n in s.citations))
    cites = "".join(f"[{n}]" for n in cited)
    note = f"{REVIEW_MARK[:-1]}：{'、'.join(s.flag_notes(FLAG_NOTES))}】" if s.flags else ""
    return s.text, cites, note


def notice_text(draft: Draft) -> str:
    """The AI-output notice the draft carries (``retrieval.ai_notice``)."""
    return _notice(draft).text


def _notice(draft: Draft) -> AINotice:
    return draft.notice or make_notice("draft", draft.method)


def numbered_sources(draft: Draft) -> list[tuple[int, Source]]:
    """(export number, source) once per distinct document, in the order of ``listed_sources``."""
    numbers = source_numbers(listed_sources(draft))
    seen: set[int] = set()
    out = []
    for src in listed_sources(draft):
        n = numbers.get(src.n, src.n)
        if n not in seen:
            seen.add(n)
            out.append((n, src))
    return out


def source_line(src: Source, markdown: bool = False) -> str:
    """One line naming a source: label, then date, speaker/position and URL when the label lacks
    them. Only an http(s) URL is given; ``markdown``: every part escaped, the URL as ``<…>``."""
    p = src.payload
    parts = [src.label or src.doc_id]
    date = p.get("date")
    if date and str(date)[:10] not in parts[0]:
        parts.append(str(date)[:10])
    speaker = p.get("speaker")
    if speaker and speaker not in parts[0]:
        position = p.get("speaker_position") or p.get("speaker_role")
        parts.append(f"{speaker}（{position}）" if position else speaker)
    url = safe_url(src.url)
    if markdown:
        parts = [md_inline(part) for part in parts]
    if url:
        parts.append(f"<{url}>" if markdown else url)
    elif src.url:
        parts.append("（http(s) 以外の URL のため省略）")
    return " ／ ".join(parts)


def _evidence_name(draft: Draft, src: Source | None) -> str:
    if src is None:
        return ""
    numbered = draft.source(src.n) if src.n else None
    if numbered is not None and numbered.chunk_id == src.chunk_id:
        return f"[{source_numbers(listed_sources(draft)).get(src.n, src.n)}] {numbered.label}"
    return src.label


def _followup_lines(f: FollowUp, markdown: bool = False) -> list[tuple[str, str]]:
    """(caption, text) rows describing one follow-up (``markdown``: texts escaped)."""
    text = md_inline if markdown else str
    if f.generated:
        rows = [("想定問", text(f.question))]
        if f.suggested_answer:
            rows.append(("想定答", text(f.suggested_answer)))
        rows.append(("", "（LLMによる生成です。内容を必ず確認してください）"))
        return rows
    rows = [("問", text(f.question))]
    if f.source is not None:
        rows.append(("出典", source_line(f.source, markdown)))
    if f.after is not None:
        rows.append(("直前の答弁", source_line(f.after, markdown)))
    rows.append(("類似度", f"{f.similarity:.2f}"))
    return rows


# -- Word ------------------------------------------------------------------------------------------


def _set_fonts(rpr: Any, font: str) -> None:
    """Explicit fonts for Latin and East Asian text (theme fonts would override them)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), font)


def _prepare(doc: Any, body_font: str = BODY_FONT, heading_font: str = HEADING_FONT) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(defaults, body_font)
    lang = defaults.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "ja-JP")
    for name in ("Normal", "Heading 1", "Heading 2", "Heading 3"):
        style = doc.styles[name]
        _set_fonts(style.element.get_or_add_rPr(), body_font if name == "Normal" else heading_font)
        if name != "Normal":
            style.font.color.rgb = RGBColor(0, 0, 0)
            style.font.bold = True
            style.font.size = Pt({"Heading 1": 14, "Heading 2": 12}.get(name, 11))
    doc.styles["Normal"].font.size = Pt(10.5)
    for section in doc.sections:  # A4 portrait, the usual margins of government documents
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(25)
        section.top_margin = section.bottom_margin = Mm(25)


def _para(doc_or_cell: Any, *runs: tuple[str, dict[str, Any]] | str) -> Any:
    """A paragraph of runs: plain strings, or (text, {"bold": True, "red": True, "size": 9})."""
    from docx.shared import Pt, RGBColor

    p = doc_or_cell.add_paragraph()
    for run in runs:
        text, fmt = (run, {}) if isinstance(run, str) else run
        r = p.add_run(text)
        r.bold = fmt.get("bold") or None
        if fmt.get("red"):
            r.font.color.rgb = RGBColor(0xC0, 0, 0)
        if fmt.get("size"):
            r.font.size = Pt(fmt["size"])
    return p


def _cell_text(cell: Any, *runs: tuple[str, dict[str, Any]] | str) -> None:
    cell.paragraphs[0]._element.getparent().remove(cell.paragraphs[0]._element)  # python-docx's empty one
    _para(cell, *runs)


def style_comment(f: Finding) -> str:
    """The text of the Word comment for one 公用文チェック finding."""
    lines = [f"【{f.group}】{f.message}"]
    if f.fixable:
        lines.append(f"修正案：「{f.suggestion}」" if f.suggestion else "修正案：削除")
    lines.append(f"出典：{f.source}")
    return "\n".join(lines)


def _comment_ranges(pd: PointDraft, style: StyleChecker) -> list[tuple[int, int, str]]:
    """(start, end, comment) per finding over ``pd.text``, clipped to the sentence body it starts
    in (never the [n] marks). Ranges may nest or overlap (a long sentence holds its spellings)."""
    text, bodies, pos = pd.text, [], 0
    for s in pd.sentences:
        bodies.append((pos, pos + len(s.text)))
        pos += len(s.text) + sum(len(f"[{n}]") for n in s.citations)
    ranges = []
    for f in style.check(text):
        body = next(((a, b) for a, b in bodies if a <= f.start < b), None)
        if body is not None:
            ranges.append((f.start, min(f.end, body[1]), style_comment(f)))
    return ranges


def _answer_runs(doc: Any, answer: Any, pd: PointDraft, style: StyleChecker | None,
                 numbers: dict[int, int] | None = None) -> None:
    """The 答's sentences as runs: citation marks superscript, review notes in red, and each
    公用文チェック finding as a Word comment on exactly the runs of its span."""
    ranges = _comment_ranges(pd, style) if style is not None else []
    pos = 0
    for sentence, (text, cites, note) in zip(pd.sentences, (_sentence(x, numbers) for x in pd.sentences)):
        cuts = sorted({0, len(text)} | {min(max(x - pos, 0), len(text)) for a, b, _ in ranges for x in (a, b)})
        runs = []
        for a, b in zip(cuts, cuts[1:]):
            if a < b:
                runs.append((pos + a, pos + b, answer.add_run(text[a:b])))
        for start, end, comment in ranges:
            covered = [r for a, b, r in runs if a >= start and b <= end]
            if covered:
                doc.add_comment(covered, text=comment, author=COMMENT_AUTHOR, initials="公")
        pos += len(text)
        if cites:
            answer.add_run(cites).font.superscript = True
        pos += sum(len(f"[{n}]") for n in sentence.citations)  # offsets are into ``pd.text`` (draft numbers)
        if note:
            r = answer.add_run(note)
            r.bold, r.font.color.rgb = True, _red()


def draft_to_docx(draft: Draft, path_or_stream: str | Path | IO[bytes], style: StyleChecker | None = None, *,
                  author: str = "gyosei-rag", body_font: str = BODY_FONT, heading_font: str = HEADING_FONT) -> None:
    """Write the draft as a Word document to a path or a binary stream; with ``style``, the
    公用文チェック's findings in each 答 become Word comments at their spans. ``author``: the
    signed-in user (the document's core properties); the header carries the 機密性 marking and
    the confirmation state, the footer the state and page numbers (``app.docx_office``)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc = Document()
    _prepare(doc, body_font, heading_font)
    numbers = source_numbers(listed_sources(draft))
    set_properties(doc, author)
    write_header_footer(doc, draft, listed_sources(draft))
    title = _para(doc, ("答弁案", {"bold": True, "size": 16}))
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for line in _meta(draft):
        _para(doc, (line, {"size": 9})).alignment = WD_ALIGN_PARAGRAPH.RIGHT
    review = [i for i, pd in enumerate(draft.points, 1) if _needs_review(pd)]
    if review:
        _para(doc, (f"{REVIEW_MARK}論点{'、'.join(map(str, review))}は担当者の確認が必要です。", {"bold": True, "red": True}))
    for w in draft.warnings:
        _para(doc, ("注意：", {"bold": True}), w)
    _para(doc, (marks()["notice_heading"], {"bold": True, "size": 9}))
    for line in notice_text(draft).splitlines():
        _para(doc, (line, {"size": 9}))

    doc.add_heading("質問", level=1)
    for line in draft.question.strip().splitlines():
        if line.strip():
            _para(doc, line)

    doc.add_heading("答弁", level=1)
    for i, pd in enumerate(draft.points, 1):
        doc.add_heading(_point_title(i, pd), level=2)
        _para(doc, ("問　", {"bold": True}), pd.point.text)
        answer = _para(doc, ("答　", {"bold": True}))
        if pd.needs_review:
            r = answer.add_run(pd.text)
            r.bold = True
            r.font.color.rgb = _red()
        if not pd.needs_review:
            _answer_runs(doc, answer, pd, style, numbers)
        past = [pa for pa in pd.past_answers if pa.used]
        if past:
            _para(doc, ("参考（過去の答弁）", {"bold": True, "size": 9}))
            for pa in past:
                _para(doc, ("・" + source_line(pa.answer), {"size": 9}))

    doc.add_heading("出典", level=1)
    listed = numbered_sources(draft)
    if not listed:
        _para(doc, "（出典なし）")
    for n, s in listed:
        p = _para(doc, (f"[{n}] ", {"bold": True}), source_line(s))
        p.paragraph_format.left_indent = Pt(21)
        p.paragraph_format.first_line_indent = Pt(-21)

    doc.add_heading("矛盾チェック", level=1)
    for i, pd in enumerate(draft.points, 1):
        status = check_status(pd)
        _para(doc, (f"論点{i}：", {"bold": True}), (status.line, {"bold": status.state == "found",
                                                                 "red": status.state in ("found", "unchecked")}))
    conflicts = _conflicts(draft)
    if conflicts:
        _para(doc, "答弁案の文と、同じ事項についての過去の答弁・資料の文を並べています。理由を確認のうえ修正してください。")
        table = doc.add_table(rows=1, cols=2)
        table.style = "Table Grid"
        _cell_text(table.rows[0].cells[0], ("答弁案の文", {"bold": True}))
        _cell_text(table.rows[0].cells[1], ("過去の答弁・資料の文", {"bold": True}))
        for i, c in conflicts:
            _conflict_rows(table, draft, i, c)

    doc.add_heading("再質問予測", level=1)
    if not any(pd.followups for pd in draft.points):
        _para(doc, "類似する過去のやり取りは見つかりませんでした。")
    for i, pd in enumerate(draft.points, 1):
        if not pd.followups:
            continue
        doc.add_heading(f"論点{i}", level=2)
        for f in pd.followups:
            for cap, text in _followup_lines(f):
                runs = [(f"{cap}　", {"bold": cap in ("問", "想定問", "想定答")}), text] if cap else [(text, {"size": 9})]
                p = _para(doc, *runs)
                if cap not in ("問", "想定問"):
                    p.paragraph_format.left_indent = Pt(21)
    doc.save(path_or_stream)


def _conflict_rows(table: Any, draft: Draft, i: int, c: Conflict) -> None:
    row = table.add_row().cells
    _cell_text(row[0], (f"論点{i}：", {"size": 9}), c.claim)
    runs: list[Any] = [c.evidence]
    if c.evidence_source is not None:
        runs.append((f"\n（{_evidence_name(draft, c.evidence_source)}）", {"size": 9}))
    _cell_text(row[1], *runs)
    reason = table.add_row().cells
    merged = reason[0].merge(reason[1])
    _cell_text(merged, ("理由：", {"bold": True}), f"{CONFLICT_LABELS.get(c.kind, c.kind)} — {c.reason}")


def _red() -> Any:
    from docx.shared import RGBColor

    return RGBColor(0xC0, 0, 0)


def draft_to_markdown(draft: Draft) -> str:
    """The draft as Markdown (``app.draft_markdown``; kept here for the callers of this module)."""
    from app.draft_markdown import draft_to_markdown as to_markdown

    return to_markdown(draft)
