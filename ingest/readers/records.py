"""Read JSON Lines record files: one Document per record.

Understood layouts (one JSON object per line, UTF-8):

- plain records: ``id``, ``title``, ``text`` and optional ``date``, ``url``, ``doc_type``,
  ``category`` ... (unknown fields go to ``Document.metadata``);
- BEIR ``corpus.jsonl``: ``_id``, ``title``, ``text``, ``metadata`` (merged into the metadata);
- Q&A records such as the 国税庁 質疑応答事例 (``question``, ``answer``, ``related_laws``, ``as_of``):
  the text is composed by :func:`compose_faq_text` and the doc_type is ``faq``.

``doc_id`` is ``"<id_prefix>:<id>"`` with the file stem as the default prefix (``nta_qa:29``);
``id_prefix=""`` keeps the record's own id (what BEIR qrels refer to). A bad line (invalid JSON,
no id, no text, duplicate id) does not stop the file: it is reported through ``on_error(line_no,
reason)`` (or logged when no callback is given) and skipped. ``ReaderError`` is raised only when
the file cannot be read at all or holds no usable record.

Usage::

    problems = []
    docs = list(read_jsonl_records(path, on_error=lambda n, r: problems.append((n, r))))
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from ingest.document import Document, Section
from ingest.readers.laws import wareki_to_iso
from retrieval.errors import ReaderError
from retrieval.types import DOC_TYPES

log = logging.getLogger(__name__)

ErrorCallback = Callable[[int, str], None]

_ID_KEYS = ("id", "_id")
_URL_KEYS = ("url", "source_url")
# Fields consumed by the reader itself; everything else becomes metadata.
_CONSUMED = {"id", "_id", "title", "text", "question", "answer", "metadata", "doc_type", "date", "url", "source_url"}
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
TITLE_FROM_QUESTION_CHARS = 60


def compose_faq_text(question: str, answer: str, related_laws: str | None = None) -> str:
    """The text of a Q&A record, in the 国税庁 layout, with Markdown links and images removed::

        【照会要旨】
        <question>

        【回答要旨】
        <answer>

        【関係法令通達】
        <related laws>      (only when given)

    The question is kept with the answer so that a chunk of the answer still says what it answers.
    """
    parts = [f"【照会要旨】\n{strip_markdown_links(question).strip()}",
             f"【回答要旨】\n{strip_markdown_links(answer).strip()}"]
    if related_laws and related_laws.strip():
        parts.append(f"【関係法令通達】\n{related_laws.strip()}")
    return "\n\n".join(parts)


def strip_markdown_links(text: str) -> str:
    """Drop Markdown images, keep only the labels of links, and turn <br> into spaces (scraped pages)."""
    text = _MD_IMAGE_RE.sub("", text)
    text = _MD_LINK_RE.sub(lambda m: m.group(1), text)
    text = re.sub(r"<br\s*/?>", " ", text)  # line breaks inside Markdown table cells
    return re.sub(r"[ \t]+\n", "\n", text)


def normalize_date(value: Any) -> str | None:
    """ISO date (YYYY-MM-DD) from "2024-08-23", "2024-08-23T10:00", or 「令和6年8月1日現在…」."""
    if not isinstance(value, str) or not value.strip():
        return None
    match = _ISO_DATE_RE.match(value.strip())
    if match:
        return "-".join(match.groups())
    return wareki_to_iso(value)


def read_jsonl_records(
    path: str | Path,
    *,
    id_prefix: str | None = None,
    doc_type: str | None = None,
    on_error: ErrorCallback | None = None,
) -> Iterator[Document]:
    """Yield one Document per usable line of a JSONL file; report bad lines through ``on_error``.

    ``doc_type`` is the default for records that do not name a valid one (Q&A records default to
    ``faq``, others to ``other``). The file is opened and checked at call time; a file whose
    lines are all unusable raises ``ReaderError`` once iteration reaches its end.
    """
    path = Path(path)
    if doc_type is not None and doc_type not in DOC_TYPES:
        raise ReaderError(path, f"文書種別 {doc_type!r} は使えません（{'、'.join(DOC_TYPES)} のいずれか）")
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ReaderError(path, f"ファイルを開けません（{exc.strerror or exc}）") from exc
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ReaderError(path, "ファイルが空です")
    if stripped.startswith(b"["):
        raise ReaderError(path, "JSON Lines ではありません（ファイル全体が1つのJSON配列です）。1行に1件のJSONオブジェクトを書いてください")
    prefix = path.stem if id_prefix is None else id_prefix
    report = on_error or (lambda line_no, reason: log.warning("%s:%d: %s", path, line_no, reason))
    return _iter_records(path, prefix, doc_type, report)


def _iter_records(path: Path, prefix: str, default_type: str | None, report: ErrorCallback) -> Iterator[Document]:
    seen: dict[str, int] = {}
    yielded = 0
    first_problem: str | None = None
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ReaderError(path, f"ファイルを開けません（{exc.strerror or exc}）") from exc
    with fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                doc = _parse_line(path, raw, line_no, prefix, default_type, seen)
            except _LineProblem as problem:
                first_problem = first_problem or f"{line_no}行目: {problem.reason}"
                report(line_no, problem.reason)
                continue
            yielded += 1
            yield doc
    if yielded == 0:
        detail = f"（最初の問題: {first_problem}）" if first_problem else ""
        raise ReaderError(path, f"使える記録が1件もありません{detail}")


class _LineProblem(Exception):
    """Why one line was skipped (Japanese); never leaves this module."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse_line(
    path: Path, raw: bytes, line_no: int, prefix: str, default_type: str | None, seen: dict[str, int]
) -> Document:
    try:
        line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise _LineProblem(f"UTF-8として読めません（{exc.start}バイト目）") from exc
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _LineProblem(f"JSONとして読めません（{exc.colno}文字目: {exc.msg}）") from exc
    if not isinstance(record, dict):
        raise _LineProblem("JSONオブジェクトではありません")
    if _has_lone_surrogate(record):
        raise _LineProblem("対になっていないサロゲート（\\ud800 などのエスケープ）が含まれていて、文字として読めません")

    raw_id = next((record[k] for k in _ID_KEYS if record.get(k) not in (None, "")), None)
    if raw_id is None:
        raise _LineProblem("id（または _id）がありません")
    if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool):
        raise _LineProblem(f"id が文字列でも整数でもありません（{type(raw_id).__name__}）")
    record_id = str(raw_id).strip()
    if record_id in seen:
        raise _LineProblem(f"id {record_id!r} が重複しています（{seen[record_id]}行目と同じ）")

    extra = record.get("metadata")
    if extra is not None and not isinstance(extra, dict):
        raise _LineProblem("metadata がJSONオブジェクトではありません")
    metadata: dict[str, Any] = dict(extra or {})
    metadata.update({k: v for k, v in record.items() if k not in _CONSUMED})

    question, answer = record.get("question"), record.get("answer")
    text = record.get("text")
    is_faq = False
    if isinstance(text, str) and text.strip():
        pass
    elif isinstance(question, str) and isinstance(answer, str) and question.strip() and answer.strip():
        related = record.get("related_laws")
        text = compose_faq_text(question, answer, related if isinstance(related, str) else None)
        is_faq = True
    elif text is not None and not isinstance(text, str):
        raise _LineProblem("text が文字列ではありません")
    else:
        raise _LineProblem("本文がありません（text、または question と answer が必要です）")

    record_type = record.get("doc_type") or metadata.get("doc_type")
    if isinstance(record_type, str) and record_type in DOC_TYPES:
        doc_type = record_type
    else:
        if record_type is not None:
            metadata["original_doc_type"] = record_type
        doc_type = default_type or ("faq" if is_faq else "other")

    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        title = _title_from(question) if is_faq else ""
    doc_id = f"{prefix}:{record_id}" if prefix else record_id
    date = (
        normalize_date(record.get("date"))
        or normalize_date(metadata.get("date"))
        or normalize_date(metadata.get("as_of"))
    )
    url = _first_str(record, _URL_KEYS) or _first_str(metadata, _URL_KEYS)
    for key in (*_URL_KEYS, "doc_type"):
        metadata.pop(key, None)
    metadata["record_id"] = record_id
    seen[record_id] = line_no
    title = title.strip() or doc_id
    return Document(
        doc_id=doc_id,
        title=title,
        doc_type=doc_type,
        sections=[Section(text=text, heading=title)],
        date=date,
        source_url=url,
        source_path=str(path),
        metadata=metadata,
    )


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in ``value`` holds a lone surrogate (valid JSON, not text)."""
    if isinstance(value, str):
        return _SURROGATE_RE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _first_str(mapping: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((mapping[k] for k in keys if isinstance(mapping.get(k), str) and mapping[k].strip()), None)


def _title_from(question: Any) -> str:
    if not isinstance(question, str):
        return ""
    first = strip_markdown_links(question).strip().splitlines()[0] if question.strip() else ""
    if len(first) > TITLE_FROM_QUESTION_CHARS:
        return first[:TITLE_FROM_QUESTION_CHARS] + "…"
    return first
