"""Streamlit entry point: the sign-in gate, then the pages (質問, 答弁作成, 公用文チェック, and for administrators
文書管理, 評価, 利用状況, ガバナンス). Nothing but the sign-in form renders before a user is signed in.

Run: ``gyosei serve --ingest data_samples`` (what ``make run`` does: the UI comes up at once and
indexes the samples in the background), or ``streamlit run app/Home.py`` on an existing index.
"""

from __future__ import annotations

import os

import streamlit as st

from app.ui_auth import require_user, sign_out
from app.storage import PRIVATE_UMASK
from app.ui_common import settings_or_stop
from app.ui_startup import startup_banner

os.umask(PRIVATE_UMASK)  # uploads, the index and the audit log it writes are readable by this account only

st.set_page_config(page_title="行政文書検索 — gyosei-rag", page_icon="📚", layout="wide")
# Streamlit's own English hints that no parameter changes: 「Press Enter to submit form」 under
# inputs, and the uploader's 「Drag and drop files here / Limit … per file」 (our labels say both in Japanese).
st.html("<style>[data-testid='InputInstructions'], [data-testid='stFileUploaderDropzoneInstructions'] "
        "{display: none;}</style>")

settings = settings_or_stop()
user = require_user(settings)  # stops the run with the sign-in form until someone signs in

pages = [
    st.Page("ui_ask.py", title="質問", icon=":material/chat:", default=True),
    st.Page("ui_draft.py", title="答弁作成", icon=":material/edit_note:"),
    st.Page("ui_style.py", title="公用文チェック", icon=":material/spellcheck:"),
]
if user.is_admin:
    pages += [
        st.Page("ui_documents.py", title="文書管理", icon=":material/folder_open:"),
        st.Page("ui_evaluation.py", title="評価", icon=":material/bar_chart:"),
        st.Page("ui_usage.py", title="利用状況", icon=":material/monitoring:"),
        st.Page("ui_governance.py", title="ガバナンス", icon=":material/policy:"),
    ]
page = st.navigation(pages)

with st.sidebar:
    st.caption(f"ログイン中: **{user.name}**　機密性{user.clearance}まで　グループ: {'、'.join(user.groups)}")
    if st.button("ログアウト", key="logout"):
        sign_out(settings)

startup_banner()  # while `gyosei serve` loads the model and indexes the samples, on every page
if user.is_admin:
    from app.governance import external_warning

    if (warning := external_warning(settings)) is not None:  # on every administrator's page
        st.warning(warning)
page.run()
