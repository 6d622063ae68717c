"""The CAIO's record (``app.governance.GovernanceReport``) as Word (.docx) and Markdown: facts
per section, the evaluation table, and the 高リスク判定シート with an empty judgement box per
viewpoint for the CAIO."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from app.governance import GovernanceReport, wording
from app.safe_text import md_inline

__all__ = ["governance_to_docx", "governance_to_markdown"]


def governance_to_markdown(report: GovernanceReport) -> str:
    md, L = md_inline, wording()["labels"]
    out = [f"# {md(report.title)}", "", md(report.intro), "", f"- 作成日時：{report.created}", ""]
    for section in report.sections:
        out += [f"## {md(section.title)}", ""]
        out += [f"- **{md(k)}**：{md(v)}" if k else f"- {md(v)}" for k, v in section.facts]
        if section.table:
            out += ["", "| " + " | ".join(map(md, section.table[0])) + " |", "|" + " --- |" * len(section.table[0])]
            out += ["| " + " | ".join(map(md, row)) + " |" for row in section.table[1:]]
        out.append("")
    out += [f"## {md(wording()['sections']['viewpoints'])}", ""]
    for i, v in enumerate(report.viewpoints, 1):
        out += [f"### {i}. {md(v.title)}", "", f"*{md(v.question)}*", "", f"**{L['facts']}**：{md(v.facts)}", "",
                f"**{L['judgement']}**：{md(v.judgement) or '＿＿＿＿＿＿＿＿'}", "",
                f"**{L['reason']}**：{md(v.reason) or '＿＿＿＿＿＿＿＿'}", ""]
    return "\n".join(out).rstrip() + "\n"


def governance_to_docx(report: GovernanceReport, path_or_stream: str | Path | IO[bytes], *, author: str,
                       body_font: str = "游明朝", heading_font: str = "游ゴシック") -> None:
    from docx import Document
    from docx.shared import Pt

    from app.docx_office import set_properties
    from app.draft_export import _prepare

    L = wording()["labels"]
    doc = Document()
    _prepare(doc, body_font, heading_font)
    set_properties(doc, author, title=report.title)
    doc.add_heading(report.title, level=1)
    doc.add_paragraph(report.intro)
    doc.add_paragraph(f"作成日時：{report.created}")
    for section in report.sections:
        doc.add_heading(section.title, level=2)
        for label, value in section.facts:
            p = doc.add_paragraph()
            if label:
                p.add_run(f"{label}：").bold = True
            p.add_run(value)
        if section.table:
            table = doc.add_table(rows=0, cols=len(section.table[0]))
            table.style = "Table Grid"
            for r, row in enumerate(section.table):
                cells = table.add_row().cells
                for cell, text in zip(cells, row):
                    cell.text = text
                    for run in cell.paragraphs[0].runs:
                        run.font.size = Pt(8)
                        run.bold = r == 0 or None
    doc.add_heading(wording()["sections"]["viewpoints"], level=2)
    for i, v in enumerate(report.viewpoints, 1):
        doc.add_heading(f"{i}. {v.title}", level=3)
        doc.add_paragraph(v.question).runs[0].italic = True
        p = doc.add_paragraph()
        p.add_run(f"{L['facts']}：").bold = True
        p.add_run(v.facts)
        table = doc.add_table(rows=2, cols=2)
        table.style = "Table Grid"
        for row, (label, value) in zip(table.rows, ((L["judgement"], v.judgement), (L["reason"], v.reason))):
            row.cells[0].text = label
            row.cells[1].text = value  # blank: the CAIO writes it
    doc.save(path_or_stream)
