"""``gyosei check-style``: the 公用文チェック on a file (a thin face over retrieval.style).

Example::

    gyosei check-style 答弁案.txt                  # findings with line:column, rule and suggestion
    gyosei check-style 答弁案.docx --fix           # also writes 答弁案.fixed.txt with the certain fixes
    gyosei check-style 資料.md --fix --out 直した.md --max-length 80

The file is plain text (UTF-8, UTF-16 with BOM or CP932), Markdown or a Word .docx. The exit code
is 0 when nothing is found, 1 when findings remain (after ``--fix``: the ones left), 2 on errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from app.cli_common import console, fail, load_settings
from retrieval.errors import GyoseiError

__all__ = ["check_style_command", "line_col", "fixed_path"]


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def fixed_path(path: Path) -> Path:
    """Where ``--fix`` writes by default: 答弁案.txt -> 答弁案.fixed.txt (a .docx gives text)."""
    suffix = path.suffix if path.suffix.lower() in (".txt", ".md") else ".txt"
    return path.with_name(f"{path.stem}.fixed{suffix}")


@click.command("check-style")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--fix", is_flag=True, help="確実に直せる指摘（表記の置き換え）を直した本文を書き出します")
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False),
              help="--fix の出力先（既定: 元のファイル名に .fixed を付けたテキスト）")
@click.option("--max-length", type=click.IntRange(20, 1000), default=None, help="この字数を超える文に警告します（既定: 規則ファイルの値）")
@click.option("--vertical", is_flag=True, help="縦書きの文書として検査します（算用数字の規則を適用しません）")
@click.option("--json", "as_json", is_flag=True, help="指摘を JSON で出力します")
def check_style_command(file: Path, fix: bool, out_path: Path | None, max_length: int | None, vertical: bool, as_json: bool) -> None:
    """公用文チェック: 文書の表記（漢字・仮名・送り仮名・数字・句読点・話し言葉・文の長さ）を検査します。"""
    from app.factory import build_style_checker
    from app.question_file import read_question
    from retrieval.style import fix_certain

    settings = load_settings()
    if max_length is not None:
        settings.style.max_sentence_chars = max_length
    try:
        text = read_question(file, settings.limits, label="ファイル")
        checker = build_style_checker(settings, vertical=vertical)
        findings = checker.check(text)
    except GyoseiError as exc:
        fail(exc)
    fixed, applied = (fix_certain(text, checker) if fix else (text, []))
    remaining = checker.check(fixed) if fix else findings
    if as_json:
        console.print_json(json.dumps({"file": str(file), "chars": len(text), "findings": [f.to_dict() for f in findings],
                                       "fixed": len(applied), "remaining": [f.to_dict() for f in remaining] if fix else None},
                                      ensure_ascii=False))
    else:
        _print(file, text, findings)
    if fix:
        target = out_path or fixed_path(file)
        try:
            target.write_text(fixed, encoding="utf-8")
        except PermissionError:
            fail(GyoseiError(f"{target} に書き込む権限がありません（Word などで開いたままではありませんか）。"))
        except OSError as exc:
            fail(GyoseiError(f"{target} を書き込めません（{exc.strerror or exc}）。"))
        if not as_json:
            console.print(f"{len(applied)} 件を直して書き出しました: {escape(str(target))}（残りの指摘 {len(remaining)} 件）", soft_wrap=True)
    sys.exit(1 if remaining else 0)


def _print(file: Path, text: str, findings: list) -> None:
    if not findings:
        console.print(f"{escape(str(file))}: 指摘はありません（{len(text):,}字）。")
        return
    for f in findings:
        line, col = line_col(text, f.start)
        shown = f.text if len(f.text) <= 30 else f.text[:28] + "…"
        fix = (f" → 「{escape(f.suggestion)}」" if f.suggestion else " → 削除") if f.fixable else ""
        mark = "[green]（自動修正可）[/]" if f.certain and f.fixable else ""
        console.print(f"{escape(str(file))}:{line}:{col} [bold]{escape(f.group)}[/] 「{escape(shown)}」{fix}{mark}", soft_wrap=True)
        console.print(f"    {escape(f.message)} [dim]（{escape(f.source)}）[/]", soft_wrap=True)
    certain = sum(1 for f in findings if f.certain and f.fixable)
    per_k = len(findings) / max(len(text), 1) * 1000
    console.print(f"\n指摘 {len(findings)} 件（うち自動修正可 {certain} 件、1,000字あたり {per_k:.1f} 件、{len(text):,}字）")
