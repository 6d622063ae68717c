"""Past answers (過去答弁) for a point: which speeches count as government answers, how a past
question leads to its answer, and, on the real minutes of data_samples/kokkai embedded for real
(slow), that a real member question finds the real government answer that followed it."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.pipeline import Ingestor
from retrieval.index import open_index
from retrieval.past_answers import PastAnswerFinder, is_government_speech, is_member_question, neighbour_ids
from retrieval.search import Searcher
from retrieval.settings import ChunkSettings, IndexSettings, SecuritySettings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access

from .conftest import SAMPLES

PUBLIC = Access(clearance=1, groups=["all"])
KOKKAI = SAMPLES / "kokkai"
FX_MEETING = "121314370X00120240823"  # 参議院 財政金融委員会 2024-08-23
LAW = SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml"  # 行政手続法


def speech(speech_id: str) -> dict:
    """A real speech record of data_samples/kokkai."""
    for path in sorted(KOKKAI.glob("*.json")):
        for rec in json.loads(path.read_text(encoding="utf-8")).get("speechRecord", []):
            if rec["speechID"] == speech_id:
                return rec
    raise AssertionError(speech_id)


def body(speech_id: str) -> str:
    """The speech as a member's question reads without its 「○若松謙維君」 label."""
    return speech(speech_id)["speech"].split("\u3000", 1)[1]


# -- fast: payload rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("payload, government", [
    ({"doc_type": "diet_speech", "label_role": "国務大臣", "speaker_position": "財務大臣"}, True),
    ({"doc_type": "diet_speech", "label_role": "政府参考人", "speaker_position": "財務省主計局次長"}, True),
    ({"doc_type": "diet_speech", "label_role": "大臣政務官", "speaker_position": "内閣府大臣政務官"}, True),
    ({"doc_type": "diet_speech", "label_role": "参考人", "speaker_position": "日本銀行総裁", "speaker_role": "参考人"}, False),
    ({"doc_type": "diet_speech", "label_role": None, "speaker_position": None, "speaker": "若松謙維"}, False),
    ({"doc_type": "diet_speech", "label_role": "委員長", "procedural": True}, False),
    ({"doc_type": "diet_speech", "speaker": "会議録情報", "procedural": True}, False),
    ({"doc_type": "other", "position": "防衛大臣", "speaker": "木原稔"}, True),  # diet_qa corpus records
])
def test_government_speech_rule(payload, government):
    assert is_government_speech(payload) is government


def test_member_question_rule_and_neighbour_ids():
    assert is_member_question({"doc_type": "diet_speech", "label_role": None, "speaker": "若松謙維"})
    assert not is_member_question({"doc_type": "diet_speech", "label_role": "委員長", "procedural": False})
    assert not is_member_question({"doc_type": "diet_speech", "label_role": "参考人", "speaker_role": "参考人"})
    assert neighbour_ids("kokkai:121314370X00120240823_050", 50, [1, 2]) == [
        "kokkai:121314370X00120240823_051", "kokkai:121314370X00120240823_052"]
    assert neighbour_ids("kokkai:121314370X00120240823_001", None, [-1, -2]) == ["kokkai:121314370X00120240823_000"]


# -- slow: real minutes, real embedder --------------------------------------------------------------


def index_minutes_and_law(root, embedder):
    """The real minutes and 行政手続法 of data_samples, embedded for real, in an Edge index under ``root``."""
    docs = root / "docs"
    shutil.copytree(KOKKAI, docs / "kokkai")
    (docs / "laws").mkdir()
    shutil.copy(LAW, docs / "laws" / LAW.name)
    index = open_index(IndexSettings(path=root / "index"), embedder.dimension)
    Ingestor(index, embedder, SparseEncoder(), ChunkSettings(), SecuritySettings(), docs).ingest([docs])
    index.flush()
    return index


@pytest.fixture(scope="module")
def kokkai_index(tmp_path_factory, real_embedder):
    index = index_minutes_and_law(tmp_path_factory.mktemp("past_answers"), real_embedder)
    yield index
    index.close()


@pytest.fixture(scope="module")
def finder(kokkai_index, real_embedder):
    return PastAnswerFinder(Searcher(kokkai_index, real_embedder, SparseEncoder()))


@pytest.mark.slow
@pytest.mark.parametrize("question_id, answer_id", [
    (f"{FX_MEETING}_050", f"{FX_MEETING}_051"),  # 為替介入の目的と効果 -> 鈴木財務大臣
    (f"{FX_MEETING}_014", f"{FX_MEETING}_015"),  # 金利上昇と国債の発行条件 -> 財務省主計局次長
    ("121313950X00120240730_011", "121313950X00120240730_012"),  # 日米合同委員会の合意 -> 上川外務大臣
])
def test_a_real_past_question_finds_its_real_answer(finder, question_id, answer_id):
    found = finder.find(body(question_id), PUBLIC, k=5)
    assert f"kokkai:{answer_id}" in [pa.answer.doc_id for pa in found]
    pa = next(pa for pa in found if pa.answer.doc_id == f"kokkai:{answer_id}")
    assert pa.question is not None and pa.question.doc_id == f"kokkai:{question_id}"
    # Everything shown is a government answer with what the drafter needs to cite it.
    for p in found:
        assert is_government_speech(p.answer.payload) and p.answer.payload["speaker_position"]
        assert p.answer.url and p.answer.url.startswith("https://kokkai.ndl.go.jp/")
        assert p.answer.payload["date"] and p.answer.payload["house"] and p.answer.payload["meeting"]


@pytest.mark.slow
def test_a_reworded_question_finds_the_answer_by_its_own_text(finder):
    """No past question is word for word the same: the answer route finds it by content."""
    found = finder.find("六月末から七月末に実施された為替介入の総額と、その目的や効果について政府の見解を伺いたい。", PUBLIC, k=5)
    assert f"kokkai:{FX_MEETING}_051" in [pa.answer.doc_id for pa in found]
    assert all(pa.via in ("answer", "question") for pa in found)


@pytest.mark.slow
def test_documents_are_laws_not_speeches_and_access_is_applied(finder):
    docs = finder.find_documents("行政手続法の目的は何か。", PUBLIC, k=3)
    assert docs and all(d.payload["doc_type"] != "diet_speech" for d in docs)
    assert any("行政手続法" in d.label for d in docs)
    nobody = Access(clearance=1, groups=["no-such-group"])  # sample documents are public: still readable
    assert finder.find_documents("行政手続法の目的は何か。", nobody, k=3)
    restricted = Access(clearance=0, groups=["all"])  # below every document's confidentiality
    assert finder.find_documents("行政手続法の目的は何か。", restricted, k=3) == []
    assert finder.find(body(f"{FX_MEETING}_050"), restricted, k=3) == []
