"""``gyosei eval ...``: offline evaluation commands (a thin face over eval/).

Example::

    gyosei eval retrieval --dataset eval/datasets/nta_faq
    gyosei eval retrieval --dataset eval/datasets/lawqa --modes hybrid --no-baselines
    gyosei eval answers --dataset eval/datasets/nta_faq --limit 100
    gyosei eval nli --dataset retrieval/data/nli/jsick.jsonl --judge classifier --held-out
    gyosei eval nli --dataset altered --judge rules
    gyosei eval style                   # 公用文チェック: recall, false alarms, hand review, drafts
    gyosei eval drafts --limit 30       # 答弁案 against the real answers (diet_qa, speeches before each question)
    gyosei eval support --dataset eval/datasets/support/test.jsonl
    gyosei eval compare eval/reports/A.json eval/reports/B.json
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli_common import console, err_console, fail
from retrieval.errors import GyoseiError
from retrieval.settings import Settings
from retrieval.types import SearchMode


STAGE_LABELS = {
    "index": "評価用索引の作成（チャンク）",
    "bm25": "BM25の準備（文書）",
    "langchain": "LangChain既定の埋め込み（チャンク）",
    "answer": "回答と根拠の判定（質問）",
    "draft": "答弁案の作成と採点（質問）",
}


class _RichProgress:
    """One rich task per evaluation stage, created when the stage first reports."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console)
        self.tasks: dict[str, TaskID] = {}
        self.last: dict[str, tuple[int, int | None]] = {}  # stage -> (done, total) last reported

    def __enter__(self) -> "_RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            for name, task in self.tasks.items():  # a new stage ends the earlier ones (their clocks stop)
                done_before, total_before = self.last[name]
                if total_before is None:
                    self.progress.update(task, total=done_before)
                self.progress.stop_task(task)
            label = STAGE_LABELS.get(stage) or f"検索 {stage.partition(':')[2]}（質問）"
            self.tasks[stage] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)
        self.last[stage] = (done, total)


def _parse_modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    allowed = [m.value for m in SearchMode]
    bad = [m for m in modes if m not in allowed]
    if bad:
        raise click.BadParameter(f"検索モード {', '.join(bad)} は使えません（{', '.join(allowed)} から選んでください）")
    return modes


@click.group("eval")
def eval_group() -> None:
    """オフライン評価（検索・回答・矛盾判定の精度を測り、レポートを比較します）。"""


_OUT_OPTION = click.option("--out", "out_dir", default=Path("eval/reports"), show_default=True,
                           type=click.Path(path_type=Path, file_okay=False), help="レポート（JSON、Markdown、グラフ）の出力先")
_NO_CHARTS_OPTION = click.option("--no-charts", is_flag=True, help="グラフ（PNG）を作りません")


def _charts(report: dict, json_path: Path) -> None:
    """Draw the report's charts; a chart failure never loses the report itself."""
    from eval.charts import write_charts

    try:
        files, warnings = write_charts(report, json_path)
    except ImportError:
        err_console.print("[yellow]注意:[/] matplotlib が入っていないためグラフを作りませんでした（pip install matplotlib）。")
        return
    for warning in warnings:
        err_console.print(f"[yellow]注意:[/] {warning}")
    for file in files:
        if file.suffix == ".png":
            console.print(f"グラフ: {file}", soft_wrap=True)


@eval_group.command("retrieval")
@click.option("--dataset", "dataset", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="BEIR形式の評価セットのフォルダ（corpus.jsonl、queries.jsonl、qrels/*.tsv）")
@click.option("--modes", default="dense,sparse,hybrid", show_default=True, help="評価する検索モード（カンマ区切り、空なら製品の検索を省略）")
@click.option("--k", "k", default=10, show_default=True, type=click.IntRange(1, 1000), help="評価する上位件数（文書単位）")
@click.option("--no-baselines", is_flag=True, help="ベースライン（BM25、LangChain既定）を実行しません")
@_OUT_OPTION
@_NO_CHARTS_OPTION
def eval_retrieval(dataset: Path, modes: str, k: int, no_baselines: bool, out_dir: Path, no_charts: bool) -> None:
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
        fail(exc)
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
    if not no_charts:
        _charts(report, json_path)


@eval_group.command("answers")
@click.option("--dataset", "dataset", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="BEIR形式の評価セットのフォルダ（検索評価と同じ索引を使います）")
@click.option("--limit", type=click.IntRange(1), default=None, help="評価する質問数（queries.jsonl の先頭から）")
@click.option("--no-checker", is_flag=True, help="矛盾チェック（ルール）を使わず、支持スコアだけで判定します")
@_OUT_OPTION
@_NO_CHARTS_OPTION
def eval_answers(dataset: Path, limit: int | None, no_checker: bool, out_dir: Path, no_charts: bool) -> None:
    """回答の評価: 各質問に製品と同じ方法で回答し、根拠・引用・拒否率・応答時間を測ります。

    LLM が設定されていれば LLM で回答し、引用の判定にも LLM を使います。中断しても再実行で続きから再開します。
    """
    from app.factory import build_answerer
    from eval.answers_eval import METRIC_LABELS, evaluate_answers, markdown_answers
    from eval.compare import save_report

    try:
        settings = Settings.load()
        with _RichProgress(console) as progress:
            report = evaluate_answers(dataset, settings, build_answerer, limit=limit, progress=progress,
                                      use_checker=not no_checker)
        json_path, md_path = save_report(report, out_dir, markdown_answers)
    except GyoseiError as exc:
        fail(exc)
    ds, m = report["dataset"], report["metrics"]
    table = Table(title=f"回答評価: {ds['name']}（質問 {ds['queries_evaluated']}、方式 {', '.join(report['config']['method'])}）")
    table.add_column("指標")
    table.add_column("値", justify="right")
    for name in report["metric_names"]:
        table.add_row(METRIC_LABELS.get(name, name), f"{m[name]:.3f}")
    console.print(table)
    t = report["timings"]
    console.print(f"所要時間: 回答と判定 {t['answer_s']:.1f} 秒" + (f"（再開 {t['resumed_queries']} 件）" if t["resumed_queries"] else ""))
    console.print(f"レポート: {json_path}\n          {md_path}", soft_wrap=True)
    if not no_charts:
        _charts(report, json_path)


@eval_group.command("nli")
@click.option("--dataset", "dataset", required=True,
              help="ラベル付きペアの JSONL（premise/hypothesis/label または claim/source/label）、または altered（改変文セットを生成）")
@click.option("--judge", "judge", type=click.Choice(["classifier", "rules", "llm"]), default="classifier", show_default=True,
              help="判定方法: classifier（学習済み分類器）、rules（矛盾チェックのルール）、llm（設定済みの LLM）")
@click.option("--held-out", is_flag=True, help="分類器の学習に使っていない前提文のペアだけを評価します（retrieval/data/nli 用）")
@_OUT_OPTION
@_NO_CHARTS_OPTION
def eval_nli(dataset: str, judge: str, held_out: bool, out_dir: Path, no_charts: bool) -> None:
    """矛盾判定の評価: ラベル付きペアで正解率、ラベル別の適合率・再現率・F1、混同行列を出します。"""
    from eval.compare import save_report
    from eval.nli_report import evaluate_nli_run, markdown_nli

    try:
        settings = Settings.load()
        if judge == "classifier" and not held_out and _is_training_file(dataset):
            err_console.print("[yellow]注意:[/] このファイルは分類器の学習データです。学習に使っていないペアで測るには --held-out を付けてください。")
        with console.status("判定中…"):
            report = evaluate_nli_run(dataset, judge, settings, held_out=held_out)
        json_path, md_path = save_report(report, out_dir, markdown_nli)
    except GyoseiError as exc:
        fail(exc)
    m = report["metrics"]
    table = Table(title=f"NLI 評価: {report['dataset']['name']}（{report['dataset']['pairs']} 組、判定 {judge}）")
    for col in ("ラベル", "適合率", "再現率", "F1", "件数"):
        table.add_column(col, justify="left" if col == "ラベル" else "right")
    for label, v in m["per_label"].items():
        table.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    console.print(table)
    console.print(f"正解率 {m['accuracy']:.3f}、マクロF1 {m['macro_f1']:.3f}、矛盾かそれ以外の F1 {m['contradiction_vs_not']['f1']:.3f}"
                  f"（{report['timings']['total_s']:.1f} 秒）")
    console.print(f"レポート: {json_path}\n          {md_path}", soft_wrap=True)
    if not no_charts:
        _charts(report, json_path)


@eval_group.command("support")
@click.option("--dataset", "dataset", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="claim・source・label を持つ JSONL（label は supported / unsupported / contradicted）")
@_OUT_OPTION
def eval_support(dataset: Path, out_dir: Path) -> None:
    """裏付け判定の評価: 主張と出典のペアで ROC AUC と、出荷しきい値での「裏付けなし」の適合率・再現率を出します。"""
    from app.factory import build_embedder, build_support_judge
    from eval.compare import save_report
    from eval.support_eval import METRIC_LABELS, evaluate_support, markdown_support

    try:
        settings = Settings.load()
        with console.status("判定中…（初回は裏付け判定モデルの学習に数分かかります）"):
            report = evaluate_support(dataset, build_support_judge(settings, build_embedder(settings)))
        json_path, md_path = save_report(report, out_dir, markdown_support)
    except GyoseiError as exc:
        fail(exc)
    m, ds = report["metrics"], report["dataset"]
    table = Table(title=f"裏付け判定の評価: {ds['name']}（{ds['pairs']} 組、しきい値 {report['config']['judge']['threshold']:.3f}）")
    table.add_column("指標")
    table.add_column("値", justify="right")
    for name in report["metric_names"]:
        table.add_row(METRIC_LABELS[name], f"{m[name]:.3f}")
    console.print(table)
    console.print(f"レポート: {json_path}\n          {md_path}", soft_wrap=True)


def _is_training_file(dataset: str) -> bool:
    """True when ``dataset`` is one of the files the NLI classifier was trained on (same bytes)."""
    from retrieval.nli import DEFAULT_NLI_DIR

    path = Path(dataset)
    if not path.is_file():
        return False
    data = path.read_bytes()
    return any(f.read_bytes() == data for f in DEFAULT_NLI_DIR.glob("*.jsonl"))


@eval_group.command("style")
@click.option("--dataset", "dataset", default=Path("eval/datasets/style/departures.jsonl"), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False), help="既知の逸脱を含む文の一覧（JSONL）")
@click.option("--review", "review", default=Path("eval/datasets/style/review.jsonl"), show_default=True,
              type=click.Path(path_type=Path, dir_okay=False), help="人手確認の判定（JSONL）")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="規則どおりの文書（白書・法令・FAQ）のあるフォルダ（既定: 設定の data_dir）")
@click.option("--question", type=click.Path(path_type=Path, dir_okay=False), default=Path("eval/datasets/style/draft_question.txt"),
              show_default=True, help="答弁案（定型文）を作って自動修正の前後を測る質問")
@click.option("--no-drafts", is_flag=True, help="答弁案の測定（索引と埋め込みモデルを使います）を省きます")
@_OUT_OPTION
def eval_style(dataset: Path, review: Path, data_dir: Path | None, question: Path, no_drafts: bool, out_dir: Path) -> None:
    """公用文チェックの評価: 再現率、規則どおりの文書での誤検出（1,000字あたり）、人手確認の適合率、答弁案の自動修正の効果。"""
    from app.factory import build_style_checker
    from app.style_corpus import clean_corpora
    from eval.compare import save_report
    from eval.style_eval import evaluate_style, markdown_style

    try:
        settings = Settings.load()
        checker = build_style_checker(settings)
        with console.status("規則どおりの文書を読み込んでいます…"):
            corpora = clean_corpora(data_dir or settings.data_dir)
        drafts, question_text = ({}, None) if no_drafts else _style_drafts(settings, question, checker)
        with console.status("公用文チェックを評価しています…"):
            report = evaluate_style(checker, dataset, corpora, review, drafts, question_text)
        json_path, md_path = save_report(report, out_dir, markdown_style)
    except GyoseiError as exc:
        fail(exc)
    m, rv = report["metrics"], report["review"]
    table = Table(title=f"公用文チェック評価（{report['dataset']['sentences']} 文、既知の逸脱 {report['dataset']['departures']} 件）")
    table.add_column("指標")
    table.add_column("値", justify="right")
    table.add_row("再現率", f"{m['recall']:.3f}")
    table.add_row("誤検出（1,000字あたり）", f"{m['false_alarms_per_1000']:.2f}")
    table.add_row("誤検出（文の長さの警告を除く）", f"{m['false_alarms_per_1000_without_length']:.2f}")
    table.add_row(f"人手確認の適合率（{rv['reviewed']}/{rv['size']} 件確認済み）",
                  "—" if rv["precision"] is None else f"{rv['precision']:.3f}")
    for name, row in report["drafts"].items():
        table.add_row(f"答弁案の指摘（{'自動修正前' if name == 'before' else '自動修正後'}、1,000字あたり）", f"{row['per_1000']:.2f}")
    console.print(table)
    if rv["reviewed"] < rv["size"]:
        err_console.print(f"[yellow]注意:[/] 抽出した {rv['size']} 件のうち {rv['size'] - rv['reviewed']} 件は未確認です"
                          f"（{review} に判定を追記してください）。")
    console.print(f"レポート: {json_path}\n          {md_path}", soft_wrap=True)


def _style_drafts(settings: Settings, question: Path, checker) -> tuple[dict[str, str], str | None]:
    """Template drafts of ``question`` from the configured index, without and with the automatic
    fixes (no LLM, no 矛盾チェック: only the draft text is measured). Empty when the index is."""
    from app.factory import build_embedder, build_index, build_searcher
    from app.question_file import read_question
    from retrieval.draft import Drafter
    from retrieval.support_judge import SupportJudge
    from retrieval.past_answers import PastAnswerFinder
    from retrieval.types import Access

    text = read_question(question, settings.limits)
    embedder = build_embedder(settings)
    index = build_index(settings, embedder, read_only=True)
    try:
        if index.count() == 0:
            err_console.print("[yellow]注意:[/] 索引が空のため、答弁案の測定を省きました（gyosei ingest data_samples で作成できます）。")
            return {}, text
        searcher = build_searcher(settings, embedder, index)
        # Template drafts quote their sources: the quote check alone judges them (no model to train).
        drafter = Drafter(PastAnswerFinder(searcher, rrf_k=settings.search.rrf_k), embedder, searcher.sparse, None,
                          min_relevance=settings.answer.min_relevance, style=None,
                          judge=SupportJudge(embedder, searcher.sparse, None))
        access = Access(clearance=1, groups=["all"])
        with console.status("答弁案を作成しています（自動修正なし・あり）…"):
            before = "\n".join(p.text for p in drafter.draft(text, access).points)
            drafter.style = checker
            after = "\n".join(p.text for p in drafter.draft(text, access).points)
    finally:
        index.close()
    return {"before": before, "after": after}, text


@eval_group.command("drafts")
@click.option("--dataset", "dataset", default=Path("eval/datasets/diet_qa"), show_default=True,
              type=click.Path(path_type=Path, file_okay=False), help="質問→答弁の組の評価セット（BEIR形式、diet_qa）")
@click.option("--limit", type=click.IntRange(1), default=30, show_default=True, help="評価する質問数（queries.jsonl の先頭から）")
@click.option("--min-prior", type=click.IntRange(0), default=300, show_default=True,
              help="前日までの答弁がこの件数未満の質問は評価しません（下書きの材料がないため）")
@click.option("--no-style-fixes", is_flag=True, help="公用文チェックの確実な修正を答弁案に適用しません")
@_OUT_OPTION
def eval_drafts(dataset: Path, limit: int, min_prior: int, no_style_fixes: bool, out_dir: Path) -> None:
    """答弁案の評価: 各質問の前日までの答弁から答弁案（定型文）を作り、実際の答弁との類似度（埋め込み・文字ROUGE-L）、
    最も近い過去答弁の貼り付け（ベースライン）との比較、答弁府省、話し言葉の残り、【要確認】の割合を測ります。"""
    from app.factory import build_style_checker
    from eval.compare import save_report
    from eval.drafts_eval import METRIC_LABELS, SYSTEM_LABELS, evaluate_drafts, markdown_drafts

    try:
        settings = Settings.load()
        style = None if no_style_fixes or not settings.style.auto_fix_drafts else build_style_checker(settings)
        with _RichProgress(console) as progress:
            report = evaluate_drafts(dataset, settings, limit=limit, min_prior=min_prior, style=style, progress=progress)
        json_path, md_path = save_report(report, out_dir, markdown_drafts)
    except GyoseiError as exc:
        fail(exc)
    table = Table(title=f"答弁案評価: {report['dataset']['name']}（質問 {report['dataset']['queries_evaluated']}）")
    table.add_column("指標")
    for system in report["systems"]:
        table.add_column(SYSTEM_LABELS[system], justify="right")
    for name in report["metric_names"]:
        table.add_row(METRIC_LABELS.get(name, name), *(f"{report['metrics'][s][name]:.3f}" for s in report["systems"]))
    console.print(table)
    t = report["targets"]
    console.print(f"ベースライン超え（埋め込み）: {'○' if t['beats_baseline_cosine'] else '×'}、"
                  f"（ROUGE-L）: {'○' if t['beats_baseline_rouge_l'] else '×'}、"
                  f"話し言葉 1,000字あたり1件未満: {'○' if t['spoken_below_1_per_1000'] else '×'}")
    console.print(f"レポート: {json_path}\n          {md_path}", soft_wrap=True)


@eval_group.command("compare")
@click.argument("report_a", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("report_b", type=click.Path(path_type=Path, dir_okay=False))
def eval_compare(report_a: Path, report_b: Path) -> None:
    """2つのレポート（同じ種類・同じ評価セット）の指標の差（B − A）を表示します。"""
    from eval.compare import compare_reports, load_report, lower_is_better

    try:
        comparison = compare_reports(load_report(report_a), load_report(report_b))
    except GyoseiError as exc:
        fail(exc)
    for warning in comparison.warnings:
        err_console.print(f"[yellow]注意:[/] {warning}")
    table = Table(title=f"比較: {comparison.dataset}", caption=f"A: {comparison.labels[0]}\nB: {comparison.labels[1]}")
    for col in ("システム", "指標", "A", "B", "差（B−A）"):
        table.add_column(col, justify="right" if col in ("A", "B", "差（B−A）") else "left")
    fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    for row in comparison.rows:
        delta = row.delta
        if delta is None or abs(delta) < 5e-4:
            cell = "—" if delta is None else f"{delta:+.3f}"
        else:
            better = (delta < 0) if lower_is_better(row.metric) else (delta > 0)
            cell = f"[{'green' if better else 'red'}]{delta:+.3f}[/]"
        table.add_row(_system_label(row.system), row.metric, fmt(row.a), fmt(row.b), cell)
    console.print(table)


def _system_label(system: str) -> str:
    from eval.report import SYSTEM_LABELS

    return SYSTEM_LABELS.get(system, system)


@eval_group.command("charts")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
def eval_charts(reports: tuple[Path, ...]) -> None:
    """既存のレポート（JSON）のグラフを作り直します（検索評価では「難しい質問」も Markdown に追記）。"""
    from eval.compare import load_report

    for path in reports:
        try:
            report = load_report(path)
        except GyoseiError as exc:
            fail(exc)
        _charts(report, path)
