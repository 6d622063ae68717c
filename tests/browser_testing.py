"""Real-browser plumbing the browser tests share: Debian's chromium under selenium, waits that
survive Streamlit's re-renders, and a free loopback port."""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A port nobody listens on, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chromium(artifacts: Path) -> Iterator[Any]:
    """Headless chromium (fresh profile, downloads into ``artifacts/downloads``), quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    artifacts.mkdir(parents=True, exist_ok=True)
    downloads = artifacts / "downloads"
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = artifacts / "profile"
    shutil.rmtree(profile, ignore_errors=True)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000", "--lang=ja"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: Any, condition: Any, timeout: float = 180) -> Any:
    """Poll ``condition`` until it is truthy (stale elements are looked up again)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Streamlit re-renders while we poll: an element found a moment ago may be gone; look again.
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)




def sign_in(driver: Any, url: str, name: str, password: str, before_submit: Any = None) -> None:
    """Open ``url`` and sign in on the form; ``before_submit(driver)`` runs with the form filled."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    user = wait(driver, lambda d: d.find_element(By.XPATH, "//input[@aria-label='利用者名']"))
    if before_submit is not None:
        before_submit(driver)
    user.send_keys(name)
    driver.find_element(By.XPATH, "//input[@aria-label='パスワード']").send_keys(password)
    driver.find_element(By.XPATH, "//button[.//p[text()='ログイン']]").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebarNav'] a"))


def ask(driver: Any, question: str) -> float:
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

    wait(driver, answered)
    return time.perf_counter() - started


def wait_healthy(url: str, proc: Any, log: Path, timeout: float = 120) -> None:
    """Wait until the Streamlit server at ``url`` answers its health check; fail with its log if
    it exits or does not come up in ``timeout`` seconds."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
