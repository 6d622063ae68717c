"""``gyosei serve`` (issue 17): the terminal, never the sign-in page, says where the demo
password is kept; Streamlit's own upload limit follows ``limits.max_file_mb``."""

from __future__ import annotations

from app.auth import UserStore, ensure_demo_user
from app.cli_serve import _demo_password_note, upload_limit_args
from retrieval.settings import Settings


def test_the_upload_limit_follows_the_setting():
    assert upload_limit_args(Settings(limits={"max_file_mb": 100})) == ["--server.maxUploadSize", "100"]
    assert upload_limit_args(Settings(limits={"max_file_mb": 2.5})) == ["--server.maxUploadSize", "3"]


def test_the_terminal_names_the_demo_password_file_while_demo_is_the_only_user(tmp_path, capsys):
    settings = Settings(auth={"users_file": tmp_path / "var/users.json"})
    store = UserStore(settings.auth.users_file)
    ensure_demo_user(store)
    _demo_password_note(settings)
    assert "demo-password.txt" in capsys.readouterr().out.replace("\n", "")
    store.add("tanaka", "correct-horse-battery")
    _demo_password_note(settings)
    assert capsys.readouterr().out == ""
