"""The 答弁作成 page, driven headless by AppTest over real Diet minutes and the real model: 論点,
candidate past answers with keep/drop (those below the relevance gate listed apart), the editable
draft, the 矛盾チェック following every edit into the .docx, re-drafting only what changed (edits
kept, an edited point only after asking), and the .docx / Markdown downloads (audited)."""

from __future__ import annotations

import io
import json

import pytest

from app.audit import AuditLog
from app.draft_export import draft_to_docx, draft_to_markdown, listed_sources

from .app_testing import CLERK, app_env, build_index, copy_index, open_page, texts, use_real_embedder  # noqa: F401  (fixture)
from retrieval.settings import AnswerSettings

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
    assert md.startswith("**未確認（AI生成の下書き）**") and "# 答弁案" in md and "通報の在り方を見直し" in md
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



def test_style_findings_on_a_draft_are_fixed_and_undone_and_go_into_the_word_file(draft_page):
    import docx

    from retrieval.style import StyleChecker

    at = draft_page
    at.text_area[0].input(QUESTION)
    at.button(key="FormSubmitter:draft_input-論点を分析して答弁案を作成").click().run()
    drafts = [t for t in at.text_area if t.key and t.key.startswith("text_")]
    key = drafts[0].key
    # The template draft comes with the certain fixes already applied.
    assert not [f for f in at.session_state["draft_current"]["draft"].points[0].sentences if "というふうに" in f.text]
    edited = "えー、通報の在り方を見直す時は、関係機関と連携して対応致します[1]。"
    drafts[0].input(edited).run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "公用文チェック" in shown and "時</mark>" in shown and "致し</mark>" in shown
    fix = next(b for b in at.button if b.key and b.key.startswith(f"{key}__style_fix_keishiki-toki"))
    fix.click().run()
    assert at.text_area(key=key).value == "えー、通報の在り方を見直すときは、関係機関と連携して対応致します[1]。"
    draft = at.session_state["draft_current"]["draft"]
    assert "見直すときは" in draft.points[0].text  # the fix reached the draft that is exported
    at.button(key=f"{key}__style_undo_btn").click().run()
    assert at.text_area(key=key).value == edited
    at.button(key=f"{key}__style_all").click().run()
    assert at.text_area(key=key).value == "通報の在り方を見直すときは、関係機関と連携して対応いたします[1]。"
    # What is left is a Word comment at its span in the download.
    at.text_area(key=key).input("ちょっと見直す考えでございます[1]。").run()
    buf = io.BytesIO()
    draft_to_docx(at.session_state["draft_current"]["draft"], buf, style=StyleChecker())
    comments = list(docx.Document(io.BytesIO(buf.getvalue())).comments)
    assert any("「ちょっと」は話し言葉です" in c.text for c in comments)


def _submit(at, question: str = QUESTION):
    at.text_area[0].input(question)
    at.button(key="FormSubmitter:draft_input-論点を分析して答弁案を作成").click().run()
    assert not at.exception, at.exception
    return [t for t in at.text_area if t.key and t.key.startswith("text_")]


def _docx_text(draft) -> str:
    import docx

    buf = io.BytesIO()
    draft_to_docx(draft, buf)
    doc = docx.Document(io.BytesIO(buf.getvalue()))
    return "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])


SAID = "ございませんでした"  # e.g. 沖縄防衛局への通報というのはございませんでした (the answer of 2024-07-30)
NEGATED = "ございました"


def _contradiction(draft) -> tuple[str, str]:
    """A sentence of point 1's evidence that says 「…ございませんでした」, and the sentence the
    official would write to say the opposite, citing it: ``(said, negated with its [n])``."""
    from retrieval.extractive import sentence_spans

    for src in draft.points[0].evidence():
        for _, sentence in sentence_spans(src.text):
            sentence = sentence.strip()
            if SAID in sentence and len(sentence) < 200:
                return sentence, sentence.replace(SAID, NEGATED) + f"[{src.n}]"
    raise AssertionError("no negated sentence in point 1's evidence")


def test_an_edit_contradicting_its_source_changes_the_check_on_the_page_and_in_the_word_file(draft_page):
    at = draft_page
    drafts = _submit(at)
    shown = texts(at)
    # Every point states its 矛盾チェック; nothing contradicts a draft made from its own sources.
    assert shown.count("矛盾の可能性: なし（") == 2 and "矛盾の可能性: あり" not in shown
    said, written = _contradiction(at.session_state["draft_current"]["draft"])
    original = drafts[0].value
    drafts[0].input(original + written).run()  # the official adds a sentence that says the opposite
    assert not at.exception, at.exception
    shown = texts(at)
    assert "矛盾の可能性: あり 1 件" in shown and shown.count("矛盾の可能性: なし（") == 1
    negated = said.replace(SAID, NEGATED)
    assert negated in shown and said in shown  # both sentences side by side
    draft = at.session_state["draft_current"]["draft"]
    body = _docx_text(draft)
    assert "論点1：矛盾の可能性: あり 1 件" in body and "論点1：矛盾の可能性: なし" not in body
    assert "検出されませんでした" not in body
    assert any(negated in line and "論点1" in line for line in body.splitlines())  # the claim in the table
    md = draft_to_markdown(draft)
    assert "- 論点1：矛盾の可能性: あり 1 件" in md and negated in md
    # Put back: the check follows the text again (from the cache).
    at.text_area(key=drafts[0].key).input(original).run()
    assert texts(at).count("矛盾の可能性: なし（") == 2


def test_below_gate_candidates_are_listed_apart_unticked_never_exported_and_follow_ups_show_their_exchange(draft_page):
    at = draft_page
    # The second point's past answers are all off the subject (no Diet speech in the samples is
    # about マイナンバーカード): below the gate.
    _submit(at, "在沖縄米軍による事件の通報事案について、政府の対応を伺う。また、マイナンバーカードの普及の現状について政府の認識を伺う。")
    draft = at.session_state["draft_current"]["draft"]
    for i, pd in enumerate(draft.points, 1):
        boxes = [c for c in at.checkbox if c.key and c.key.startswith(("pa_", "doc_")) and f"_{i}_" in c.key]
        relevant = [pa for pa in pd.past_answers if pa.relevant] + [d for d in pd.documents if d.relevant]
        assert len(boxes) == len(relevant) and all(c.value for c in boxes)
        low = len(pd.past_answers) + len(pd.documents) - len(relevant)
        if low:
            assert f"関連の低い候補（{low} 件）" in [e.label for e in at.expander]
    below = {pa.answer.chunk_id for pd in draft.points for pa in pd.past_answers if not pa.relevant} - {
        pa.answer.chunk_id for pd in draft.points for pa in pd.past_answers if pa.relevant}
    assert below, "this question has candidates below the gate"
    listed = {s.chunk_id for s in listed_sources(draft)}
    assert not below & listed
    # 再質問予測: only after exchanges that pass the same gate, each shown with its exchange.
    mined = [f for pd in draft.points for f in pd.followups if not f.generated]
    assert mined and all(f.similarity >= AnswerSettings().floor_relevance and f.after is not None for f in mined)
    exchanges = [e for e in at.expander if e.label.startswith("元のやり取り（関連度 ")]
    assert len(exchanges) == len(mined)
    shown = texts(at)
    assert all(f.question in shown and f.after.label in shown for f in mined)


def test_redraft_keeps_edits_and_choices_and_redrafts_only_the_changed_point(draft_page):
    at = draft_page
    drafts = _submit(at)
    keys = [t.key for t in drafts]
    second = "政府としては、再発防止策を着実に実施してまいります。[3]"
    cited = at.session_state["draft_current"]["draft"].source(3).chunk_id  # the passage [3] means now
    at.text_area(key=keys[1]).input(second).run()
    first_before = at.text_area(key=keys[0]).value
    box = next(c for c in at.checkbox if c.key and c.key.startswith("pa_") and "_1_" in c.key)
    label = box.label
    box.uncheck().run()
    at.button(key="redraft").click().run()
    assert not at.exception, at.exception
    drafts = [t for t in at.text_area if t.key and t.key.startswith("text_")]
    draft = at.session_state["draft_current"]["draft"]
    assert drafts[0].value != first_before and drafts[0].value == draft.points[0].text
    # The edited point is the drafter's text, its [n] still the same passage.
    n = draft.points[1].sentences[0].citations[0]
    assert drafts[1].value == second.replace("[3]", f"[{n}]")
    assert draft.source(n).chunk_id == cited
    # The dropped answer stays dropped (label without its number: numbers may change).
    dropped = [c for c in at.checkbox if c.key and c.key.startswith("pa_") and "_1_" in c.key
               and c.label.split("] ", 1)[1] == label.split("] ", 1)[1]]
    assert dropped and not dropped[0].value
    assert "論点1を作り直しました" in texts(at)


def test_redrafting_an_edited_point_asks_first(draft_page):
    at = draft_page
    drafts = _submit(at)
    original = drafts[0].value
    at.text_area(key=drafts[0].key).input("担当者が書いた文です[1]。").run()
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("redraft_") and b.key.endswith("_1"))).click().run()
    assert "作り直すと編集内容は失われます" in texts(at)
    assert at.text_area(key=drafts[0].key).value == "担当者が書いた文です[1]。"  # nothing lost yet
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("redraft_yes_"))).click().run()
    assert not at.exception, at.exception
    drafts = [t for t in at.text_area if t.key and t.key.startswith("text_")]
    assert drafts[0].value == original


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
