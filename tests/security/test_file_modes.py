"""Finding 9: the index, the audit database and the uploads are readable by the product's own
account only (folders 0700, files 0600); ``gyosei setup`` finds older ones that are not and
tightens them."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

from click.testing import CliRunner

from app.audit import AuditLog
from app.documents import save_upload
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.settings import IndexSettings, LimitsSettings


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_uploads_and_index_folders_are_private(tmp_path):
    saved = save_upload("秘密.md", "# 機密\n\n本文。\n".encode(), tmp_path / "var/uploads", LimitsSettings())
    assert _mode(saved) == 0o600 and _mode(saved.parent) == 0o700
    open_index(IndexSettings(path=tmp_path / "var/index"), 8).close()
    assert _mode(tmp_path / "var/index") == 0o700


def test_setup_tightens_a_world_readable_var_folder(tmp_path, monkeypatch):
    var = tmp_path / "var"
    for key in list(os.environ):
        if key.startswith("GYOSEI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    old_umask = os.umask(0o022)  # as an ordinary shell leaves files: 0644 / 0755
    try:
        (var / "uploads").mkdir(parents=True)
        (var / "uploads/秘密.md").write_text("機密性3の本文", encoding="utf-8")
        index = open_index(IndexSettings(path=var / "index"), 8)
        index.close()
        (var / "index/segment.dat").write_bytes(b"plain text of a secret chunk")
        os.chmod(var / "index", 0o755)
        with AuditLog("sqlite:///var/audit.sqlite3") as log:
            log.record("tanaka", "question", {"question": "カナリア計画"})
        os.chmod(var / "audit.sqlite3", 0o644)
        os.chmod(var, 0o755)
    finally:
        os.umask(old_umask)
    monkeypatch.setattr("app.cli.build_embedder", lambda settings: HashEmbedder(8))
    monkeypatch.setattr("retrieval.nli.classifier_from_cache", lambda embedder, cache: SimpleNamespace(folder="nli"))
    from app.cli import main

    result = CliRunner().invoke(main, ["setup"])
    assert result.exit_code == 0, result.output
    assert "権限を修正しました" in result.output and "audit.sqlite3（644 → 600" in result.output
    for folder in (var, var / "index", var / "uploads"):
        assert _mode(folder) == 0o700, folder
    for path in (var / "audit.sqlite3", var / "uploads/秘密.md", var / "index/segment.dat", var / "audit.sqlite3.key"):
        assert _mode(path) == 0o600, path
    again = CliRunner().invoke(main, ["setup"])
    assert again.exit_code == 0 and "権限を修正しました" not in again.output
