"""The 公用文チェック page, driven headless by AppTest: pasted text shows its findings at their
spans, a one-click fix is applied and undone, all certain fixes at once, an uploaded Word file
is read, a bad upload gives a Japanese error naming the file."""

from __future__ import annotations

import io

import docx

from .app_testing import CLERK, app_env, open_page, texts  # noqa: F401  (fixture)

TEXT = "えー、事故が起きた時は、ちょっと手続きを御説明致します。"


def _fix_button(at, label_start: str):
    return next(b for b in at.button if b.label.startswith(label_start))


def test_findings_are_shown_and_a_fix_is_applied_and_undone(app_env):
    at = open_page(CLERK, "ui_style.py")
    assert "文章を貼り付けるか" in texts(at)
    at.text_area(key="style_text").input(TEXT).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "指摘 5 件（自動修正可 4 件）" in shown
    assert "<mark" in shown and "時</mark>" in shown  # the finding is marked at its span
    assert "「〜するときは」（条件・場合）の「とき」は仮名で書きます" in shown and "内閣訓令第1号" in shown
    _fix_button(at, "「時」→「とき」").click().run()
    assert at.text_area(key="style_text").value == "えー、事故が起きたときは、ちょっと手続きを御説明致します。"
    assert "指摘 4 件" in texts(at)
    at.button(key="style_text__style_undo_btn").click().run()
    assert at.text_area(key="style_text").value == TEXT
    # A suggestion that is not certain is still one click away (the official decides).
    _fix_button(at, "「ちょっと」→「少し」").click().run()
    assert "少し手続き" in at.text_area(key="style_text").value
    at.button(key="style_text__style_all").click().run()
    assert at.text_area(key="style_text").value == "事故が起きたときは、少し手続を御説明いたします。"
    assert "規則に反する箇所は見つかりませんでした" in texts(at)
    at.button(key="style_text__style_undo_btn").click().run()
    assert at.text_area(key="style_text").value == "えー、事故が起きた時は、少し手続きを御説明致します。"


def test_an_uploaded_word_file_is_checked_and_a_bad_one_is_refused(app_env):
    at = open_page(CLERK, "ui_style.py")
    document = docx.Document()
    document.add_paragraph("確認する事が重要です。")
    buf = io.BytesIO()
    document.save(buf)
    at.file_uploader[0].set_value(("確認.docx", buf.getvalue(),
                                   "application/vnd.openxmlformats-officedocument.wordprocessingml.document")).run()
    assert not at.exception, at.exception
    assert at.text_area(key="style_text").value == "確認する事が重要です。"
    assert "指摘 1 件" in texts(at) and "形式名詞の「こと」" in texts(at)
    at.file_uploader[0].set_value(("壊れた.docx", b"PK\x03\x04 not really a zip", "application/octet-stream")).run()
    assert "壊れた.docx" in "\n".join(e.value for e in at.error)
    assert at.text_area(key="style_text").value == "確認する事が重要です。"  # the text is kept
