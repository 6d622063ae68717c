"""The 質問 page, driven headless by Streamlit's AppTest over a real index and the real model:
cited answers with highlighted sources, filters, follow-up context, feedback, and the signed-in
user's clearance applied inside retrieval."""

from __future__ import annotations

import pytest

from app.audit import AuditLog

from .app_testing import ADMIN, CLERK, app, app_env, build_index, copy_index, texts, use_real_embedder  # noqa: F401  (fixture)
from .conftest import SAMPLES

pytestmark = pytest.mark.slow

LAW = SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml"
SPEECH = SAMPLES / "kokkai/ndl_speech_121505261X00120241114.json"


@pytest.fixture(scope="module")
def base_index(tmp_path_factory, real_embedder):
    root = tmp_path_factory.mktemp("search_index")
    # A real excerpt of the ICT white paper (光ファイバの整備), ingested as 機密性2.
    lines = (SAMPLES / "white_paper/r05_chapter5_soumu_ict_policy.txt").read_text(encoding="utf-8").splitlines()
    excerpt = root / "src" / "ict_fiber_excerpt.txt"
    excerpt.parent.mkdir()
    excerpt.write_text("\n".join(lines[95:104]) + "\n", encoding="utf-8")
    return build_index(root, real_embedder, [([LAW, SPEECH], {}), ([excerpt], {"confidentiality": 2})])


@pytest.fixture
def indexed(app_env, base_index, monkeypatch, model_cache_dir, real_embedder):
    copy_index(base_index, app_env)
    use_real_embedder(monkeypatch, model_cache_dir, real_embedder)
    return app_env


def _ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _source_headers(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**[")]


def test_a_question_returns_passages_with_their_sources(indexed):
    at = _ask(app(CLERK, timeout=180).run(), "申請に対する審査の標準処理期間はどう定められていますか")
    shown = texts(at)
    assert "[1] 行政手続法" in shown
    assert "第六条" in shown  # 標準処理期間
    assert "2024-04-01" in shown
    # The answer cites [1], and the source shows the sentence it used highlighted.
    # [1] links to its source card, which carries that anchor; the answer says which article speaks.
    assert "<a href='#src-0-1' target='_self'>[1]</a>" in shown and "<span id='src-0-1'></span>" in shown
    assert "<mark>" in shown and "標準的な期間" in shown and "行政手続法第六条" in shown
    with AuditLog(f"sqlite:///{indexed / 'var/audit.sqlite3'}") as log:
        (event,) = log.query(action="question")
    assert event.user == "clerk" and event.parameters["page"] == "質問" and "405AC0000000088" in " ".join(event.doc_ids)
    assert event.parameters["access"] == {"clearance": 1, "groups": ["all"]}


def test_filters_narrow_to_diet_speeches(indexed):
    at = app(CLERK, timeout=180).run()
    at.sidebar.multiselect[0].select("diet_speech")
    at.sidebar.selectbox[0].set_value("衆議院")
    _ask(at, "予算委員会の委員長の選任")
    headers = _source_headers(at)
    assert headers and all("衆議院" in h or "予算委員会" in h for h in headers), headers
    assert not any("行政手続法" in h for h in headers)
    # 参議院 only: the indexed speech is from the 衆議院, so nothing is found.
    at.sidebar.selectbox[0].set_value("参議院")
    _ask(at, "予算委員会の委員長の選任")
    assert "該当する資料が見つかりませんでした。" in texts(at)


def test_a_follow_up_carries_the_previous_topic_and_says_so(indexed):
    first = "申請に対する審査の標準処理期間はどう定められていますか"
    at = _ask(app(CLERK, timeout=180).run(), first)
    _ask(at, "その期間は公にされますか")
    notes = [c.value for c in at.caption if "の話題（" in c.value]
    assert len(notes) == 1 and f"前の質問「{first}」の話題（" in notes[0] and "標準処理" in notes[0]
    assert "検索した文: 「" in notes[0] and "その期間は公にされますか」" in notes[0]
    assert len(at.chat_message) == 4  # two questions, two answers
    # Turned off, the follow-up is searched as typed.
    at.sidebar.checkbox[0].uncheck()
    _ask(at, "その期間は公にされますか")
    assert len([c for c in at.caption if "の話題（" in c.value]) == 1 and len(at.chat_message) == 6


def test_feedback_is_saved_in_the_audit_log(indexed):
    at = _ask(app(CLERK, timeout=180).run(), "行政手続法の目的は何ですか")
    at.main.radio[-1].set_value("悪い")
    at.text_input(key="fb_comment_0").input("第一条の説明が欲しい")
    at.main.button[-1].click().run()
    assert "評価「悪い」を受け付けました" in texts(at)
    with AuditLog(f"sqlite:///{indexed / 'var/audit.sqlite3'}") as log:
        (question,) = log.query(action="question")
        (fb,) = log.query(action="feedback")
    assert fb.user == "clerk" and fb.parameters["rating"] == "bad" and fb.parameters["comment"] == "第一条の説明が欲しい"
    assert fb.parameters["question_event"] == question.id


def test_the_users_clearance_is_applied_inside_retrieval(indexed):
    question = "光ファイバの整備率の目標はどうなっていますか"
    clerk = _ask(app(CLERK, timeout=180).run(), question)
    assert not any("光ファイバ" in h for h in _source_headers(clerk)), _source_headers(clerk)
    assert "99.9%" not in texts(clerk)
    admin = _ask(app(ADMIN, timeout=180).run(), question)
    assert any("光ファイバ整備の推進" in h for h in _source_headers(admin)), _source_headers(admin)
    assert "99.9%" in texts(admin)
