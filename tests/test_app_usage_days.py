"""利用状況 counts Japan-time days on both sides of midnight (AppTest, no model): the default range
ends on today's Japan date, not the server's UTC date; the per-page 質問 column adds up to the
total; users and sign-ins are counted."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

import app.audit as audit_module
import app.usage as usage
from app.audit import AuditLog

from .app_testing import ADMIN, app_env, open_page  # noqa: F401  (fixture)

NOW = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.timezone.utc)  # 2026-12-02 00:30 in Japan, 12-01 in UTC


@pytest.fixture
def scripted_log(app_env, monkeypatch):
    """11 questions around midnight: 5 late on 12-01 (Japan), 6 early on 12-02; a feedback and
    two sign-ins on 12-02; timestamps set by replacing the log's clock."""
    times = iter([f"2026-12-01T14:5{i}:00.000000Z" for i in range(5)]
                 + [f"2026-12-01T15:0{i}:00.000000Z" for i in range(6)]
                 + ["2026-12-01T15:20:00.000000Z", "2026-12-01T15:21:00.000000Z", "2026-12-01T15:22:00.000000Z"])
    monkeypatch.setattr(audit_module, "utc_now", lambda: next(times))
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        for i, who in zip(range(11), itertools.cycle(["tanaka", "suzuki"])):
            log.record(who, "question", {"page": "質問", "question": f"質問{i}"}, latency_ms=100 * (i + 1))
        log.record("tanaka", "feedback", {"page": "質問", "rating": "good"})
        log.record("tanaka", "sign_in", {"page": "ログイン"})
        log.record("sato", "sign_in", {"page": "ログイン"}, outcome="denied")
    monkeypatch.setattr(audit_module, "utc_now", lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    monkeypatch.setattr(usage, "now", lambda: NOW)
    return app_env


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_default_range_ends_on_the_japan_date_and_counts_add_up(scripted_log):
    at = open_page(ADMIN, "ui_usage.py", timeout=60)
    assert at.date_input(key="usage_until").value == dt.date(2026, 12, 2)
    metrics = _metrics(at)
    assert metrics["質問数"] == "11"
    assert metrics["利用者数"] == "2"  # tanaka and suzuki; sato only failed to sign in
    assert metrics["ログイン回数"] == "1"  # the denied attempt is not a sign-in
    pages = at.dataframe[0].value
    assert int(pages[pages["ページ"] == "質問"]["質問"].iloc[0]) == 11
    assert int(pages["質問"].sum()) == 11


@pytest.mark.parametrize("day,expected", [(dt.date(2026, 12, 1), "5"), (dt.date(2026, 12, 2), "6")])
def test_a_single_day_is_a_japan_day(scripted_log, day, expected):
    at = open_page(ADMIN, "ui_usage.py", timeout=60)
    at.date_input(key="usage_since").set_value(day).run()
    at.date_input(key="usage_until").set_value(day).run()
    assert not at.exception, at.exception
    assert _metrics(at)["質問数"] == expected


def test_the_page_offers_the_periodic_report_of_its_range(scripted_log):
    from app.usage_report import build_report
    from retrieval.settings import Settings

    at = open_page(ADMIN, "ui_usage.py", timeout=60)
    (button,) = [b for b in at.get("download_button") if b.label == "定期報告をダウンロード"]
    # What the button serves is the report of the page's range (the same function the CLI uses).
    with AuditLog(f"sqlite:///{scripted_log / 'var/audit.sqlite3'}") as log:
        md = build_report(Settings.load(), log, dt.date(2026, 11, 2), dt.date(2026, 12, 2), "md").decode("utf-8")
    # Every question of those days is December's in Japan (five were still November's in UTC);
    # tanaka and suzuki are not in this users file.
    assert "| 2026-12 | （利用者一覧にない） | 11 |" in md and "| 2026-11 |" not in md
