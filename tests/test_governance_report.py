"""The CAIO's record is built from live facts, and its figures match their sources: the index's
documents (by type, 機密性 and group: the access-paths index of 機密性1-3), the users file, the
audit log (retention, the chain's verification — also when a row was tampered with — and the
recent counts), the newest evaluation report of each kind, and the LLM settings (external or
not, the limit). `gyosei governance report` writes it as .docx and .md with the four viewpoints
and their judgement left blank."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest
from click.testing import CliRunner

from app.audit import AuditLog
from app.auth import UserStore
from app.governance import gather
from app.governance_export import governance_to_docx, governance_to_markdown
from retrieval.embedder import HashEmbedder
from retrieval.settings import Settings

from .test_access_paths import DIM, DOCS, built, index  # noqa: F401

VIEWPOINTS = ["利用者の範囲・種別", "利用業務の性格", "機密情報の学習等", "出力結果の職員判断"]


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    users = UserStore(tmp_path / "users.json")
    users.add("admin", "pass-word-123", clearance=3, groups=["soumu"], roles=["admin"])
    users.add("tanaka", "pass-word-123", clearance=2, groups=["soumu"])
    users.add("suzuki", "pass-word-123", clearance=1, groups=["all"])
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    for action in ["question"] * 3 + ["draft", "export"]:
        audit.record("tanaka", action, {"page": "質問"})
    audit.record("tanaka", "confirm", {"scope": "draft"})
    reports = tmp_path / "reports"
    reports.mkdir()

    def write(name, report):
        (reports / name).write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")

    write("a-retrieval.json", {"kind": "retrieval", "created": "2026-11-20T01:00:00+00:00", "dataset": {"name": "nta_faq"},
                               "systems": ["hybrid", "bm25"], "metric_names": ["ndcg@10"],
                               "metrics": {"hybrid": {"ndcg@10": 0.71}, "bm25": {"ndcg@10": 0.55}}})
    write("old-answers.json", {"kind": "answers", "created": "2026-10-01T01:00:00+00:00", "dataset": {"name": "nta_faq"},
                               "metric_names": ["groundedness"], "metrics": {"groundedness": 0.5}})
    write("new-answers.json", {"kind": "answers", "created": "2026-11-25T01:00:00+00:00", "dataset": {"name": "nta_faq"},
                               "metric_names": ["groundedness"], "metrics": {"groundedness": 0.93}})
    yield tmp_path, users, audit, reports
    audit.close()


def _settings(tmp_path, **llm):
    return Settings.load(auth={"users_file": tmp_path / "users.json"}, audit={"url": f"sqlite:///{tmp_path / 'audit.sqlite3'}"},
                         llm=llm or {"provider": "none"})


def test_figures_match_index_users_audit_and_reports(built, index, world):
    tmp_path, users, audit, reports = world
    docs = index.documents(None)
    report = gather(_settings(tmp_path), docs=docs, users=users, audit=audit, reports_dir=reports)
    f = report.figures
    # The index: every document, by type, level and group, as the index holds them.
    # (The Diet minutes are one document per speech; levels and groups come from each folder's defaults.)
    folders = [built["folder_of"][doc_id] for doc_id in docs]
    assert f["documents"] == len(built["admin_docs"]) == len(docs) > len(DOCS)
    assert f["by_level"] == dict(Counter(DOCS[folder][1] for folder in folders))
    assert set(f["by_level"]) == {1, 2, 3}
    assert f["by_type"] == dict(Counter(info.doc_type for info in docs.values())) and f["by_type"]["diet_speech"] == 80
    assert f["by_group"] == dict(Counter(g for folder in folders for g in DOCS[folder][2]))
    # The users file.
    assert (f["users"], f["admins"], f["by_clearance"]) == (3, 1, {3: 1, 2: 1, 1: 1})
    # The audit log: verified, the rows and the recent counts.
    assert f["audit_intact"] is True and f["audit_rows"] == len(audit.query(started=True)) == 6
    assert f["recent"] == {"questions": 3, "drafts": 1, "exports": 1, "confirmations": 1}
    assert f["retention_days"] == 1095
    # The newest report of each kind, with its file and date; retrieval shows the hybrid path.
    assert f["evals"]["answers"] == {"file": "new-answers.json", "created": "2026-11-25T01:00:00+00:00",
                                     "metrics": {"回答/groundedness": 0.93}}
    assert f["evals"]["retrieval"]["metrics"] == {"hybrid/ndcg@10": 0.71}
    md = governance_to_markdown(report)
    levels = "、".join(f"機密性{k} {v}" for k, v in sorted(f["by_level"].items()))
    assert levels in md and "new-answers.json" in md and "old-answers.json" not in md
    assert "国会会議録 80" in md and "diet_speech" not in md  # types as officials name them
    for title in VIEWPOINTS:
        assert title in md
    assert md.count("**判定（CAIO 記入）**：＿＿＿＿＿＿＿＿") == 4
    assert "登録利用者 3 名（管理者 1 名）" in md and "LLM：使用しない" in md


def test_an_external_llm_and_a_tampered_log_are_stated(world):
    tmp_path, users, audit, reports = world
    con = sqlite3.connect(tmp_path / "audit.sqlite3")
    con.execute("DROP TRIGGER IF EXISTS audit_no_update")
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    con.execute("UPDATE audit_events SET user_name = 'someone' WHERE id = 2")
    con.commit()
    con.close()
    settings = _settings(tmp_path, provider="openai_compatible", model="gpt-x", base_url="https://api.example.com/v1")
    report = gather(settings, docs=None, users=users, audit=audit, reports_dir=reports, index_error="索引がありません")
    f = report.figures
    assert f["audit_intact"] is False and f["llm_external"] is True and f["llm_limit"] == 1 and f["documents"] is None
    md = governance_to_markdown(report)
    assert "異常あり" in md and "api.example.com" in md and "機密性1まで" in md and "索引を開けませんでした：索引がありません" in md


def test_cli_writes_docx_and_markdown(built, world, monkeypatch):
    import docx

    import app.factory as factory
    from retrieval.index import open_index

    tmp_path, _, audit, reports = world
    monkeypatch.setenv("GYOSEI_AUTH__USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    monkeypatch.setenv("GYOSEI_AUDIT__USER", "caio")
    monkeypatch.setattr(factory, "build_embedder", lambda settings: HashEmbedder(DIM))
    monkeypatch.setattr(factory, "build_index", lambda settings, embedder, read_only=False: open_index(built["settings"], DIM, read_only=True))
    from app.cli import main

    for name in ("record.docx", "record.md"):
        result = CliRunner().invoke(main, ["governance", "report", "--out", str(tmp_path / name), "--reports", str(reports)])
        assert result.exit_code == 0, result.output
    doc = docx.Document(str(tmp_path / "record.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    for title in VIEWPOINTS:
        assert title in text
    n = len(built["admin_docs"])
    assert f"文書数：{n}" in text and doc.core_properties.author == "caio"
    judgement_tables = [t for t in doc.tables if t.rows[0].cells[0].text == "判定（CAIO 記入）"]
    assert len(judgement_tables) == 4 and all(t.rows[0].cells[1].text == "" for t in judgement_tables)
    md = (tmp_path / "record.md").read_text(encoding="utf-8")
    assert f"**文書数**：{n}" in md
    exports = [e for e in audit.query(action="export") if e.parameters.get("command") == "governance.report"]
    assert [e.user for e in exports] == ["caio", "caio"]


def test_a_viewers_scope_counts_only_what_they_may_read(built, index, world):
    """What the ガバナンス page does: documents(access) with the scope stated; nothing above it counted."""
    from retrieval.types import Access

    tmp_path, users, audit, reports = world
    access = Access(clearance=1, groups=["all"])
    report = gather(_settings(tmp_path), docs=index.documents(access), users=users, audit=audit, reports_dir=reports,
                    scope="テスト範囲")
    assert set(report.figures["by_level"]) == {1} and "soumu" not in report.figures["by_group"]
    assert report.figures["documents"] < len(built["admin_docs"])
    assert "**集計範囲**：テスト範囲" in governance_to_markdown(report)
