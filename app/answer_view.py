"""How an answer is printed in a terminal: sentences with [n], flags, then the numbered sources."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from retrieval.answer_types import FLAG_INVALID_CITATION, FLAG_UNCITED, FLAG_UNSUPPORTED, Answer

# Document types as officials name them (pages, CLI, the governance report).
DOC_TYPE_LABELS = {
    "law": "法令",
    "diet_speech": "国会会議録",
    "faq": "質疑応答",
    "guideline": "ガイドライン",
    "notice": "通知",
    "white_paper": "白書",
    "other": "その他",
}
FLAG_LABELS = {
    FLAG_UNCITED: "出典なし",
    FLAG_INVALID_CITATION: "存在しない出典番号を削除",
    FLAG_UNSUPPORTED: "出典で裏付けられません",
}


def print_answer(console: Console, answer: Answer) -> None:
    """Print ``answer`` for a terminal user (Japanese labels)."""
    for note in answer.notes:
        console.print(f"[dim]※ {escape(note)}[/]")
    for warning in answer.warnings:
        console.print(f"[yellow]注意: {escape(warning)}[/]")
    if answer.refused:
        console.print(f"[bold]{escape(answer.text)}[/]")
        if answer.gate_reason:
            console.print(f"[dim]判定の理由: {escape(answer.gate_reason)}[/]")
        if answer.sources:
            console.print("\n[dim]参考（関連性が基準に達しなかった資料）:[/]")
            for src in answer.sources:
                console.print(f"[dim]  - {escape(src.label)}[/]")
        print_notice(console, answer)
        return
    console.print("[bold]回答[/]")
    for s in answer.sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        line = f"  {escape(s.text)}[cyan]{escape(marks)}[/]"
        if s.flags:
            line += f" [red]（要確認: {escape('、'.join(s.flag_notes(FLAG_LABELS)))}）[/]"
        console.print(line)
    console.print("\n[bold]出典[/]")
    cited = {n for s in answer.sentences for n in s.citations}
    for src in answer.sources:
        style = "" if src.n in cited else "dim"
        console.print(f"[{style}] [{src.n}] {escape(src.label)}[/]" if style else f" [{src.n}] {escape(src.label)}")
        if src.url:
            console.print(f"     [dim]{escape(src.url)}[/]")
    total = answer.timings.get("total")
    if total is not None:
        console.print(f"\n[dim]{answer.method} / {total * 1000:.0f} ms[/]")
    print_notice(console, answer)


def print_notice(console: Console, answer: Answer) -> None:
    """The AI-output notice (``retrieval.ai_notice``) under the answer."""
    if answer.notice is not None:
        console.print(f"\n[dim]{escape(answer.notice.text)}[/]")
