"""End to end in a real browser: Debian chromium driven by selenium against ``streamlit run``.

The app starts on 127.0.0.1 over data_samples indexed into a temporary index, with a temporary
users file and audit log. The test signs in, asks a question, sees the cited answer and the
highlighted source, creates a Diet-answer draft and downloads it as .docx, then negates a drafted
sentence: the page's 矛盾チェック flags it against its cited article and the .docx downloaded then
carries the conflict. Screenshots go to
``test-artifacts/browser/`` (look at them: layout, Japanese glyphs, nothing cut off). The time
from submitting a question to the first answer text is written to
``test-artifacts/browser/timings.json`` (a measurement for the closing note, not an assertion).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from retrieval.index import open_index
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder

from .browser_testing import ask as _ask, chromium, free_port as _free_port, sign_in, wait as _wait, wait_healthy
from .conftest import ROOT, SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = ROOT / "test-artifacts" / "browser"
PASSWORD = "e2e-password-123"
QUESTION = "申請に対する審査の標準処理期間はどう定められていますか"
DRAFT_QUESTION = (
    "行政手続法について伺います。申請に対する処分について、行政庁は標準処理期間を定めるよう努めることとされていますが、"
    "その趣旨について政府の見解を伺います。"
)


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
    wait_healthy(url, proc, work / "streamlit.log")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    shutil.copy(work / "streamlit.log", ARTIFACTS / "streamlit.log")


@pytest.fixture(scope="module")
def browser(app_url):
    with chromium(ARTIFACTS) as driver:
        yield driver


def _xpath_text(text: str) -> str:
    return f"//*[contains(normalize-space(.), '{text}') and not(*[contains(normalize-space(.), '{text}')])]"


def _sign_in(driver, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "e2e", PASSWORD,
            before_submit=lambda d: (d.save_screenshot(str(ARTIFACTS / "01-sign-in.png")),
                                     _assert_no_pages_before_sign_in(d)))  # fmt: skip
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "textarea[data-testid='stChatInputTextArea']"))


def _assert_no_pages_before_sign_in(driver) -> None:
    from selenium.webdriver.common.by import By

    assert "質問" not in [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebarNav'] a")]


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
    # The answer says which article speaks, and its [1] jumps to source card [1] of this turn.
    answer = browser.find_elements(By.CSS_SELECTOR, "[data-testid='stChatMessage']")[-1]
    assert "行政手続法第六条" in answer.text and "と定めています" in answer.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", answer)
    browser.save_screenshot(str(ARTIFACTS / "02a-answer-text.png"))
    link = answer.find_element(By.CSS_SELECTOR, "a[href$='#src-1-1']")
    link.click()
    card_top = lambda d: d.execute_script(  # noqa: E731
        "const e = document.getElementById('src-1-1'); return e ? e.getBoundingClientRect().top : null;")
    _wait(browser, lambda d: card_top(d) is not None and -8 <= card_top(d) < d.execute_script("return window.innerHeight") / 2,
          timeout=10)  # the card scrolled to the top of the view (give or take a subpixel)
    assert browser.current_url.endswith("#src-1-1") and len(browser.window_handles) == 1  # same tab
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
    assert "未確認（AI生成の下書き）" in _header_text(document)  # nothing leaves unconfirmed without saying so
    _edit_to_contradict_and_export(browser)
    _confirm_and_export(browser)


def _download_docx_again(browser) -> Path:
    """Click the page's .docx download (after removing earlier downloads) and return the new file."""
    from selenium.webdriver.common.by import By

    for old in (ARTIFACTS / "downloads").glob("*.docx"):
        old.unlink()
    def click(d) -> bool:  # the page may still be re-running (a confirmation reruns it): find it again
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            download = d.find_element(By.XPATH, "//button[.//p[text()='Word（.docx）でダウンロード']]")
            d.execute_script("arguments[0].scrollIntoView({block: 'center'});", download)
            download.click()
            return True
        except StaleElementReferenceException:
            return False

    _wait(browser, click, timeout=30)
    return _wait(browser, lambda d: list((ARTIFACTS / "downloads").glob("*.docx")), timeout=60)[0]


def _header_text(document) -> str:
    header = document.sections[0].header
    return "\n".join([p.text for p in header.paragraphs] + [c.text for t in header.tables for r in t.rows for c in r.cells])


def _confirm_and_export(browser) -> None:
    """The official confirms the whole draft: the .docx downloaded then names them in its header."""
    import datetime as dt

    import docx
    from selenium.webdriver.common.by import By

    button = browser.find_element(By.XPATH, "//button[.//p[text()='答弁案全体を確認済みにする']]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    _wait(browser, lambda d: "確認済み（確認者 e2e、" in d.find_element(By.TAG_NAME, "body").text, timeout=120)
    # The rerun has finished when the button is gone (a confirmed draft offers no second confirmation).
    _wait(browser, lambda d: not d.find_elements(By.XPATH, "//button[.//p[text()='答弁案全体を確認済みにする']]"), timeout=60)
    browser.save_screenshot(str(ARTIFACTS / "05-draft-confirmed.png"))
    header = _header_text(docx.Document(str(_download_docx_again(browser))))
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date().isoformat()
    assert f"確認済み（確認者 e2e、{today}）" in header and "未確認" not in header, header


SAID = "示すよう努めなければならない"  # 行政手続法 第九条: 審査の進行状況 … を示すよう努めなければならない
NEGATED = "示さないよう努めなければならない"


def _edit_to_contradict_and_export(browser) -> None:
    """Negate a drafted sentence against its cited article: the page's 矛盾チェック changes at once,
    and the .docx downloaded then carries the conflict (never 「検出されませんでした」 for it)."""
    import docx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    body = browser.find_element(By.TAG_NAME, "body").text
    assert "矛盾の可能性: なし（" in body and "矛盾の可能性: あり" not in body
    # Candidates below the relevance gate are listed apart, collapsed; open them for the screenshot.
    low = browser.find_element(By.XPATH, "//details[.//summary[contains(., '関連の低い候補（')]]//summary")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", low)
    low.click()
    time.sleep(0.5)
    browser.execute_script("window.scrollBy(0, -350);")
    browser.save_screenshot(str(ARTIFACTS / "03b-draft-candidates.png"))
    low.click()
    area = next(a for a in browser.find_elements(By.TAG_NAME, "textarea") if SAID in (a.get_attribute("value") or ""))
    point = area.get_attribute("aria-label")  # 「論点N…」, the point's title
    edited = area.get_attribute("value").replace(SAID, NEGATED, 1)
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys(Keys.DELETE)
    area.send_keys(edited)
    area.send_keys(Keys.CONTROL, Keys.ENTER)  # Streamlit takes a text area's value on Ctrl+Enter
    _wait(browser, lambda d: "矛盾の可能性: あり 1 件" in d.find_element(By.TAG_NAME, "body").text, timeout=300)
    alert = browser.find_element(By.XPATH, _xpath_text("矛盾の可能性: あり 1 件"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", alert)
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "04-draft-conflict.png"))
    body = browser.find_element(By.TAG_NAME, "body").text
    assert NEGATED in body and "否定が逆です" in body
    document = docx.Document(str(_download_docx_again(browser)))
    paragraphs = [p.text for p in document.paragraphs]
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    number = point[2:].split("（")[0]  # 「論点2」 -> 「2」
    assert any(NEGATED in p for p in paragraphs)  # the edited 答
    assert f"論点{number}：矛盾の可能性: あり 1 件" in "\n".join(paragraphs)
    assert not any(p.startswith(f"論点{number}：矛盾の可能性: なし") for p in paragraphs)
    assert "検出されませんでした" not in "\n".join(paragraphs + cells)
    assert any(NEGATED in c and c.startswith(f"論点{number}：") for c in cells)  # the conflict, side by side
    assert any(SAID in c and "行政手続法" in c for c in cells)
