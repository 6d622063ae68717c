"""``gyosei audit ...``: the audit log for auditors (export, retention purge, integrity check),
and ``audited``, the block the other CLI commands record their actions with.

Example::

    gyosei audit export --since 2026-11-01 --until 2026-11-30 --format csv --out audit-2026-11.csv
    gyosei audit export --format jsonl --action question --user tanaka
    gyosei audit purge --yes          # deletes events older than audit.retention_days
    gyosei audit verify
"""

from __future__ import annotations

import getpass
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from app.cli_common import console, err_console, fail, load_settings, plain
from app.audit import ACTIONS, FORMATS, AuditEvent, open_audit_log
from retrieval.errors import GyoseiError
from retrieval.settings import Settings



def cli_user(settings: Settings) -> str:
    """Who the CLI records: ``audit.user`` if set, else the login name."""
    if settings.audit.user:
        return settings.audit.user
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): still record something traceable
        return "unknown"


@contextmanager
def audited(settings: Settings, action: str, parameters: dict[str, Any]) -> Iterator[AuditEvent]:
    """Record the ``with`` block as one audit event of the CLI user (opened before the action:
    an unusable audit log stops the command before it does anything)."""
    log = open_audit_log(settings.audit)
    try:
        with log.track(cli_user(settings), action, parameters) as event:
            yield event
    finally:
        log.close()


@click.group("audit")
def audit_group() -> None:
    """監査ログ（出力・保存期間による削除・改ざん検査）。"""


@audit_group.command("export")
@click.option("--since", help="この日時以降（YYYY-MM-DD または YYYY-MM-DDTHH:MM:SS、UTC）")
@click.option("--until", help="この日時以前（日付だけならその日の終わりまで）")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--user", help="利用者で絞り込み")
@click.option("--action", type=click.Choice(ACTIONS), help="操作種別で絞り込み")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="出力ファイル（省略時は標準出力）")
def audit_export(since: str | None, until: str | None, fmt: str, user: str | None, action: str | None,
                 out_path: Path | None) -> None:
    """監査ログを CSV または JSON Lines で出力します（出力したことも記録されます）。"""
    settings = load_settings()
    try:
        log = open_audit_log(settings.audit)
        try:
            if out_path is None:
                rows = log.export(sys.stdout, fmt, by=cli_user(settings), since=since, until=until, user=user, action=action)
            else:
                # utf-8-sig: Excel opens a CSV with a BOM as UTF-8 (Japanese stays readable).
                encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
                with open(out_path, "w", encoding=encoding, newline="") as out:
                    rows = log.export(out, fmt, by=cli_user(settings), since=since, until=until, user=user, action=action)
        finally:
            log.close()
    except OSError as exc:
        fail(GyoseiError(f"{out_path}: 書き込めません（{exc.strerror}）。"))
    except GyoseiError as exc:
        fail(exc)
    err_console.print(f"{rows} 件の監査記録を出力しました" + (f"（{out_path}）" if out_path else ""))


@audit_group.command("purge")
@click.option("--retention-days", type=click.IntRange(1), help="保存期間（日）。省略時は設定 audit.retention_days")
@click.option("--yes", is_flag=True, help="確認せずに削除します")
def audit_purge(retention_days: int | None, yes: bool) -> None:
    """保存期間を過ぎた監査記録を削除します（削除したことも記録されます）。"""
    settings = load_settings()
    days = retention_days or settings.audit.retention_days
    if not yes:
        click.confirm(f"{days} 日より古い監査記録を削除します。よろしいですか？", abort=True)
    try:
        with open_audit_log(settings.audit) as log:
            removed = log.purge(days, by=cli_user(settings))
    except GyoseiError as exc:
        fail(exc)
    console.print(f"{days} 日より古い監査記録を {removed} 件削除しました")


@audit_group.command("verify")
def audit_verify() -> None:
    """監査記録が書き換えられたり抜き取られたりしていないか、鍵付きハッシュの連鎖と署名付きチェックポイントで検査します。"""
    settings = load_settings()
    try:
        with open_audit_log(settings.audit) as log:
            result = log.check()
            total = len(log.query(started=True))
    except GyoseiError as exc:
        fail(exc)
    if not result.intact:
        if result.broken:
            broken = result.broken
            shown = ", ".join(map(str, broken[:20])) + (" …" if len(broken) > 20 else "")
            err_console.print(f"[bold red]改ざんの疑い:[/] {len(broken)} 件の記録がハッシュと一致しません（ID: {shown}）")
        for problem in result.problems:
            err_console.print(f"[bold red]改ざんの疑い:[/] {plain(problem)}")
        sys.exit(1)
    console.print(f"監査記録 {total} 件に改ざんは見つかりませんでした")
