"""質問 keeps each user's conversations server-side (issue 17), driven headless by AppTest with
a hashing embedder: a new browser session reopens the latest conversation, nobody sees another
user's history, and a reopened answer drops the sources its reader may no longer read."""

from __future__ import annotations

import pytest

from app import resources
from app.conversation import Turn
from app.documents import ingest_files, save_upload, uploads_dir
from app.history import HistoryStore, recheck
from ingest.pipeline import IngestOptions
from retrieval.answer_types import Answer, AnswerSentence, Source
from retrieval.embedder import HashEmbedder

from .app_testing import ADMIN, CLERK, app, app_env, texts  # noqa: F401  (fixture)


def _answer(question: str) -> Answer:
    sources = [Source(1, "c1", "uploads/open.md", "公開資料", "公開の本文です。", 0.9, {"doc_type": "other", "confidentiality": 1}),
               Source(2, "c2", "uploads/secret.md", "機密資料", "カナリア計画の本文です。", 0.8,
                      {"doc_type": "other", "confidentiality": 2})]
    from retrieval.ai_notice import make_notice

    answer = Answer(question, [AnswerSentence("公開資料によれば手続は三段階です。", [1]),
                               AnswerSentence("カナリア計画は来年度に始まります。", [2])], sources, "extractive")
    answer.notice = make_notice("answer", "extractive")  # stored and reopened with the answer
    return answer


@pytest.fixture
def indexed(app_env, monkeypatch):
    """Two documents: uploads/open.md (機密性1) and uploads/secret.md (機密性2)."""
    monkeypatch.setattr(resources, "build_embedder", lambda settings: HashEmbedder(32))
    res = resources.resources(resources.settings())
    for name, text, level in (("open.md", "# 公開資料\n\n手続は三段階です。\n", 1), ("secret.md", "# 機密資料\n\nカナリア計画。\n", 2)):
        saved = save_upload(name, text.encode("utf-8"), uploads_dir(res.settings), res.settings.limits)
        ingest_files(res, [saved], IngestOptions(confidentiality=level, groups=["all"]))
    return HistoryStore(app_env / "var/conversations.sqlite3")


def test_a_new_session_reopens_the_latest_conversation_of_that_user_only(indexed):
    indexed.add_turn("admin", None, Turn("管理者の質問です", "管理者の質問です", [], _answer("管理者の質問です")))
    at = app(ADMIN).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "管理者の質問です" in shown and "カナリア計画は来年度に始まります。" in shown  # admin reads 機密性2
    assert "閲覧できなくなった出典" not in shown
    assert "【AI生成物】この回答は" in shown and "作成方法：抽出型" in shown  # the notice survives the reload
    assert "その他　機密性2" in shown  # source cards say who may read them
    assert at.sidebar.selectbox(key="ask_history").options == [f"{indexed.conversations('admin')[0].updated[:16].replace('T', ' ')}"
                                                               "　管理者の質問です（1 件）"]

    other = app(CLERK).run()  # another user: no trace of the admin's conversation
    assert not other.exception, other.exception
    assert "管理者の質問です" not in texts(other) and "カナリア計画" not in texts(other)
    assert not [s for s in other.sidebar.selectbox if s.key == "ask_history"]
    assert indexed.turns("clerk", indexed.conversations("admin")[0].id) == []  # not by id either


def test_a_reopened_answer_drops_sources_the_reader_can_no_longer_read(indexed):
    # The clerk asked while the plan was readable to them; it is 機密性2 now.
    conversation = indexed.add_turn("clerk", None, Turn("計画について", "計画について", [], _answer("計画について")))
    indexed.add_turn("clerk", conversation, Turn("手続について", "手続について", [], _answer("手続について")))
    at = app(CLERK).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "公開資料によれば手続は三段階です。" in shown
    assert "カナリア計画" not in shown and "機密資料" not in shown
    assert "閲覧できなくなった出典 1 件と、それに基づく文 1 件を表示していません" in shown
    # Reopened from the list too, after starting a new conversation.
    at.sidebar.button(key="ask_new").click().run()
    assert "計画について" not in texts(at)
    at.sidebar.selectbox(key="ask_history").select_index(0).run()
    at.sidebar.button(key="ask_reopen").click().run()
    assert "計画について" in texts(at) and "カナリア計画" not in texts(at)


def test_recheck_keeps_everything_readable_and_refuses_what_is_left_empty():
    turn = Turn("q", "q", [], _answer("q"))
    assert recheck(turn, {"uploads/open.md", "uploads/secret.md"}) is turn
    nothing = recheck(turn, set())
    assert nothing.answer.refused and nothing.answer.sources == [] and nothing.answer.sentences == []
