"""Finding 14: escape codes in file names never reach the terminal (ingest's table and its
list of failures show them as visible ``\\x1b`` text)."""

from __future__ import annotations

import os

from click.testing import CliRunner

from app.cli_common import plain


def test_plain_shows_control_characters_and_escapes_markup():
    assert plain("\x1b[31m赤\x07.md") == "\\x1b[31m赤\\x07.md"
    assert plain("a\u202eexe.md") == "a\\u202eexe.md"  # right-to-left override
    assert plain("[bold]x[/bold]") == "\\[bold]x\\[/bold]"
    assert plain("改行\tタブ") == "改行\tタブ"


def test_ingest_prints_escape_codes_in_file_names_as_text(tmp_path, monkeypatch):
    from retrieval.embedder import HashEmbedder

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "\x1b[31mred.md").write_text("# 赤い文書\n\n行政手続の説明。\n", encoding="utf-8")
    (docs / "\x1b]0;owned\x07bad.pdf").write_bytes(b"not a pdf at all")
    for key in list(os.environ):
        if key.startswith("GYOSEI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "index"))
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path}/audit.sqlite3")
    monkeypatch.setattr("app.cli.build_embedder", lambda settings: HashEmbedder(32))
    from app.cli import main

    result = CliRunner().invoke(main, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[31mred.md" in result.output  # the indexed file, in the table
    assert "\\x1b]0;owned\\x07bad.pdf" in result.output  # the refused one, in the reasons
