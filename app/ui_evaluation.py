"""評価: open evaluation reports (metric tables, charts) and compare two runs (administrators)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app.eval_view import DEFAULT_REPORTS_DIR, charts, compare_files, comparison_table, list_reports, metric_table
from app.ui_common import current_user, require_admin, show_error
from eval.compare import load_report

user = current_user()
require_admin(user)
st.title("評価")
st.caption("`make eval`（または `gyosei eval`）が書いた評価レポートを開き、2 回の実行を比較します。")

folder = Path(st.text_input("レポートのフォルダ", value=str(DEFAULT_REPORTS_DIR)))
if not folder.is_dir():
    st.warning(f"フォルダ {folder} がありません。評価を実行すると作成されます。")
    st.stop()
entries, problems = list_reports(folder)
for p in problems:
    st.caption(f"⚠️ {p}")
if not entries:
    st.info(f"{folder} に評価レポートがありません。")
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
