"""文書管理 guards access (issue 17), driven headless by AppTest with a hashing embedder (no
model): a re-upload at another confidentiality is refused until the change is approved, an
explicit change of 機密性 and groups needs its confirmation and leaves an audit row, the list
shows who may read each document, and deleting removes the stored file."""

from __future__ import annotations

import pytest

from app import resources
from app.audit import AuditLog
from retrieval.embedder import HashEmbedder

from .app_testing import ADMIN, CLERK, app, app_env, texts  # noqa: F401  (fixture)

MEMO = ("memo.md", "# 会議メモ\n\n令和6年度の予算要求について、担当課で検討を進めている。\n".encode("utf-8"), "text/markdown")
SUBMIT = "FormSubmitter:upload-取り込む"


@pytest.fixture
def page(app_env, monkeypatch):
    monkeypatch.setattr(resources, "build_embedder", lambda settings: HashEmbedder(32))
    at = app(ADMIN).run()
    at.switch_page("ui_documents.py").run()
    assert not at.exception, at.exception
    return at


def _upload(at, level: int, replace: bool = False, approve: bool = False):
    at.file_uploader[0].set_value(MEMO)
    at.selectbox[0].set_value(level)
    if replace:
        at.checkbox[0].check()
    if approve:
        at.checkbox[1].check()
    return at.button(key=SUBMIT).click().run()


def _list(at):
    (frame,) = [df.value for df in at.dataframe if "文書ID" in df.value.columns]
    return frame


def _audit(app_env, action: str):
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        return [e for e in log.query(action=action) if e.outcome != "started"]


def test_a_reupload_at_another_level_asks_first_and_never_changes_access_silently(page, app_env):
    at = _upload(page, 2)
    assert not at.exception, at.exception
    assert at.status[0].label.startswith("取り込み完了: 登録 1")
    row = _list(at).iloc[0]
    assert (row["機密性"], row["閲覧グループ"], row["登録者"]) == ("機密性2", "all", "admin")
    assert row["登録日時"] and row["チャンク数"] >= 1
    assert at.get("progress")[0].proto.text == "完了しました（1/1 ファイル）"  # not left on 「取り込み中…」

    # Same file at 機密性1 with 「置き換える」 only: refused, and says what would change.
    at = _upload(at, 1, replace=True)
    shown = texts(at)
    assert "機密性2（all）で登録済み" in shown and "機密性1（all）に変わります" in shown, shown
    assert _list(at).iloc[0]["機密性"] == "機密性2"
    # With the change approved too: replaced, and the audit row names the change.
    at = _upload(at, 1, replace=True, approve=True)
    assert _list(at).iloc[0]["機密性"] == "機密性1"
    assert "既存の文書を置き換えました（uploads/memo.md） — 閲覧範囲を変更: 機密性2（all）→ 機密性1（all）" in texts(at)
    last = _audit(app_env, "upload")[-1]
    assert last.parameters["access_changes"] == [{"doc_id": "uploads/memo.md", "from": [2, ["all"]], "to": [1, ["all"]]}]


def test_changing_access_is_explicit_confirmed_and_audited(page, app_env):
    at = _upload(page, 1)
    assert (app_env / "var/uploads/memo.md").is_file()
    at.selectbox(key="acc_level_uploads/memo.md").set_value(2).run()
    assert at.button(key="doc_access").disabled  # not before the confirmation
    at.checkbox(key="acc_confirm_uploads/memo.md").check().run()
    at.button(key="doc_access").click().run()
    assert not at.exception, at.exception
    assert "uploads/memo.md を 機密性2（all）に変更しました。" in texts(at)
    assert _list(at).iloc[0]["機密性"] == "機密性2"
    (event,) = _audit(app_env, "access_change")
    assert (event.user, event.outcome, event.doc_ids) == ("admin", "ok", ["uploads/memo.md"])
    assert event.parameters["from"] == [1, ["all"]] and event.parameters["to"] == [2, ["all"]]
    # A 機密性1 reader no longer finds it.
    res = resources.resources(resources.settings())
    assert "uploads/memo.md" not in res.index.documents(CLERK.access)
    assert "uploads/memo.md" in res.index.documents(ADMIN.access)


def test_delete_removes_the_stored_file(page, app_env):
    at = _upload(page, 1)
    stored = app_env / "var/uploads/memo.md"
    assert stored.is_file()
    at.checkbox(key="doc_confirm").check().run()
    at.button(key="doc_delete").click().run()
    assert not at.exception, at.exception
    assert "uploads/memo.md を削除しました" in texts(at)
    assert not stored.exists()
    (event,) = _audit(app_env, "delete")
    assert event.doc_ids == ["uploads/memo.md"]
