"""The first run a newcomer sees, in a real browser: ``gyosei serve --ingest FOLDER`` (what
``make run`` does) answers HTTP within 60 s, every page shows the warm start's progress, the
terminal prints it too, a question gets a cited answer once the documents are in, and a second
start indexes nothing. Screenshots land in test-artifacts/first-run/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLES
from .browser_testing import ask, chromium, free_port, sign_in, wait

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = ROOT / "test-artifacts" / "first-run"
PASSWORD = "first-run-pass-2026"


def _serve(work: Path, env: dict[str, str], log_name: str) -> tuple[subprocess.Popen, str, float, Path]:
    """Start ``gyosei serve`` in ``work``; return it, its URL and the seconds until /_stcore/health."""
    port = free_port()
    log = work / log_name
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--ingest", "docs"],
                            cwd=work, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, time.monotonic() - started, log
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() - started < 90, log.read_text()
        time.sleep(0.3)


def _wait_for_line(log: Path, pattern: str, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text()
        m = re.search(pattern, text)
        if m:
            return m.group(0)
        assert "準備に失敗しました" not in text, text
        time.sleep(1)
    raise AssertionError(f"{pattern!r} not printed in {timeout} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture()
def browser():
    with chromium(ARTIFACTS) as driver:
        yield driver


def test_first_run_serves_at_once_shows_progress_and_answers_when_indexed(tmp_path, model_cache_dir, real_embedder, browser):
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    work = tmp_path / "clone"
    (work / "docs" / "laws").mkdir(parents=True)  # ~300 chunks: long enough to see the progress
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", work / "docs" / "laws")
    for name in ("digital_agency/464-1_guidebook_api.md", "digital_agency/468-1_guidebook_dataquality.md"):
        shutil.copy(SAMPLES / name, work / "docs")
    env = {**os.environ, "GYOSEI_EMBEDDING__CACHE_DIR": str(model_cache_dir)}
    for key in ("GYOSEI_CONFIG", "GYOSEI_INDEX__PATH", "GYOSEI_DATA_DIR", "GYOSEI_AUTH__USERS_FILE", "GYOSEI_AUDIT__URL"):
        env.pop(key, None)
    subprocess.run([sys.executable, "-m", "app.cli", "user", "add", "first", "--admin", "--clearance", "2",
                    "--groups", "all", "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=work,
                   check=True)  # fmt: skip

    proc, url, up_s, log = _serve(work, env, "serve-1.log")
    try:
        print(f"\nfirst start: UI answers after {up_s:.1f} s")
        assert up_s < 60
        sign_in(browser, url, "first", PASSWORD)
        banner = wait(browser, lambda d: d.find_elements(By.XPATH, "//*[contains(text(), '準備') or contains(text(), '取り込んでいます')]"))
        browser.save_screenshot(str(ARTIFACTS / "01-progress.png"))
        assert banner
        _wait_for_line(log, r"取り込み完了: [\d,]+ チャンクを追加")
        _wait_for_line(log, "準備ができました。")
        seconds = ask(browser, "行政手続法の目的は何ですか")
        print(f"first answer after ready: {seconds:.1f} s")

        def settled(d):  # the banner's own full redraw when all is ready may land just after the answer
            messages = d.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")
            return messages and "公正の確保と透明性" in messages[-1].text and messages[-1].text

        answer = wait(browser, settled)
        assert len(browser.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")) == 2  # asked once
        browser.save_screenshot(str(ARTIFACTS / "02-answer.png"))
        # The purpose clause of the Act (Article 1), cited: the answer came from the samples just indexed.
        assert "公正の確保と透明性" in answer and "[1]" in answer, answer
        text = log.read_text()
        assert "CPU:" in text and "サンプル文書を索引に取り込んでいます" in text
    finally:
        _stop(proc)

    proc, url, up_s, log = _serve(work, env, "serve-2.log")  # the second `make run`
    try:
        print(f"second start: UI answers after {up_s:.1f} s")
        assert up_s < 60
        line = _wait_for_line(log, r"取り込み完了: [\d,]+ チャンクを追加、変更のない文書 \d+ 件", timeout=300)
        assert line.startswith("取り込み完了: 0 チャンクを追加"), line
    finally:
        _stop(proc)
        for name in ("serve-1.log", "serve-2.log"):
            shutil.copy(work / name, ARTIFACTS / name)
