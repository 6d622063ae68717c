"""``gyosei draft`` end to end through click's CliRunner.

Fast tests replace the Drafter with one returning a hand-built draft of real speeches (the
embedder and index are not loaded): reading the question file (UTF-8, CP932, UTF-16), the Access
passed on, the printed draft, the .docx / .md written, and the Japanese errors.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import app.factory
from app import cli_draft
from app.cli import main
from app.question_file import read_question_upload
from retrieval.errors import GyoseiError
from retrieval.settings import LimitsSettings
from retrieval.types import Access

from .test_draft_export import QUESTION, make_draft
from .test_safety import write_bomb_docx


class FakeDrafter:
    """Records what it was asked; returns the hand-built draft."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Access]] = []

    def draft(self, question_text: str, access: Access, **options):
        self.calls.append((question_text, access))
        return make_draft()


class _Index:
    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """No model, no index: the CLI gets a fake Drafter; settings point into tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "index"))
    drafter = FakeDrafter()
    index = _Index()
    monkeypatch.setattr(app.factory, "build_embedder", lambda settings: object())
    monkeypatch.setattr(app.factory, "build_index", lambda settings, embedder, read_only=False: index)
    monkeypatch.setattr(cli_draft, "build_drafter", lambda settings, embedder, idx: drafter)
    monkeypatch.setattr(cli_draft, "build_followups", lambda settings, embedder, idx: None)  # no minutes in this index
    drafter.index = index
    return drafter


def test_draft_prints_points_and_writes_word_and_markdown(fake, tmp_path):
    import docx

    qfile = tmp_path / "質問主意書.txt"
    qfile.write_text(QUESTION, encoding="utf-8")
    out, md = tmp_path / "答弁案.docx", tmp_path / "答弁案.md"
    result = CliRunner().invoke(
        main, ["draft", str(qfile), "--out", str(out), "--markdown", str(md), "--clearance", "2", "--groups", "zaimu,all"]
    )
    assert result.exit_code == 0, result.output
    ((question, access),) = fake.calls
    assert question == QUESTION and access == Access(clearance=2, groups=["zaimu", "all"])
    assert fake.index.closed
    text = result.output
    for i in (1, 2, 3):
        assert f"論点{i}" in text
    assert "【要確認】" in text and "お尋ねの調整給付については" in text and "[1]" in text
    assert "矛盾の可能性（数値）" in text and "三万円 ↔ 四万円" in text
    assert "注意: LLM サーバーに接続できません" in text
    assert "https://kokkai.ndl.go.jp/txt/121304376X02420240823/133" in text
    assert "再質問予測" in text and "想定問" in text
    assert f"Word 文書を書き出しました: {out}" in text.replace("\n", "")
    doc = docx.Document(str(out))
    assert doc.paragraphs[0].text == "答弁案" and doc.tables
    # The CLI writes 未確認 drafts only: header, footer and the Markdown's first line say so.
    assert "未確認（AI生成の下書き）" in doc.sections[0].header.paragraphs[0].text
    assert "未確認（AI生成の下書き）" in doc.sections[0].footer.paragraphs[0].text
    assert doc.core_properties.author and doc.core_properties.author != "python-docx"
    assert md.read_text(encoding="utf-8").startswith("**未確認（AI生成の下書き）**\n\n# 答弁案")


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-16"])
def test_question_files_saved_by_windows_tools_are_read(fake, tmp_path, encoding):
    qfile = tmp_path / "question.txt"
    qfile.write_bytes(QUESTION.replace("\n", "\r\n").encode(encoding))
    result = CliRunner().invoke(main, ["draft", str(qfile)])
    assert result.exit_code == 0, result.output
    assert fake.calls[0][0] == QUESTION
    assert fake.calls[0][1] == Access(clearance=1, groups=["all"])


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda d: d / "ない.txt", "が見つかりません"),
        (lambda d: d, "はフォルダです"),
        (lambda d: _write(d / "empty.txt", "　\n".encode("utf-8")), "は空です"),
        (lambda d: _write(d / "word.txt", b"PK\x03\x04\x00\x00binary"), "テキストファイルではない"),
        (lambda d: _write(d / "euc.txt", "答弁".encode("utf-8")[:-1] + b"\x81\xff"), "文字コードを判別できません"),
    ],
)
def test_unreadable_question_files_get_japanese_errors(fake, tmp_path, setup, expected):
    path = setup(tmp_path)
    result = CliRunner().invoke(main, ["draft", str(path)])
    assert result.exit_code == 2
    assert "エラー" in result.output and expected in result.output and str(path.name) in result.output
    assert fake.calls == []  # nothing was drafted


def test_a_long_shitsumon_shuisho_is_drafted_and_an_overlong_one_refused(fake, tmp_path, monkeypatch):
    long = QUESTION + "\n" + "\n".join(f"{n} 行政のデジタル化の進捗について、政府の見解を示されたい。" * 12 for n in "四五六七八九十")
    assert 2000 < len(long) < 20_000  # over the limit for a question, a 質問主意書 of normal length
    qfile = tmp_path / "long.txt"
    qfile.write_text(long, encoding="utf-8")
    result = CliRunner().invoke(main, ["draft", str(qfile)])
    assert result.exit_code == 0, result.output
    assert fake.calls[0][0] == long
    monkeypatch.setenv("GYOSEI_LIMITS__MAX_DRAFT_QUESTION_CHARS", "2000")
    refused = CliRunner().invoke(main, ["draft", str(qfile)])
    assert refused.exit_code == 2 and "答弁案を作成する質問が長すぎます" in "".join(refused.output.split())
    assert len(fake.calls) == 1  # nothing was drafted


def test_output_problems_are_reported_in_japanese(fake, tmp_path):
    qfile = tmp_path / "q.txt"
    qfile.write_text(QUESTION, encoding="utf-8")
    wrong = CliRunner().invoke(main, ["draft", str(qfile), "--out", str(tmp_path / "draft.doc")])
    assert wrong.exit_code == 2 and ".docx のファイル名" in wrong.output
    missing = CliRunner().invoke(main, ["draft", str(qfile), "--markdown", str(tmp_path / "nofolder" / "a.md")])
    assert missing.exit_code == 2 and "出力先フォルダ" in missing.output and "nofolder" in missing.output
    assert fake.calls == []  # found before drafting, not after a minute of work


def test_a_word_question_is_read_under_the_configured_limits(fake, tmp_path, monkeypatch):
    import docx

    word = docx.Document()
    word.add_paragraph(QUESTION)
    qfile = tmp_path / "質問.docx"
    word.save(str(qfile))
    assert qfile.stat().st_size > 2048
    monkeypatch.setenv("GYOSEI_LIMITS__MAX_FILE_MB", "0.002")  # 2 KB: this Word file is over it
    refused = CliRunner().invoke(main, ["draft", str(qfile)])
    assert refused.exit_code == 2 and "質問.docx" in refused.output, refused.output
    assert fake.calls == []


def test_drafting_is_recorded_in_the_audit_log(fake, tmp_path):
    from app.audit import open_audit_log
    from retrieval.settings import Settings

    qfile = tmp_path / "q.txt"
    qfile.write_text(QUESTION, encoding="utf-8")
    result = CliRunner().invoke(main, ["draft", str(qfile)])
    assert result.exit_code == 0, result.output
    log = open_audit_log(Settings.load().audit)
    try:
        (event,) = log.query(action="draft")
    finally:
        log.close()
    assert event.outcome == "needs_review" and event.parameters["question_file"] == str(qfile)
    assert "kokkai:121304376X02420240823_133" in event.doc_ids


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_word_question_is_read_and_a_bomb_or_impostor_is_refused(fake, tmp_path):
    import docx

    word = docx.Document()
    for line in QUESTION.split("\n"):
        word.add_paragraph(line)
    qfile = tmp_path / "質問主意書.docx"
    word.save(str(qfile))
    result = CliRunner().invoke(main, ["draft", str(qfile)])
    assert result.exit_code == 0, result.output
    assert fake.calls[0][0] == QUESTION
    # Uploaded on the 答弁作成 page: the same checks as any upload, named by the official's file name.
    limits = LimitsSettings()
    assert read_question_upload("質問.docx", qfile.read_bytes(), limits) == QUESTION
    with pytest.raises(GyoseiError) as bomb:
        read_question_upload("議事録.docx", write_bomb_docx(tmp_path / "bomb.docx").read_bytes(), limits)
    assert str(bomb.value).startswith("議事録.docx: ") and "ZIP爆弾" in str(bomb.value)
    with pytest.raises(GyoseiError) as impostor:
        read_question_upload("質問.docx", "これは Word 文書ではありません。".encode("utf-8"), limits)
    assert "質問.docx" in str(impostor.value) and "Word文書(.docx)ではなく" in str(impostor.value)
    assert len(fake.calls) == 1
