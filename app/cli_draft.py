"""``gyosei draft``: a Diet-answer draft (答弁案) from a question file (a thin face over retrieval.draft).

Example::

    gyosei draft 質問主意書.txt --out 答弁案.docx --markdown 答弁案.md
    gyosei draft question.txt --clearance 2 --groups zaimu,all

The question file is plain text in UTF-8 (with or without BOM), UTF-16 with BOM, or CP932
(Shift_JIS, as Windows tools often save it), or a Word .docx (app/question_file.py). The draft is printed per 論点 with its citations,
warnings and likely follow-ups, and written as Word and/or Markdown when asked.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from app.cli_common import console, fail, parse_access
from app.answer_view import FLAG_LABELS
from app.draft_service import make_draft
from app.question_file import read_question
from app.factory import build_drafter, build_followups
from retrieval.errors import GyoseiError
from retrieval.query_limits import check_draft_question
from retrieval.settings import Settings

if TYPE_CHECKING:
    from retrieval.draft_types import Draft


@click.command("draft")
@click.argument("question_file", type=click.Path(path_type=Path, dir_okay=True))
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), help="Word 文書（.docx）の出力先")
@click.option("--markdown", "md_path", type=click.Path(path_type=Path, dir_okay=False), help="Markdown の出力先")
@click.option("--clearance", type=click.IntRange(1, 3), default=1, show_default=True, help="利用者の機密性クリアランス")
@click.option("--groups", default="all", show_default=True, help="利用者の所属グループ（カンマ区切り）")
def draft_command(question_file: Path, out_path: Path | None, md_path: Path | None, clearance: int, groups: str) -> None:
    """質問（委員会の質問や質問主意書）から、出典付きの答弁案を作成します。"""
    from app.cli_audit import audited
    from app.factory import build_embedder, build_index

    if out_path is not None and out_path.suffix.lower() != ".docx":
        fail(GyoseiError(f"--out には .docx のファイル名を指定してください（指定: {out_path}）。"))
    try:
        _check_output_folders(out_path, md_path)  # before the draft: a minute of work is not thrown away
        settings = Settings.load()  # first: the question file is read under the configured limits
        question = read_question(question_file, settings.limits)
        check_draft_question(question, settings.limits)
    except GyoseiError as exc:
        fail(exc)
    access = parse_access(clearance, groups)
    params = {"question_file": str(question_file), "access": asdict(access),
              "out": str(out_path) if out_path else None, "markdown": str(md_path) if md_path else None}
    try:
        with audited(settings, "draft", params) as event:
            embedder = build_embedder(settings)
            index = build_index(settings, embedder, read_only=True)
            try:
                with console.status("答弁案を作成しています…") as status:
                    draft = make_draft(build_drafter(settings, embedder, index), build_followups(settings, embedder, index),
                                       question, access, on_progress=status.update)
            finally:
                index.close()
            event.doc_ids = [s.doc_id for s in draft.sources]
            event.outcome = "needs_review" if any(p.needs_review for p in draft.points) else "ok"
            event.parameters["method"] = draft.method
            event.parameters["flagged"] = sum(pd.needs_review or any(s.flags for s in pd.sentences) for pd in draft.points)
    except GyoseiError as exc:
        fail(exc)
    print_draft(console, draft)
    _write(draft, out_path, md_path, settings)


def _check_output_folders(out_path: Path | None, md_path: Path | None) -> None:
    """A clear error naming the output file whose folder does not exist (an output problem,
    not a question-file one)."""
    for path, kind in ((out_path, "Word 文書"), (md_path, "Markdown")):
        if path is not None and not path.parent.is_dir():
            raise GyoseiError(f"{kind}の出力先フォルダ {path.parent} がありません。フォルダを作成するか、出力先を確認してください。")


def _write(draft: Draft, out_path: Path | None, md_path: Path | None, settings: Settings) -> None:
    from app.draft_export import draft_to_docx, draft_to_markdown

    for path, kind in ((out_path, "Word 文書"), (md_path, "Markdown")):
        if path is None:
            continue
        try:
            if kind == "Markdown":
                path.write_text(draft_to_markdown(draft), encoding="utf-8")
            else:
                from app.factory import build_style_checker

                from app.cli_audit import cli_user

                # Findings as Word comments; the CLI writes 未確認 drafts only (confirming is the page's).
                draft_to_docx(draft, path, style=build_style_checker(settings), author=cli_user(settings),
                              body_font=settings.export.body_font, heading_font=settings.export.heading_font)
        except PermissionError:
            fail(GyoseiError(f"{kind} {path} に書き込む権限がありません（Word で開いたままではありませんか）。"))
        except OSError as exc:
            fail(GyoseiError(f"{kind} {path} を書き込めません（{exc.strerror or exc}）。"))
        except GyoseiError as exc:
            fail(exc)
        console.print(f"{kind}を書き出しました: {escape(str(path))}")


def print_draft(console: Console, draft: Draft) -> None:
    """Print ``draft`` for a terminal user: per 論点 問/答 with [n], warnings, follow-ups, sources."""
    from app.draft_export import CONFLICT_LABELS, source_line

    for warning in draft.warnings:
        console.print(f"[yellow]注意: {escape(warning)}[/]")
    if draft.notice is not None:
        console.print(f"[dim]{escape(draft.notice.text)}[/]")
    console.print("[bold]答弁案[/]　[red]未確認（AI生成の下書き）[/]" if not draft.confirmed else "[bold]答弁案[/]")
    for i, pd in enumerate(draft.points, 1):
        label = f"（{escape(pd.point.label)}）" if pd.point.label else ""
        mark = " [bold red]【要確認】[/]" if pd.needs_review or any(s.flags for s in pd.sentences) else ""
        console.print(f"\n[bold]論点{i}{label}[/]{mark}")
        console.print(f"  [bold]問[/] {escape(pd.point.text)}")
        if pd.needs_review:
            console.print(f"  [bold]答[/] [red]{escape(pd.text)}[/]")
        else:
            body = ""
            for s in pd.sentences:
                body += escape(s.text) + f"[cyan]{escape(''.join(f'[{n}]' for n in s.citations))}[/]"
                if s.flags:
                    body += f"[red]（要確認: {'、'.join(FLAG_LABELS.get(f, f) for f in s.flags)}）[/]"
            console.print(f"  [bold]答[/] {body}")
        for c in pd.conflicts:
            console.print(f"  [bold red]矛盾の可能性（{escape(CONFLICT_LABELS.get(c.kind, c.kind))}）[/]: {escape(c.reason)}")
            console.print(f"    答弁案: {escape(c.claim)}")
            console.print(f"    過去　: {escape(c.evidence)}" + (f" [dim]（{escape(c.evidence_source.label)}）[/]" if c.evidence_source else ""))
        for f in pd.followups:
            if f.generated:
                console.print(f"  [magenta]想定問[/] {escape(f.question)} [dim]（LLMによる生成）[/]")
                if f.suggested_answer:
                    console.print(f"    想定答: {escape(f.suggested_answer)}")
            else:
                console.print(f"  [magenta]再質問予測[/] {escape(f.question)}")
                if f.source is not None:
                    console.print(f"    [dim]出典: {escape(source_line(f.source))}[/]")
    console.print("\n[bold]出典[/]")
    if not draft.sources:
        console.print("  （出典なし）")
    for s in draft.sources:
        console.print(f" [{s.n}] {escape(source_line(s))}", soft_wrap=True)
    total = draft.timings.get("total")
    if total is not None:
        console.print(f"\n[dim]{draft.method} / {total:.1f} 秒[/]")
