"""The 文書管理 page, driven headless by AppTest with the real model: upload real files with a
confidentiality level, per-file results (a refused file explained in Japanese), the document
list, opening and deleting a document, index statistics, and the audit trail."""

from __future__ import annotations

import pytest

from app.audit import AuditLog

from .app_testing import ADMIN, app_env, open_page, texts, use_real_embedder  # noqa: F401  (fixture)
from .conftest import SAMPLES

pytestmark = pytest.mark.slow

FAQ = SAMPLES / "digital_agency/499_appendix_FAQ.md"


@pytest.fixture
def documents_page(app_env, monkeypatch, model_cache_dir, real_embedder):
    use_real_embedder(monkeypatch, model_cache_dir, real_embedder)
    return open_page(ADMIN, "ui_documents.py")


def _doc_ids(at) -> list[str]:
    frames = [df.value for df in at.dataframe if "文書ID" in df.value.columns]
    return list(frames[0]["文書ID"]) if frames else []


def test_upload_list_open_and_delete(documents_page, app_env):
    at = documents_page
    assert "0 件（全 0 文書）" in texts(at)  # a fresh, empty index
    at.file_uploader[0].set_value([
        (FAQ.name, FAQ.read_bytes(), "text/markdown"),
        ("偽物.pdf", "これはPDFではありません".encode("utf-8"), "application/pdf"),
    ])
    at.button(key="FormSubmitter:upload-取り込む").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert f"{FAQ.name}: 登録しました（1 文書" in shown, shown
    assert any("偽物.pdf" in e.value for e in at.error)  # refused before parsing, in Japanese
    assert at.status[0].label.startswith("取り込み完了: 登録 1、変更なし 0、失敗 0")
    assert _doc_ids(at) == [f"uploads/{FAQ.name}"]
    assert (app_env / "var/uploads" / FAQ.name).is_file() and not (app_env / "var/uploads/偽物.pdf").exists()

    # Statistics and search in the list.
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["文書数"] == "1" and int(metrics["チャンク数"]) >= 1
    at.text_input(key="doc_query").input("存在しない題名").run()
    assert _doc_ids(at) == []
    at.text_input(key="doc_query").input("").run()

    # Open: the document's passages in order.
    at.button(key="doc_open").click().run()
    assert "FAQ" in texts(at) or "よくある" in texts(at)

    # Delete needs the confirmation box; then the document and its uploaded file are gone.
    assert at.button(key="doc_delete").disabled
    at.checkbox(key="doc_confirm").check().run()
    at.button(key="doc_delete").click().run()
    assert not at.exception
    assert f"uploads/{FAQ.name} を削除しました" in texts(at)
    assert _doc_ids(at) == [] and not (app_env / "var/uploads" / FAQ.name).exists()

    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        actions = [(e.action, e.user, e.outcome) for e in log.query() if e.action in ("upload", "delete")]
        (upload,) = log.query(action="upload")
    assert actions == [("upload", "admin", "ok"), ("delete", "admin", "ok")]
    assert upload.parameters["confidentiality"] == 1 and upload.parameters["groups"] == ["all"]
    assert len(upload.parameters["refused"]) == 1


def test_reuploading_an_unchanged_file_is_skipped(documents_page):
    at = documents_page
    for _ in range(2):
        at.file_uploader[0].set_value((FAQ.name, FAQ.read_bytes(), "text/markdown"))
        at.button(key="FormSubmitter:upload-取り込む").click().run()
    assert f"{FAQ.name}: 変更なし（登録済み）" in texts(at)
    assert _doc_ids(at) == [f"uploads/{FAQ.name}"]
