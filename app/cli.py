"""The ``gyosei`` command line: a thin face over ingest/ and retrieval/.

Examples::

    gyosei setup                         # build the embedded model and NLI classifier (once, offline)
    gyosei ingest data_samples --sync    # index a folder, remove documents gone from disk
    gyosei search "行政手続法の目的"      # passages with their sources
    gyosei index stats
    gyosei fetch kokkai --any デジタル --from 2024-01-01 --until 2024-03-31
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from app import documents
from app.cli_common import console, err_console, fail, load_settings, parse_access, plain
from app.answer_view import print_answer
from app.cli_audit import audit_group, audited
from app.factory import build_answerer, build_embedder, build_index, build_searcher
from app.progress import RichIngestObserver
from retrieval.cpu import PATH_LABELS, detect_cpu
from retrieval.embedder import embedder_path, warm_up
from retrieval.errors import GyoseiError
from retrieval.query_limits import check_query
from retrieval.types import DOC_TYPES, Filters, SearchMode



@click.group()
@click.option("-v", "--verbose", is_flag=True, help="詳細なログを表示します")
def main(verbose: bool) -> None:
    """gyosei-rag: 行政文書・国会答弁の検索と回答支援"""
    from app.storage import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)  # the index, uploads, audit log and exports it writes are its user's only
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
def setup() -> None:
    """埋め込みモデル・裏付け判定モデル・矛盾チェックの分類器を準備します（初回のみ、オフラインで構築）。"""
    from retrieval.llm import chat_model_from_settings
    from retrieval.nli import classifier_from_cache
    from retrieval.support_model import support_model_from_cache

    from app.governance import external_warning

    settings = load_settings()
    _secure_storage(settings)
    warning = external_warning(settings)
    if warning:
        console.print(f"[yellow]注意: {escape(warning)}[/]")
    console.print(f"CPU: {escape(detect_cpu().summary())}")
    try:
        embedder = build_embedder(settings)
        with console.status("埋め込みモデルを準備しています（初回は数分かかります）…"):
            speed = warm_up(embedder)
        for path, reason in getattr(embedder, "fallbacks", []):
            console.print(f"[yellow]{escape(PATH_LABELS.get(path, path))} は使えませんでした（{escape(reason)}）。[/]")
        path = embedder_path(embedder)
        console.print(f"埋め込みモデルの準備ができました（{escape(settings.embedding.model)}、{embedder.dimension}次元、"
                      f"方式 {escape(PATH_LABELS.get(path, path))}: 約 {speed.chunks_per_s:.1f} チャンク/秒、"
                      f"質問 1 件 {speed.query_ms:.0f} ミリ秒）")
        # The 「裏付けあり」 judge of every answer and draft: trained once into the cache.
        with console.status("裏付け判定モデルを準備しています（初回のみ数分かかります）…"):
            support = support_model_from_cache(embedder, settings.embedding.cache_dir)
        console.print(f"裏付け判定モデルの準備ができました（{support.folder}、しきい値 {support.threshold:.3f}）")
        if chat_model_from_settings(settings.llm) is not None:
            return  # the 矛盾チェック asks the LLM: no classifier needed
        # Trained once into the cache (minutes on first set-up); without it the first draft waits.
        with console.status("矛盾チェック用の NLI 分類器を準備しています（初回のみ数分かかります）…"):
            judge = classifier_from_cache(embedder, settings.embedding.cache_dir)
    except GyoseiError as exc:
        fail(exc)
    console.print(f"矛盾チェック用の NLI 分類器の準備ができました（{judge.folder}）")


def _secure_storage(settings) -> None:
    """Make var/, the index, the uploads and the audit log private, saying what was tightened."""
    from app.storage import secure_storage

    try:
        changed = secure_storage(settings)
    except (OSError, GyoseiError) as exc:
        fail(GyoseiError(f"データの保存場所の権限を確認できません（{exc}）。"))
    for path, old, new in changed:
        console.print(f"[yellow]権限を修正しました:[/] {plain(path)}（{old:o} → {new:o}、他の利用者が読めない状態に）")
    console.print("保存場所の権限を確認しました（フォルダ 0700、ファイル 0600: 索引・アップロード・監査ログ・利用者ファイル）")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--doc-type", type=click.Choice(DOC_TYPES), help="文書種別を指定します")
@click.option("--confidentiality", type=click.IntRange(1, 3), help="機密性レベル（1〜3）")
@click.option("--groups", help="閲覧できるグループ（カンマ区切り）")
@click.option("--sync", is_flag=True, help="ディスクから消えた文書を索引からも削除します")
@click.option("--replace", is_flag=True, help="別のファイルから登録済みの同じ文書IDの文書を置き換えます（監査ログに記録）")
def ingest(paths: tuple[Path, ...], doc_type: str | None, confidentiality: int | None, groups: str | None, sync: bool,
           replace: bool) -> None:
    """ファイルやフォルダを索引に取り込みます。"""
    from ingest.pipeline import IngestOptions, Ingestor
    from retrieval.text.sparse import SparseEncoder

    settings = load_settings()
    options = IngestOptions(
        doc_type=doc_type,
        confidentiality=confidentiality,
        groups=[g.strip() for g in groups.split(",") if g.strip()] if groups else None,
        sync=sync,
        replace=replace,
    )
    try:
        embedder = build_embedder(settings)
        index = build_index(settings, embedder)
    except GyoseiError as exc:
        fail(exc)
    try:
        with audited(settings, "ingest", {"paths": [str(p) for p in paths], "doc_type": doc_type,
                                          "confidentiality": confidentiality, "groups": options.groups, "sync": sync,
                                          "replace": replace}) as event:
            with RichIngestObserver(console) as observer:
                ingestor = Ingestor(index, embedder, SparseEncoder(), settings.chunk, settings.security, settings.data_dir, observer,
                                    limits=settings.limits)
                report = ingestor.ingest(list(paths), options)
            event.doc_ids = list(report.removed)  # documents deleted by --sync
            event.parameters.update(indexed=[f.path for f in report.files if f.status == "indexed"],
                                    failed=[f.path for f in report.files if f.status == "failed"], chunks=report.chunks,
                                    replaced=report.replaced)
            event.outcome = "error" if report.nothing_indexed else "ok"
    except GyoseiError as exc:
        fail(exc)
    finally:
        index.close()
    _print_report(report)
    if report.nothing_indexed:
        sys.exit(1)


def _print_report(report) -> None:
    indexed = [f for f in report.files if f.status == "indexed"]
    if indexed:
        table = Table(title="取り込み結果")
        table.add_column("ファイル", overflow="fold")
        table.add_column("文書", justify="right")
        table.add_column("チャンク", justify="right")
        for f in indexed:
            table.add_row(plain(f.path), str(f.documents), str(f.chunks))
        console.print(table)
    problems = [reason for f in report.files for reason in f.reasons]
    if problems:
        console.print("[bold red]読み込めなかったもの:[/]")
        for reason in problems:
            console.print(f"  - {plain(reason)}", soft_wrap=True, highlight=False)
    if report.replaced:
        console.print(f"置き換えた文書（別のファイルから登録済みだったもの）: {plain('、'.join(report.replaced))}", soft_wrap=True)
    rate = report.chunks / report.seconds if report.seconds else 0.0
    console.print(
        f"登録 {report.indexed} ファイル（{report.documents} 文書、{report.chunks} チャンク）、"
        f"変更なし {report.skipped}、失敗 {report.failed}"
        + (f"（ほかに読めなかった記録 {report.failed_documents} 件）" if report.failed_documents else "")
        + f"、削除 {len(report.removed)} 文書 "
        f"— {report.seconds:.1f} 秒（{rate:.1f} チャンク/秒）",
        soft_wrap=True,
    )


@main.command()
@click.argument("question")
@click.option("-k", "--top", "k", default=5, show_default=True, help="表示する件数")
@click.option("--mode", type=click.Choice([m.value for m in SearchMode]), default="hybrid", show_default=True)
@click.option("--doc-type", "doc_types", multiple=True, type=click.Choice(DOC_TYPES), help="文書種別で絞り込み")
@click.option("--from", "date_from", help="この日付以降（YYYY-MM-DD）")
@click.option("--until", "date_to", help="この日付以前（YYYY-MM-DD）")
@click.option("--clearance", type=click.IntRange(1, 3), default=1, show_default=True, help="利用者の機密性クリアランス")
@click.option("--groups", default="all", show_default=True, help="利用者の所属グループ（カンマ区切り）")
def search(question: str, k: int, mode: str, doc_types: tuple[str, ...], date_from: str | None, date_to: str | None, clearance: int, groups: str) -> None:
    """質問に関係する箇所を出典付きで表示します。"""
    settings = load_settings()
    access = parse_access(clearance, groups)
    filters = Filters(doc_types=list(doc_types) or None, date_from=date_from, date_to=date_to)
    try:
        check_query(question, settings.limits)
        with audited(settings, "question", {"command": "search", "question": question, "mode": mode, "k": k,
                                            "filters": asdict(filters), "access": asdict(access)}) as event:
            embedder = build_embedder(settings)
            index = build_index(settings, embedder, read_only=True)
            try:
                hits = build_searcher(settings, embedder, index).search(question, access, filters, mode, k)
            finally:
                index.close()
            event.doc_ids = [str(h.payload.get("doc_id", "")) for h in hits]
    except GyoseiError as exc:
        fail(exc)
    if not hits:
        console.print("該当する資料が見つかりませんでした")
        return
    from retrieval.citation import describe_source

    for n, hit in enumerate(hits, 1):
        # The rank [n] only: a raw sparse score would carry IDF counted over hidden chunks too.
        console.print(f"[bold][{n}][/] {plain(describe_source(hit.payload))}")
        console.print(f"    {plain(hit.text[:240])}", highlight=False)


@main.command()
@click.argument("question")
@click.option("--mode", type=click.Choice([m.value for m in SearchMode]), default="hybrid", show_default=True)
@click.option("--doc-type", "doc_types", multiple=True, type=click.Choice(DOC_TYPES), help="文書種別で絞り込み")
@click.option("--from", "date_from", help="この日付以降（YYYY-MM-DD）")
@click.option("--until", "date_to", help="この日付以前（YYYY-MM-DD）")
@click.option("--house", help="院（衆議院・参議院）で絞り込み")
@click.option("--meeting", help="会議名で絞り込み")
@click.option("--speaker", help="発言者で絞り込み")
@click.option("--clearance", type=click.IntRange(1, 3), default=1, show_default=True, help="利用者の機密性クリアランス")
@click.option("--groups", default="all", show_default=True, help="利用者の所属グループ（カンマ区切り）")
@click.option("--no-llm", is_flag=True, help="LLM を設定していても抽出型で回答します")
@click.option("--json", "as_json", is_flag=True, help="結果を JSON で出力します")
def ask(question: str, mode: str, doc_types: tuple[str, ...], date_from: str | None, date_to: str | None,
        house: str | None, meeting: str | None, speaker: str | None, clearance: int, groups: str,
        no_llm: bool, as_json: bool) -> None:
    """質問に、番号付きの出典を添えて回答します。"""
    settings = load_settings()
    access = parse_access(clearance, groups)
    filters = Filters(doc_types=list(doc_types) or None, date_from=date_from, date_to=date_to,
                      house=house, meeting=meeting, speaker=speaker)
    try:
        check_query(question, settings.limits)
        with audited(settings, "question", {"command": "ask", "question": question, "mode": mode, "use_llm": not no_llm,
                                            "filters": asdict(filters), "access": asdict(access)}) as event:
            embedder = build_embedder(settings)
            index = build_index(settings, embedder, read_only=True)
            try:
                result = build_answerer(settings, embedder, index).answer(question, access, filters, mode, use_llm=not no_llm)
            finally:
                index.close()
            event.note_answer(result)
    except GyoseiError as exc:
        fail(exc)
    if as_json:
        import json

        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print_answer(console, result)


@main.group()
def index() -> None:
    """索引の管理（統計・削除）。"""


@index.command("stats")
@click.option("--clearance", type=click.IntRange(1, 3), default=1, show_default=True, help="利用者の機密性クリアランス")
@click.option("--groups", default="all", show_default=True, help="利用者の所属グループ（カンマ区切り）")
@click.option("--all", "everything", is_flag=True, help="保守用: 機密性やグループに関係なくすべての文書を数えます")
def index_stats(clearance: int, groups: str, everything: bool) -> None:
    """閲覧できる文書の数・チャンク数を文書種別ごとに表示します。"""
    settings = load_settings()
    # Counts and titles are readable content too: filtered like search unless --all (maintenance).
    access = None if everything else parse_access(clearance, groups)
    try:
        embedder = build_embedder(settings)
        idx = build_index(settings, embedder, read_only=True)
        try:
            docs = idx.documents(access)
            chunks = idx.count(access)
        finally:
            idx.close()
    except GyoseiError as exc:
        fail(exc)
    table = Table(title="索引の統計（すべての文書）" if everything else f"索引の統計（機密性{clearance}まで・グループ {groups}）")
    table.add_column("文書種別")
    table.add_column("文書数", justify="right")
    table.add_column("チャンク数", justify="right")
    for doc_type, n_docs, n_chunks in documents.index_stats(docs):
        table.add_row(doc_type, str(n_docs), str(n_chunks))
    table.add_row("[bold]合計[/]", str(len(docs)), str(chunks))
    console.print(table)
    line, note = documents.embedding_path_summary(docs, embedder_path(embedder))
    console.print(escape(line))
    if note:
        console.print(f"[yellow]{escape(note)}[/]")
    incomplete = [d for d in docs.values() if not d.complete]
    if incomplete:
        console.print(f"[yellow]未完了の文書が {len(incomplete)} 件あります。もう一度 gyosei ingest を実行してください。[/]")


@index.command("delete")
@click.argument("doc_id")
def index_delete(doc_id: str) -> None:
    """文書を索引から削除します。"""
    settings = load_settings()
    try:
        with audited(settings, "delete", {"doc_id": doc_id}) as event:
            embedder = build_embedder(settings)
            idx = build_index(settings, embedder)
            try:
                removed = idx.delete(doc_id)
                idx.flush()
            finally:
                idx.close()
            documents.remove_saved_upload(settings, doc_id)  # as 文書管理 does
            event.doc_ids, event.outcome = [doc_id], "ok" if removed else "not_found"
            event.parameters["chunks_removed"] = removed
    except GyoseiError as exc:
        fail(exc)
    if removed:
        console.print(f"{doc_id} を削除しました（{removed} チャンク）")
    else:
        err_console.print(f"{doc_id} は索引にありません")
        sys.exit(1)


@main.group()
def fetch() -> None:
    """公開APIから資料を取得します。"""


@fetch.command("kokkai")
@click.option("--any", "any_word", required=True, help="検索語（発言本文）")
@click.option("--from", "date_from", required=True, help="開始日（YYYY-MM-DD）")
@click.option("--until", "date_until", required=True, help="終了日（YYYY-MM-DD）")
@click.option("--meeting", help="会議名（例: 予算委員会）")
@click.option("--speaker", help="発言者名")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("data/kokkai"), show_default=True)
@click.option("--base-url", default="https://kokkai.ndl.go.jp/api/speech", show_default=True)
@click.option("--interval", default=1.0, show_default=True, help="リクエスト間隔（秒）")
def fetch_kokkai(any_word: str, date_from: str, date_until: str, meeting: str | None, speaker: str | None, out_dir: Path, base_url: str, interval: float) -> None:
    """国会会議録検索システムAPIから発言を取得し、JSONで保存します（中断しても再開できます）。"""
    from ingest.fetch_kokkai import fetch_speeches

    try:
        with console.status("国会会議録を取得しています…") as status:
            summary = fetch_speeches(
                out_dir,
                any=any_word,
                date_from=date_from,
                date_until=date_until,
                meeting=meeting,
                speaker=speaker,
                base_url=base_url,
                min_interval_s=interval,
                progress=lambda done, total: status.update(f"国会会議録を取得しています… {done}/{total} 件"),
            )
    except GyoseiError as exc:
        fail(exc)
    console.print(f"取得が終わりました: {summary}")
    console.print(f"取り込むには: gyosei ingest {out_dir}")


from app.cli_eval import eval_group  # noqa: E402  (the eval commands live in their own module)

main.add_command(eval_group)
main.add_command(audit_group)

from app.cli_draft import draft_command  # noqa: E402  (Diet-answer drafting lives in its own module)

main.add_command(draft_command)

from app.cli_users import user_group  # noqa: E402  (user management lives in its own module)

main.add_command(user_group)

from app.cli_api import api_command  # noqa: E402

main.add_command(api_command)

from app.cli_serve import serve_command  # noqa: E402

main.add_command(serve_command)

from app.cli_style import check_style_command  # noqa: E402  (the 公用文チェック)

main.add_command(check_style_command)

from app.cli_usage import usage_group  # noqa: E402  (the periodic usage report)

main.add_command(usage_group)

from app.cli_governance import governance_group  # noqa: E402  (the CAIO's record)

main.add_command(governance_group)


if __name__ == "__main__":
    main()
