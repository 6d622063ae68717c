"""The JSONL record reader on the real 国税庁 Q&A sample and on BEIR-layout corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.readers.records import compose_faq_text, normalize_date, read_jsonl_records, strip_markdown_links
from retrieval.errors import ReaderError

ROOT = Path(__file__).resolve().parents[1]
NTA = ROOT / "data_samples" / "nta" / "nta_qa.jsonl"


def _collect(path, **kwargs):
    problems: list[tuple[int, str]] = []
    docs = list(read_jsonl_records(path, on_error=lambda n, r: problems.append((n, r)), **kwargs))
    return docs, problems


def test_nta_qa_records_become_faq_documents():
    docs, problems = _collect(NTA)
    assert len(docs) == 300 and problems == []
    first = docs[0]
    assert first.doc_id == "nta_qa:29"
    assert first.doc_type == "faq"
    assert first.title.startswith("日本標準産業分類からみた事業区分(大分類－J金融業")
    assert first.source_url == "https://www.nta.go.jp/law/shitsugi/shohi/20/07.htm"
    assert first.date == "2024-10-01"  # from 「令和6年10月1日現在の法令・通達等に基づいて作成しています。」
    assert first.metadata["related_laws"] == "消費税法施行令第57条第5項、消費税法基本通達13-2-4、13-2-8の3"
    assert first.metadata["record_id"] == "29"
    (section,) = first.sections
    text = section.text
    assert text.startswith("【照会要旨】\n簡易課税の事業区分は、おおむね日本標準産業分類を基礎として判定する")
    assert "\n\n【回答要旨】\n事業者が行う事業の区分は、原則として" in text
    assert text.endswith("【関係法令通達】\n消費税法施行令第57条第5項、消費税法基本通達13-2-4、13-2-8の3")
    # Scraped Markdown: link labels stay, link targets, images and <br> go.
    assert "「消費税法令の改正等のお知らせ（平成26年4月）」（PDF/2,712KB）" in text
    assert "](" not in text and "ReadSpeaker" not in text and "<br>" not in text
    # Full-width as_of dates (「令和６年８月１日現在」) are read too.
    assert {d.date for d in docs} == {"2024-08-01", "2024-10-01", None}
    assert len({d.doc_id for d in docs}) == 300


def test_id_prefix_and_default_doc_type():
    docs, _ = _collect(NTA, id_prefix="nta", doc_type="guideline")
    assert docs[0].doc_id == "nta:29"
    assert docs[0].doc_type == "guideline"  # the caller's default wins over the faq guess
    raw, _ = _collect(NTA, id_prefix="")
    assert raw[0].doc_id == "29"


def test_beir_corpus_layout(tmp_path):
    """`_id`, `title`, `text`, `metadata` (as in shared/eval/*/corpus.jsonl); ids kept for qrels."""
    lines = [
        {"_id": "121303815X01320240730_005", "title": "2024-07-30 衆議院 安全保障委員会 防衛大臣 木原稔",
         "text": "まず、今回の一連の不祥事についてでございますが、", "metadata": {"date": "2024-07-30", "house": "衆議院", "speaker": "木原稔"}},
        {"_id": "nta-25", "title": "", "text": "甲が丙に対して行う手形の譲渡は非課税取引に該当します。",
         "metadata": {"category": "消費税", "url": "https://www.nta.go.jp/law/shitsugi/shohi/17/02.htm",
                      "as_of": "令和6年10月1日現在の法令・通達等に基づいて作成しています。"}},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    docs, problems = _collect(path, id_prefix="")
    assert problems == []
    diet, nta = docs
    assert diet.doc_id == "121303815X01320240730_005" and diet.date == "2024-07-30"
    assert diet.metadata["house"] == "衆議院" and diet.doc_type == "other"
    assert nta.title == "nta-25"  # an empty title falls back to the id
    assert nta.source_url == "https://www.nta.go.jp/law/shitsugi/shohi/17/02.htm" and "url" not in nta.metadata
    assert nta.date == "2024-10-01" and nta.metadata["category"] == "消費税"
    default_prefix, _ = _collect(path)
    assert default_prefix[1].doc_id == "corpus:nta-25"


def test_plain_records_with_fields(tmp_path):
    path = tmp_path / "notices.jsonl"
    path.write_text(
        json.dumps({"id": 7, "title": "通知", "text": "本文です。", "date": "2024-04-01T09:00:00+09:00",
                    "url": "https://example.go.jp/7", "doc_type": "notice", "category": "総務"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": "8", "title": "報告", "text": "別の本文。", "doc_type": "report"}, ensure_ascii=False),
        encoding="utf-8",
    )
    docs, problems = _collect(path)
    assert problems == []
    assert docs[0].doc_id == "notices:7" and docs[0].doc_type == "notice" and docs[0].date == "2024-04-01"
    assert docs[0].source_url == "https://example.go.jp/7" and docs[0].metadata["category"] == "総務"
    assert docs[0].sections[0].text == "本文です。" and docs[0].sections[0].heading == "通知"
    assert docs[1].doc_type == "other" and docs[1].metadata["original_doc_type"] == "report"


def test_bad_lines_are_reported_and_skipped(tmp_path):
    good = NTA.read_text(encoding="utf-8").splitlines()[:3]
    lines = [
        good[0],
        '{"id": "x1", "title": "切れた行", "text": "途中で',  # truncated JSON
        "",  # blank lines are ignored silently
        '["not", "an", "object"]',
        '{"title": "idなし", "text": "本文"}',
        '{"id": "x2", "title": "本文なし"}',
        '{"id": "x3", "text": 42}',
        good[1],
        good[0],  # duplicate id 29
        '{"id": "x4", "text": "ok", "metadata": "oops"}',
        good[2],
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    docs, problems = _collect(path)
    assert [d.metadata["record_id"] for d in docs] == ["29", json.loads(good[1])["id"], json.loads(good[2])["id"]]
    assert [n for n, _ in problems] == [2, 4, 5, 6, 7, 9, 10]
    reasons = dict(problems)
    assert "JSONとして読めません" in reasons[2]
    assert "JSONオブジェクトではありません" in reasons[4]
    assert "id（または _id）がありません" in reasons[5]
    assert "本文がありません" in reasons[6]
    assert "文字列ではありません" in reasons[7]
    assert "重複しています（1行目と同じ）" in reasons[9]
    assert "metadata" in reasons[10]


def test_bad_lines_are_logged_without_a_callback(tmp_path, caplog):
    path = tmp_path / "one_bad.jsonl"
    path.write_text('{"id": "a", "text": "本文"}\n{broken\n', encoding="utf-8")
    with caplog.at_level("WARNING", logger="ingest.readers.records"):
        docs = list(read_jsonl_records(path))
    assert len(docs) == 1
    assert "2: JSONとして読めません" in caplog.text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "空です"),
        (b"\n  \n", "空です"),
        (b'[{"id": 1, "text": "a"}]', "JSON配列"),
        (b'{"foo": 1}\n{"bar": 2}\n', "使える記録が1件もありません（最初の問題: 1行目: id（または _id）がありません）"),
        (b"{\n  \"id\": 1,\n  \"text\": \"pretty printed\"\n}\n", "使える記録が1件もありません"),
    ],
)
def test_unusable_files_raise_reader_error(tmp_path, content, expected):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ReaderError) as err:
        list(read_jsonl_records(path, on_error=lambda n, r: None))
    assert expected in str(err.value) and str(path) in str(err.value)


def test_non_utf8_line_is_a_line_problem(tmp_path):
    path = tmp_path / "mixed_enc.jsonl"
    path.write_bytes(
        '{"id": "a", "text": "正常"}\n'.encode("utf-8") + '{"id": "b", "text": "シフトJIS"}\n'.encode("cp932")
    )
    docs, problems = _collect(path)
    assert [d.doc_id for d in docs] == ["mixed_enc:a"]
    assert problems[0][0] == 2 and "UTF-8" in problems[0][1]


def test_invalid_default_doc_type_and_missing_file(tmp_path):
    with pytest.raises(ReaderError, match="文書種別"):
        read_jsonl_records(NTA, doc_type="memo")
    with pytest.raises(ReaderError, match="開けません"):
        read_jsonl_records(tmp_path / "missing.jsonl")


def test_helpers():
    assert strip_markdown_links('詳しくは、 [「お知らせ」（PDF）](https://x/y.pdf "t") [![img](https://i/1.png)](https://r)') == "詳しくは、 「お知らせ」（PDF） "
    assert compose_faq_text("問？", "答。", "") == "【照会要旨】\n問？\n\n【回答要旨】\n答。"
    assert normalize_date("2024-08-23") == "2024-08-23"
    assert normalize_date("令和6年8月1日現在") == "2024-08-01"
    assert normalize_date("不明") is None and normalize_date(20240801) is None


def test_damaged_jsonl_raises_only_reader_error(tmp_path):
    """Truncated or byte-damaged copies of the real file: documents plus reported lines, or ReaderError."""
    data = NTA.read_bytes()
    for i, cut in enumerate(range(1, len(data), len(data) // 20)):
        damaged = bytearray(data[:cut] if i % 2 else data)
        if not i % 2:
            damaged[cut] = (damaged[cut] + 0x41) % 256
        path = tmp_path / "damaged.jsonl"
        path.write_bytes(bytes(damaged))
        try:
            docs, problems = _collect(path)
        except ReaderError:
            continue
        assert len(docs) + len(problems) >= 1
