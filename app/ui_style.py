"""公用文チェック: pasted or uploaded text (.txt / .md / .docx) checked against the official writing
rules, findings marked at their spans, one-click fixes with undo, the corrected text to download."""

from __future__ import annotations

import time

import streamlit as st

from app.factory import build_style_checker
from app.question_file import read_question_upload
from app.style_view import findings_panel, undo_key
from app.ui_common import current_user, settings_or_stop
from retrieval.errors import GyoseiError

TEXT = "style_text"
PAGE = "公用文チェック"

current_user()
settings = settings_or_stop()
checker = build_style_checker(settings)
st.title(PAGE)
st.caption("文書の表記を、公用文作成の考え方（令和4年）・公用文における漢字使用等について（平成22年）・送り仮名の付け方に照らして確認します。"
           "文書はこのサーバーの中だけで検査され、外部には送られません。")


def _load_upload() -> None:
    """Replace the text with the uploaded file's (the previous text can be restored with 元に戻す)."""
    upload = st.session_state.get("style_upload")
    if upload is None:
        return
    try:
        text = read_question_upload(upload.name, upload.getvalue(), settings.limits, label="ファイル")
    except GyoseiError as exc:
        st.session_state["style_upload_error"] = f"{exc} テキストを貼り付けることもできます。"
        return
    st.session_state.pop("style_upload_error", None)
    st.session_state.setdefault(undo_key(TEXT), []).append(st.session_state.get(TEXT, ""))
    st.session_state[TEXT] = text


st.session_state.setdefault(TEXT, "")
st.file_uploader("ファイルから読み込む（.txt / .md / .docx）", type=["txt", "md", "docx"], key="style_upload", on_change=_load_upload)
if st.session_state.get("style_upload_error"):
    st.error(st.session_state["style_upload_error"])
text = st.text_area("検査する文章", height=240, key=TEXT, placeholder="例: えー、申請の手続きについて御説明致します。")
if not text.strip():
    st.info("文章を貼り付けるか、ファイルを選んでください。")
    st.stop()
findings_panel(checker, TEXT, text)
st.download_button("この文章をテキストでダウンロード", text.encode("utf-8"), file_name=f"公用文チェック-{time.strftime('%Y%m%d-%H%M')}.txt",
                   mime="text/plain", key="style_download")
