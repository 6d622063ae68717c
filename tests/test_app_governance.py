"""Governance on the pages, headless (AppTest) over a real index and the real model: the AI
notice under every answer (質問) and on the draft (答弁作成); confirming a 論点 and the whole draft
on 答弁作成 (audited, the state shown), and an edit after confirmation returning it to 未確認
(audited as revoked) — the .docx made from the page's draft says so in its header."""

from __future__ import annotations

import io

import pytest

from app.audit import AuditLog
from app.draft_export import draft_to_docx

from .app_testing import CLERK, app, app_env, copy_index, open_page, texts, use_real_embedder  # noqa: F401  (fixture)
from .test_app_draft import QUESTION, base_index as draft_index  # noqa: F401  (fixture)
from .test_app_search import base_index as search_index  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def ask_page(app_env, search_index, monkeypatch, model_cache_dir, real_embedder):
    copy_index(search_index, app_env)
    use_real_embedder(monkeypatch, model_cache_dir, real_embedder)
    return app(CLERK, timeout=180).run()


@pytest.fixture
def draft_page(app_env, draft_index, monkeypatch, model_cache_dir, real_embedder):
    copy_index(draft_index, app_env)
    use_real_embedder(monkeypatch, model_cache_dir, real_embedder)
    return open_page(CLERK, "ui_draft.py")


def test_every_answer_on_the_ask_page_carries_the_notice(ask_page):
    at = ask_page
    for question in ("申請に対する審査の標準処理期間はどう定められていますか", "インプラントの保険適用はいくらですか"):
        at.chat_input[0].set_value(question).run()
        assert not at.exception, at.exception
    notices = [c.value for c in at.caption if "【AI生成物】" in c.value]
    assert len(notices) == 2  # the answer and the refusal
    assert all("職員が引用元の資料と照合" in n and "作成日時" in n for n in notices)
    assert "抽出型" in notices[0]


def test_confirm_points_and_draft_then_an_edit_returns_it_to_unconfirmed(draft_page, app_env):
    import docx

    at = draft_page
    at.text_area[0].input(QUESTION)
    at.button(key="FormSubmitter:draft_input-論点を分析して答弁案を作成").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "【AI生成物】この答弁案は" in shown and "状態：未確認（AI生成の下書き）" in shown
    state = at.session_state["draft_current"]
    version = state["version"]
    at.button(key=f"confirm_{version}_1").click().run()
    draft = at.session_state["draft_current"]["draft"]
    assert draft.points[0].confirmed_by == "clerk" and not draft.confirmed
    at.button(key="confirm_draft").click().run()
    assert not at.exception, at.exception
    draft = at.session_state["draft_current"]["draft"]
    assert draft.confirmed and draft.confirmed_by == "clerk"
    assert "確認済み（確認者 clerk" in texts(at)
    buf = io.BytesIO()
    draft_to_docx(draft, buf, author="clerk")
    header = docx.Document(io.BytesIO(buf.getvalue())).sections[0].header.paragraphs[0].text
    assert "確認済み（確認者 clerk" in header
    # An edit of a confirmed point: back to 未確認, and the log says so.
    box = next(t for t in at.text_area if t.key == f"text_{version}_2")
    box.input("政府としては、再発防止に全力で取り組んでまいります[1]。").run()
    assert not at.exception, at.exception
    draft = at.session_state["draft_current"]["draft"]
    assert not draft.confirmed and not draft.points[1].confirmed and draft.points[0].confirmed
    assert "状態：未確認（AI生成の下書き）" in texts(at)
    buf = io.BytesIO()
    draft_to_docx(draft, buf, author="clerk")
    assert "未確認（AI生成の下書き）" in docx.Document(io.BytesIO(buf.getvalue())).sections[0].header.paragraphs[0].text
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        rows = log.query(action="confirm")
    assert [(r.user, r.parameters["scope"], r.outcome) for r in rows] == [
        ("clerk", "point", "ok"), ("clerk", "draft", "ok"), ("clerk", "point", "revoked")]
    assert rows[2].parameters["point"] == 2


def test_the_governance_page_shows_the_record_from_the_index_and_users(app_env, search_index, monkeypatch,
                                                                       model_cache_dir, real_embedder):
    from app.auth import UserStore
    from retrieval.index.edge import EdgeIndex

    from .app_testing import ADMIN

    copy_index(search_index, app_env)
    with EdgeIndex(app_env / "var/index", real_embedder.dimension, read_only=True) as idx:
        n_docs = len(idx.documents(None))
    use_real_embedder(monkeypatch, model_cache_dir, real_embedder)
    at = open_page(ADMIN, "ui_governance.py", timeout=300)
    shown = texts(at)
    assert f"**文書数**：{n_docs}" in shown and "機密性2 1" in shown  # the excerpt ingested as 機密性2
    users = UserStore(app_env / "var/users.json")
    assert f"**利用者数**：{len(users.names())}" in shown and "**管理者**：1" in shown
    for title in ("利用者の範囲・種別", "利用業務の性格", "機密情報の学習等", "出力結果の職員判断"):
        assert title in shown
    assert {b.label for b in at.get("download_button")} == {"Word（.docx）でダウンロード", "Markdown でダウンロード"}


def test_a_questions_recorded_latency_includes_the_wait_for_the_shared_components(ask_page, app_env, monkeypatch):
    """利用状況's latency is what the user waited: a slow first load of the model and index counts."""
    import time

    import app.ui_common as ui_common

    real = ui_common.shared

    def slow(settings):
        time.sleep(0.8)
        return real(settings)

    monkeypatch.setattr(ui_common, "shared", slow)
    at = ask_page
    at.chat_input[0].set_value("申請に対する審査の標準処理期間はどう定められていますか").run()
    assert not at.exception, at.exception
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        (event,) = log.query(action="question")
    assert event.latency_ms >= 800
