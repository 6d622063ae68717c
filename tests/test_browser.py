"""End to end in a real browser: Debian chromium driven by selenium against ``streamlit run``.

The app starts on 127.0.0.1 over data_samples indexed into a temporary index, with a temporary
users file and audit log. The test signs in, asks a question, sees the cited answer and the
highlighted source, creates a Diet-answer draft and downloads it as .docx. Screenshots go to
``test-artifacts/browser/`` (look at them: layout, Japanese glyphs, nothing cut off). The time
from submitting a question to the first answer text is written to
``test-artifacts/browser/timings.json`` (a measurement for the closing note, not an assertion).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder

from .conftest import ROOT, SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = ROOT / "test-artifacts" / "browser"
PASSWORD = "e2e-password-123"
QUESTION = "申請に対する審査の標準処理期間はどう定められていますか"
DRAFT_QUESTION = (
    "行政手続法について伺います。申請に対する処分について、行政庁は標準処理期間を定めるよう努めることとされていますが、"
    "その趣旨について政府の見解を伺います。"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, model_cache_dir, real_embedder):
    """``streamlit run app/Home.py`` over data_samples (indexed here first), stopped afterwards."""
    work = tmp_path_factory.mktemp("e2e")
    env = {**os.environ, "GYOSEI_INDEX__PATH": str(work / "index"), "GYOSEI_AUTH__USERS_FILE": str(work / "users.json"),
           "GYOSEI_AUDIT__URL": f"sqlite:///{work / 'audit.sqlite3'}", "GYOSEI_EMBEDDING__CACHE_DIR": str(model_cache_dir),
           "GYOSEI_DATA_DIR": str(SAMPLES.parent)}
    env.pop("GYOSEI_CONFIG", None)
    settings = Settings.load(index={"path": str(work / "index")})
    index = open_index(settings.index, real_embedder.dimension)
    report = Ingestor(index, real_embedder, SparseEncoder(), settings.chunk, settings.security, SAMPLES.parent,
                      limits=settings.limits).ingest([SAMPLES])
    index.close()
    assert report.failed == 0 and report.chunks > 1000
    subprocess.run([sys.executable, "-m", "app.cli", "user", "add", "e2e", "--admin", "--clearance", "2",
                    "--groups", "all", "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=ROOT, check=True)
    port = _free_port()
    log = open(work / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/Home.py", "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (work / "streamlit.log").read_text()
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    shutil.copy(work / "streamlit.log", ARTIFACTS / "streamlit.log")


@pytest.fixture(scope="module")
def browser(app_url):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    downloads = ARTIFACTS / "downloads"
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = ARTIFACTS / "profile"
    shutil.rmtree(profile, ignore_errors=True)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000", "--lang=ja"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition, timeout=180):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Streamlit re-renders while we poll: an element found a moment ago may be gone; look again.
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _xpath_text(text: str) -> str:
    return f"//*[contains(normalize-space(.), '{text}') and not(*[contains(normalize-space(.), '{text}')])]"


def _sign_in(driver, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    user = _wait(driver, lambda d: d.find_element(By.XPATH, "//input[@aria-label='利用者名']"))
    driver.save_screenshot(str(ARTIFACTS / "01-sign-in.png"))
    assert "質問" not in [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebarNav'] a")]
    user.send_keys("e2e")
    driver.find_element(By.XPATH, "//input[@aria-label='パスワード']").send_keys(PASSWORD)
    driver.find_element(By.XPATH, "//button[.//p[text()='ログイン']]").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "textarea[data-testid='stChatInputTextArea']"))


def _ask(driver, question: str) -> float:
    """Submit ``question``; seconds until the new answer's first text with a citation is visible."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = len(driver.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']"))
    box = driver.find_element(By.CSS_SELECTOR, "textarea[data-testid='stChatInputTextArea']")
    box.send_keys(question)
    started = time.perf_counter()
    box.send_keys(Keys.ENTER)

    def answered(d):
        messages = d.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")
        return len(messages) >= before + 2 and "[1]" in messages[-1].text

    _wait(driver, answered)
    return time.perf_counter() - started


def test_sign_in_ask_and_draft_in_a_real_browser(app_url, browser):
    from selenium.webdriver.common.by import By

    _sign_in(browser, app_url)
    warm = _ask(browser, "行政手続法の目的は何ですか")  # first question builds the model and index
    seconds = _ask(browser, QUESTION)
    answer = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")[-1]
    assert "標準的な期間" in answer.text and "[1]" in answer.text
    # The sources render after the answer text: wait for the cited sentence, highlighted.
    _wait(browser, lambda d: any("標準的な期間" in m.text for m in d.find_elements(By.TAG_NAME, "mark")), timeout=60)
    browser.save_screenshot(str(ARTIFACTS / "02-answer.png"))
    assert "[1] 行政手続法" in browser.find_element(By.TAG_NAME, "body").text
    (ARTIFACTS / "timings.json").write_text(json.dumps(
        {"first_answer_s": round(seconds, 3), "warm_up_answer_s": round(warm, 3)}, indent=1), encoding="utf-8")

    browser.find_element(By.XPATH, "//a[@data-testid='stSidebarNavLink'][contains(., '答弁作成')]").click()
    area = _wait(browser, lambda d: d.find_element(By.XPATH, "//textarea[@aria-label='質問（質問主意書・委員会での質問）']"))
    area.send_keys(DRAFT_QUESTION)
    browser.find_element(By.XPATH, "//button[.//p[text()='論点を分析して答弁案を作成']]").click()
    download = _wait(browser, lambda d: d.find_element(By.XPATH, "//button[.//p[text()='Word（.docx）でダウンロード']]"), timeout=600)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "お尋ねの" in body and "論点" in body
    browser.save_screenshot(str(ARTIFACTS / "03-draft.png"))
    download.click()
    docx_files = _wait(browser, lambda d: [p for p in (ARTIFACTS / "downloads").glob("*.docx")], timeout=60)

    import docx

    document = docx.Document(str(docx_files[0]))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "答弁案" in text and "標準処理期間" in text
    assert "行政手続法" in text  # the cited source is listed
