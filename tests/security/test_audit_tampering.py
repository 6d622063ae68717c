"""Finding 6: the audit log's chain is keyed (HMAC, key outside the database) and checked against
a signed checkpoint, so cutting rows from either end or re-hashing an edited row is caught;
actions leave a "started" row before they run; a lone surrogate never loses an event."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat

import pytest

from app.audit import STARTED, AuditLog

N = 60


@pytest.fixture
def filled(tmp_path):
    db = tmp_path / "var" / "audit.sqlite3"
    log = AuditLog(f"sqlite:///{db}")
    for i in range(N):
        log.record("tanaka", "question", {"question": f"質問{i}"}, [f"doc-{i}"])
    assert log.check().intact
    yield log, db
    log.close()


def _raw(db):
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    return conn


def test_the_key_lives_outside_the_database_with_mode_0600(filled):
    log, db = filled
    key = log.seal.key_file
    assert key.is_file() and key != db and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.seal.checkpoint_file.stat().st_mode) == 0o600
    assert log.query()[0].hash.startswith("hmac-sha256:")


def test_deleting_the_last_rows_is_caught(filled):
    log, db = filled
    with _raw(db) as conn:
        conn.execute("DELETE FROM audit_events WHERE id > ?", (N - 20,))
    result = log.check()
    assert result.broken == []  # the chain that is left still links ...
    assert any("末尾の記録が削除" in p for p in result.problems)  # ... but the checkpoint says more was there


def test_deleting_the_first_rows_is_caught(filled):
    log, db = filled
    with _raw(db) as conn:
        conn.execute("DELETE FROM audit_events WHERE id <= 30")
    result = log.check()
    assert result.broken == []
    assert any("先頭の記録が削除" in p for p in result.problems)


def test_editing_a_row_and_recomputing_every_later_hash_is_caught(filled):
    """The attack that beat the unkeyed chain: edit row 20, then recompute each hash as the code
    does (plain SHA-256 and the keyed format without the key are both tried)."""
    log, db = filled
    with _raw(db) as conn:
        rows = conn.execute("SELECT id, ts, user_name, action, parameters, doc_ids, latency_ms, outcome, message "
                            "FROM audit_events WHERE id >= 20 ORDER BY id").fetchall()
        prev = conn.execute("SELECT hash FROM audit_events WHERE id = 19").fetchone()[0]
        for rid, ts, user, action, params, docs, latency, outcome, message in rows:
            if rid == 20:
                params = json.dumps({"question": "改ざん後の質問"}, ensure_ascii=False)
            body = json.dumps([prev, ts, user, action, params, docs, latency, outcome, message], ensure_ascii=False)
            forged = "hmac-sha256:" + hashlib.sha256(body.encode()).hexdigest()
            conn.execute("UPDATE audit_events SET parameters = ?, prev_hash = ?, hash = ? WHERE id = ?",
                         (params, prev, forged, rid))
            prev = forged
    result = log.check()
    assert 20 in result.broken and not result.intact


def test_rows_in_the_old_unkeyed_format_after_keyed_ones_are_forgeries(filled):
    log, db = filled
    with _raw(db) as conn:
        rows = conn.execute("SELECT id, ts, user_name, action, parameters, doc_ids, latency_ms, outcome, message "
                            "FROM audit_events WHERE id >= 40 ORDER BY id").fetchall()
        prev = conn.execute("SELECT hash FROM audit_events WHERE id = 39").fetchone()[0]
        for rid, ts, user, action, params, docs, latency, outcome, message in rows:
            body = json.dumps([prev, ts, user, action, params, docs, latency, outcome, message], ensure_ascii=False)
            plain = hashlib.sha256(body.encode()).hexdigest()
            conn.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, plain, rid))
            prev = plain
    assert 40 in filled[0].check().broken


def test_a_deleted_or_forged_checkpoint_is_caught(filled):
    log, _db = filled
    point = json.loads(log.seal.checkpoint_file.read_text())
    point["last_id"] = 10
    log.seal.checkpoint_file.write_text(json.dumps(point))
    assert any("署名が一致しません" in p for p in log.check().problems)
    log.seal.checkpoint_file.unlink()
    assert any("チェックポイントがありません" in p for p in log.check().problems)


def test_a_missing_key_stops_recording_and_is_reported(filled):
    log, db = filled
    log.close()
    key = db.with_name(db.name + ".key")
    key.unlink()
    reopened = AuditLog(f"sqlite:///{db}")
    try:
        assert not reopened.seal.has_key()  # never silently replaced by a new key
        with pytest.raises(Exception, match="鍵ファイル"):
            reopened.record("tanaka", "question", {"question": "q"})
        assert any("鍵ファイル" in p for p in reopened.check().problems)
    finally:
        reopened.close()


def test_an_action_killed_half_way_leaves_its_started_row(tmp_path):
    """Simulates kill -9 inside ``track``: the block never exits, yet the log holds the start."""
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    tracker = log.track("kanri", "ingest", {"paths": ["data"]})
    tracker.__enter__()  # the ingest begins ... and the process dies here
    started = log.query(started=True)
    assert [(e.action, e.outcome) for e in started] == [("ingest", STARTED)]
    assert log.query() == []  # dashboards count finished actions only
    with log.track("kanri", "delete", {"doc_id": "x"}):
        pass
    assert [e.outcome for e in log.query(started=True)] == [STARTED, STARTED, "ok"]
    assert log.check().intact
    log.close()


def test_a_question_with_a_lone_surrogate_is_recorded(tmp_path):
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    question = json.loads('"\\ud800カナリア"')
    event = log.record("sa\udc00to", "question", {"question": question}, ["doc\ud800"])
    (stored,) = log.query()
    assert stored.id == event.id and stored.parameters == {"question": question}
    assert stored.user == "sa\ufffdto" and stored.doc_ids == ["doc\ufffd"]
    assert log.check().intact
    log.close()


def test_purge_keeps_the_check_intact(tmp_path, monkeypatch):
    import app.audit as audit_mod

    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    monkeypatch.setattr(audit_mod, "utc_now", lambda: "2020-01-01T00:00:00.000000Z")
    for i in range(3):
        log.record("tanaka", "question", {"question": str(i)})
    monkeypatch.undo()
    log.record("tanaka", "question", {"question": "new"})
    assert log.purge(30, by="kanri") == 3
    assert log.check().intact
    log.close()


def test_the_database_file_is_created_0600_in_a_0700_folder(tmp_path):
    db = tmp_path / "fresh" / "audit.sqlite3"
    AuditLog(f"sqlite:///{db}").close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
