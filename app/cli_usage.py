"""`gyosei usage report`: the periodic usage report (per month and group) from the audit log."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from app.cli_common import console, fail
from retrieval.errors import GyoseiError
from retrieval.settings import Settings


@click.group("usage")
def usage_group() -> None:
    """利用状況（定期報告）。"""


def _day(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value} は日付として読めません（YYYY-MM-DD）。", param_hint=name) from None


@usage_group.command("report")
@click.option("--from", "date_from", required=True, help="開始日（YYYY-MM-DD、この日を含む）")
@click.option("--until", "date_until", required=True, help="終了日（YYYY-MM-DD、この日を含む）")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "md"]), default="csv", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="出力ファイル（省略時は標準出力。xlsx では必須）")
def report_command(date_from: str, date_until: str, fmt: str, out_path: Path | None) -> None:
    """月別・グループ別の利用状況（質問・答弁作成・出力・回答の有無・要確認・確認・評価・応答時間）を出力します。"""
    from app.audit import open_audit_log
    from app.cli_audit import cli_user
    from app.usage_report import build_report

    since, until = _day(date_from, "--from"), _day(date_until, "--until")
    if until < since:
        fail(GyoseiError("--until は --from 以降の日付を指定してください。"))
    if fmt == "xlsx" and out_path is None:
        fail(GyoseiError("xlsx 形式では --out で出力ファイルを指定してください。"))
    try:
        settings = Settings.load()
        log = open_audit_log(settings.audit)
        try:
            data = build_report(settings, log, since, until, fmt)  # app.usage_report
            log.record(cli_user(settings), "export", {"command": "usage.report", "format": fmt,
                                                      "from": since.isoformat(), "until": until.isoformat()})
        finally:
            log.close()
    except GyoseiError as exc:
        fail(exc)
    if out_path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        out_path.write_bytes(data)
    except OSError as exc:
        fail(GyoseiError(f"{out_path} を書き込めません（{exc.strerror or exc}）。"))
    console.print(f"利用状況報告を書き出しました: {out_path}")
