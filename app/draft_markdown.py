"""A Diet-answer draft as Markdown: the same sections as the Word document (``app.draft_export``),
with the confirmation state first and (while 未確認) last, and the AI-output notice. Every text
that comes from a document or the question is escaped."""

from __future__ import annotations

from app.docx_office import marks, source_numbers, status_line
from app.draft_check import check_status
from app.draft_export import (CONFLICT_LABELS, REVIEW_MARK, _conflicts, _evidence_name, _followup_lines, _meta,
                              _needs_review, _point_title, _sentence, listed_sources, notice_text, numbered_sources,
                              source_line)
from app.safe_text import md_inline
from retrieval.draft_types import Draft

__all__ = ["draft_to_markdown"]


def draft_to_markdown(draft: Draft) -> str:
    """The draft as Markdown (same sections as the Word document). Every text that comes from a
    document or the question is escaped (``app.safe_text.md_inline``): no HTML, link or image in
    it survives, and only http(s) URLs are given."""
    md = md_inline
    numbers = source_numbers(listed_sources(draft))
    out: list[str] = [f"**{md(status_line(draft))}**", "", "# 答弁案", ""]
    out += [f"- {md(line)}" for line in _meta(draft)] + [""]
    out += [f"> **{marks()['notice_heading']}**", ">"] + [f"> {md(line)}  " for line in notice_text(draft).splitlines()] + [""]
    review = [i for i, pd in enumerate(draft.points, 1) if _needs_review(pd)]
    if review:
        out += [f"> **{REVIEW_MARK}** 論点{'、'.join(map(str, review))}は担当者の確認が必要です。", ""]
    for w in draft.warnings:
        out += [f"> **注意**：{md(w)}", ""]
    out += ["## 質問", ""] + [f"> {md(line)}" if line.strip() else ">" for line in draft.question.strip().splitlines()] + [""]
    out += ["## 答弁", ""]
    for i, pd in enumerate(draft.points, 1):
        out += [f"### {md(_point_title(i, pd))}", "", f"**問**　{md(pd.point.text)}", ""]
        if pd.needs_review:
            out += [f"**答**　**{pd.text}**", ""]
        else:
            body = "".join(md(t) + m + (f"**{n}**" if n else "") for t, m, n in (_sentence(x, numbers) for x in pd.sentences))
            out += [f"**答**　{body}", ""]
        past = [pa for pa in pd.past_answers if pa.used]
        if past:
            out += ["参考（過去の答弁）：", ""] + [f"- {source_line(pa.answer, markdown=True)}" for pa in past] + [""]
    out += ["## 出典", ""]
    out += [f"[{n}] {source_line(s, markdown=True)}  " for n, s in numbered_sources(draft)] or ["（出典なし）"]
    out += ["", "## 矛盾チェック", ""]
    out += [f"- 論点{i}：{md(check_status(pd).line)}" for i, pd in enumerate(draft.points, 1)] + [""]
    conflicts = _conflicts(draft)
    if conflicts:
        out += ["| 論点 | 答弁案の文 | 過去の答弁・資料の文 | 理由 |", "| --- | --- | --- | --- |"]
        for i, c in conflicts:
            evidence = md(c.evidence) + (f"<br>（{md(_evidence_name(draft, c.evidence_source))}）" if c.evidence_source else "")
            reason = md(f"{CONFLICT_LABELS.get(c.kind, c.kind)}：{c.reason}")
            out.append(f"| 論点{i} | {md(c.claim)} | {evidence} | {reason} |")
    out += ["", "## 再質問予測", ""]
    if not any(pd.followups for pd in draft.points):
        out.append("類似する過去のやり取りは見つかりませんでした。")
    for i, pd in enumerate(draft.points, 1):
        if not pd.followups:
            continue
        out += [f"### 論点{i}", ""]
        for f in pd.followups:
            rows = _followup_lines(f, markdown=True)
            out.append(f"- **{rows[0][0]}**　{rows[0][1]}")
            out += [f"  - {cap}：{text}" if cap else f"  - {text}" for cap, text in rows[1:]]
        out.append("")
    if not draft.confirmed:
        out += ["", "---", "", f"**{md(status_line(draft))}**"]
    return "\n".join(out).rstrip() + "\n"


