"""評価: open evaluation reports (metric tables, charts) and compare two runs (administrators)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from app import eval_runner, resources
from app.eval_view import charts, compare_files, comparison_table, list_reports, metric_table
from app.ui_common import current_user, require_admin, settings_or_stop, show_error
from eval.compare import load_report

user = current_user()
require_admin(user)
settings = settings_or_stop()
st.title("評価")
st.caption("評価レポート（このページの「検索評価を実行」、または `gyosei eval`）を開き、2 回の実行を比較します。")
# Only the configured reports folder is read: the page never opens a path a user typed.
folder = Path(settings.eval_reports_dir)


def run_panel() -> None:
    """Start a retrieval evaluation in the background and follow it (redrawn every 2 s while it runs)."""
    job = eval_runner.current()
    with st.expander("検索評価を実行", expanded=job is not None and job.state == "running"):
        names = eval_runner.datasets()
        if not names:
            st.caption("評価セット（eval/datasets）がありません。")
            return
        c1, c2 = st.columns([3, 1])
        dataset = c1.selectbox("評価セット", names, key="eval_run_dataset")
        running = job is not None and job.state == "running"
        if c2.button("実行する", key="eval_run", disabled=running):
            try:
                job = eval_runner.start(settings, dataset, embedder=resources.resources(settings).embedder)
            except Exception as exc:  # noqa: BLE001
                show_error(exc)
            else:
                st.rerun()  # the whole page, so that the panel follows the run
        if job is None:
            st.caption("評価セットを専用の索引に取り込み、全質問を検索して指標を出します（数分かかります）。")
            return
        if job.state == "running":
            total = f"{job.done}/{job.total}" if job.total else f"{job.done}"
            st.progress(job.fraction, text=f"{job.dataset}: {job.stage} {total}（{time.time() - job.started:.0f} 秒経過）")
        elif job.state == "complete":
            st.success(f"{job.dataset}: {job.message}")
            if st.session_state.get("eval_seen") != str(job.report_path):
                st.session_state["eval_seen"] = str(job.report_path)
                st.rerun()  # the new report in the list below
        else:
            st.error(f"{job.dataset}: {job.message}")


_running = eval_runner.current() is not None and eval_runner.current().state == "running"
st.fragment(run_every=2 if _running else None)(run_panel)()
entries, problems = list_reports(folder) if folder.is_dir() else ([], [])
for p in problems:
    st.caption(f"⚠️ {p}")
if not entries:
    st.info("評価レポートはまだありません。上の「検索評価を実行」で評価セットを選んで実行するか、端末で "
            "`gyosei eval retrieval --dataset eval/datasets/lawqa` を実行すると、ここに表示されます。")
    st.stop()

by_path = {str(e.path): e for e in entries}
if st.session_state.get("eval_folder") != str(folder):  # another folder: forget the old choices
    for key in ("eval_report", "eval_a", "eval_b"):
        st.session_state.pop(key, None)
    st.session_state["eval_folder"] = str(folder)
tab_one, tab_cmp = st.tabs(["レポート", "2 回の比較"])

with tab_one:
    chosen = st.selectbox("レポート", list(by_path), format_func=lambda p: by_path[p].label, key="eval_report")
    try:
        report = load_report(Path(chosen))
    except Exception as exc:  # noqa: BLE001
        show_error(exc)
        st.stop()
    ds = report.get("dataset", {})
    st.caption(f"評価セット {ds.get('name')}：文書 {ds.get('documents', '?')} 件、質問 {ds.get('queries_evaluated', ds.get('queries', '?'))} 件")
    st.dataframe(pd.DataFrame(metric_table(report)), hide_index=True, width="stretch")
    for png in charts(Path(chosen)):
        st.image(str(png), caption=png.name)
    md = Path(chosen).with_suffix(".md")
    if md.is_file():
        with st.expander("レポート本文（Markdown）"):
            st.markdown(md.read_text(encoding="utf-8"))

with tab_cmp:
    paths = list(by_path)
    c1, c2 = st.columns(2)
    a = c1.selectbox("A（基準）", paths, index=min(1, len(paths) - 1), format_func=lambda p: by_path[p].label, key="eval_a")
    b = c2.selectbox("B（比較対象）", paths, index=0, format_func=lambda p: by_path[p].label, key="eval_b")
    if st.button("比較する", key="eval_compare"):
        try:
            comparison = compare_files(Path(a), Path(b))
        except Exception as exc:  # noqa: BLE001 - CompareError explains in Japanese
            show_error(exc)
        else:
            st.caption(f"A: {comparison.labels[0]}　B: {comparison.labels[1]}")
            for w in comparison.warnings:
                st.warning(w)
            st.dataframe(pd.DataFrame(comparison_table(comparison)), hide_index=True, width="stretch")
