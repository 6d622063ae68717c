"""Reading the question a Diet-answer draft is made for, from a file (``gyosei draft``) or an
upload (the 答弁作成 page): plain text in UTF-8 (with or without BOM), UTF-16 with BOM or CP932
(Shift_JIS, as Windows tools often save it), or a Word .docx.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from retrieval.errors import GyoseiError, ReaderError
from retrieval.settings import LimitsSettings

__all__ = ["QuestionFileError", "read_question", "read_question_upload", "MAX_QUESTION_BYTES"]

# A question (even a long 質問主意書) is a few pages; anything bigger is the wrong file.
MAX_QUESTION_BYTES = 1_000_000


class QuestionFileError(GyoseiError):
    """The question file is missing, unreadable, empty or not text."""


def read_question(path: Path, limits: LimitsSettings | None = None, *, label: str = "質問ファイル") -> str:
    """The question text of ``path``: plain text (UTF-8, UTF-16 with BOM or CP932) or a Word
    .docx (checked like an upload: size, content, zip bomb); QuestionFileError/ReaderError otherwise.
    ``label`` names the file in messages (「質問ファイル」, or 「ファイル」 for the 公用文チェック)."""
    path = Path(path)
    if path.suffix.lower() == ".docx" and path.is_file():
        return _read_docx(path, limits or LimitsSettings(), label)
    if not path.exists():
        raise QuestionFileError(f"{label} {path} が見つかりません。ファイル名とフォルダを確認してください。")
    if path.is_dir():
        raise QuestionFileError(f"{path} はフォルダです。本文を書いたテキストファイルを指定してください。")
    try:
        size = path.stat().st_size
        if size > MAX_QUESTION_BYTES:
            raise QuestionFileError(
                f"{label} {path} が大きすぎます（{size:,}バイト、上限{MAX_QUESTION_BYTES:,}バイト）。"
                "本文だけを保存したテキストファイルを指定してください。"
            )
        raw = path.read_bytes()
    except PermissionError as exc:
        raise QuestionFileError(f"{label} {path} を読む権限がありません。ファイルの権限を確認してください。") from exc
    except OSError as exc:
        raise QuestionFileError(f"{label} {path} を読めません（{exc.strerror or exc}）。") from exc
    text = _decode(path, raw, label)
    if not text.strip():
        raise QuestionFileError(f"{label} {path} は空です。本文を保存してから指定してください。")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(path: Path, raw: bytes, label: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise QuestionFileError(f"{label} {path} を UTF-16 として読めません（{exc.start}バイト目）。") from exc
    if b"\x00" in raw:
        raise QuestionFileError(
            f"{label} {path} はテキストファイルではないようです（Word 文書などはテキスト形式で保存し直してください）。"
        )
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise QuestionFileError(
        f"{label} {path} の文字コードを判別できません。UTF-8 または Shift_JIS（CP932）で保存し直してください。"
    )


def docx_paragraphs_text(path: Path) -> str:
    """The paragraphs of a Word file, one a line (run in the parse worker: see ``_read_docx``)."""
    import docx  # python-docx

    try:
        return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds for a damaged file
        raise ReaderError(path, f"Word 文書として読めません（{type(exc).__name__}）。") from exc


def _read_docx(path: Path, limits: LimitsSettings, label: str) -> str:
    from ingest.safety import check_file, parse_with_timeout

    check_file(path, limits)  # a Word file is a zip: refuse bombs and impostors before opening it
    # A .docx that passes the zip checks can still expand to gigabytes of XML: python-docx runs in
    # the parse worker, under the time and memory limits, never in the Streamlit or CLI process.
    try:
        text = parse_with_timeout(docx_paragraphs_text, path, limits.parse_timeout_s, memory_mb=limits.parse_memory_mb)
    except ReaderError as exc:
        raise QuestionFileError(f"{label} {exc}") from exc
    if not text.strip():
        raise QuestionFileError(f"{label} {path} は空です。本文を保存してから指定してください。")
    return text


def read_question_upload(name: str, data: bytes, limits: LimitsSettings, *, label: str = "質問ファイル") -> str:
    """The same for an uploaded file (the 答弁作成 page): written to a private temp folder under
    its sanitized name, then read as above."""
    from ingest.safety import sanitize_filename

    with tempfile.TemporaryDirectory(prefix="gyosei-question-") as folder:
        path = Path(folder) / sanitize_filename(name, limits.max_filename_chars)
        path.write_bytes(data)
        try:
            return read_question(path, limits, label=label)
        except GyoseiError as exc:  # name the file the official chose, not the temp copy
            raise QuestionFileError(str(exc).replace(str(path), name)) from exc
