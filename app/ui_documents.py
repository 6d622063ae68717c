"""文書管理: upload files with a confidentiality level and groups, ingest them with progress and
per-file results, list/search/open/delete documents, index statistics (administrators)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app import resources
from app.documents import (
    CallbackObserver,
    change_access,
    embedding_path_summary,
    delete_document,
    document_passages,
    document_rows,
    file_message,
    index_stats,
    ingest_files,
    save_upload,
    uploads_dir,
)
from app.ui_startup import wait_until_searchable
from app.safe_text import html_block, md_inline
from app.ui_common import DOC_TYPE_LABELS, current_user, require_admin, settings_or_stop, shared, show_error
from ingest.pipeline import IngestOptions
from retrieval.embedder import embedder_path
from retrieval.errors import GyoseiError
from retrieval.types import PUBLIC_GROUP

PAGE = "文書管理"

user = current_user()
require_admin(user)
settings = settings_or_stop()
wait_until_searchable()
res = shared(settings)
audit = resources.audit_log(settings)
st.title("文書管理")

tab_upload, tab_list, tab_stats = st.tabs(["取り込み", "文書一覧", "索引の統計"])

with tab_upload:
    max_level = min(user.clearance, settings.security.max_confidentiality)
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(f"ファイル（PDF・Word・HTML・Markdown・テキスト・国会会議録JSON・法令XML など。"
                                 f"1 ファイル {settings.limits.max_file_mb:g} MB まで）", accept_multiple_files=True,
                                 help="ここにファイルをドラッグするか、ボタンから選んでください。複数選べます。")
        cols = st.columns(3)
        level = cols[0].selectbox("機密性", list(range(1, max_level + 1)), format_func=lambda n: f"機密性{n}",
                                  help=f"この環境で取り込める上限は機密性{settings.security.max_confidentiality}です。")
        group_choices = sorted({PUBLIC_GROUP, *settings.security.default_groups, *user.groups})
        groups = cols[1].multiselect("閲覧できるグループ", group_choices, default=settings.security.default_groups,
                                     help="all は全員が閲覧できます。", placeholder="グループを選んでください")
        doc_type = cols[2].selectbox("文書種別", ["", *DOC_TYPE_LABELS], format_func=lambda t: DOC_TYPE_LABELS.get(t, "自動判定"))
        replace = st.checkbox("既存の文書を置き換える", help="同じ文書IDの文書が登録済みのとき、閲覧できる文書に限り置き換えます（監査ログに記録）。")
        access_ok = st.checkbox("機密性・グループの変更も承認する",
                                help="置き換えで登録済みの文書の機密性や閲覧グループが変わるときに必要です（監査ログに記録）。")
        submitted = st.form_submit_button("取り込む", type="primary")
    if submitted:
        submitted_at = time.perf_counter()  # the time shown is what the user waited
        if not files:
            st.warning("ファイルを選んでください。")
        elif not groups:
            st.warning("閲覧できるグループを 1 つ以上選んでください。")
        else:
            saved, problems = [], []
            for f in files:
                try:
                    saved.append(save_upload(f.name, f.getvalue(), uploads_dir(settings), settings.limits))
                except GyoseiError as exc:
                    problems.append(str(exc))
            for p in problems:
                st.error(p)
            if saved:
                progress = st.progress(0.0, text=f"取り込み中… 0/{len(saved)} ファイル")
                status = st.status("取り込み中…", expanded=True)
                done: list = []

                def on_file(result) -> None:
                    done.append(result)
                    progress.progress(len(done) / max(len(saved), 1), text=f"取り込み中… {len(done)}/{len(saved)} ファイル")
                    icon = {"indexed": "✅", "skipped": "➖"}.get(result.status, "❌")
                    status.write(f"{icon} {md_inline(file_message(result))}")

                options = IngestOptions(doc_type=doc_type or None, confidentiality=level, groups=groups,
                                        writer=user.access, replace=replace, ingested_by=user.name,
                                        allow_access_change=replace and access_ok)
                try:
                    with audit.track(user.name, "upload", {"page": PAGE, "files": [p.name for p in saved], "confidentiality": level,
                                                           "groups": groups, "doc_type": doc_type or None,
                                                           "refused": problems, "replace": replace,
                                                           "allow_access_change": replace and access_ok}) as event:
                        report = ingest_files(res, saved, options, CallbackObserver(lambda n: None, on_file))
                        event.parameters.update(indexed=[f.path for f in report.files if f.status == "indexed"],
                                                failed=[f.path for f in report.files if f.status == "failed"], chunks=report.chunks,
                                                replaced=report.replaced, access_changes=report.access_changes)
                        event.doc_ids = report.replaced
                        event.outcome = "error" if report.nothing_indexed else "ok"
                except Exception as exc:  # noqa: BLE001 - shown short, logged in full
                    progress.progress(len(done) / max(len(saved), 1), text=f"中断しました（{len(done)}/{len(saved)} ファイル処理済み）")
                    status.update(label="取り込みに失敗しました", state="error")
                    show_error(exc)
                else:
                    state = "error" if report.nothing_indexed else "complete"
                    progress.progress(1.0, text=f"完了しました（{len(saved)}/{len(saved)} ファイル）")
                    partial = f"（ほかに読めなかった記録 {report.failed_documents} 件）" if report.failed_documents else ""
                    status.update(label=f"取り込み完了: 登録 {report.indexed}、変更なし {report.skipped}、失敗 {report.failed}{partial}"
                                        f"（送信から {time.perf_counter() - submitted_at:.1f} 秒）",
                                  state=state, expanded=True)

def access_form(doc_id: str, info) -> None:
    """Change one document's 機密性 and groups: an explicit action, confirmed, in the audit log."""
    with st.expander("機密性・閲覧グループを変更", expanded=False):
        st.caption(f"現在: 機密性{info.confidentiality}、閲覧グループ {'、'.join(info.groups) or 'なし'}")
        limit = min(user.clearance, settings.security.max_confidentiality)
        c1, c2 = st.columns(2)
        new_level = c1.selectbox("新しい機密性", list(range(1, limit + 1)), index=min(info.confidentiality, limit) - 1,
                                 format_func=lambda n: f"機密性{n}", key=f"acc_level_{doc_id}")
        choices = sorted({PUBLIC_GROUP, *settings.security.default_groups, *user.groups, *info.groups})
        new_groups = c2.multiselect("新しい閲覧グループ", choices, default=list(info.groups), key=f"acc_groups_{doc_id}",
                                    placeholder="グループを選んでください")
        unchanged = new_level == info.confidentiality and sorted(new_groups) == sorted(info.groups)
        sure = st.checkbox("この文書を閲覧できる人が変わることを確認しました", key=f"acc_confirm_{doc_id}", disabled=unchanged)
        if st.button("変更する", key="doc_access", disabled=unchanged or not sure):
            params = {"page": PAGE, "doc_id": doc_id, "from": [info.confidentiality, list(info.groups)],
                      "to": [new_level, sorted(new_groups)]}
            try:
                with audit.track(user.name, "access_change", params) as event:
                    _, _, changed = change_access(res, doc_id, new_level, new_groups, user.access)
                    event.doc_ids, event.parameters["chunks"] = [doc_id], changed
            except Exception as exc:  # noqa: BLE001
                show_error(exc)
            else:
                st.session_state["doc_access_done"] = (f"{doc_id} を 機密性{new_level}（{'、'.join(sorted(new_groups))}）に"
                                                       "変更しました。")
                st.session_state.pop(f"acc_confirm_{doc_id}", None)
                st.rerun()


with tab_list:
    docs = res.index.documents(user.access)
    cols = st.columns([3, 2])
    query = cols[0].text_input("文書を検索（題名・文書ID）", key="doc_query")
    types = cols[1].multiselect("文書種別", list(DOC_TYPE_LABELS), format_func=DOC_TYPE_LABELS.get, key="doc_types",
                                placeholder="すべての種別")
    rows = document_rows(docs, query, types)
    st.caption(f"{len(rows)} 件（全 {len(docs)} 文書）")
    if rows:
        st.dataframe(pd.DataFrame([r.as_dict(DOC_TYPE_LABELS) for r in rows]), hide_index=True, width="stretch")
        chosen = st.selectbox("文書を選ぶ", [r.doc_id for r in rows],
                              format_func=lambda d: f"{docs[d].title or d}（{d}）", key="doc_chosen")
        c1, c2 = st.columns(2)
        if c1.button("本文を表示", key="doc_open"):
            try:
                passages = document_passages(res, chosen, user.access)
            except Exception as exc:  # noqa: BLE001
                show_error(exc)
                passages = []
            with st.container(border=True, height=420):
                for p in passages:
                    head = " ".join(str(x) for x in (p.get("section"), f"{p['page']}ページ" if p.get("page") else "") if x)
                    if head:
                        st.caption(md_inline(head))
                    st.markdown(f"<div style='white-space: pre-wrap'>{html_block(p.get('text', ''))}</div>", unsafe_allow_html=True)
                if docs[chosen].source_path:
                    st.caption(f"元ファイル: {md_inline(docs[chosen].source_path)}")
        confirm = c2.checkbox("削除を確認しました", key="doc_confirm")
        if c2.button("索引から削除", key="doc_delete", disabled=not confirm):
            try:
                with audit.track(user.name, "delete", {"page": PAGE, "doc_id": chosen}) as event:
                    removed = delete_document(res, chosen, user.access)
                    event.doc_ids, event.parameters["chunks_removed"] = [chosen], removed
            except Exception as exc:  # noqa: BLE001
                show_error(exc)
            else:
                st.session_state["doc_deleted"] = f"{chosen} を削除しました（{removed} チャンク）。"
                st.session_state.pop("doc_confirm", None)
                st.rerun()
        access_form(chosen, docs[chosen])
    for key in ("doc_deleted", "doc_access_done"):
        if st.session_state.get(key):
            st.success(st.session_state.pop(key))

with tab_stats:
    docs_all = res.index.documents(user.access)
    stats = index_stats(docs_all)
    c1, c2 = st.columns(2)
    c1.metric("文書数", f"{len(docs_all):,}")
    c2.metric("チャンク数", f"{sum(c for _, _, c in stats):,}")
    if stats:
        st.dataframe(pd.DataFrame([{"文書種別": DOC_TYPE_LABELS.get(t, t), "文書数": n, "チャンク数": c} for t, n, c in stats]),
                     hide_index=True)
    path_line, path_note = embedding_path_summary(docs_all, embedder_path(res.embedder))
    st.caption(path_line)
    if path_note:
        st.info(path_note)
    incomplete = [d for d in docs_all.values() if not d.complete]
    if incomplete:
        st.warning(f"未完了の文書が {len(incomplete)} 件あります。元のファイルをもう一度取り込んでください。")
