"""Read replies of the NDL minutes API (国会会議録検索システム) into one Document per speech.

Both API shapes are understood, in JSON (``recordPacking=json``) and XML:

- speech API (``/api/speech``): a top-level list of ``speechRecord`` items;
- meeting API (``/api/meeting``): ``meetingRecord`` items, each with nested ``speechRecord`` items
  (meeting fields such as date and house are copied into each speech).

Each speech becomes ``Document(doc_id="kokkai:<speechID>", doc_type="diet_speech")`` with a single
Section whose heading is the speaker label (「津島委員長」) and whose text is the speech body with the
leading 「○津島委員長　」 label removed (the chunker splits long speeches).

The meeting header (speechOrder 0, speaker 会議録情報) is ingested, marked ``procedural=True``, so the
retrieval layer can filter it. Chair speeches are procedural by the rule in :func:`is_procedural`.

Usage::

    for doc in read_kokkai_json(Path("ndl_speech_121304376X02420240823.json")):
        print(doc.title, doc.metadata["procedural"])
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from ingest.document import Document, Section
from ingest.readers.file_common import read_bytes
from retrieval.errors import ReaderError

NDL_TEXT_URL = "https://kokkai.ndl.go.jp/txt/{issue_id}/{order}"
HEADER_SPEAKER = "会議録情報"

# Labels (or positions) of whoever presides: their speeches are mostly procedure. 理事 appears as a
# label only when a director takes the chair (「○理事（佐藤正久君）」); as a questioner it is 「○佐藤君」.
CHAIR_ROLES = frozenset(
    {
        "議長", "副議長", "仮議長", "委員長", "委員長代理", "会長", "会長代理",
        "小委員長", "小委員長代理", "主査", "主査代理", "分科会主査", "理事",
    }
)
# Other roles seen in labels (government answerers, witnesses, members): label_role_of's fallback.
_OTHER_ROLES = frozenset(
    {
        "内閣総理大臣", "国務大臣", "副大臣", "大臣政務官", "政府参考人", "政府特別補佐人",
        "内閣官房副長官", "会計検査院当局者", "説明員", "参考人", "公述人", "委員", "議員",
    }
)
# A chair speech at most this long (body without stage directions) is procedural whatever it says.
CHAIR_SHORT_CHARS = 400
# Phrasing of procedure: opening, adjourning, calling the next speaker, votes, shorthand breaks.
PROCEDURAL_RE = re.compile(
    r"これより会議を開きます|を開会いたします|開議|散会|休憩いたします|速記を|"
    r"御異議(?:あり|ござい|ない|なし)|お諮りいたします|採決|起立を求めます|議題といたします|"
    r"議題とし|質疑(?:を終局|は終了|の申出)|順次(?:これを許します|発言を許します|御発言願います)"
)

_LABEL_RE = re.compile(r"^[\s　]*○([^\s　]+)[\s　]*")
_STAGE_RE = re.compile(r"〔[^〕]*〕|（[^）]*(?:拍手|発言する者あり)[^）]*）")
_RULE_LINE_RE = re.compile(r"(?:\n[ \t　]*[─━―\-－・◇]+[ \t　]*)+\s*$")

# API field -> metadata key; None values are kept so every speech has the same keys.
_META_FIELDS = {
    "nameOfHouse": "house",
    "nameOfMeeting": "meeting",
    "issue": "issue",
    "session": "session",
    "speaker": "speaker",
    "speakerYomi": "speaker_yomi",
    "speakerGroup": "speaker_group",
    "speakerPosition": "speaker_position",
    "speakerRole": "speaker_role",
    "speechOrder": "speech_order",
    "issueID": "issue_id",
}
_INT_FIELDS = ("session", "speechOrder")


def looks_like_kokkai_json(head: bytes) -> bool:
    """True when the first bytes look like an NDL minutes API reply in JSON."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return False
    return any(key in head for key in (b'"speechRecord"', b'"meetingRecord"', b'"numberOfRecords"'))


def looks_like_kokkai_xml(head: bytes) -> bool:
    """True when the first bytes look like an NDL minutes API reply in XML (``<data>...``)."""
    return b"<data>" in head and any(
        key in head for key in (b"<numberOfRecords>", b"<speechRecord>", b"<meetingRecord>")
    )


def read_kokkai_json(path: str | Path) -> Iterator[Document]:
    """Yield one Document per speech of an NDL API JSON reply (speech or meeting API).

    The whole file is checked before the first document is returned, so a broken file raises
    ``ReaderError`` at call time.
    """
    path = Path(path)
    raw = _read_text(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReaderError(
            path,
            f"JSONとして読めません（{exc.lineno}行{exc.colno}列: {exc.msg}）。"
            "ファイルが途中で切れていないか確認してください",
        ) from exc
    if not isinstance(data, dict):
        raise ReaderError(path, "国会会議録検索システムAPIの応答ではありません（最上位がJSONオブジェクトではありません）")
    records = _records_from_json(path, data)
    return iter([_to_document(path, rec, index) for index, rec in enumerate(records, start=1)])


def read_kokkai_xml(path: str | Path) -> Iterator[Document]:
    """Yield one Document per speech of an NDL API XML reply (``<data><records><record>...``)."""
    from lxml import etree  # lazy: only XML replies need it

    path = Path(path)
    raw = read_bytes(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise ReaderError(
            path, f"XMLとして読めません（{exc}）。ファイルが途中で切れていないか確認してください"
        ) from exc
    if root is None or root.tag != "data":
        raise ReaderError(path, "国会会議録検索システムAPIの応答ではありません（ルート要素が <data> ではありません）")
    message = root.findtext("message")
    if message:
        raise ReaderError(path, f"国会会議録検索システムAPIのエラー応答です: {message.strip()}")
    if root.find("numberOfRecords") is None and root.find("records") is None:
        raise ReaderError(path, "国会会議録検索システムAPIの応答ではありません（<records> も <numberOfRecords> もありません）")
    records: list[dict[str, Any]] = []
    for record_data in root.iter("recordData"):
        for item in record_data:
            if item.tag == "speechRecord":
                records.append(_xml_fields(item))
            elif item.tag == "meetingRecord":
                meeting = _xml_fields(item)
                for speech in item.findall("speechRecord"):
                    records.append({**meeting, **_xml_fields(speech)})
    return iter([_to_document(path, rec, index) for index, rec in enumerate(records, start=1)])


def _read_text(path: Path) -> str:
    raw = read_bytes(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReaderError(path, f"UTF-8として読めません（{exc.start}バイト目）") from exc


def _records_from_json(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten either API shape into speech dicts carrying their meeting's fields."""
    if "message" in data and "speechRecord" not in data and "meetingRecord" not in data:
        details = data.get("details")
        extra = f"（{'、'.join(map(str, details))}）" if isinstance(details, list) and details else ""
        raise ReaderError(path, f"国会会議録検索システムAPIのエラー応答です: {data['message']}{extra}")
    if "speechRecord" in data:
        speeches = data["speechRecord"]
        if not isinstance(speeches, list):
            raise ReaderError(path, "speechRecord がリストではありません（APIの応答形式が想定と違います）")
        return [_require_dict(path, item, index) for index, item in enumerate(speeches, start=1)]
    if "meetingRecord" in data:
        meetings = data["meetingRecord"]
        if not isinstance(meetings, list):
            raise ReaderError(path, "meetingRecord がリストではありません（APIの応答形式が想定と違います）")
        records = []
        for m_index, meeting in enumerate(meetings, start=1):
            meeting = _require_dict(path, meeting, m_index, "会議記録")
            speeches = meeting.get("speechRecord") or []
            if not isinstance(speeches, list):
                raise ReaderError(path, f"{m_index}番目の会議記録の speechRecord がリストではありません")
            shared = {k: v for k, v in meeting.items() if k != "speechRecord"}
            for s_index, speech in enumerate(speeches, start=1):
                records.append({**shared, **_require_dict(path, speech, s_index)})
        return records
    if "numberOfRecords" in data:
        return []  # a valid reply with no hits
    raise ReaderError(
        path,
        "国会会議録検索システムAPIの応答ではありません（speechRecord も meetingRecord もありません）",
    )


def _require_dict(path: Path, item: Any, index: int, what: str = "発言記録") -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ReaderError(path, f"{index}番目の{what}がJSONオブジェクトではありません")
    return item


def _xml_fields(element: Any) -> dict[str, Any]:
    """Leaf children of an XML record as a dict; empty elements become None."""
    fields: dict[str, Any] = {}
    for child in element:
        if child.tag == "speechRecord" or not isinstance(child.tag, str):
            continue
        text = child.text
        fields[child.tag] = text if text not in (None, "") else None
    return fields


def _to_document(path: Path, rec: dict[str, Any], index: int) -> Document:
    speech_id = rec.get("speechID")
    if not speech_id or not isinstance(speech_id, str):
        raise ReaderError(path, f"{index}番目の発言記録に speechID がありません")
    speech = rec.get("speech")
    if speech is None:
        speech = ""
    if not isinstance(speech, str):
        raise ReaderError(path, f"発言 {speech_id} の speech が文字列ではありません")

    meta: dict[str, Any] = {}
    for field_name, key in _META_FIELDS.items():
        value = rec.get(field_name)
        if field_name in _INT_FIELDS and value is not None:
            try:
                value = int(value)
            except (TypeError, ValueError) as exc:
                raise ReaderError(path, f"発言 {speech_id} の {field_name} が整数ではありません（{value!r}）") from exc
        elif value is not None:
            value = str(value).strip() or None  # odd types in a hand-made file become text
        meta[key] = value

    text = speech.replace("\r\n", "\n").replace("\r", "\n")
    if meta["speaker"] == HEADER_SPEAKER or meta["speech_order"] == 0:
        label, body = "", text.strip("\n")  # the header has no label; 「○議事日程」 is content
    else:
        label, body = split_speaker_label(text)
    body = _RULE_LINE_RE.sub("", body).rstrip()
    speaker = meta["speaker"] or ""
    label_role = label_role_of(label, speaker)
    meta["speaker_label"] = label or None
    meta["label_role"] = label_role
    meta["procedural"] = is_procedural(
        body,
        speech_order=meta["speech_order"],
        speaker=speaker,
        label_role=label_role,
        speaker_position=meta["speaker_position"],
    )

    issue_id = meta["issue_id"] or speech_id.rsplit("_", 1)[0]
    order = meta["speech_order"]
    if order is None:
        tail = speech_id.rsplit("_", 1)[-1]
        order = int(tail) if tail.isdigit() else 0
    url = rec.get("speechURL")
    source_url = url if isinstance(url, str) and url else NDL_TEXT_URL.format(issue_id=issue_id, order=order)

    date = rec.get("date") if isinstance(rec.get("date"), str) and rec.get("date") else None
    position = meta["speaker_position"] or meta["speaker_role"] or label_role
    who = speaker if not position or speaker == HEADER_SPEAKER else f"{speaker}（{position}）"
    title = " ".join(
        part for part in (date, meta["house"], meta["meeting"], meta["issue"], who) if part
    )
    heading = label or speaker or HEADER_SPEAKER
    return Document(
        doc_id=f"kokkai:{speech_id}",
        title=title,
        doc_type="diet_speech",
        sections=[Section(text=body, heading=heading)],
        date=date,
        source_url=source_url,
        source_path=str(path),
        metadata=meta,
    )


def split_speaker_label(text: str) -> tuple[str, str]:
    """Split 「○津島委員長　これより…」 into ("津島委員長", "これより…"); no label -> ("", text)."""
    match = _LABEL_RE.match(text)
    if not match:
        return "", text.strip("\n")
    return match.group(1), text[match.end():].strip("\n")


def label_role_of(label: str, speaker: str) -> str | None:
    """The role a speaker label names: 「委員長（小野田紀美君）」→委員長, 「津島委員長」→委員長, 「小西洋之君」→None.

    Unparenthesized labels are "<surname><role>"; the surname is recognised as a prefix of the
    speaker's name, so 「財務金融委員長」 (a committee chair reporting) is not mistaken for the chair.
    """
    if not label:
        return None
    if "（" in label and label.endswith("君）"):
        return label.split("（", 1)[0] or None
    if label.endswith("君"):
        return None
    bare = re.sub(r"（[^）]*）", "", label)  # 「田村（貴）委員」 -> 「田村委員」
    name = speaker.replace(" ", "").replace("　", "")
    for cut in range(min(len(bare) - 1, len(name)), 0, -1):
        if name.startswith(bare[:cut]):
            return bare[cut:] or None
    # The name in the label may be spelled differently (髙/高): fall back on a known role suffix.
    for role in sorted(CHAIR_ROLES | _OTHER_ROLES, key=len, reverse=True):
        if bare.endswith(role):
            return role
    return bare or None


def is_procedural(
    body: str,
    *,
    speech_order: int | None,
    speaker: str,
    label_role: str | None,
    speaker_position: str | None = None,
) -> bool:
    """The procedural rule: the meeting header, or a chair's speech that is short or procedural.

    - speechOrder 0 or speaker 会議録情報 (attendance lists, agenda) -> procedural;
    - the presiding officer (label role or position in ``CHAIR_ROLES``) -> procedural when the body
      (without stage directions such as 〔賛成者起立〕) is at most ``CHAIR_SHORT_CHARS`` characters,
      or when it uses procedural phrasing (開会, 散会, 御異議, 採決, 速記, 議題 ...);
    - everyone else (questions, answers, reports, explanations of bills) -> not procedural.
    """
    if speech_order == 0 or speaker == HEADER_SPEAKER:
        return True
    chair = (label_role in CHAIR_ROLES) or (speaker_position in CHAIR_ROLES)
    if not chair:
        return False
    compact = re.sub(r"[\s　]+", "", _STAGE_RE.sub("", body))
    return len(compact) <= CHAIR_SHORT_CHARS or bool(PROCEDURAL_RE.search(body))
