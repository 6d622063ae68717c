"""Download speeches from the NDL minutes API (国会会議録検索システム) into raw JSON pages.

The client pages with ``startRecord`` / ``nextRecordPosition``, waits ``min_interval_s`` between
requests (NDL asks for one request at a time with a pause), retries 5xx/408/429 replies,
timeouts and connection errors with exponential backoff (never other 4xx), and saves every page
as it arrives::

    out_dir/ndl_speech_<query hash>_<startRecord>.json   # the API's reply, byte for byte
    out_dir/.ndl_speech_<query hash>.state.json          # what is saved and where to go on

The state file is hidden so that ingesting ``out_dir`` sees only the pages. Running the same
query again resumes after the last saved page; a finished query makes no request.
The saved pages are read by ``ingest.readers.kokkai.read_kokkai_json``.

Usage::

    summary = fetch_speeches(Path("data/kokkai"), any="マイナンバー", date_from="2024-01-01",
                             date_until="2024-12-31")
    print(summary.records_saved, summary.complete)
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from retrieval.errors import FetchError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://kokkai.ndl.go.jp/api/speech"
USER_AGENT = "gyosei-rag/0.1 (NDL minutes API client; polite, rate-limited)"
STATE_VERSION = 1
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Statuses worth another try: the server is busy or broken for a moment.
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass
class FetchSummary:
    """What a run did and where the pages are. ``complete`` is False when stopped by ``max_pages``."""

    query_hash: str
    params: dict[str, str]
    number_of_records: int | None
    records_saved: int
    pages_fetched: int
    pages_resumed: int
    requests: int
    complete: bool
    state_path: Path
    files: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        total = "不明" if self.number_of_records is None else f"{self.number_of_records}件"
        status = "すべて取得済み" if self.complete else "途中まで（同じ条件で再実行すると続きを取得します）"
        return (
            f"{self.records_saved}件を保存しました（該当 {total}、今回 {self.pages_fetched}ページ取得、"
            f"保存済み {self.pages_resumed}ページ、{status}）: {self.state_path.parent}"
        )


def build_params(
    *,
    any: str | None = None,  # noqa: A002 - the API's own parameter name
    date_from: str | None = None,
    date_until: str | None = None,
    meeting: str | None = None,
    speaker: str | None = None,
    house: str | None = None,
    extra_params: Mapping[str, str] | None = None,
    max_records: int = 100,
) -> dict[str, str]:
    """The API query (without ``startRecord``); raises FetchError for an unusable query."""
    if not 1 <= max_records <= 100:
        raise FetchError(f"1回の取得件数（maximumRecords）は1〜100で指定してください（指定値: {max_records}）")
    for name, value in (("開始日", date_from), ("終了日", date_until)):
        if value is not None and not _DATE_RE.match(value):
            raise FetchError(f"{name}は YYYY-MM-DD 形式で指定してください（指定値: {value}）")
    conditions = {
        "any": any, "from": date_from, "until": date_until, "nameOfMeeting": meeting,
        "speaker": speaker, "nameOfHouse": house, **dict(extra_params or {}),
    }
    params = {k: str(v) for k, v in conditions.items() if v not in (None, "")}
    if not params:
        raise FetchError("検索条件を1つ以上指定してください（検索語・期間・会議名・発言者など）")
    params.pop("startRecord", None)
    params.update({"maximumRecords": str(max_records), "recordPacking": "json"})
    return params


def query_hash(base_url: str, params: Mapping[str, str]) -> str:
    """A short stable name for a query (the base URL and every parameter but startRecord)."""
    canonical = json.dumps({"base_url": base_url, "params": dict(params)}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def fetch_speeches(
    out_dir: str | Path,
    *,
    any: str | None = None,  # noqa: A002 - the API's own parameter name
    date_from: str | None = None,
    date_until: str | None = None,
    meeting: str | None = None,
    speaker: str | None = None,
    house: str | None = None,
    extra_params: Mapping[str, str] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    max_records: int = 100,
    max_pages: int | None = None,
    min_interval_s: float = 1.0,
    retries: int = 4,
    backoff_s: float = 2.0,
    max_backoff_s: float = 60.0,
    timeout_s: float = 30.0,
    progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchSummary:
    """Fetch every page of a speech query into ``out_dir`` (resumable); return a summary.

    ``retries`` is the number of extra attempts per page after a retryable failure, waiting
    ``backoff_s * 2**attempt`` seconds (capped at ``max_backoff_s``; a ``Retry-After`` header wins).
    ``max_pages`` stops the run early (the next run continues). ``progress(saved, total)`` is
    called after each saved page with the records saved so far and the API's total (or None).
    Raises FetchError (Japanese).
    """
    scheme = urllib.parse.urlsplit(base_url).scheme
    if scheme not in ("http", "https"):
        raise FetchError(f"APIのURLは http:// か https:// で始めてください（指定値: {base_url}）")
    params = build_params(
        any=any, date_from=date_from, date_until=date_until, meeting=meeting, speaker=speaker,
        house=house, extra_params=extra_params, max_records=max_records,
    )
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"保存先フォルダ {out} を作れません（{exc.strerror or exc}）") from exc
    qhash = query_hash(base_url, params)
    state_path = out / f".ndl_speech_{qhash}.state.json"  # hidden: ingestion skips it
    state = _load_state(state_path, base_url, params, out)
    resumed = len(state["pages"])
    client = _Client(min_interval_s=min_interval_s, retries=retries, backoff_s=backoff_s,
                     max_backoff_s=max_backoff_s, timeout_s=timeout_s, sleep=sleep)
    fetched = 0
    while not state["complete"] and (max_pages is None or fetched < max_pages):
        start = int(state["next_start"])
        url = f"{base_url}?{urllib.parse.urlencode({**params, 'startRecord': str(start)})}"
        data, body = client.get_json(url)
        records = _record_count(data)
        page_path = out / f"ndl_speech_{qhash}_{start}.json"
        _write_atomic(page_path, body)
        state["pages"].append({"start": start, "file": page_path.name, "records": records})
        state["number_of_records"] = _as_int(data.get("numberOfRecords"))
        next_start = _as_int(data.get("nextRecordPosition"))
        if records == 0 or next_start is None:
            state["complete"], state["next_start"] = True, None
        elif next_start <= start:
            raise FetchError(f"APIの次開始位置（{next_start}）が進みません（開始位置 {start}）。検索条件を見直してください")
        else:
            state["next_start"] = next_start
        _write_atomic(state_path, json.dumps(state, ensure_ascii=False, indent=1).encode("utf-8"))
        fetched += 1
        if progress is not None:
            progress(_saved(state), state["number_of_records"])
    return FetchSummary(
        query_hash=qhash, params=params, number_of_records=state["number_of_records"],
        records_saved=_saved(state), pages_fetched=fetched, pages_resumed=resumed,
        requests=client.requests, complete=bool(state["complete"]), state_path=state_path,
        files=[out / page["file"] for page in state["pages"]],
    )


class _Client:
    """GET with a minimum interval between requests and retries with exponential backoff."""

    def __init__(self, *, min_interval_s: float, retries: int, backoff_s: float, max_backoff_s: float,
                 timeout_s: float, sleep: Callable[[float], None]) -> None:
        self.min_interval_s, self.retries, self.backoff_s = min_interval_s, max(0, retries), backoff_s
        self.max_backoff_s, self.timeout_s, self.sleep = max_backoff_s, timeout_s, sleep
        self.requests = 0
        self._last: float | None = None

    def get_json(self, url: str) -> tuple[dict[str, Any], bytes]:
        last_error = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff_s * (2 ** attempt)
            try:
                status, body, retry_after = self._get(url)
            except urllib.error.HTTPError as exc:
                status, body, retry_after = exc.code, _read_error_body(exc), exc.headers.get("Retry-After")
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                last_error = _describe(exc)
                status = None
            if status is not None:
                if status >= 400 and status not in _RETRY_STATUSES:
                    raise FetchError(f"APIが要求を受け付けませんでした（HTTP {status}: {_api_message(body)}）。検索条件を見直してください")
                if status >= 400:
                    last_error = f"HTTP {status}"
                    if retry_after and retry_after.strip().isdigit():
                        wait = float(retry_after.strip())
                else:
                    try:
                        data = json.loads(body.decode("utf-8-sig"))
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        last_error = "応答がJSONとして読めません（途中で切れた可能性があります）"
                    else:
                        if not isinstance(data, dict):
                            raise FetchError("APIの応答がJSONオブジェクトではありません。URLが国会会議録検索システムAPIか確認してください")
                        if "message" in data and "speechRecord" not in data and "meetingRecord" not in data:
                            raise FetchError(f"APIがエラーを返しました: {_api_message(body)}")
                        return data, body
            if attempt < self.retries:
                log.info("NDL API: %s; retrying in %.1fs", last_error, min(wait, self.max_backoff_s))
                self.sleep(min(wait, self.max_backoff_s))
        raise FetchError(
            f"国会会議録検索システムAPIから取得できませんでした（{self.retries + 1}回試行、最後のエラー: {last_error}）。"
            "時間をおいて同じ条件で再実行すると、保存済みのページの続きから再開します"
        )

    def _get(self, url: str) -> tuple[int, bytes, str | None]:
        if self._last is not None:
            remaining = self.min_interval_s - (time.monotonic() - self._last)
            if remaining > 0:
                self.sleep(remaining)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - scheme checked
                return response.status, response.read(), response.headers.get("Retry-After")
        finally:
            self._last = time.monotonic()


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except (OSError, http.client.HTTPException):
        return b""


def _api_message(body: bytes) -> str:
    """The NDL error message ({"message": ..., "details": [...]}) or the start of the body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text[:200] or "本文なし"
    if isinstance(data, dict) and "message" in data:
        details = data.get("details")
        extra = f"（{'、'.join(map(str, details))}）" if isinstance(details, list) and details else ""
        return f"{data['message']}{extra}"
    return text[:200]


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "タイムアウト"
    return f"接続エラー: {reason}"


def _record_count(data: Mapping[str, Any]) -> int:
    for key in ("speechRecord", "meetingRecord"):
        if isinstance(data.get(key), list):
            return len(data[key])
    return 0


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _saved(state: Mapping[str, Any]) -> int:
    return sum(int(page.get("records", 0)) for page in state["pages"])


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")  # hidden, so a crash leaves nothing to ingest
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise FetchError(f"{path} に保存できません（{exc.strerror or exc}）") from exc


def _load_state(state_path: Path, base_url: str, params: Mapping[str, str], out: Path) -> dict[str, Any]:
    """The saved progress of this query, or a fresh start (also when the state is unusable)."""
    fresh = {"version": STATE_VERSION, "base_url": base_url, "params": dict(params), "next_start": 1,
             "number_of_records": None, "pages": [], "complete": False}
    if not state_path.exists():
        return fresh
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        ok = (isinstance(state, dict) and state.get("version") == STATE_VERSION
              and state.get("base_url") == base_url and state.get("params") == dict(params)
              and isinstance(state.get("pages"), list))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        ok = False
    if not ok:
        log.warning("%s: unusable state file, starting the query again", state_path)
        return fresh
    # A page file removed since: fetch again from there.
    for index, page in enumerate(state["pages"]):
        if not (out / str(page.get("file", ""))).is_file():
            state["pages"] = state["pages"][:index]
            state["next_start"], state["complete"] = page.get("start", 1), False
            break
    return state
