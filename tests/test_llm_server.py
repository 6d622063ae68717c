"""Integration: a REAL OpenAI-compatible server (llama-cpp-python's ``llama_cpp.server``) on 127.0.0.1.

It serves the base gemma-3-270m Q4_K_M GGUF that PyPI packages ship (tests/llm_model.py). The model
is tiny and not instruction-tuned, so its answers are poor: that is the point. The tests prove the
wiring (settings -> ChatOpenAI / init_chat_model -> HTTP streaming), that citation validation runs
on real output and flags what is bad, and that timeouts and unreachable servers become Japanese
``LLMError`` messages.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from retrieval.answer_llm import LLMAnswerer, expand_query
from retrieval.answer_types import FLAG_INVALID_CITATION, FLAG_UNCITED, FLAG_UNSUPPORTED, Source
from retrieval.errors import LLMError
from retrieval.llm import chat_model_from_settings
from retrieval.settings import LLMSettings
from tests.support_helpers import offline_judge
from retrieval.text.sparse import SparseEncoder
from tests.conftest import SAMPLES
from tests.llm_model import gemma_gguf

pytestmark = pytest.mark.slow

MODEL = "gemma-3-270m"
STARTUP_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory):
    """Starts ``llama_cpp.server`` on a free local port; yields its base URL; stops it by PID."""
    gguf = gemma_gguf()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llm") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096",
        # One thread: on a shared 2-core machine two OpenMP threads spin against other work and
        # generate 3x slower (measured: ~15 vs ~5 tokens/s under load).
        "--n_threads", "1", "--n_threads_batch", "1",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(base_url, proc, log_path)
        yield base_url
        if proc.poll() is not None:  # a crash mid-test shows up as connection errors: say why
            pytest.fail(f"llama_cpp.server died ({proc.returncode}):\n{log_path.read_text(errors='replace')[-3000:]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)  # uvicorn waits for an abandoned generation: don't wait long
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_until_ready(base_url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(base_url + "/models", timeout=2) as resp:
                if resp.status == 200 and MODEL in json.loads(resp.read())["data"][0]["id"]:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama_cpp.server not ready after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def sources() -> list[Source]:
    """Two real passages from data_samples (the white paper and an NTA Q&A)."""
    paper = (SAMPLES / "white_paper" / "r05_chapter5_soumu_ict_policy.txt").read_text(encoding="utf-8")
    i = paper.index("我が国では少子高齢化が進行")
    aging = paper[i : paper.index("（2）", i)]
    with open(SAMPLES / "nta" / "nta_qa.jsonl", encoding="utf-8") as f:
        gift = next(row for row in map(json.loads, f) if row["id"] == "544")
    return [
        Source(1, "c1", "white_paper/r05", "情報通信白書 第5章 第1節 1（1）", aging, 0.9),
        Source(2, "c2", "nta:544", f"国税庁 質疑応答事例 {gift['title']}", gift["answer"], 0.8),
    ]


def _settings(base_url: str, **overrides) -> LLMSettings:
    values = dict(provider="openai_compatible", base_url=base_url, model=MODEL, max_tokens=48, timeout_s=120)
    values.update(overrides)
    return LLMSettings(**values)


def test_real_server_streams_and_its_answer_is_validated(llm_server, sources):
    model = chat_model_from_settings(_settings(llm_server))
    scorer = offline_judge()
    deltas: list[str] = []
    answer = LLMAnswerer(model, scorer, timeout_s=180).answer(
        "入院中に医師へ贈った物の購入費用は医療費控除の対象になりますか。", sources, on_delta=deltas.append
    )
    raw = "".join(deltas)
    print("\n--- gemma-3-270m said ---\n" + raw + "\n--- validated ---")
    for s in answer.sentences:
        print(f"{s.citations} support={s.support:.2f} flags={s.flags} {s.text}")

    assert len(deltas) > 3, "the answer arrived in one piece: streaming is not wired"
    assert answer.method == "llm" and answer.sentences and answer.timings["generate"] > 0
    given = {s.n for s in sources}
    for s in answer.sentences:
        # Validation ran on every sentence, and its verdict follows from its citations and support.
        assert set(s.citations) <= given
        assert (FLAG_UNCITED in s.flags) == (not s.citations and FLAG_INVALID_CITATION not in s.flags)
        # The judge's verdict: flagged exactly when it found something its sources do not back.
        assert (FLAG_UNSUPPORTED in s.flags) == (bool(s.citations) and bool(s.note))
        assert not s.citations or s.support >= scorer.threshold or FLAG_UNSUPPORTED in s.flags
        assert s.grounded == (bool(s.citations) and not s.flags)
    # A 270M base model cannot do this task; whatever it wrote must not pass as grounded.
    assert any(s.flags for s in answer.sentences)


def test_real_server_through_langchain_init_chat_model(llm_server):
    model = chat_model_from_settings(
        LLMSettings(provider="langchain", model=f"openai:{MODEL}", base_url=llm_server, api_key="none", max_tokens=8)
    )
    # Wiring only (what this base model says to a short prompt may be blank): chunks stream back.
    chunks = list(model.stream([("user", "日本の首都は")]))
    assert len(chunks) >= 2
    reasons = {c.response_metadata.get("finish_reason") for c in chunks} - {None}
    assert reasons and reasons <= {"stop", "length"}
    assert sum(1 for c in chunks if c.content) <= 8  # max_tokens reached the server


def test_query_expansion_against_real_server_returns_a_list(llm_server):
    model = chat_model_from_settings(_settings(llm_server, max_tokens=32))
    terms = expand_query("医療費控除の対象となる費用", model, timeout_s=120)
    print("\nexpansion:", terms)
    assert isinstance(terms, list) and all(isinstance(t, str) and t for t in terms) and len(terms) <= 5


def test_wrong_port_is_a_japanese_connection_error(sources):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    model = chat_model_from_settings(_settings(url))
    with pytest.raises(LLMError, match=f"LLM サーバー {url} に接続できません。.*GYOSEI_LLM__BASE_URL"):
        LLMAnswerer(model, offline_judge(), timeout_s=30).answer("質問", sources)


def test_tiny_timeout_is_a_japanese_timeout_error(llm_server, sources):
    # Runs last in this module: the server may still be busy with the abandoned request.
    model = chat_model_from_settings(_settings(llm_server, timeout_s=0.05))
    started = time.perf_counter()
    with pytest.raises(LLMError, match="以内に応答しませんでした.*GYOSEI_LLM__TIMEOUT_S"):
        LLMAnswerer(model, offline_judge(), timeout_s=0.05).answer("質問", sources)
    assert time.perf_counter() - started < 5
