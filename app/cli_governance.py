"""`gyosei governance report`: the CAIO's record (生成AIシステム ガバナンス記録) from live facts."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli_common import console, fail
from retrieval.errors import GyoseiError
from retrieval.settings import Settings


@click.group("governance")
def governance_group() -> None:
    """ガバナンス（CAIO 向けの記録）。"""


def collect(settings: Settings, audit, reports_dir: Path):
    """The record, opening the index read-only for its documents (a failure is stated in it)."""
    from app.auth import UserStore
    from app.factory import build_embedder, build_index
    from app.governance import gather
    from retrieval.embedder import embedder_path

    docs, error, path = None, "", None
    try:
        embedder = build_embedder(settings)
        path = embedder_path(embedder)
        index = build_index(settings, embedder, read_only=True)
        try:
            docs = index.documents(None)  # the record counts every document (an administrator's view)
        finally:
            index.close()
    except GyoseiError as exc:
        error = str(exc)
    return gather(settings, docs=docs, users=UserStore(settings.auth.users_file), audit=audit,
                  reports_dir=reports_dir, index_error=error, embedding_path=path)


@governance_group.command("report")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="出力ファイル（.docx または .md）")
@click.option("--reports", "reports_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("eval/reports"),
              show_default=True, help="評価レポートのフォルダ")
def report_command(out_path: Path, reports_dir: Path) -> None:
    """モデル・データの送信先・索引・利用者・監査ログ・評価結果と、高リスク判定シートの4観点の事実をまとめます。"""
    from app.audit import open_audit_log
    from app.cli_audit import cli_user
    from app.governance_export import governance_to_docx, governance_to_markdown

    suffix = out_path.suffix.lower()
    if suffix not in (".docx", ".md"):
        fail(GyoseiError(f"--out には .docx か .md のファイル名を指定してください（指定: {out_path}）。"))
    try:
        settings = Settings.load()
        audit = open_audit_log(settings.audit)
        try:
            report = collect(settings, audit, reports_dir)
            user = cli_user(settings)
            if suffix == ".md":
                out_path.write_text(governance_to_markdown(report), encoding="utf-8")
            else:
                governance_to_docx(report, out_path, author=user, body_font=settings.export.body_font,
                                   heading_font=settings.export.heading_font)
            audit.record(user, "export", {"command": "governance.report", "format": suffix[1:]})
        finally:
            audit.close()
    except GyoseiError as exc:
        fail(exc)
    except OSError as exc:
        fail(GyoseiError(f"{out_path} を書き込めません（{exc.strerror or exc}）。"))
    console.print(f"ガバナンス記録を書き出しました: {out_path}")
