"""The NDL minutes reader on the real API replies in data_samples/kokkai (copies of shared/corpus)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from ingest.readers.kokkai import (
    CHAIR_ROLES,
    is_procedural,
    label_role_of,
    looks_like_kokkai_json,
    looks_like_kokkai_xml,
    read_kokkai_json,
    read_kokkai_xml,
)
from retrieval.errors import ReaderError

KOKKAI = Path(__file__).resolve().parents[1] / "data_samples" / "kokkai"
ZAIMU = KOKKAI / "ndl_speech_121304376X02420240823.json"  # 衆議院 財務金融委員会 2024-08-23
GAIBO = KOKKAI / "ndl_speech_121313950X00120240730.json"  # 参議院 外交防衛委員会 2024-07-30
YOSAN = KOKKAI / "ndl_speech_121505261X00120241114.json"  # 衆議院 予算委員会 (procedure only)
PLENARY_XML = KOKKAI / "ndl_meeting_api_212-plane.xml"  # meeting API, 参議院 本会議 x3


def _by_id(docs):
    return {d.doc_id: d for d in docs}


def test_speech_json_one_document_per_speech_with_metadata():
    docs = list(read_kokkai_json(ZAIMU))
    assert len(docs) == 152
    ueda = _by_id(docs)["kokkai:121304376X02420240823_005"]
    assert ueda.doc_type == "diet_speech"
    assert ueda.date == "2024-08-23"
    assert ueda.title == "2024-08-23 衆議院 財務金融委員会 第24号 植田和男（日本銀行総裁）"
    assert ueda.source_url == "https://kokkai.ndl.go.jp/txt/121304376X02420240823/5"
    meta = ueda.metadata
    assert meta["house"] == "衆議院" and meta["meeting"] == "財務金融委員会"
    assert meta["issue"] == "第24号" and meta["session"] == 213 and meta["speech_order"] == 5
    assert meta["speaker"] == "植田和男" and meta["speaker_position"] == "日本銀行総裁"
    assert meta["speaker_role"] == "参考人" and meta["label_role"] == "参考人"
    assert meta["issue_id"] == "121304376X02420240823"
    assert meta["procedural"] is False
    (section,) = ueda.sections
    assert section.heading == "植田参考人"
    # The 「○植田参考人　」 label is gone, the body is intact, CRLF became LF.
    assert section.text.startswith("お答えいたします。\n")
    assert "○" not in section.text[:5] and "\r" not in section.text
    member = _by_id(docs)["kokkai:121304376X02420240823_004"]
    assert member.metadata["speaker_group"] == "自由民主党・無所属の会"
    assert member.sections[0].text.startswith("おはようございます。自由民主党の中山展宏でございます。")
    assert member.metadata["label_role"] == "委員" and member.metadata["procedural"] is False


def test_meeting_header_is_ingested_and_marked_procedural():
    header = next(iter(read_kokkai_json(ZAIMU)))
    assert header.doc_id == "kokkai:121304376X02420240823_000"
    assert header.metadata["speaker"] == "会議録情報" and header.metadata["procedural"] is True
    assert header.sections[0].heading == "会議録情報"
    assert header.sections[0].text.startswith("令和六年八月二十三日（金曜日）")
    assert header.title == "2024-08-23 衆議院 財務金融委員会 第24号 会議録情報"


def test_chair_speeches_are_procedural_questions_and_answers_are_not():
    docs = _by_id(read_kokkai_json(ZAIMU))
    call = docs["kokkai:121304376X02420240823_003"]  # 「質疑の申出がありますので、順次これを許します。中山展宏君。」
    assert call.metadata["label_role"] == "委員長" and call.metadata["speaker_position"] is None
    assert call.metadata["procedural"] is True
    assert call.title.endswith("津島淳（委員長）")
    closing = docs["kokkai:121304376X02420240823_151"]
    assert "散会" in closing.sections[0].text and closing.metadata["procedural"] is True
    # Every speech of the file: chair -> procedural; anybody else but the header -> not.
    for doc in docs.values():
        chair = doc.metadata["label_role"] in CHAIR_ROLES
        header = doc.metadata["speech_order"] == 0
        assert doc.metadata["procedural"] is (chair or header), doc.doc_id
    assert sum(d.metadata["procedural"] for d in docs.values()) == 20


def test_sangiin_label_form_and_minister_answers():
    docs = _by_id(read_kokkai_json(GAIBO))
    assert len(docs) == 216
    chair = docs["kokkai:121313950X00120240730_001"]
    assert chair.sections[0].heading == "委員長（小野田紀美君）"
    assert chair.sections[0].text.startswith("ただいまから外交防衛委員会を開会いたします。")
    assert chair.metadata["procedural"] is True
    minister = docs["kokkai:121313950X00120240730_006"]
    assert minister.metadata["label_role"] == "国務大臣"
    assert minister.metadata["speaker_position"] == "防衛大臣"
    assert minister.title == "2024-07-30 参議院 外交防衛委員会 閉会後第1号 木原稔（防衛大臣）"
    assert minister.metadata["procedural"] is False
    question = docs["kokkai:121313950X00120240730_005"]
    assert question.sections[0].text.startswith("自民党の佐藤正久です。")
    assert question.metadata["label_role"] is None and question.metadata["procedural"] is False


def test_trailing_separator_lines_are_dropped():
    docs = _by_id(read_kokkai_json(ZAIMU))
    text = docs["kokkai:121304376X02420240823_002"].sections[0].text
    assert text.endswith("御出席をいただいております。")  # the 「―――――」 rule line is gone


def test_procedure_only_meeting_is_all_procedural():
    docs = list(read_kokkai_json(YOSAN))
    assert len(docs) == 7
    assert all(d.metadata["procedural"] for d in docs)
    # The chair's 378-character greeting is still procedure (it opens the meeting).
    assert "予算委員長に就任をいたしました安住淳でございます" in docs[1].sections[0].text


def test_meeting_api_xml_copies_meeting_fields_into_speeches():
    docs = list(read_kokkai_xml(PLENARY_XML))
    assert len(docs) == 67  # 13 + 17 + 37 speeches of three plenary sittings
    by_id = _by_id(docs)
    report = by_id["kokkai:121215254X00920231206_002"]
    assert report.metadata["house"] == "参議院" and report.metadata["meeting"] == "本会議"
    assert report.metadata["session"] == 212 and report.date == "2023-12-06"
    assert report.metadata["speaker"] == "北村経夫" and report.metadata["speaker_yomi"] == "きたむらつねお"
    assert report.sections[0].text.startswith("ただいま議題となりました議定書につきまして")
    assert report.metadata["procedural"] is False  # a committee chair's report is content
    chair = by_id["kokkai:121215254X00920231206_001"]
    assert chair.metadata["speaker_position"] == "議長" and chair.metadata["procedural"] is True
    assert chair.metadata["speaker_yomi"] == "おつじひでひさ"
    pm = next(d for d in docs if d.metadata["speaker"] == "岸田文雄")
    assert pm.metadata["label_role"] == "内閣総理大臣" and pm.metadata["procedural"] is False
    header = by_id["kokkai:121215254X00920231206_000"]
    assert header.metadata["procedural"] is True
    assert "○議事日程" in header.sections[0].text  # header content is not mistaken for a label
    assert sum(d.metadata["procedural"] for d in docs) == 43


def test_meeting_api_json_shape(tmp_path):
    """meetingRecord items with nested speechRecord (built from the real speech reply)."""
    reply = json.loads(YOSAN.read_text(encoding="utf-8"))
    meeting_keys = ("issueID", "session", "nameOfHouse", "nameOfMeeting", "issue", "date", "closing")
    first = reply["speechRecord"][0]
    meeting = {k: first[k] for k in meeting_keys}
    meeting["speechRecord"] = [
        {k: v for k, v in rec.items() if k not in meeting_keys} for rec in reply["speechRecord"]
    ]
    path = tmp_path / "meeting.json"
    path.write_text(json.dumps({"numberOfRecords": 1, "meetingRecord": [meeting]}, ensure_ascii=False), encoding="utf-8")
    assert looks_like_kokkai_json(path.read_bytes()[:8192])
    docs = list(read_kokkai_json(path))
    assert len(docs) == 7
    assert {d.metadata["meeting"] for d in docs} == {"予算委員会"}
    assert {d.date for d in docs} == {"2024-11-14"}
    assert docs[1].metadata["issue_id"] == "121505261X00120241114"


def test_speech_api_xml_shape_and_missing_url(tmp_path):
    """<recordData><speechRecord> (speech API in XML); a missing speechURL is built from the ids."""
    reply = json.loads(YOSAN.read_text(encoding="utf-8"))
    records = []
    for rec in reply["speechRecord"][:3]:
        fields = "".join(
            f"<{k}>{escape(str(v))}</{k}>" for k, v in rec.items() if v is not None and k != "speechURL"
        )
        records.append(f"<record><recordData><speechRecord>{fields}</speechRecord></recordData></record>")
    xml = f"<data><numberOfRecords>7</numberOfRecords><records>{''.join(records)}</records></data>"
    path = tmp_path / "speech.xml"
    path.write_text(xml, encoding="utf-8")
    assert looks_like_kokkai_xml(path.read_bytes())
    docs = list(read_kokkai_xml(path))
    assert [d.metadata["speech_order"] for d in docs] == [0, 1, 2]
    assert docs[2].source_url == "https://kokkai.ndl.go.jp/txt/121505261X00120241114/2"
    assert docs[2].sections[0].text.startswith("これより理事の互選を行います。")


def test_sniffers_on_real_files():
    head = lambda p: p.read_bytes()[:8192]  # noqa: E731 - what the dispatcher reads
    assert all(looks_like_kokkai_json(head(p)) for p in KOKKAI.glob("*.json"))
    assert looks_like_kokkai_xml(head(PLENARY_XML))
    assert not looks_like_kokkai_json(head(PLENARY_XML))
    samples = KOKKAI.parent
    assert not looks_like_kokkai_xml(head(samples / "laws" / "405AC0000000088_20240401_504AC0100000052.xml"))
    assert not looks_like_kokkai_json(head(samples / "nta" / "nta_qa.jsonl"))


def test_label_role_rule():
    assert label_role_of("津島委員長", "津島淳") == "委員長"
    assert label_role_of("委員長（小野田紀美君）", "小野田紀美") == "委員長"
    assert label_role_of("田村（貴）委員", "田村貴昭") == "委員"
    assert label_role_of("鈴木国務大臣", "鈴木俊一") == "国務大臣"
    assert label_role_of("小西洋之君", "小西洋之") is None
    assert label_role_of("財務金融委員長（津島淳君）", "津島淳") == "財務金融委員長"  # not the chair
    assert label_role_of("髙橋委員長", "高橋一郎") == "委員長"  # variant kanji: suffix fallback


def test_procedural_rule_long_chair_speech_without_procedure_is_content():
    body = "本委員会として、" + "政府の説明責任について強く申し上げておきたい。" * 30
    assert not is_procedural(body, speech_order=10, speaker="津島淳", label_role="委員長")
    assert is_procedural(body + "\n本日は、これにて散会いたします。", speech_order=10, speaker="津島淳", label_role="委員長")
    assert is_procedural("速記を起こしてください。", speech_order=3, speaker="x", label_role=None, speaker_position="委員長")
    assert not is_procedural("お答えいたします。", speech_order=5, speaker="植田和男", label_role="参考人")


# ---------------------------------------------------------------- bad input


def test_truncated_json_is_a_reader_error_at_call_time(tmp_path):
    path = tmp_path / "cut.json"
    path.write_bytes(ZAIMU.read_bytes()[:5000])
    with pytest.raises(ReaderError) as err:
        read_kokkai_json(path)  # no iteration needed: the file is checked up front
    assert "途中で切れて" in err.value.reason and err.value.path == str(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "空です"),
        ("[1, 2]", "JSONオブジェクトではありません"),
        ('{"foo": 1}', "speechRecord も meetingRecord もありません"),
        ('{"speechRecord": {"speechID": "x"}}', "リストではありません"),
        ('{"numberOfRecords": 1, "speechRecord": [{"speech": "○某君　本文"}]}', "speechID がありません"),
        ('{"message": "検索条件の指定に誤りがあります。", "details": ["from"]}', "エラー応答です: 検索条件の指定に誤りがあります。"),
        ('{"speechRecord": [{"speechID": "a_001", "speechOrder": "x", "speech": ""}]}', "整数ではありません"),
    ],
)
def test_bad_json_replies(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReaderError) as err:
        read_kokkai_json(path)
    assert expected in str(err.value)


def test_non_utf8_json(tmp_path):
    path = tmp_path / "sjis.json"
    path.write_bytes('{"speechRecord": [{"speechID": "a_001", "speech": "○某君　答弁"}]}'.encode("cp932"))
    with pytest.raises(ReaderError, match="UTF-8"):
        read_kokkai_json(path)


def test_zero_hit_reply_is_empty_not_an_error(tmp_path):
    path = tmp_path / "none.json"
    path.write_text('{"numberOfRecords": 0, "numberOfReturn": 0, "startRecord": 1, "nextRecordPosition": null}', encoding="utf-8")
    assert list(read_kokkai_json(path)) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PLENARY_XML.read_bytes()[:6000], "途中で切れて"),
        (b"<Law><LawNum>x</LawNum></Law>", "<data>"),
        (b"<data><message>1000\xe4\xbb\xb6\xe3\x82\x92\xe8\xb6\x85\xe3\x81\x88\xe3\x81\xbe\xe3\x81\x97\xe3\x81\x9f</message></data>", "エラー応答です: 1000件を超えました"),
        (b"<data><foo/></data>", "<records>"),
        (b"   ", "空です"),
    ],
)
def test_bad_xml_replies(tmp_path, content, expected):
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(ReaderError) as err:
        read_kokkai_xml(path)
    assert expected in str(err.value)


def test_missing_file_is_a_reader_error(tmp_path):
    with pytest.raises(ReaderError, match="開けません"):
        read_kokkai_json(tmp_path / "nope.json")


def test_odd_field_types_do_not_crash(tmp_path):
    record = {"speechID": "x_001", "speechOrder": 1, "speaker": 123, "date": 20240101, "speechURL": None,
              "nameOfHouse": "衆議院", "speech": "○某君　本文です。"}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"speechRecord": [record]}), encoding="utf-8")
    (doc,) = read_kokkai_json(path)
    assert doc.metadata["speaker"] == "123" and doc.date is None
    assert doc.source_url == "https://kokkai.ndl.go.jp/txt/x/1"
    assert doc.sections[0].text == "本文です。"


@pytest.mark.parametrize("source", [YOSAN, PLENARY_XML])
def test_damaged_replies_raise_only_reader_error(tmp_path, source):
    """Truncated or byte-damaged copies of real replies: a document list or ReaderError, nothing else."""
    data = source.read_bytes()
    reader = read_kokkai_json if source.suffix == ".json" else read_kokkai_xml
    for i, cut in enumerate(range(1, len(data), max(1, len(data) // 25))):
        damaged = bytearray(data[:cut] if i % 2 else data)
        if not i % 2:
            damaged[cut] = (damaged[cut] + 0x41) % 256
        path = tmp_path / f"damaged{source.suffix}"
        path.write_bytes(bytes(damaged))
        try:
            list(reader(path))
        except ReaderError:
            pass
