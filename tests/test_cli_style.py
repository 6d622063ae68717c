"""``gyosei check-style FILE [--fix]``: findings with line:column in Japanese, the certain fixes
written to a new file (numbers untouched), Word and CP932 input, exit codes, errors naming the file."""

from __future__ import annotations

import json

import docx
from click.testing import CliRunner

from app.cli import main
from app.cli_style import fixed_path, line_col

DRAFT = "えー、事故が起きた時は、ちょっと手続きを御説明致します。\n令和６年度は三件の申請がございました。\n"


def test_findings_are_listed_with_positions_and_the_exit_code_says_some_remain(tmp_path):
    path = tmp_path / "答弁案.txt"
    path.write_text(DRAFT, encoding="utf-8")
    result = CliRunner().invoke(main, ["check-style", str(path)])
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"{path}:1:10" in out and "「時」 → 「とき」（自動修正可）" in out
    assert "「ちょっと」 → 「少し」" in out and "「えー、」 → 削除" in out
    assert "内閣訓令第1号" in out and "指摘 7 件（うち自動修正可 5 件" in out
    assert not fixed_path(path).exists()  # nothing written without --fix


def test_fix_writes_the_certain_fixes_to_a_new_file_and_leaves_numbers_alone(tmp_path):
    path = tmp_path / "答弁案.txt"
    path.write_text(DRAFT, encoding="utf-8")
    result = CliRunner().invoke(main, ["check-style", str(path), "--fix"])
    assert result.exit_code == 1, result.output  # 「ちょっと」 and 「三件」 need a human
    fixed = (tmp_path / "答弁案.fixed.txt").read_text(encoding="utf-8")
    assert fixed == "事故が起きたときは、ちょっと手続を御説明いたします。\n令和6年度は三件の申請がございました。\n"
    assert "5 件を直して書き出しました" in result.output and "残りの指摘 2 件" in result.output
    assert path.read_text(encoding="utf-8") == DRAFT  # the original is kept


def test_a_clean_word_file_passes_and_cp932_text_is_read(tmp_path):
    word = tmp_path / "clean.docx"
    document = docx.Document()
    document.add_paragraph("政府としては、関係機関と連携して対応してまいります。")
    document.save(str(word))
    result = CliRunner().invoke(main, ["check-style", str(word)])
    assert result.exit_code == 0 and "指摘はありません" in result.output
    sjis = tmp_path / "sjis.txt"
    sjis.write_bytes("確認する事が重要です。".encode("cp932"))
    as_json = CliRunner().invoke(main, ["check-style", str(sjis), "--json"])
    report = json.loads(as_json.output)
    assert as_json.exit_code == 1 and [f["rule_id"] for f in report["findings"]] == ["keishiki-koto"]
    assert report["findings"][0]["start"] == 4 and report["findings"][0]["suggestion"] == "こと"


def test_options_change_the_checks(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("政府としては、関係機関と連携して、三件の事案に対応してまいります。", encoding="utf-8")
    plain = CliRunner().invoke(main, ["check-style", str(path), "--json"])
    assert {f["rule_id"] for f in json.loads(plain.output)["findings"]} == {"suuji-kansuuji"}
    tuned = CliRunner().invoke(main, ["check-style", str(path), "--json", "--vertical", "--max-length", "20"])
    assert {f["rule_id"] for f in json.loads(tuned.output)["findings"]} == {"bunchou-nagai"}


def test_errors_name_the_file(tmp_path):
    missing = CliRunner().invoke(main, ["check-style", str(tmp_path / "ない.txt")])
    assert missing.exit_code == 2 and "ない.txt" in missing.output and "見つかりません" in missing.output
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02")
    bad = CliRunner().invoke(main, ["check-style", str(binary)])
    assert bad.exit_code == 2 and "bin.txt" in bad.output and "テキストファイルではない" in bad.output
    out_dir = tmp_path / "nodir" / "x.txt"
    path = tmp_path / "a.txt"
    path.write_text("確認する事が重要です。", encoding="utf-8")
    unwritable = CliRunner().invoke(main, ["check-style", str(path), "--fix", "--out", str(out_dir)])
    assert unwritable.exit_code == 2 and "x.txt" in unwritable.output


def test_line_col_and_fixed_path():
    assert line_col("ab\ncd", 0) == (1, 1) and line_col("ab\ncd", 4) == (2, 2)
    from pathlib import Path

    assert fixed_path(Path("a/b.md")) == Path("a/b.fixed.md") and fixed_path(Path("q.docx")) == Path("q.fixed.txt")
