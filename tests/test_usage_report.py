"""The periodic usage report counts what the audit log holds, for a scripted week spanning a
month end (Japan time): per month and group, questions (answered / refused / flagged), drafts,
exports, confirmations, feedback and latency; as CSV, Excel and Markdown from `gyosei usage
report`, and as the 利用状況 page's download."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from click.testing import CliRunner

import app.audit as audit_module
from app.audit import AuditLog
from app.auth import UserStore
from app.usage_report import COLUMNS

# 2026-11-28 .. 2026-12-04 in Japan; the event at 2026-11-30T16:00Z is 12-01 01:00 in Japan.
SCRIPT = [
    # (utc time, user, action, params, outcome, latency_ms)
    ("2026-11-28T01:00:00", "tanaka", "question", {"page": "質問", "flagged": 0}, "ok", 100),
    ("2026-11-28T02:00:00", "tanaka", "question", {"page": "質問", "flagged": 1}, "ok", 300),
    ("2026-11-29T03:00:00", "suzuki", "question", {"page": "質問", "flagged": 0}, "no_answer", 50),
    ("2026-11-29T04:00:00", "suzuki", "question", {"page": "質問"}, "error", 9000),
    ("2026-11-30T05:00:00", "tanaka", "draft", {"page": "答弁作成", "flagged": 1}, "ok", 4000),
    ("2026-11-30T05:10:00", "tanaka", "confirm", {"page": "答弁作成", "scope": "draft"}, "ok", None),
    ("2026-11-30T05:20:00", "tanaka", "confirm", {"page": "答弁作成", "scope": "point"}, "revoked", None),
    ("2026-11-30T05:30:00", "tanaka", "export", {"page": "答弁作成", "format": "docx"}, "ok", None),
    ("2026-11-30T06:00:00", "tanaka", "feedback", {"page": "質問", "rating": "good"}, "ok", None),
    ("2026-11-30T16:00:00", "tanaka", "question", {"page": "質問", "flagged": 0}, "ok", 200),  # 12-01 in Japan
    ("2026-12-02T01:00:00", "suzuki", "feedback", {"page": "質問", "rating": "bad"}, "ok", None),
    ("2026-12-03T01:00:00", "cli-user", "draft", {"question_file": "q.txt"}, "needs_review", 3000),
    ("2026-12-04T16:00:00", "tanaka", "question", {"page": "質問"}, "ok", 100),  # 12-05 in Japan: outside
]


@pytest.fixture
def week(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    monkeypatch.setenv("GYOSEI_AUTH__USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setenv("GYOSEI_AUDIT__USER", "auditor")
    store = UserStore(tmp_path / "users.json")
    store.add("tanaka", "pass-word-123", clearance=2, groups=["soumu"])
    store.add("suzuki", "pass-word-123", clearance=1, groups=["zaimu", "all"])
    times = iter(t + ".000000Z" for t, *_ in SCRIPT)
    monkeypatch.setattr(audit_module, "utc_now", lambda: next(times))
    with AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}") as log:
        for _, user, action, params, outcome, ms in SCRIPT:
            log.record(user, action, params, latency_ms=ms, outcome=outcome)
    monkeypatch.undo()  # the report's own export event gets the real clock
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    monkeypatch.setenv("GYOSEI_AUTH__USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setenv("GYOSEI_AUDIT__USER", "auditor")
    return tmp_path


EXPECTED = {
    ("2026-11", "soumu"): dict(質問=2, 答弁作成=1, 出力=1, 回答あり=2, 該当なし=0, 要確認の文あり=2, 確認=1, **{"評価（良い）": 1, "評価（悪い）": 0}),
    ("2026-11", "all・zaimu"): dict(質問=2, 答弁作成=0, 出力=0, 回答あり=0, 該当なし=1, 要確認の文あり=0, 確認=0, **{"評価（良い）": 0, "評価（悪い）": 0}),
    ("2026-12", "soumu"): dict(質問=1, 回答あり=1),
    ("2026-12", "all・zaimu"): {"評価（悪い）": 1, "質問": 0},
    ("2026-12", "（利用者一覧にない）"): dict(答弁作成=1, 要確認の文あり=1),
}


def _run(*args):
    from app.cli import main

    result = CliRunner().invoke(main, ["usage", "report", "--from", "2026-11-28", "--until", "2026-12-04", *args])
    assert result.exit_code == 0, result.output
    return result


def _check(rows: list[dict]):
    by_key = {(r["月"], r["グループ"]): r for r in rows}
    assert set(by_key) == set(EXPECTED)
    for key, expected in EXPECTED.items():
        for column, value in expected.items():
            assert int(by_key[key][column]) == value, (key, column)
    soumu = by_key[("2026-11", "soumu")]
    assert float(soumu["応答時間 中央値（秒）"]) == 0.2 and float(soumu["応答時間 p95（秒）"]) == 0.29
    # The errored question counts as a question but not in the latency users saw.
    assert float(by_key[("2026-11", "all・zaimu")]["応答時間 中央値（秒）"]) == 0.05


def test_csv_matches_the_audit_rows(week):
    out = _run("--format", "csv").stdout_bytes.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0].keys()) == list(COLUMNS)
    _check(rows)
    with AuditLog(f"sqlite:///{week / 'audit.sqlite3'}") as log:
        in_week = [e for e in log.query(action="question") if "2026-11-27T15" <= e.time < "2026-12-04T15"]
        assert sum(int(r["質問"]) for r in rows) == len(in_week) == 5
        (export,) = [e for e in log.query(action="export") if e.parameters.get("command") == "usage.report"]
        assert export.user == "auditor"


def test_xlsx_and_markdown(week):
    from openpyxl import load_workbook

    _run("--format", "xlsx", "--out", str(week / "r.xlsx"))
    ws = load_workbook(week / "r.xlsx").active
    values = list(ws.values)
    assert values[0][0].startswith("利用状況報告 2026-11-28〜2026-12-04") and list(values[1]) == list(COLUMNS)
    _check([dict(zip(COLUMNS, ["" if v is None else v for v in row])) for row in values[2:]])
    md = _run("--format", "md").output
    assert "| 月 | グループ |" in md and "| 2026-12 | （利用者一覧にない） |" in md


def test_xlsx_needs_an_out_file(week):
    from app.cli import main

    result = CliRunner().invoke(main, ["usage", "report", "--from", "2026-11-28", "--until", "2026-12-04", "--format", "xlsx"])
    assert result.exit_code != 0 and "--out" in result.output
