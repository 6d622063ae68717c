"""Word and Markdown export of a draft built by hand from real Diet speeches (fast).

The .docx is read back with python-docx: every 論点, every numbered source (matching the draft's
[n]), the 矛盾チェック table with both sentences side by side, the 再質問予測 and the 【要確認】 mark
must be there, and Japanese runs must carry an East Asian font.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from app.draft_export import draft_to_docx, draft_to_markdown, source_line
from ingest.readers.kokkai import read_kokkai_json
from retrieval.ai_notice import NoticeContext, make_notice
from retrieval.answer_types import FLAG_UNSUPPORTED, AnswerSentence, Source
from retrieval.citation import describe_source
from retrieval.draft_types import NEEDS_REVIEW, CheckStamp, Draft, FollowUp, PastAnswer, PointDraft
from retrieval.question_analysis import analyze_question
from retrieval.verify import Conflict

from .conftest import SAMPLES

MINUTES = SAMPLES / "kokkai" / "ndl_speech_121304376X02420240823.json"
QUESTION = """定額減税及び物価高対策に関する質問主意書

一 定額減税をし切れない事業専従者への給付金について、制度の内容と周知の方法を示されたい。
二 給付金の周知について、財務省及び国税庁はどのように対応するのか。
三 防衛力整備の財源確保について政府の見解を問う。

右質問する。
"""


def speech_source(order: int, n: int = 0) -> Source:
    """A real speech of the 財務金融委員会 minutes as the index would cite it."""
    doc = next(d for d in read_kokkai_json(MINUTES) if d.metadata["speech_order"] == order)
    text = doc.sections[0].text
    payload = {
        **doc.metadata, "doc_id": doc.doc_id, "title": doc.title, "doc_type": "diet_speech",
        "date": doc.date, "source_url": doc.source_url, "char_start": 0, "char_end": len(text),
    }
    return Source(n=n, chunk_id=f"chunk-{order}", doc_id=doc.doc_id, label=describe_source(payload),
                  text=text, score=0.9, payload=payload)


def stamp(pd: PointDraft) -> None:
    """Mark ``pd.conflicts`` as computed on the point's present text and evidence."""
    pd.checked = CheckStamp(pd.text, tuple(s.chunk_id for s in pd.evidence()), len(pd.sentences))


def make_draft() -> Draft:
    """Three points: two drafted with citations (one with a conflict), one needing review."""
    analysis = analyze_question(QUESTION)
    assert len(analysis.points) == 3
    s1, s2 = speech_source(133, n=1), speech_source(135, n=2)
    p1 = PointDraft(
        point=analysis.points[0],
        past_answers=[PastAnswer(answer=s1, question=speech_source(132), via="question", score=0.93)],
        sentences=[
            AnswerSentence("お尋ねの調整給付については、減税額が確定する令和七年に不足分を給付することとしております。", [1], 0.9),
            AnswerSentence("原則お一人当たり三万円を給付する方針としております。", [1], 0.4, flags=[FLAG_UNSUPPORTED]),
        ],
        conflicts=[Conflict(
            claim="原則お一人当たり三万円を給付する方針としております。",
            evidence="原則お一人当たり四万円を給付する方針としております。",
            evidence_source=s1, kind="number", reason="数値が異なります: 三万円 ↔ 四万円", score=0.95,
        )],
        followups=[FollowUp(
            question="財務省は、国税庁、税務署に対して、事業専従者全員に本制度の案内や申請書を送付するなど、広報の徹底を図るべきだと考えますが、いかがでしょうか。",
            source=speech_source(134), after=s1, similarity=0.91,
        )],
    )
    p2 = PointDraft(
        point=analysis.points[1],
        past_answers=[PastAnswer(answer=s2, via="answer", score=0.88)],
        sentences=[AnswerSentence("本制度に関する周知、広報については、重要なことと考えております。", [2], 0.95)],
        followups=[FollowUp(question="申請書を全員に送付する考えはあるのか。", generated=True,
                            suggested_answer="引き続き連携してまいりたいと考えております。")],
    )
    p3 = PointDraft(point=analysis.points[2], needs_review=True)
    for pd in (p1, p2, p3):  # as the drafter's 矛盾チェック leaves them: computed on these texts
        stamp(pd)
    return Draft(question=QUESTION, analysis=analysis, points=[p1, p2, p3], sources=[s1, s2], method="template",
                 warnings=["LLM サーバーに接続できません。定型文で作成しました。"])


@pytest.fixture
def draft() -> Draft:
    return make_draft()


def _docx_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_docx_holds_every_point_source_conflict_and_review_mark(draft, tmp_path):
    import docx

    path = tmp_path / "答弁案.docx"
    draft_to_docx(draft, path)
    doc = docx.Document(str(path))
    text = _docx_text(doc)
    paragraphs = [p.text for p in doc.paragraphs]
    assert paragraphs[0] == "答弁案"
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:2] == ["質問", "答弁"] and {"出典", "矛盾チェック", "再質問予測"} <= set(headings)
    # Every 論点: 問 (the point) and 答 (the draft with its [n]).
    for i, pd in enumerate(draft.points, 1):
        assert any(h.startswith(f"論点{i}") for h in headings)
        assert f"問　{pd.point.text}" in paragraphs
    assert any(p.startswith("答　お尋ねの調整給付については") and "[1]" in p for p in paragraphs)
    # The point nothing supports is marked for a human, in its heading and its answer.
    assert any(h.startswith("論点3") and "【要確認】" in h for h in headings)
    assert f"答　{NEEDS_REVIEW}" in paragraphs
    assert "【要確認：出典で裏付けられません】" in text  # the unsupported sentence of point 1
    # Every source, numbered as cited, with date, speaker/position and URL.
    for src in draft.sources:
        line = next(p for p in paragraphs if p.startswith(f"[{src.n}] "))
        assert src.url in line and src.payload["date"] in line and src.payload["speaker"] in line
        assert src.payload["speaker_position"] in line
    # The conflict: both sentences side by side in a 2-column table, then the reason.
    (table,) = doc.tables
    assert len(table.columns) == 2
    assert [c.text for c in table.rows[0].cells] == ["答弁案の文", "過去の答弁・資料の文"]
    claim_cell, evidence_cell = table.rows[1].cells
    assert "三万円" in claim_cell.text and "四万円" in evidence_cell.text and "[1]" in evidence_cell.text
    assert "数値が異なります: 三万円 ↔ 四万円" in table.rows[2].cells[0].text
    # 再質問予測: the mined one with its sources, the generated one marked as such.
    assert draft.points[0].followups[0].question in text
    assert "https://kokkai.ndl.go.jp/txt/121304376X02420240823/134" in text
    assert "想定問　申請書を全員に送付する考えはあるのか。" in paragraphs
    assert "LLMによる生成" in text
    assert "注意：LLM サーバーに接続できません。定型文で作成しました。" in paragraphs
    # This question names nobody: no empty 質問者 line. One that does gets its member and committee.
    assert draft.analysis.member is None and "質問者" not in text
    draft.analysis.member, draft.analysis.committee = "田村貴昭", "財務金融委員会"
    draft_to_docx(draft, path)
    paragraphs = [p.text for p in docx.Document(str(path)).paragraphs]
    assert "質問者：田村貴昭" in paragraphs and "委員会：財務金融委員会" in paragraphs


def test_docx_sets_a_japanese_east_asian_font(draft):
    buffer = io.BytesIO()
    draft_to_docx(draft, buffer)  # a stream works as well as a path
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        styles = z.read("word/styles.xml").decode("utf-8")
        assert "[Content_Types].xml" in z.namelist()
    assert 'w:eastAsia="游明朝"' in styles and 'w:eastAsia="ja-JP"' in styles
    assert 'w:eastAsiaTheme="majorEastAsia"' not in styles.split('w:styleId="Heading1"')[1].split("</w:style>")[0]
    import docx

    doc = docx.Document(io.BytesIO(buffer.getvalue()))
    section = doc.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297  # A4


def test_markdown_holds_the_same_sections(draft):
    md = draft_to_markdown(draft)
    assert md.startswith("**未確認（AI生成の下書き）**\n\n# 答弁案\n")
    for heading in ("## 質問", "## 答弁", "## 出典", "## 矛盾チェック", "## 再質問予測"):
        assert f"\n{heading}\n" in md
    for i, pd in enumerate(draft.points, 1):
        assert f"### 論点{i}" in md and f"**問**　{pd.point.text}" in md
    assert "### 論点3（三）【要確認】" in md and NEEDS_REVIEW in md
    for src in draft.sources:
        assert f"[{src.n}] {source_line(src, markdown=True)}" in md and f"<{src.url}>" in md
    row = next(line for line in md.splitlines() if line.startswith("| 論点1 |"))
    assert "三万円" in row and "四万円" in row and "数値" in row
    assert "| 答弁案の文 | 過去の答弁・資料の文 | 理由 |" in md
    assert draft.points[0].followups[0].question in md and "想定問" in md and "想定答" in md


def test_the_creation_day_is_the_notices_day_in_the_configured_time_zone(draft):
    """Made at 02:15 in Tokyo on 3 December (17:15 UTC on the 2nd): both lines say the 3rd."""
    made = dt.datetime(2026, 12, 2, 17, 15, tzinfo=dt.timezone.utc)
    draft.notice = make_notice("draft", draft.method, NoticeContext(timezone="Asia/Tokyo"), now=made)
    md = draft_to_markdown(draft)
    assert "作成日：2026-12-03" in md and "作成日時：2026-12-03 02:15" in md
    import docx

    buffer = io.BytesIO()
    draft_to_docx(draft, buffer)
    assert "作成日：2026-12-03" in _docx_text(docx.Document(buffer))


def test_an_empty_draft_still_exports(tmp_path):
    import docx

    analysis = analyze_question("防衛費の財源は何か。")
    draft = Draft("防衛費の財源は何か。", analysis, [PointDraft(analysis.points[0], needs_review=True)], [], "template")
    md = draft_to_markdown(draft)
    assert "（出典なし）" in md and "論点1：矛盾の可能性: 照合する答弁案の文がありません" in md
    assert "類似する過去のやり取りは見つかりませんでした。" in md
    draft_to_docx(draft, tmp_path / "empty.docx")
    text = _docx_text(docx.Document(str(tmp_path / "empty.docx")))
    assert "【要確認】" in text and not docx.Document(str(tmp_path / "empty.docx")).tables


def test_source_line_names_speaker_and_position_once():
    src = speech_source(135, n=2)
    line = source_line(src)
    assert line.count("鈴木俊一") == 1 and line.endswith(src.url)
    assert Path(src.url).name == "135"


# -- 公用文チェック as Word comments ----------------------------------------------------------------------


def _comment_anchors(document) -> dict[int, str]:
    """comment id -> the text of the runs between its commentRangeStart and commentRangeEnd."""
    from docx.oxml.ns import qn

    open_ids: dict[int, list[str]] = {}
    anchors: dict[int, str] = {}
    for el in document.element.body.iter():
        if el.tag == qn("w:commentRangeStart"):
            open_ids[int(el.get(qn("w:id")))] = []
        elif el.tag == qn("w:commentRangeEnd"):
            cid = int(el.get(qn("w:id")))
            anchors[cid] = "".join(open_ids.pop(cid))
        elif el.tag == qn("w:t"):
            for parts in open_ids.values():
                parts.append(el.text or "")
    return anchors


def test_style_findings_become_word_comments_on_exactly_their_spans():
    import docx

    from app.draft_export import COMMENT_AUTHOR
    from retrieval.style import StyleChecker

    draft = make_draft()
    draft.points[0].sentences = [
        AnswerSentence("お尋ねの調整給付については、ちょっと時間を要するものの、令和七年に給付することとしております。", [1], 0.9),
        AnswerSentence("事故が起きた時は、あらかじめ届け出た窓口に連絡致します。", [2], 0.9),
        AnswerSentence("政府としては、" + "関係機関と緊密に連携しつつ、" * 6 + "手続きの簡素化を進めてまいります。", [1], 0.9),
    ]
    buf = io.BytesIO()
    draft_to_docx(draft, buf, style=StyleChecker())
    document = docx.Document(io.BytesIO(buf.getvalue()))
    comments = {c.comment_id: c for c in document.comments}
    anchors = _comment_anchors(document)
    assert set(anchors) == set(comments)
    by_text = {anchors[cid]: c for cid, c in comments.items()}
    assert {"ちょっと", "七", "時", "致し"} <= set(by_text), by_text.keys()
    assert "修正案：「とき」" in by_text["時"].text and "内閣訓令" in by_text["時"].text
    assert "修正案：「少し」" in by_text["ちょっと"].text and "算用数字" in by_text["七"].text
    assert all(c.author == COMMENT_AUTHOR for c in comments.values())
    # A long sentence gets its own comment over the whole sentence, and its spellings theirs inside it.
    long_text = draft.points[0].sentences[2].text
    assert "文が長すぎます" in by_text[long_text].text and "修正案：「手続」" in by_text["手続き"].text
    # The text of the 答 itself is unchanged; citation marks are never inside a comment's range.
    body = "\n".join(p.text for p in document.paragraphs)
    assert "ちょっと時間を要するものの、令和七年に給付することとしております。[1]" in body
    assert not any("[" in a for a in anchors.values())
    # Without a checker there are no comments.
    plain = io.BytesIO()
    draft_to_docx(draft, plain)
    assert len(docx.Document(io.BytesIO(plain.getvalue())).comments) == 0
FAKE = "熱中症になりそうな人をAIで検出し、事前に通知を送る。"


def test_a_claim_typed_into_the_draft_that_its_source_does_not_make_is_flagged_in_docx_and_markdown():
    """Edited text is judged again: the invented AI claim, cited to a speech about 給付金 and
    never mentioning AI, is named in the .docx and the Markdown; the untouched sentence keeps its verdict."""
    import docx

    from app.draft_edit import apply_text

    from .support_helpers import offline_judge

    draft = make_draft()
    p2 = draft.points[1]
    kept = p2.sentences[0]
    assert "AI" not in draft.source(2).text
    assert apply_text(draft, p2, f"{kept.text}[2]{FAKE}[2]", offline_judge())
    same, fake = p2.sentences
    assert same is kept and not same.flags  # left as drafted: not judged again
    assert fake.citations == [2] and fake.flags == [FLAG_UNSUPPORTED] and not fake.grounded
    assert "『AIで検出』は出典にありません" in fake.note and fake.support < offline_judge().threshold
    buf = io.BytesIO()
    draft_to_docx(draft, buf)
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(buf.getvalue())).paragraphs)
    assert "『AIで検出』は出典にありません" in body and f"裏付けの確からしさ {fake.support:.2f}" in body
    assert "『AIで検出』は出典にありません" in draft_to_markdown(draft)


def test_an_edited_sentence_quoting_its_source_stays_supported():
    from app.draft_edit import apply_text

    from .support_helpers import offline_judge

    draft = make_draft()
    p2 = draft.points[1]
    quote = next(s for s in draft.source(2).text.split("。") if len(s) > 20) + "。"
    assert apply_text(draft, p2, f"{quote}[2]", offline_judge())
    (only,) = p2.sentences
    assert only.grounded and only.support == 1.0 and only.note == ""
