"""What the JSON API accepts, checked field by field: the request body (a bounded read with a
deadline, UTF-8 JSON of limited depth, no lone surrogates) and the ``filters`` object. Every
malformed field is a 400 with a Japanese reason naming it, never a 500 from deep inside.

    >>> parse_filters({"doc_types": ["law"], "date_from": "2024-04-01"})
    Filters(doc_types=['law'], date_from='2024-04-01', ...)
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import fields
from http import HTTPStatus
from typing import Any, BinaryIO

from retrieval.types import DOC_TYPES, Filters

__all__ = ["InputError", "content_length", "read_body", "parse_filters", "no_surrogates", "MAX_DEPTH"]

MAX_DEPTH = 16  # a question, filters and lists of ids: nothing legitimate nests deeper


class InputError(Exception):
    """A malformed request: the HTTP status and the Japanese reason for the client."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def content_length(header: str | None, limit: int) -> int:
    """The body's length from its Content-Length header: a non-negative decimal number no larger
    than ``limit`` (no header: an empty body)."""
    if header is None or header == "":
        return 0
    text = header.strip()
    if not text.isascii() or not text.isdigit():
        raise InputError(f"Content-Length「{text[:20]}」が不正です（0 以上の整数で指定してください）。")
    length = int(text)
    if length > limit:
        raise InputError(f"リクエストが大きすぎます（上限 {limit // 1024} KB）。", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    return length


def read_body(stream: BinaryIO, length: int, timeout_s: float) -> dict[str, Any]:
    """Read exactly ``length`` bytes within ``timeout_s`` in all (a client sending a byte now and
    then is cut off too), and parse them as a JSON object."""
    deadline = time.monotonic() + timeout_s
    parts: list[bytes] = []
    remaining = length
    while remaining > 0:
        if time.monotonic() > deadline:
            raise InputError("本文の受信が時間内に終わりませんでした。", HTTPStatus.REQUEST_TIMEOUT)
        chunk = stream.read1(min(remaining, 65536)) if hasattr(stream, "read1") else stream.read(min(remaining, 65536))
        if not chunk:
            raise InputError("本文が Content-Length より短いまま接続が切れました。")
        parts.append(chunk)
        remaining -= len(chunk)
    raw = b"".join(parts)
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError("本文が UTF-8 の JSON ではありません。") from None
    except RecursionError:
        raise InputError(f"本文の JSON の入れ子が深すぎます（{MAX_DEPTH} 段まで）。") from None
    if not isinstance(data, dict):
        raise InputError("本文は JSON オブジェクトで送ってください。")
    no_surrogates(data, "本文")
    return data


def no_surrogates(value: Any, where: str, depth: int = 0) -> None:
    """Refuse lone surrogates (``"\\ud800"``, valid JSON but not text) and deep nesting anywhere in ``value``."""
    if depth > MAX_DEPTH:
        raise InputError(f"本文の JSON の入れ子が深すぎます（{MAX_DEPTH} 段まで）。")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{where} に文字として不正な値（対になっていないサロゲート）が含まれています。") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            no_surrogates(key, where, depth + 1)
            no_surrogates(item, f"{key}" if depth == 0 else where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            no_surrogates(item, where, depth + 1)


def _text(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InputError(f"filters.{name} は文字列で指定してください（{_kind(raw)} が送られました）。")
    return raw.strip() or None


def _date(raw: Any, name: str) -> str | None:
    text = _text(raw, name)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(f"filters.{name}「{text[:20]}」は日付として読めません（YYYY-MM-DD で指定してください）。") from None


def _texts(raw: Any, name: str, allowed: tuple[str, ...] | None = None) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise InputError(f"filters.{name} は文字列のリストで指定してください。")
    if allowed is not None:
        unknown = [v for v in raw if v not in allowed]
        if unknown:
            raise InputError(f"filters.{name} に使えない値があります: {', '.join(unknown)}（使える値: {', '.join(allowed)}）")
    return list(raw)


def _kind(value: Any) -> str:
    return {bool: "真偽値", int: "整数", float: "数値", list: "リスト", dict: "オブジェクト"}.get(type(value), type(value).__name__)


def parse_filters(raw: Any) -> Filters:
    """``filters`` of a request as ``Filters``; InputError naming the first bad field."""
    if raw is None:
        return Filters()
    if not isinstance(raw, dict):
        raise InputError(f"filters は JSON オブジェクトで指定してください（{_kind(raw)} が送られました）。")
    known = {f.name for f in fields(Filters)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"filters に使えない項目があります: {', '.join(unknown)}")
    keep_undated = raw.get("keep_undated", False)
    if not isinstance(keep_undated, bool):
        raise InputError("filters.keep_undated は true か false で指定してください。")
    filters = Filters(
        doc_types=_texts(raw.get("doc_types"), "doc_types", DOC_TYPES),
        date_from=_date(raw.get("date_from"), "date_from"),
        date_to=_date(raw.get("date_to"), "date_to"),
        house=_text(raw.get("house"), "house"),
        meeting=_text(raw.get("meeting"), "meeting"),
        speaker=_text(raw.get("speaker"), "speaker"),
        doc_ids=_texts(raw.get("doc_ids"), "doc_ids"),
        keep_undated=keep_undated,
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InputError("filters.date_from が date_to より後になっています。")
    return filters
