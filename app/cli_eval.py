"""``gyosei eval ...``: offline evaluation commands (a thin face over eval/).

Example::

    gyosei eval retrieval --dataset eval/datasets/nta_faq
    gyosei eval retrieval --dataset eval/datasets/lawqa --modes hybrid --no-baselines
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from retrieval.errors import GyoseiError
from retrieval.settings import Settings
from retrieval.types import SearchMode

console = Console()
err_console = Console(stderr=True)

STAGE_LABELS = {
    "index": "評価用索引の作成（チャンク）",
    "bm25": "BM25の準備（文書）",
    "langchain": "LangChain既定の埋め込み（チャンク）",
}


class _RichProgress:
    """One rich task per evaluation stage, created when the stage first reports."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> "_RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            label = STAGE_LABELS.get(stage) or f"検索 {stage.partition(':')[2]}（質問）"
            self.tasks[stage] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _fail(exc: GyoseiError) -> None:
    err_console.print(f"[bold red]エラー:[/] {exc}")
    sys.exit(2)


def _parse_modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    allowed = [m.value for m in SearchMode]
    bad = [m for m in modes if m not in allowed]
    if bad:
        raise click.BadParameter(f"検索モード {', '.join(bad)} は使えません（{', '.join(allowed)} から選んでください）")
    return modes


@click.group("eval")
def eval_group() -> None:
    """オフライン評価（検索の精度をベースラインと比較します）。"""


@eval_group.command("retrieval")
@click.option("--dataset", "dataset", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="BEIR形式の評価セットのフォルダ（corpus.jsonl、queries.jsonl、qrels/*.tsv）")
@click.option("--modes", default="dense,sparse,hybrid", show_default=True, help="評価する検索モード（カンマ区切り、空なら製品の検索を省略）")
@click.option("--k", "k", default=10, show_default=True, type=click.IntRange(1, 1000), help="評価する上位件数（文書単位）")
@click.option("--no-baselines", is_flag=True, help="ベースライン（BM25、LangChain既定）を実行しません")
@click.option("--out", "out_dir", default=Path("eval/reports"), show_default=True, type=click.Path(path_type=Path, file_okay=False),
              help="レポート（JSONとMarkdown）の出力先")
def eval_retrieval(dataset: Path, modes: str, k: int, no_baselines: bool, out_dir: Path) -> None:
    """検索の評価: 評価セットを専用の索引に取り込み、全質問を各モードで検索して指標を出します。

    中断しても、同じ設定で再実行すれば続きから再開します。
    """
    from eval.report import SYSTEM_LABELS, write_report
    from eval.retrieval_eval import evaluate_retrieval

    mode_list = _parse_modes(modes)
    try:
        settings = Settings.load()
        with _RichProgress(console) as progress:
            report = evaluate_retrieval(dataset, settings, mode_list, k=k, baselines=not no_baselines, progress=progress)
        json_path, md_path = write_report(report, out_dir)
    except GyoseiError as exc:
        _fail(exc)
    ds = report["dataset"]
    table = Table(title=f"検索評価: {ds['name']}（文書 {ds['documents']}、質問 {ds['queries_evaluated']}）")
    table.add_column("システム")
    for name in report["metric_names"]:
        table.add_column(name, justify="right")
    table.add_column("検索 秒", justify="right")
    for system in report["systems"]:
        values = report["metrics"][system]
        table.add_row(SYSTEM_LABELS.get(system, system), *(f"{values[m]:.3f}" for m in report["metric_names"]),
                      f"{report['timings']['query_s'].get(system, 0.0):.1f}")
    console.print(table)
    if report.get("index"):
        info = report["index"]
        console.print(f"評価用索引: {info['path']}（{info['documents']} 文書、{info['chunks']} チャンク、"
                      f"今回の追加 {info['new_chunks']}、{report['timings']['index_s']:.1f} 秒）", soft_wrap=True)
    console.print(f"レポート: {json_path}\n          {md_path}", soft_wrap=True)
