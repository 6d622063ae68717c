"""Findings 5 and 13: the JSON API reads a bounded body within a deadline, only after the token
is checked, drops stalled clients, and answers every malformed field with a 400 and a Japanese
reason (never a 500 or 503)."""

from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace

import pytest

import app.api as api_mod
from app.api import GyoseiApi, serve
from app.auth import UserStore
from retrieval.settings import Settings

PASSWORD = "correct-horse-battery"


class FakeSearcher:
    def __init__(self) -> None:
        self.calls = []

    def search(self, question, access, filters, mode, k):
        self.calls.append((question, filters, mode, k))
        return []


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    monkeypatch.setattr(api_mod, "SOCKET_TIMEOUT_S", 1.0)
    monkeypatch.setattr(api_mod, "BODY_TIMEOUT_S", 1.5)
    users = UserStore(tmp_path / "users.json")
    users.add("tanaka", PASSWORD)
    searcher = FakeSearcher()
    api = GyoseiApi(Settings(), users, SimpleNamespace(searcher=searcher))
    httpd = serve(api, port=0, max_connections=4)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port, searcher
    httpd.shutdown()
    httpd.server_close()


def raw(port: int, request: bytes, timeout: float = 10) -> tuple[int, dict, float]:
    """Send ``request`` as it is; the status, the JSON reply and the seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, json.loads(body) if body else {}, time.monotonic() - started


def post(path: str, body: bytes, token: str | None = None, length: str | None = None) -> bytes:
    headers = [f"POST {path} HTTP/1.1", "Host: x", "Connection: close", f"Content-Length: {len(body) if length is None else length}"]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def token(port: int) -> str:
    status, reply, _ = raw(port, post("/api/login", json.dumps({"user": "tanaka", "password": PASSWORD}).encode()))
    assert status == 200, reply
    return reply["token"]


def test_the_body_is_not_read_before_the_token_is_checked(server):
    port, _ = server
    # Announces 100 MB and sends none of it: refused at once for the missing token.
    status, reply, seconds = raw(port, post("/api/ask", b"", length="100000000"))
    assert status == 401 and "サインイン" in reply["error"] and seconds < 1


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", "０"])
def test_a_malformed_content_length_is_a_400(server, length):
    port, _ = server
    status, reply, _ = raw(port, post("/api/search", b'{"question": "x"}', token(port), length=length))
    assert status == 400 and "Content-Length" in reply["error"]


def test_an_oversized_body_is_refused_unread(server):
    port, _ = server
    status, reply, _ = raw(port, post("/api/search", b"", token(port), length=str(10 * 1024 * 1024)))
    assert status == 413 and "大きすぎます" in reply["error"]


def test_a_trickled_body_is_cut_off_at_the_deadline(server):
    port, _ = server
    tok = token(port)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post("/api/search", b"", tok, length="1000"))
        received = b""
        for _ in range(20):  # a byte every 0.3 s: each read succeeds, the whole never arrives
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                received += sock.recv(65536)
                if received:
                    break
            except socket.timeout:
                continue
    assert b" 408 " in received.split(b"\r\n", 1)[0] and time.monotonic() - started < 5


def test_stalled_connections_are_dropped_and_cannot_hold_every_thread(server):
    port, _ = server
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    for sock in stalled:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\n")  # and then nothing
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b" 503 " in extra.recv(1024).split(b"\r\n", 1)[0]  # refused now, not queued as a thread
    extra.close()
    for sock in stalled:  # the server hangs up on the silent clients (socket timeout: 1 s here)
        sock.settimeout(5)
        assert sock.recv(1024) == b""
        sock.close()
    status, reply, _ = raw(port, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, reply) == (200, {"status": "ok"})


@pytest.mark.parametrize(("body", "reason"), [
    ({"question": "行政手続法", "filters": {"date_from": 20240101}}, "filters.date_from は文字列"),
    ({"question": "行政手続法", "filters": {"date_from": "2024-13-45"}}, "日付として読めません"),
    ({"question": "行政手続法", "filters": {"house": ["衆議院"]}}, "filters.house は文字列"),
    ({"question": "行政手続法", "filters": {"doc_types": "law"}}, "filters.doc_types は文字列のリスト"),
    ({"question": "行政手続法", "filters": {"doc_types": ["secret"]}}, "使えない値"),
    ({"question": "行政手続法", "filters": {"keep_undated": "yes"}}, "keep_undated"),
    ({"question": "行政手続法", "filters": ["law"]}, "filters は JSON オブジェクト"),
    ({"question": "行政手続法", "mode": ["dense"]}, "mode は"),
    ({"question": "行政手続法", "k": True}, "k は"),
    ({"question": ["行政手続法"]}, "question"),
])
def test_every_malformed_field_is_a_400_naming_it(server, body, reason):
    port, searcher = server
    status, reply, _ = raw(port, post("/api/search", json.dumps(body, ensure_ascii=False).encode(), token(port)))
    assert status == 400 and reason in reply["error"], reply
    assert searcher.calls == []


def test_deep_json_and_lone_surrogates_are_400s(server):
    port, searcher = server
    tok = token(port)
    deep = b'{"question": "x", "filters": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    status, reply, _ = raw(port, post("/api/search", deep, tok))
    assert status == 400 and "入れ子が深すぎます" in reply["error"]
    shallow_enough = b'{"question": "x", "filters": {"doc_ids": ' + b"[" * 40 + b"]" * 40 + b"}}"
    status, reply, _ = raw(port, post("/api/search", shallow_enough, tok))
    assert status == 400 and "入れ子が深すぎます" in reply["error"]
    status, reply, _ = raw(port, post("/api/search", b'{"question": "\\ud800\xe8\xa1\x8c\xe6\x94\xbf"}', tok))
    assert status == 400 and "サロゲート" in reply["error"]
    status, reply, _ = raw(port, post("/api/login", b'{"user": {"a": 1}, "password": "x"}'))
    assert status == 400 and "文字列" in reply["error"]
    assert searcher.calls == []


def test_well_formed_filters_still_reach_the_search(server):
    port, searcher = server
    body = {"question": "行政手続法", "k": 3, "mode": "sparse",
            "filters": {"doc_types": ["law"], "date_from": "2024-04-01", "house": "衆議院", "keep_undated": True}}
    status, reply, _ = raw(port, post("/api/search", json.dumps(body, ensure_ascii=False).encode(), token(port)))
    assert (status, reply) == (200, {"hits": []})
    (question, filters, mode, k), = searcher.calls
    assert (question, filters.doc_types, filters.date_from, filters.house, filters.keep_undated, k) == \
        ("行政手続法", ["law"], "2024-04-01", "衆議院", True, 3)
