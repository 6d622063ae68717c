"""Application logs hold no document text, no prompt with document text, and no secret.

With every logger at DEBUG, a document carrying a unique marker sentence is ingested (next to a
file that fails to read), then asked about through the real LLM client (LangChain's ChatOpenAI
against a loopback OpenAI-compatible stand-in that echoes the marker back, as a model quoting its
source would) with an API key in the settings. The positive controls prove the marker did travel
through the prompt and the answer and the key did reach the server; the logs must hold neither.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from ingest.pipeline import Ingestor
from retrieval.answer import Answerer
from retrieval.answer_llm import LLMAnswerer
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.llm import chat_model_from_settings
from retrieval.search import Searcher
from retrieval.settings import AnswerSettings, ChunkSettings, IndexSettings, LLMSettings, SecuritySettings, Settings
from tests.support_helpers import offline_judge
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access

from .conftest import SAMPLES

MARKER = "照合用の一意な文字列ミギワ四七七一は本文にのみ現れる。"
API_KEY = "sk-gyosei-test-9f8e7d6c5b4a39281706"


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Streams one chat completion that quotes the marker; remembers what it was sent."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"auth": self.headers.get("Authorization", ""), "body": json.dumps(body, ensure_ascii=False)})
        reply = f"資料には「{MARKER}」とあります[1]。"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece, finish in ((reply, None), ("", "stop")):
            chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args) -> None:  # keep the test server quiet
        pass


@pytest.fixture
def fake_openai():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    _FakeOpenAI.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_debug_logs_carry_no_document_text_prompt_or_api_key(tmp_path, caplog, fake_openai):
    docs = tmp_path / "docs"
    docs.mkdir()
    law = (SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml").read_text(encoding="utf-8")
    (docs / "memo.md").write_text(f"# 内部メモ\n\n{MARKER}\n\n行政手続法の目的について整理する。\n", encoding="utf-8")
    (docs / "law.xml").write_text(law, encoding="utf-8")
    (docs / "broken.docx").write_bytes(b"PK\x03\x04" + MARKER.encode())  # a reader failure is logged too
    settings = Settings(llm=LLMSettings(provider="openai_compatible", model="fake", base_url=fake_openai,
                                        api_key=SecretStr(API_KEY), timeout_s=10))
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output

    index = open_index(IndexSettings(path=tmp_path / "index"), 64)
    try:
        embedder, sparse = HashEmbedder(64), SparseEncoder()
        report = Ingestor(index, embedder, sparse, ChunkSettings(), SecuritySettings(), docs).ingest([docs])
        assert report.indexed == 2 and report.failed == 1
        chat = chat_model_from_settings(settings.llm)
        answerer = Answerer(Searcher(index, embedder, sparse), embedder, offline_judge(sparse),
                            AnswerSettings(min_relevance=-1.0), llm=LLMAnswerer(chat, offline_judge(sparse), timeout_s=10))
        result = answerer.answer("照合用の一意な文字列ミギワ四七七一", Access(clearance=1, groups=["all"]))
    finally:
        index.close()

    # Positive controls: the marker went out in the prompt and came back in the answer; the key was sent.
    assert result.method == "llm" and MARKER in result.text
    assert any(MARKER in s["body"] for s in _FakeOpenAI.seen)
    assert any(API_KEY in s["auth"] for s in _FakeOpenAI.seen)
    assert caplog.records, "DEBUG logging was on: libraries did log"

    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in (MARKER, MARKER[:12], API_KEY, API_KEY[-12:], "行政手続法の目的について整理する"):
        assert secret not in logged
    assert API_KEY not in repr(settings) and API_KEY not in str(settings.model_dump())
