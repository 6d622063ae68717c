"""The audit log: append-only records with a hash chain, retention, export for auditors, several
writer processes, PostgreSQL by URL (a temporary server started here), and the CLI's commands
(ingest, search, ask, index delete) leaving one event each, with document ids and no passages."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import app.audit as audit_mod
from app.audit import ACTIONS, AuditError, AuditLog, open_audit_log
from retrieval.errors import ConfigError, GyoseiError
from retrieval.settings import AuditSettings, Settings

from .conftest import ROOT, SAMPLES

LAW = SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml"  # 行政手続法
FAQ = SAMPLES / "digital_agency" / "499_appendix_FAQ.md"


@pytest.fixture
def log(tmp_path):
    with AuditLog(f"sqlite:///{tmp_path}/audit.sqlite3") as opened:
        yield opened


# -- recording and reading ----------------------------------------------------------------------


def test_events_keep_user_utc_time_parameters_doc_ids_latency_and_outcome(log):
    event = log.record("tanaka", "question", {"question": "行政手続法の目的は何か", "k": 5, "mode": "hybrid"},
                       ["laws/405AC.xml", "laws/405AC.xml", "nta:29"], 42, "ok")
    assert event.id == 1 and event.time.endswith("Z") and event.time[10] == "T"
    (stored,) = log.query()
    assert stored.user == "tanaka" and stored.action == "question"
    assert stored.parameters == {"question": "行政手続法の目的は何か", "k": 5, "mode": "hybrid"}
    assert stored.doc_ids == ["laws/405AC.xml", "nta:29"]  # duplicates collapsed, order kept
    assert (stored.latency_ms, stored.outcome, stored.hash) == (42, "ok", event.hash)


def test_unknown_actions_and_missing_users_are_refused_in_japanese(log):
    with pytest.raises(AuditError, match="操作種別"):
        log.record("tanaka", "update")
    with pytest.raises(AuditError, match="利用者名"):
        log.record("", "question")
    assert set(ACTIONS) >= {"question", "draft", "export", "upload", "ingest", "delete", "sign_in", "feedback"}


def test_query_narrows_by_period_user_and_action(log, monkeypatch):
    times = iter(["2026-10-31T23:59:59.999999Z", "2026-11-01T00:00:00.000000Z", "2026-11-15T12:00:00.000000Z",
                  "2026-11-30T23:59:59.999999Z", "2026-12-01T00:00:00.000000Z"])
    monkeypatch.setattr(audit_mod, "utc_now", lambda: next(times))
    for user, action in [("a", "question"), ("b", "question"), ("a", "draft"), ("a", "delete"), ("b", "ingest")]:
        log.record(user, action)
    november = log.query(since="2026-11-01", until="2026-11-30")  # dates are whole days, both ends
    assert [e.id for e in november] == [2, 3, 4]
    assert [e.id for e in log.query(until="2026-11-15T12:00:00")] == [1, 2, 3]  # explicit time: inclusive
    assert [e.id for e in log.query(user="a")] == [1, 3, 4]
    assert [e.id for e in log.query(action="question", user="b")] == [2]
    with pytest.raises(AuditError, match="YYYY-MM-DD"):
        log.query(since="先月")


def test_track_measures_latency_and_records_failures_with_their_japanese_message(log):
    with log.track("sato", "question", {"question": "電子帳簿保存の要件"}) as event:
        event.doc_ids = ["nta:29"]
    with pytest.raises(GyoseiError):
        with log.track("sato", "delete", {"doc_id": "x"}):
            raise GyoseiError("索引を開けません（ロック中）。")
    with pytest.raises(KeyError):
        with log.track("sato", "question", {"question": "q"}):
            raise KeyError("本文の一部かもしれない文字列")
    ok, failed, crashed = log.query()
    assert ok.outcome == "ok" and ok.doc_ids == ["nta:29"] and ok.latency_ms >= 0
    assert failed.outcome == "error" and failed.message == "索引を開けません（ロック中）。"
    # A non-project exception may quote a document: only its type is kept.
    assert crashed.outcome == "error" and crashed.message == "KeyError"


# -- append-only, tamper evidence, retention ---------------------------------------------------------


def test_the_log_cannot_be_updated_and_tampering_is_detected(log, tmp_path):
    assert not any(hasattr(log, name) for name in ("update", "delete", "edit", "remove"))
    for i in range(5):
        log.record("tanaka", "question", {"question": f"質問{i}"}, [f"doc-{i}"])
    assert log.verify() == []
    raw = sqlite3.connect(tmp_path / "audit.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE audit_events SET user_name = 'someone' WHERE id = 2")
    raw.execute("DELETE FROM audit_events WHERE id = 3")  # someone removes a row behind the log's back
    raw.commit()
    assert log.verify() == [4]  # the row after the gap no longer links
    # Forging content needs the trigger gone; the hash still gives it away.
    raw.execute("DROP TRIGGER audit_events_no_update")
    raw.execute("UPDATE audit_events SET parameters = '{\"question\": \"別の質問\"}' WHERE id = 5")
    raw.commit()
    raw.close()
    assert log.verify() == [4, 5]


def test_purge_applies_retention_and_records_itself(log, monkeypatch):
    old = iter(["2020-01-01T00:00:00.000000Z", "2020-06-01T00:00:00.000000Z"])
    monkeypatch.setattr(audit_mod, "utc_now", lambda: next(old))
    log.record("tanaka", "question", {"question": "古い質問"})
    log.record("tanaka", "ingest", {"paths": ["data_samples"]})
    monkeypatch.undo()
    log.record("sato", "question", {"question": "新しい質問"})
    assert log.purge(365, by="kanri") == 2
    events = log.query()
    assert [e.action for e in events] == ["question", "purge"]
    purge = events[-1]
    assert purge.user == "kanri" and purge.parameters["removed"] == 2 and purge.parameters["retention_days"] == 365
    assert log.verify() == []  # the chain holds from the oldest kept event
    with pytest.raises(AuditError, match="1 日以上"):
        log.purge(0, by="kanri")


def test_export_for_auditors_as_csv_and_jsonl_is_itself_recorded(log):
    log.record("tanaka", "question", {"question": "行政手続法の目的", "k": 5}, ["laws/405AC.xml", "nta:29"], 31)
    log.record("sato", "delete", {"doc_id": "nta:29"}, ["nta:29"], 5)
    out = io.StringIO()
    assert log.export(out, "csv", by="kansa", action="question") == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 1 and rows[0]["user"] == "tanaka" and rows[0]["doc_ids"] == "laws/405AC.xml nta:29"
    assert json.loads(rows[0]["parameters"]) == {"question": "行政手続法の目的", "k": 5}
    out = io.StringIO()
    assert log.export(out, "jsonl", by="kansa") == 3  # the two events and the first export
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [x["action"] for x in lines] == ["question", "delete", "export"]
    assert lines[2]["user"] == "kansa" and lines[2]["parameters"]["rows"] == 1
    last = log.query()[-1]
    assert last.action == "export" and last.parameters["format"] == "jsonl" and last.parameters["rows"] == 3
    with pytest.raises(AuditError, match="csv か jsonl"):
        log.export(io.StringIO(), "xlsx", by="kansa")


# -- several processes -----------------------------------------------------------------------------

WRITER = """
import sys
from app.audit import AuditLog
log = AuditLog(sys.argv[1])
for i in range(int(sys.argv[3])):
    log.record(sys.argv[2], "question", {"question": f"質問 {i}"}, [f"{sys.argv[2]}-{i}"], i)
log.close()
"""


def run_writers(url: str, per_process: int, names=("proc-a", "proc-b")) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, name, str(per_process)], cwd=ROOT, env=env,
                              stderr=subprocess.PIPE, text=True) for name in names]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err


def assert_nothing_lost(log: AuditLog, per_process: int, names=("proc-a", "proc-b")) -> None:
    events = log.query()
    assert len(events) == per_process * len(names)
    for name in names:
        mine = [e for e in events if e.user == name]
        # Each process's events, all present and in its own order.
        assert [e.doc_ids[0] for e in mine] == [f"{name}-{i}" for i in range(per_process)]
    assert len({e.id for e in events}) == len(events)
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert log.verify() == []


def test_two_processes_writing_at_once_lose_nothing_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/shared/audit.sqlite3"
    run_writers(url, 150)
    with AuditLog(url) as log:
        assert_nothing_lost(log, 150)


# -- PostgreSQL --------------------------------------------------------------------------------------


def _pg_binary(name: str) -> str:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    found = shutil.which(name)
    assert found, f"PostgreSQL の {name} が見つかりません（Debian パッケージ postgresql を入れてください）"
    return found


@pytest.fixture(scope="module")
def pg_url():
    """A throwaway PostgreSQL server on a Unix socket in a temporary folder (no TCP port)."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="gyosei-pg-"))
    as_server: list[str] = []
    if os.getuid() == 0:  # initdb refuses to run as root
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_server = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    subprocess.run(as_server + [initdb, "-D", str(data), "-U", "gyosei", "--auth=trust", "-E", "UTF8", "--locale=C"],
                   check=True, capture_output=True)
    subprocess.run(as_server + [pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
                                "-o", f"-k {base} -c listen_addresses=''", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://gyosei@/postgres?host={base}"
    finally:
        subprocess.run(as_server + [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_postgresql_by_url_same_behaviour_and_two_writer_processes(pg_url):
    with AuditLog(pg_url) as log:
        first = log.record("tanaka", "question", {"question": "行政手続法の目的"}, ["laws/405AC.xml"], 12)
        assert first.id and log.query(action="question")[0].parameters == {"question": "行政手続法の目的"}
        with pytest.raises(AuditError, match="append-only"):
            log._db.write(lambda cur: cur.execute("UPDATE audit_events SET user_name = 'x'"))
        assert log.purge(30, by="kanri") == 0
    run_writers(pg_url, 100, names=("pg-a", "pg-b"))
    with AuditLog(pg_url) as log:
        events = log.query()
        assert [e.action for e in events[:2]] == ["question", "purge"] and len(events) == 202
        assert log.verify() == []
        written = [e for e in events if e.user.startswith("pg-")]
        for name in ("pg-a", "pg-b"):
            assert [e.doc_ids[0] for e in written if e.user == name] == [f"{name}-{i}" for i in range(100)]


def test_a_postgresql_url_without_its_driver_says_how_to_fix_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(ConfigError) as err:
        AuditLog("postgresql+psycopg://gyosei:himitsu@db.example:5432/audit")
    assert "psycopg" in str(err.value) and "pip install" in str(err.value)
    assert "himitsu" not in str(err.value)  # the password never reaches a message
    with pytest.raises(ConfigError, match="対応していません"):
        AuditLog("mysql://gyosei@db/audit")


def test_settings_default_to_a_sqlite_file_under_var(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("GYOSEI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYOSEI_AUDIT__PASSWORD", "pg-secret")
    s = Settings.load()
    assert s.audit.url == "sqlite:///var/audit.sqlite3" and s.audit.retention_days == 1095
    assert "pg-secret" not in repr(s)
    with open_audit_log(s.audit) as log:  # the folder is made on first use, not at import
        log.record("tanaka", "sign_in")
    assert (tmp_path / "var" / "audit.sqlite3").exists()
    assert AuditSettings(retention_days=30).retention_days == 30


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    from retrieval.embedder import HashEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(LAW, docs)
    shutil.copy(FAQ, docs)
    for key in list(os.environ):
        if key.startswith("GYOSEI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "index"))
    monkeypatch.setenv("GYOSEI_DATA_DIR", str(docs))
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path}/audit/audit.sqlite3")
    monkeypatch.setenv("GYOSEI_AUDIT__USER", "soumu-tanaka")
    # The CLI wiring is under test, not the model: a deterministic embedder stands in.
    monkeypatch.setattr("app.cli.build_embedder", lambda settings: HashEmbedder(64))
    return tmp_path


def test_cli_commands_leave_one_event_each_with_doc_ids_and_no_passages(cli_env):
    from app.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(cli_env / "docs")]).exit_code == 0
    found = runner.invoke(main, ["search", "行政指導の一般原則", "-k", "3", "--clearance", "2", "--groups", "soumu"])
    assert found.exit_code == 0, found.output
    asked = runner.invoke(main, ["ask", "行政手続法の目的は何か", "--json"])
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.output)
    assert runner.invoke(main, ["index", "delete", "499_appendix_FAQ.md"]).exit_code == 0
    assert runner.invoke(main, ["index", "delete", "499_appendix_FAQ.md"]).exit_code == 1

    with AuditLog(f"sqlite:///{cli_env}/audit/audit.sqlite3") as log:
        events = log.query()
    assert [e.action for e in events] == ["ingest", "question", "question", "delete", "delete"]
    assert all(e.user == "soumu-tanaka" and e.latency_ms is not None for e in events)
    ingest, search, ask, deleted, missing = events
    assert sorted(Path(p).name for p in ingest.parameters["indexed"]) == sorted([LAW.name, FAQ.name])
    assert search.parameters["question"] == "行政指導の一般原則" and search.parameters["k"] == 3
    assert search.parameters["access"] == {"clearance": 2, "groups": ["soumu"]} and len(search.doc_ids) >= 1
    assert ask.parameters["command"] == "ask" and ask.doc_ids == list(dict.fromkeys(s["doc_id"] for s in answer["sources"]))
    assert ask.outcome in ("ok", "no_answer")
    assert (deleted.outcome, deleted.doc_ids, missing.outcome) == ("ok", ["499_appendix_FAQ.md"], "not_found")
    # Passages never reach the audit database: no sentence of a returned source is stored.
    raw = (cli_env / "audit" / "audit.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in (cli_env / "audit").glob("audit.sqlite3-*"))
    for source in answer["sources"]:
        assert source["text"][:40].encode() not in raw


def test_cli_audit_export_purge_and_verify(cli_env):
    from app.cli import main

    url = f"sqlite:///{cli_env}/audit/audit.sqlite3"
    with AuditLog(url) as log:
        log.record("sato", "question", {"question": "電子帳簿保存法の要件"}, ["nta:29"], 20)
        log.record("sato", "draft", {"question": "答弁案"}, ["kokkai:1"], 900)
    runner = CliRunner()
    out = cli_env / "kansa.csv"
    result = runner.invoke(main, ["audit", "export", "--format", "csv", "--action", "question", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Japanese correctly
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["doc_ids"] for r in rows] == ["nta:29"]
    jsonl = runner.invoke(main, ["audit", "export", "--format", "jsonl", "--since", "2000-01-01", "--until", "2999-12-31"])
    assert jsonl.exit_code == 0
    lines = [json.loads(line) for line in jsonl.stdout.splitlines() if line.startswith("{")]
    assert [x["action"] for x in lines] == ["question", "draft", "export"]
    bad = runner.invoke(main, ["audit", "export", "--since", "きのう"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    purged = runner.invoke(main, ["audit", "purge", "--retention-days", "30", "--yes"])
    assert purged.exit_code == 0 and "0 件削除" in purged.output
    verified = runner.invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0 and "改ざんは見つかりませんでした" in verified.output
    with AuditLog(url) as log:
        actions = [e.action for e in log.query()]
    assert actions == ["question", "draft", "export", "export", "purge"]


def test_cli_stops_before_acting_when_the_audit_log_is_unusable(cli_env, monkeypatch):
    from app.cli import main

    monkeypatch.setenv("GYOSEI_AUDIT__URL", "mysql://gyosei@db/audit")
    result = CliRunner().invoke(main, ["ingest", str(cli_env / "docs")])
    assert result.exit_code == 2 and "audit.url" in result.output
    assert "登録" not in result.output
