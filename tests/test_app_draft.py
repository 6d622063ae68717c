"""The 答弁作成 page, driven headless by AppTest over real Diet minutes and the real model: 論点,
candidate past answers with keep/drop, the editable draft, re-drafting without dropped
candidates, and the .docx / Markdown downloads (audited)."""

from __future__ import annotations

import io
import json

import pytest

from app.audit import AuditLog
from app.draft_export import draft_to_docx, draft_to_markdown

from .app_testing import CLERK, app_env, build_index, copy_index, open_page, texts, use_real_embedder  # noqa: F401  (fixture)
from .conftest import SAMPLES

pytestmark = pytest.mark.slow

MINUTES = SAMPLES / "kokkai/ndl_speech_121313950X00120240730.json"  # 参議院 外交防衛委員会 2024-07-30
QUESTION = ("在沖縄米軍による事件の通報事案について、政府の対応を伺う。"
            "また、防衛省・自衛隊の不適切事案について、再発防止策はどうなっているか。")


@pytest.fixture(scope="module")
def base_index(tmp_path_factory, real_embedder):
    root = tmp_path_factory.mktemp("draft_index")
    # The first 60 speeches of a real committee meeting (the API's reply shape, fewer records).
    reply = json.loads(MINUTES.read_text(encoding="utf-8"))
    reply["speechRecord"] = reply["speechRecord"][:60]
    reply["numberOfRecords"] = reply["numberOfReturn"] = len(reply["speechRecord"])
    minutes = root / "src" / MINUTES.name
    minutes.parent.mkdir()
    minutes.write_text(json.dumps(reply, ensure_ascii=False), encoding="utf-8")
    return build_index(root, real_embedder, [([minutes], {})])


@pytest.fixture
def draft_page(app_env, base_index, monkeypatch, model_cache_dir, real_embedder):
    copy_index(base_index, app_env)
    use_real_embedder(monkeypatch, model_cache_dir, real_embedder)
    return open_page(CLERK, "ui_draft.py")


def test_question_to_points_candidates_draft_and_downloads(draft_page, app_env):
    import docx

    at = draft_page
    at.text_area[0].input(QUESTION)
    at.button(key="FormSubmitter:draft_input-論点を分析して答弁案を作成").click().run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert at.status[0].label.startswith("答弁案を作成しました（論点 2 件")
    assert "論点1" in shown and "論点2" in shown
    # Candidate past answers are real government speeches from the minutes, each with a checkbox.
    candidates = [c for c in at.checkbox if c.key and c.key.startswith("pa_")]
    assert candidates and all(c.value for c in candidates)
    assert any("外交防衛委員会" in c.label or "2024-07-30" in c.label for c in candidates)
    # The draft is editable in place and cites numbered sources.
    drafts = [t for t in at.text_area if t.key and t.key.startswith("text_")]
    assert len(drafts) == 2 and any("[" in t.value for t in drafts)
    # The edit lands in the draft that both download buttons serve (AppTest keeps no media
    # files after a run, so the bytes are rendered here from the page's own draft object).
    drafts[0].input("政府としては、通報の在り方を見直し、関係機関と連携して対応してまいります[1]。").run()
    assert {b.label for b in at.download_button} == {"Word（.docx）でダウンロード", "Markdown でダウンロード"}
    draft = at.session_state["draft_current"]["draft"]
    assert draft.points[0].sentences[0].citations == [1]
    md = draft_to_markdown(draft)
    assert md.startswith("# 答弁案") and "通報の在り方を見直し" in md
    buf = io.BytesIO()
    draft_to_docx(draft, buf)
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(buf.getvalue())).paragraphs)
    assert "答弁案" in body and "通報の在り方を見直し" in body
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        (event,) = log.query(action="draft")
    assert event.user == "clerk" and event.parameters["points"] == 2 and event.doc_ids


def test_dropping_every_candidate_of_a_point_leaves_it_for_a_human(draft_page):
    at = draft_page
    at.text_area[0].input(QUESTION)
    at.button(key="FormSubmitter:draft_input-論点を分析して答弁案を作成").click().run()
    first = [t.value for t in at.text_area if t.key and t.key.startswith("text_")]
    assert "【要確認】" not in first[0]  # point 1 is supported before anything is dropped
    candidates = [c for c in at.checkbox if c.key and (c.key.startswith("pa_") or c.key.startswith("doc_")) and "_1_" in c.key]
    assert candidates and any(c.value for c in candidates)
    for c in candidates:
        c.uncheck()
    at.button(key="redraft").click().run()
    assert not at.exception, at.exception
    drafts = [t for t in at.text_area if t.key and t.key.startswith("text_")]
    assert "【要確認】" in drafts[0].value
    assert all(not c.value for c in at.checkbox if c.key and c.key.startswith("pa_") and "_1_" in c.key)



def test_a_claim_typed_into_the_draft_that_its_sources_do_not_make_is_flagged_on_the_page(draft_page):
    """The 熱中症 / AI fake, cited to a committee answer that never mentions AI: the page names it,
    and the .docx served from the same draft carries the same mark."""
    import docx

    at = draft_page
    at.text_area[0].input(QUESTION)
    at.button(key="FormSubmitter:draft_input-論点を分析して答弁案を作成").click().run()
    drafts = [t for t in at.text_area if t.key and t.key.startswith("text_")]
    draft = at.session_state["draft_current"]["draft"]
    assert "AI" not in draft.source(1).text
    drafts[0].input("熱中症になりそうな人をAIで検出し、事前に通知を送る[1]。").run()
    assert not at.exception, at.exception
    warnings = "\n".join(w.value for w in at.warning)
    assert "【要確認】" in warnings and "『AIで検出』は出典にありません" in warnings
    draft = at.session_state["draft_current"]["draft"]
    (fake,) = draft.points[0].sentences
    assert not fake.grounded and fake.support < 0.5
    buf = io.BytesIO()
    draft_to_docx(draft, buf)
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(buf.getvalue())).paragraphs)
    assert "『AIで検出』は出典にありません" in body
