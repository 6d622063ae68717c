"""The UI's plain helpers (no Streamlit): follow-up context, usage statistics, draft edits,
upload saving and document listings."""

from __future__ import annotations

import datetime as dt

import pytest

from app.audit import AuditEvent
from app.conversation import Turn, contextualize, is_follow_up
from app.documents import document_rows, file_message, index_stats, save_upload, writing, BusyError
from app.draft_edit import parse_sentences
from app.usage import feedback_ratio, frequent_terms, latency_percentiles, percentile, questions_per_day, use_per_page
from ingest.pipeline import FileResult
from retrieval.errors import ReaderError
from retrieval.settings import LimitsSettings
from retrieval.types import DocInfo

from .conftest import SAMPLES

FIRST = "申請に対する審査の標準処理期間はどう定められていますか"


def test_follow_ups_carry_the_previous_topic():
    history = [Turn(FIRST, FIRST)]
    ctx = contextualize("その期間は公にされますか", history)
    assert ctx.carried and any("標準処理" in t for t in ctx.carried)
    assert ctx.searched.endswith("その期間は公にされますか") and ctx.note.startswith(f"前の質問「{FIRST}」の話題（")
    # A question that stands on its own is searched as typed.
    own = contextualize("マイナンバーカードの交付枚数の推移を教えてください", history)
    assert own.carried == [] and own.note == ""
    assert contextualize("その期間は公にされますか", history, enabled=False).carried == []
    assert contextualize("その期間は公にされますか", []).carried == []
    assert is_follow_up("では届出の場合は？", ["届出"]) and not is_follow_up("行政手続法の目的と適用範囲を教えてください", ["行政手続法", "目的", "適用範囲"])


def _event(action, day, **params):
    return AuditEvent(user="u", action=action, parameters=params, latency_ms=params.pop("ms", None), time=f"{day}T03:00:00.000000Z")


def test_usage_numbers_from_events():
    events = [_event("question", "2026-11-20", page="質問", question="マイナンバーカードの交付", ms=100),
              _event("question", "2026-11-20", page="質問", question="マイナンバーカードの利用", ms=300),
              _event("question", "2026-11-21", question="行政手続法の目的", ms=200),
              _event("feedback", "2026-11-21", page="質問", rating="good"),
              _event("feedback", "2026-11-21", page="質問", rating="bad"),
              _event("draft", "2026-11-21", ms=5000),
              _event("sign_in", "2026-11-21")]
    assert questions_per_day(events) == {"2026-11-20": 2, "2026-11-21": 1}
    # By what was done: the 質問 column adds up to the questions (feedback is its own column);
    # a question with no page and no command is counted on 質問.
    assert use_per_page(events) == {"質問": {"質問": 3, "評価": 2}, "答弁作成": {"答弁作成": 1}}
    assert sum(row.get("質問", 0) for row in use_per_page(events).values()) == sum(questions_per_day(events).values())
    fb = feedback_ratio(events)
    assert (fb.good, fb.bad, fb.good_share) == (1, 1, 0.5)
    assert latency_percentiles(events) == (200.0, 290.0, 3)
    assert frequent_terms(events)[0] == ("マイナンバーカード", 2)
    assert percentile([], 50) is None and percentile([5.0], 95) == 5.0
    # Days are Japan time: 20:00 UTC is the next morning in Tokyo.
    late = AuditEvent(user="u", action="question", time="2026-11-20T20:00:00.000000Z")
    assert questions_per_day([late]) == {"2026-11-21": 1}
    assert questions_per_day([late], tz=dt.timezone.utc) == {"2026-11-20": 1}


def test_edited_draft_text_keeps_its_citations():
    sents = parse_sentences("政府としては推進してまいります。[1]検討中です。誤った番号です。[9]", {1, 2})
    assert [(s.text, s.citations, s.flags) for s in sents] == [
        ("政府としては推進してまいります。", [1], []),
        ("検討中です。", [], ["uncited"]),
        ("誤った番号です。", [], ["invalid_citation", "uncited"]),
    ]


def test_a_citation_marker_typed_with_a_japanese_ime_is_a_citation():
    sents = parse_sentences("政府としては推進してまいります。［２］引き続き検討いたします。［１］[ 2 ]", {1, 2})
    assert [(s.text, s.citations, s.flags) for s in sents] == [
        ("政府としては推進してまいります。", [2], []),
        ("引き続き検討いたします。", [1, 2], []),
    ]
    # Full-width letters and digits of the text itself are left as the official typed them.
    (only,) = parse_sentences("ＡＩ戦略２０２５を推進します。［１］", {1})
    assert only.text == "ＡＩ戦略２０２５を推進します。" and only.citations == [1]


def test_uploads_are_saved_under_a_safe_name_and_checked(tmp_path):
    limits = LimitsSettings()
    data = (SAMPLES / "digital_agency/499_appendix_FAQ.md").read_bytes()
    path = save_upload("../../etc/FAQ.md", data, tmp_path / "uploads", limits)
    assert path == tmp_path / "uploads/FAQ.md" and path.read_bytes() == data
    with pytest.raises(ReaderError, match="偽物.pdf"):
        save_upload("偽物.pdf", "PDFではない".encode(), tmp_path / "uploads", limits)
    assert not (tmp_path / "uploads/偽物.pdf").exists()
    with pytest.raises(ReaderError, match="大きすぎます"):
        save_upload("big.txt", b"a" * 2_000_000, tmp_path / "uploads", LimitsSettings(max_file_mb=1))


def test_document_listing_search_stats_and_messages():
    docs = {
        "laws/a.xml": DocInfo("laws/a.xml", "行政手続法", "law", "h", 3, 3, {"h"}),
        "uploads/faq.md": DocInfo("uploads/faq.md", "よくある質問", "faq", "h2", 2, 1, {"h2"}),
    }
    assert [r.doc_id for r in document_rows(docs)] == ["laws/a.xml", "uploads/faq.md"]
    assert [r.doc_id for r in document_rows(docs, "手続")] == ["laws/a.xml"]
    assert [r.doc_id for r in document_rows(docs, "UPLOADS")] == ["uploads/faq.md"]
    assert [r.doc_id for r in document_rows(docs, doc_types=["faq"])] == ["uploads/faq.md"]
    assert document_rows(docs)[1].as_dict({"faq": "質疑応答"})["状態"].startswith("未完了")
    assert index_stats(docs) == [("faq", 1, 1), ("law", 1, 3)]
    failed = FileResult("/x/uploads/bad.pdf", "failed", reasons=["/x/uploads/bad.pdf: PDF として読めません"])
    assert file_message(failed) == "bad.pdf: 失敗 — bad.pdf: PDF として読めません"
    assert file_message(FileResult("/x/a.md", "indexed", documents=1, chunks=4)) == "a.md: 登録しました（1 文書、4 チャンク）"


def test_one_writer_at_a_time():
    import threading

    lock = threading.Lock()
    with writing(lock):
        with pytest.raises(BusyError, match="別の取り込み"):
            with writing(lock):
                pass
    assert not lock.locked()
