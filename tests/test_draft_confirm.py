"""An official's confirmation of a draft, and what an export says about it (fast).

A draft starts 未確認; confirming a point, or the whole draft, records who and when in the audit
log; an edit after confirmation returns the point and the draft to 未確認 (and the audit row says
so). The .docx header carries the 機密性 marking (the highest level among its sources) and the
state, the footer the state and a PAGE field; the author is the signed-in user; one number per
distinct source document. Read back with python-docx.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess

import pytest

from app.audit import AuditLog
from app.docx_office import source_numbers
from app.draft_confirm import confirm_draft, confirm_point, record_revoked
from app.draft_edit import apply_text
from app.draft_export import draft_to_docx, draft_to_markdown, listed_sources
from retrieval.ai_notice import make_notice
from retrieval.answer_types import AnswerSentence

from .support_helpers import offline_judge
from .test_access_paths import built, index  # noqa: F401  (fixtures)
from .test_draft_export import make_draft, speech_source


@pytest.fixture
def draft():
    d = make_draft()
    d.notice = make_notice("draft", d.method)
    return d


@pytest.fixture
def log(tmp_path):
    with AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as audit:
        yield audit


def _docx(draft, **kw):
    import docx

    buf = io.BytesIO()
    draft_to_docx(draft, buf, **kw)
    return docx.Document(io.BytesIO(buf.getvalue())), buf.getvalue()


def _header(doc) -> str:
    return "\n".join(p.text for p in doc.sections[0].header.paragraphs)


def _footer_xml(doc) -> str:
    return doc.sections[0].footer._element.xml


def test_a_new_draft_is_unconfirmed_in_header_footer_and_markdown(draft):
    assert not draft.confirmed and draft.status == "未確認"
    doc, _ = _docx(draft, author="tanaka")
    assert "未確認（AI生成の下書き）" in _header(doc)
    footer = _footer_xml(doc)
    assert "未確認（AI生成の下書き）" in footer
    assert "PAGE" in footer and 'w:fldCharType="begin"' in footer  # a real page-number field
    md = draft_to_markdown(draft)
    assert md.startswith("**未確認（AI生成の下書き）**") and md.rstrip().endswith("**未確認（AI生成の下書き）**")


def test_a_point_still_to_be_written_cannot_be_confirmed(draft, log):
    from app.draft_confirm import ConfirmError

    assert draft.points[2].needs_review
    with pytest.raises(ConfirmError, match="論点3"):
        confirm_point(draft, 2, "suzuki", log)
    with pytest.raises(ConfirmError, match="論点3"):
        confirm_draft(draft, "suzuki", log)
    assert not draft.confirmed and not draft.points[2].confirmed and log.query(action="confirm") == []


def _write_point_3(draft):
    apply_text(draft, draft.points[2], "防衛力整備の財源については、適切に対応してまいります[1]。", offline_judge())


def test_confirming_every_point_confirms_the_draft_and_is_audited(draft, log):
    _write_point_3(draft)
    for i in range(len(draft.points)):
        assert not draft.confirmed
        confirm_point(draft, i, "suzuki", log)
    assert draft.confirmed and draft.confirmed_by == "suzuki" and draft.status == "確認済み"
    rows = log.query(action="confirm")
    assert [(r.user, r.parameters["scope"], r.parameters["point"]) for r in rows] == [
        ("suzuki", "point", 1), ("suzuki", "point", 2), ("suzuki", "point", 3)]
    assert all(r.outcome == "ok" and r.doc_ids for r in rows)
    doc, _ = _docx(draft, author="suzuki")
    header = _header(doc)
    assert f"確認済み（確認者 suzuki、{draft.confirmed_at[:10]}）" in header and "未確認" not in header
    assert "未確認" not in _footer_xml(doc) and "PAGE" in _footer_xml(doc)
    assert "未確認（AI生成の下書き）" not in draft_to_markdown(draft)


def test_an_edit_after_confirmation_returns_point_and_draft_to_unconfirmed(draft, log):
    _write_point_3(draft)
    confirm_draft(draft, "suzuki", log)
    assert draft.confirmed and all(pd.confirmed for pd in draft.points)
    (row,) = log.query(action="confirm")
    assert row.parameters["scope"] == "draft" and row.user == "suzuki"
    pd = draft.points[1]
    judge = offline_judge()
    assert not apply_text(draft, pd, pd.text, judge)  # unchanged text: still confirmed
    assert draft.confirmed and pd.confirmed
    assert apply_text(draft, pd, "本制度の周知については、重要なことと考えております[2]。", judge)
    assert not pd.confirmed and not draft.confirmed and draft.status == "未確認"
    assert draft.points[0].confirmed  # the other points keep their check
    record_revoked(draft, 1, "suzuki", log)
    rows = log.query(action="confirm")
    assert [r.outcome for r in rows] == ["ok", "revoked"] and rows[1].parameters["point"] == 2
    doc, _ = _docx(draft)
    assert "未確認（AI生成の下書き）" in _header(doc)


def test_docx_marks_the_highest_confidentiality_and_names_the_author(draft):
    draft.sources[0].payload["confidentiality"] = 1
    draft.sources[1].payload["confidentiality"] = 2
    doc, _ = _docx(draft, author="佐藤 花子", body_font="ＭＳ 明朝")
    assert _header(doc).startswith("機密性2情報")
    props = doc.core_properties
    assert props.author == "佐藤 花子" and props.last_modified_by == "佐藤 花子" and "python-docx" not in (props.comments or "")
    from docx.oxml.ns import qn

    rfonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert rfonts.get(qn("w:eastAsia")) == "ＭＳ 明朝"
    heading = doc.styles["Heading 1"]
    assert heading.font.bold and heading.element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "游ゴシック"
    assert any(p.style.name == "Heading 2" and p.text.startswith("論点1") for p in doc.paragraphs)
    draft.sources[1].payload["confidentiality"] = 1
    assert _header(_docx(draft)[0]).startswith("機密性1情報")


def test_one_number_per_distinct_source_document(draft):
    # A second chunk of the same speech as [1], cited as [3]: the export lists that speech once.
    again = dataclasses.replace(speech_source(133, n=3), chunk_id="chunk-133-b")
    draft.sources.append(again)
    draft.points[1].sentences.append(AnswerSentence("同じ答弁の別の箇所です。", [3], 0.9))
    assert source_numbers(draft.sources) == {1: 1, 2: 2, 3: 1}
    doc, _ = _docx(draft)
    listed = [p.text for p in doc.paragraphs if p.text.startswith("[")]
    assert sum(1 for line in listed if again.label in line) == 1
    assert not any(line.startswith("[3]") for line in listed)
    md = draft_to_markdown(draft)
    assert "同じ答弁の別の箇所です。[1]" in md and "[3]" not in md


def test_two_articles_of_one_law_keep_their_own_numbers(draft):
    """A sentence from 第九条 must not be listed under 第六条 of the same law."""
    law = [dataclasses.replace(draft.sources[0], n=n, chunk_id=f"law-{n}", doc_id="law:405AC0000000088",
                               label=f"行政手続法 ／ 第二章 申請に対する処分 > {article}")
           for n, article in ((4, "第六条"), (5, "第九条"))]
    draft.sources += law
    draft.points[0].sentences += [AnswerSentence("標準的な期間を定めるよう努めることとされております。", [4], 0.9),
                                  AnswerSentence("審査の進行状況を示すよう努めなければならないこととされております。", [5], 0.9)]
    numbers = source_numbers(listed_sources(draft))  # what the export numbers
    assert numbers[4] != numbers[5]
    md = draft_to_markdown(draft)
    assert f"こととされております。[{numbers[5]}]" in md and f"[{numbers[5]}] 行政手続法 ／ 第二章 申請に対する処分 &gt; 第九条" in md


def test_notice_in_docx_and_markdown(draft):
    doc, _ = _docx(draft)
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "AI生成物に関する表示" in body and draft.notice.text.splitlines()[0] in body
    assert "職員が引用元の資料と照合" in body and "定型文による組立て" in body
    md = draft_to_markdown(draft)
    assert "AI生成物に関する表示" in md and "職員が引用元の資料と照合" in md


@pytest.mark.slow
def test_docx_renders_to_pdf_with_its_header(draft, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is required for this test"
    draft.sources[0].payload["confidentiality"] = 1
    draft.sources[1].payload["confidentiality"] = 2
    path = tmp_path / "draft.docx"
    draft_to_docx(draft, path, author="tanaka")
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=300)
    pdf = tmp_path / "draft.pdf"
    assert pdf.exists() and pdf.stat().st_size > 1000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    else:
        import pypdfium2

        text = pypdfium2.PdfDocument(str(pdf))[0].get_textpage().get_text_range()
    text = "".join(text.split())  # the PDF's text layer spaces Latin and digits apart
    assert "機密性2情報" in text and "未確認（AI生成の下書き）" in text and "1ページ" in text


def test_a_redrafted_point_and_its_draft_are_unconfirmed_again(built, index):
    from retrieval.draft import Drafter
    from retrieval.embedder import HashEmbedder
    from retrieval.past_answers import PastAnswerFinder
    from retrieval.text.sparse import SparseEncoder
    from retrieval.types import Access

    from .test_access_paths import DIM, searcher_for

    sparse = SparseEncoder()
    drafter = Drafter(PastAnswerFinder(searcher_for(index)), HashEmbedder(DIM), sparse, None, min_relevance=-1.0,
                      judge=offline_judge(sparse))
    draft = drafter.draft("行政手続法の目的について伺う。また、審査基準はどう定められているか。", Access(clearance=1, groups=["all"]))
    assert draft.notice is not None and draft.notice.path == "template" and not draft.confirmed
    writable = [i for i, pd in enumerate(draft.points) if not pd.needs_review]
    assert writable
    for i in writable:
        confirm_point(draft, i, "suzuki")
    drafter.redraft(draft, [writable[0]])
    assert not draft.points[writable[0]].confirmed and not draft.confirmed
    assert all(draft.points[i].confirmed for i in writable[1:])
