"""In a real browser (issue 17): a reload (F5) keeps the user signed in and the conversation on
質問, through the HttpOnly session cookie of ``gyosei serve``'s entry (app/asgi.py); after
signing out, a reload shows the sign-in form again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ingest.pipeline import Ingestor
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder

from .browser_testing import ask, chromium, free_port, sign_in, wait, wait_healthy
from .conftest import ROOT, SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PASSWORD = "correct-horse-battery"
FAQ = SAMPLES / "digital_agency/499_appendix_FAQ.md"


@pytest.fixture
def server(tmp_path, model_cache_dir, real_embedder):
    env = {**os.environ, "GYOSEI_INDEX__PATH": str(tmp_path / "var/index"),
           "GYOSEI_AUTH__USERS_FILE": str(tmp_path / "var/users.json"),
           "GYOSEI_AUDIT__URL": f"sqlite:///{tmp_path / 'var/audit.sqlite3'}",
           "GYOSEI_EMBEDDING__CACHE_DIR": str(model_cache_dir)}
    env.pop("GYOSEI_CONFIG", None)
    settings = Settings.load(index={"path": str(tmp_path / "var/index")})
    index = open_index(settings.index, real_embedder.dimension)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / FAQ.name).write_bytes(FAQ.read_bytes())
    Ingestor(index, real_embedder, SparseEncoder(), settings.chunk, settings.security, tmp_path).ingest([tmp_path / "docs"])
    index.close()
    subprocess.run([sys.executable, "-m", "app.cli", "user", "add", "e2e", "--clearance", "1", "--groups", "all",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, cwd=ROOT, check=True)
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/asgi.py", "--server.address", "127.0.0.1",
                             "--server.port", str(port), "--server.headless", "true"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, tmp_path / "streamlit.log")
    yield url, tmp_path
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_a_reload_keeps_the_session_and_the_conversation(server):
    from selenium.webdriver.common.by import By

    url, work = server
    with chromium(work / "browser") as driver:
        sign_in(driver, url, "e2e", PASSWORD)
        wait(driver, lambda d: any(c["name"] == "gyosei_session" for c in d.get_cookies()), timeout=30)
        cookie = next(c for c in driver.get_cookies() if c["name"] == "gyosei_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert driver.execute_script("return document.cookie").find("gyosei_session") < 0  # no script reads it
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "textarea[data-testid='stChatInputTextArea']"), timeout=120)
        ask(driver, "デジタル庁のFAQには何が書かれていますか")

        driver.refresh()  # F5
        def reopened(d):
            messages = d.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")
            return len(messages) >= 2 and "[1]" in messages[1].text

        wait(driver, reopened, timeout=120)
        assert not driver.find_elements(By.XPATH, "//input[@aria-label='利用者名']")
        messages = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")
        assert "デジタル庁のFAQには何が書かれていますか" in messages[0].text and "[1]" in messages[1].text
        assert "ログイン中: e2e" in driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text

        driver.find_element(By.XPATH, "//button[.//p[text()='ログアウト']]").click()
        wait(driver, lambda d: d.find_elements(By.XPATH, "//input[@aria-label='利用者名']"), timeout=60)
        driver.refresh()
        wait(driver, lambda d: d.find_elements(By.XPATH, "//input[@aria-label='利用者名']"), timeout=60)
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")
