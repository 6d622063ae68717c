"""Every AI-made answer carries the notice (made by the system, which path or which LLM, when,
check it against the sources) on every face: the answer object, the JSON API, `gyosei ask`
(text and --json). Real Answerers over the small access-paths index (HashEmbedder), one
extractive and one with a recording chat model behind an external endpoint. Pages and the draft
exports are tested in tests/test_app_governance.py and tests/test_draft_confirm.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from app.api import GyoseiApi
from app.audit import AuditLog
from app.auth import UserStore
from retrieval.ai_notice import NoticeContext, make_notice
from retrieval.answer import Answerer
from retrieval.answer_llm import LLMAnswerer
from retrieval.embedder import HashEmbedder
from retrieval.settings import AnswerSettings, LLMSettings, Settings
from retrieval.text.sparse import SparseEncoder

from .support_helpers import offline_judge
from .test_access_paths import DIM, RecordingChat, built, index, searcher_for  # noqa: F401

EXTERNAL = LLMSettings(provider="openai_compatible", model="llm-jp-3-13b", base_url="https://llm.example.go.jp/v1")
QUESTION = "行政手続法の目的は何か"


def test_wording_names_the_path_the_model_and_the_time():
    at = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.timezone.utc)  # 2026-12-02 00:30 in Japan
    ext = make_notice("answer", "extractive", NoticeContext(), now=at)
    assert ext.path == "extractive" and ext.made_at == "2026-12-02T00:30:00+09:00"
    assert "この回答は gyosei-rag" in ext.text and "抽出型" in ext.text and "LLM は使用していません" in ext.text
    assert "2026-12-02 00:30" in ext.text and "職員が引用元の資料と照合" in ext.text
    llm = make_notice("draft", "llm", NoticeContext.from_settings(EXTERNAL), now=at)
    assert (llm.provider, llm.model, llm.host, llm.external) == ("openai_compatible", "llm-jp-3-13b", "llm.example.go.jp", True)
    assert "この答弁案は" in llm.text and "llm-jp-3-13b" in llm.text and "llm.example.go.jp（外部）" in llm.text
    local = make_notice("answer", "llm", NoticeContext.from_settings(
        LLMSettings(provider="openai_compatible", model="gemma", base_url="http://127.0.0.1:8080/v1")), now=at)
    assert "127.0.0.1（この端末内）" in local.text
    assert "定型文" in make_notice("draft", "template").text


def _answerers(index):
    sparse = SparseEncoder()
    plain = Answerer(searcher_for(index), HashEmbedder(DIM), offline_judge(sparse), AnswerSettings(min_relevance=-1.0))
    chat = RecordingChat(responses=["行政手続法は公正の確保を目的とします[1]。"] * 10, prompts=[])
    with_llm = Answerer(searcher_for(index), HashEmbedder(DIM), offline_judge(sparse), AnswerSettings(min_relevance=-1.0),
                        llm=LLMAnswerer(chat, offline_judge(sparse), timeout_s=30),
                        notice=NoticeContext.from_settings(EXTERNAL), llm_limit=3)
    return plain, with_llm


def test_the_answer_object_and_its_json(index):
    from retrieval.types import Access

    plain, with_llm = _answerers(index)
    a = plain.answer(QUESTION, Access(clearance=1, groups=["all"]))
    assert a.method == "extractive" and a.notice.path == "extractive"
    assert a.to_dict()["notice"]["text"] == a.notice.text
    b = with_llm.answer(QUESTION, Access(clearance=1, groups=["all"]))
    assert b.method == "llm" and b.notice.model == "llm-jp-3-13b" and b.notice.external


def test_api_reply_carries_the_notice(index, tmp_path, monkeypatch):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    users = UserStore(tmp_path / "users.json")
    users.add("tanaka", "tanaka-pass-1", clearance=1, groups=["all"])
    for answerer, path in zip(_answerers(index), ("extractive", "llm")):
        with AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as audit:
            api = GyoseiApi(Settings.load(), users, answerer, audit)
            token = api.handle("POST", "/api/login", {"user": "tanaka", "password": "tanaka-pass-1"}, None)["token"]
            reply = api.handle("POST", "/api/ask", {"question": QUESTION}, token)
        json.dumps(reply, ensure_ascii=False)  # the reply is JSON as sent
        assert reply["notice"]["path"] == path and "職員が引用元の資料と照合" in reply["notice"]["text"]
        assert ("llm.example.go.jp" in reply["notice"]["text"]) == (path == "llm")


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_cli_ask_prints_the_notice(index, tmp_path, monkeypatch, as_json):
    import app.cli as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    plain, _ = _answerers(index)
    monkeypatch.setattr(cli, "build_embedder", lambda settings: HashEmbedder(DIM))
    monkeypatch.setattr(cli, "build_index", lambda settings, embedder, read_only=False: index)
    monkeypatch.setattr(cli, "build_answerer", lambda settings, embedder, idx: plain)
    monkeypatch.setattr(index, "close", lambda: None)  # the fixture closes it
    result = CliRunner().invoke(cli.main, ["ask", QUESTION] + (["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    if as_json:
        notice = json.loads(result.output)["notice"]
        assert notice["path"] == "extractive" and "職員が引用元の資料と照合" in notice["text"]
    else:
        flat = "".join(result.output.split())  # rich wraps long lines
        assert "【AI生成物】この回答はgyosei-rag" in flat and "抽出型" in flat and "職員が引用元の資料と照合" in flat
