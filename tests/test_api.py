"""The JSON API over real HTTP on loopback: sign-in, cited answers, access filters, audit, errors."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from http import HTTPStatus

import pytest

from app.api import ApiError, GyoseiApi, serve
from app.audit import AuditLog
from app.auth import UserStore
from app.factory import build_answerer
from ingest.pipeline import IngestOptions, Ingestor
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder

from .conftest import SAMPLES

pytestmark = pytest.mark.slow

LAW = "laws/405AC0000000088_20240401_504AC0100000052.xml"  # 行政手続法


@pytest.fixture
def server(tmp_path, monkeypatch, model_cache_dir, real_embedder):
    public, secret = tmp_path / "public", tmp_path / "secret"
    public.mkdir(), secret.mkdir()
    shutil.copy(SAMPLES / LAW, public)
    (secret / "naibu.md").write_text(
        "# 内部検討メモ\n\n行政手続法の改正に向けた内部検討では、標準処理期間の短縮を検討している。\n", encoding="utf-8")
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "index"))
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    monkeypatch.setenv("GYOSEI_SECURITY__MAX_CONFIDENTIALITY", "3")
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    settings = Settings.load()
    index = open_index(settings.index, real_embedder.dimension)
    ingestor = Ingestor(index, real_embedder, SparseEncoder(), settings.chunk, settings.security, tmp_path)
    ingestor.ingest([public])
    ingestor.ingest([secret], IngestOptions(confidentiality=3, groups=["kikaku"]))
    users = UserStore(tmp_path / "users.json")
    users.add("tanaka", "tanaka-pass-1", clearance=1, groups=["all"])
    users.add("sato", "sato-pass-12", clearance=3, groups=["kikaku"])
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    httpd = serve(GyoseiApi(settings, users, build_answerer(settings, real_embedder, index), audit), port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", audit
    httpd.shutdown()
    httpd.server_close()
    audit.close()
    index.close()


def call(url: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def login(url: str, user: str, password: str) -> str:
    status, reply = call(url, "/api/login", {"user": user, "password": password})
    assert status == 200, reply
    return reply["token"]


def test_a_signed_in_official_gets_a_cited_answer_and_it_is_audited(server):
    url, audit = server
    token = login(url, "tanaka", "tanaka-pass-1")
    status, reply = call(url, "/api/ask", {"question": "申請に対する審査の標準処理期間はどう定められていますか"}, token)
    assert status == 200, reply
    assert not reply["refused"] and reply["method"] == "extractive"
    assert "[1]" in reply["answer"] and "標準的な期間" in reply["answer"]
    first = reply["sources"][0]
    assert first["n"] == 1 and "行政手続法" in first["label"] and first["highlights"]
    start, end = first["highlights"][0]
    assert first["text"][start:end] in reply["answer"]  # the highlight is the quoted sentence
    events = audit.query(action="question", user="tanaka")
    assert events and set(events[-1].doc_ids) == {s["doc_id"] for s in reply["sources"]}
    assert (events[-1].outcome, events[-1].parameters["method"]) == ("ok", "extractive")
    # A question the documents do not answer is refused, and recorded as such (利用状況 counts it).
    status, reply = call(url, "/api/ask", {"question": "明日の東京の天気と最高気温を教えてください"}, token)
    assert status == 200 and reply["refused"], reply
    assert audit.query(action="question", user="tanaka")[-1].outcome == "no_answer"


def test_access_filters_apply_inside_the_api(server):
    url, _ = server
    question = "標準処理期間の短縮に向けた内部検討"
    low = login(url, "tanaka", "tanaka-pass-1")
    high = login(url, "sato", "sato-pass-12")
    _, seen_low = call(url, "/api/search", {"question": question, "k": 10}, low)
    _, seen_high = call(url, "/api/search", {"question": question, "k": 10}, high)
    assert all("内部検討" not in (h["title"] or "") + h["text"] for h in seen_low["hits"])
    assert any("内部検討" in h["text"] for h in seen_high["hits"])
    _, answer_low = call(url, "/api/ask", {"question": question}, low)
    assert all("内部検討" not in s["text"] + s["label"] for s in answer_low["sources"])


def test_errors_are_short_japanese_messages(server):
    url, _ = server
    assert call(url, "/api/health") == (200, {"status": "ok"})
    status, reply = call(url, "/api/ask", {"question": "行政手続法の目的"})
    assert status == 401 and "サインイン" in reply["error"]
    status, reply = call(url, "/api/login", {"user": "tanaka", "password": "wrong-password"})
    assert status == 401 and "パスワード" in reply["error"]
    token = login(url, "tanaka", "tanaka-pass-1")
    status, reply = call(url, "/api/ask", {"question": "あ" * 100_000}, token)
    assert status in (400, 413) and ("長すぎ" in reply["error"] or "大きすぎ" in reply["error"])
    status, reply = call(url, "/api/ask", {"question": "目的", "filters": {"owner": "x"}}, token)
    assert status == 400 and "owner" in reply["error"]
    status, reply = call(url, "/api/ask", {"question": "目的", "mode": "magic"}, token)
    assert status == 400 and "mode" in reply["error"]
    status, reply = call(url, "/api/unknown", {}, token)
    assert status == 404


def test_sign_in_uses_the_configured_throttle_and_records_refusals(tmp_path, monkeypatch):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    settings = Settings.load(auth={"max_failures": 2, "lockout_s": 600})
    users = UserStore(tmp_path / "users.json")
    users.add("tanaka", "tanaka-pass-1", clearance=1, groups=["all"])
    with AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as audit:
        api = GyoseiApi(settings, users, answerer=None, audit=audit)  # sign-in needs no answerer
        for _ in range(2):
            with pytest.raises(ApiError) as wrong:
                api.login("tanaka", "wrong-password")
            assert wrong.value.status == HTTPStatus.UNAUTHORIZED
        with pytest.raises(ApiError) as blocked:  # two failures are the configured limit, not five
            api.login("tanaka", "tanaka-pass-1")
        assert blocked.value.status == HTTPStatus.TOO_MANY_REQUESTS and "秒後" in blocked.value.message
        assert [e.outcome for e in audit.query(action="sign_in")] == ["denied", "denied", "blocked"]
