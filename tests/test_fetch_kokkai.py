"""The NDL minutes API client against a local HTTP server that replays the real sample reply.

The server serves the 216 speeches of data_samples/kokkai/ndl_speech_121313950X00120240730.json
(参議院 外交防衛委員会) in pages, exactly as the API pages them (startRecord / maximumRecords /
nextRecordPosition), and can be told to fail given pages first (HTTP status, dropped connection,
slow reply, broken JSON).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from ingest.fetch_kokkai import build_params, fetch_speeches, query_hash
from ingest.readers.kokkai import read_kokkai_json
from retrieval.errors import FetchError

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "kokkai" / "ndl_speech_121313950X00120240730.json"
RECORDS = json.loads(SAMPLE.read_text(encoding="utf-8"))["speechRecord"]
QUERY = {"any": "防衛", "date_from": "2024-07-30", "date_until": "2024-07-30", "meeting": "外交防衛委員会"}


class FakeNDL:
    """Replays RECORDS as the speech API would; ``plan[start]`` lists failures to serve first."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.plan: dict[int, list[object]] = {}
        self.next_position_override: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                fake.requests.append({"path": url.path, **params})
                fake.headers.append(dict(self.headers))
                start = int(params.get("startRecord", "1"))
                failures = fake.plan.get(start)
                if failures:
                    failure = failures.pop(0)
                    if failure == "drop":
                        self.close_connection = True
                        self.connection.close()
                        return
                    if failure == "slow":
                        time.sleep(0.6)
                    elif failure == "broken":
                        self._send(200, b'{"numberOfRecords": 216, "speechRecord": [{"speechID"')
                        return
                    elif isinstance(failure, tuple):
                        status, body = failure
                        self._send(status, json.dumps(body, ensure_ascii=False).encode("utf-8"))
                        return
                    else:
                        self._send(int(failure), b"Service Unavailable")
                        return
                size = int(params.get("maximumRecords", "30"))
                page = RECORDS[start - 1 : start - 1 + size]
                end = start - 1 + len(page)
                next_position = end + 1 if end < len(RECORDS) else None
                if fake.next_position_override is not None:
                    next_position = fake.next_position_override
                reply = {
                    "numberOfRecords": len(RECORDS), "numberOfReturn": len(page), "startRecord": start,
                    "nextRecordPosition": next_position, "speechRecord": page,
                }
                self._send(200, json.dumps(reply, ensure_ascii=False, indent=1).encode("utf-8"))

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/speech"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def starts(self) -> list[int]:
        return [int(r["startRecord"]) for r in self.requests]


@pytest.fixture()
def ndl():
    fake = FakeNDL()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _fetch(ndl: FakeNDL, out: Path, **kwargs):
    sleeps: list[float] = kwargs.pop("sleeps", [])
    options = {"base_url": ndl.base_url, "min_interval_s": 0.001, "backoff_s": 0.01, "retries": 4,
               "timeout_s": 5.0, "sleep": lambda s: sleeps.append(s) or time.sleep(min(s, 0.01))}
    options.update(kwargs)
    return fetch_speeches(out, **QUERY, **options)


def test_pages_through_all_records_and_sends_the_api_parameters(ndl, tmp_path):
    events: list[tuple[int, int | None]] = []
    summary = _fetch(ndl, tmp_path, progress=lambda done, total: events.append((done, total)))
    assert ndl.starts() == [1, 101, 201]
    first = ndl.requests[0]
    assert first == {
        "path": "/api/speech", "any": "防衛", "from": "2024-07-30", "until": "2024-07-30",
        "nameOfMeeting": "外交防衛委員会", "maximumRecords": "100", "recordPacking": "json", "startRecord": "1",
    }
    assert ndl.headers[0]["User-Agent"].startswith("gyosei-rag/")
    assert summary.complete and summary.number_of_records == 216 and summary.records_saved == 216
    assert summary.pages_fetched == 3 and summary.pages_resumed == 0 and summary.requests == 3
    qhash = query_hash(ndl.base_url, build_params(any="防衛", date_from="2024-07-30", date_until="2024-07-30",
                                                  meeting="外交防衛委員会"))
    assert summary.query_hash == qhash
    assert [p.name for p in summary.files] == [f"ndl_speech_{qhash}_{s}.json" for s in (1, 101, 201)]
    assert events == [(100, 216), (200, 216), (216, 216)]
    assert str(summary).startswith("216件を保存しました（該当 216件、今回 3ページ取得、保存済み 0ページ、すべて取得済み）")
    # The saved pages are what the reader ingests: every speech, once, with its NDL id.
    docs = [d for path in summary.files for d in read_kokkai_json(path)]
    assert [d.doc_id for d in docs] == [f"kokkai:{r['speechID']}" for r in RECORDS]
    # Only the pages are visible to ingestion (the state file is hidden, no temp files remain).
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(p.name for p in summary.files)
    assert summary.state_path.name == f".ndl_speech_{qhash}.state.json"
    state = json.loads(summary.state_path.read_text(encoding="utf-8"))
    assert state["complete"] is True and [p["records"] for p in state["pages"]] == [100, 100, 16]


def test_a_finished_query_makes_no_more_requests(ndl, tmp_path):
    _fetch(ndl, tmp_path)
    again = _fetch(ndl, tmp_path)
    assert ndl.starts() == [1, 101, 201]  # nothing new
    assert again.complete and again.pages_fetched == 0 and again.pages_resumed == 3
    assert again.records_saved == 216 and again.requests == 0


def test_retries_after_a_503_with_backoff(ndl, tmp_path):
    ndl.plan[101] = [503, 503]
    sleeps: list[float] = []
    summary = _fetch(ndl, tmp_path, sleeps=sleeps, backoff_s=0.25)
    assert ndl.starts() == [1, 101, 101, 101, 201]
    assert summary.complete and summary.records_saved == 216 and summary.requests == 5
    assert 0.25 in sleeps and 0.5 in sleeps  # backoff doubles


def test_retry_after_header_and_cap(ndl, tmp_path):
    ndl.plan[1] = [503]
    sleeps: list[float] = []
    _fetch(ndl, tmp_path, sleeps=sleeps, backoff_s=100.0, max_backoff_s=0.05)
    assert 0.05 in sleeps and 100.0 not in sleeps  # capped


def test_gives_up_after_repeated_failures(ndl, tmp_path):
    ndl.plan[1] = [503] * 10
    with pytest.raises(FetchError) as err:
        _fetch(ndl, tmp_path, retries=2)
    assert len(ndl.requests) == 3
    message = str(err.value)
    assert "3回試行" in message and "HTTP 503" in message and "再開します" in message
    assert not list(tmp_path.glob("ndl_speech_*_1.json"))


def test_client_errors_are_not_retried(ndl, tmp_path):
    ndl.plan[1] = [(400, {"message": "検索条件の指定に誤りがあります。", "details": ["from の形式"]})]
    with pytest.raises(FetchError) as err:
        _fetch(ndl, tmp_path)
    assert len(ndl.requests) == 1
    assert "HTTP 400" in str(err.value) and "検索条件の指定に誤りがあります。（from の形式）" in str(err.value)


def test_api_error_reply_with_200_is_reported(ndl, tmp_path):
    ndl.plan[1] = [(200, {"message": "検索結果が1000件を超えています。"})]
    with pytest.raises(FetchError, match="1000件を超えています"):
        _fetch(ndl, tmp_path)
    assert len(ndl.requests) == 1


def test_dropped_connection_slow_reply_and_broken_json_are_retried(ndl, tmp_path):
    ndl.plan[1] = ["drop"]
    ndl.plan[101] = ["slow"]
    ndl.plan[201] = ["broken"]
    summary = _fetch(ndl, tmp_path, timeout_s=0.3)
    assert ndl.starts() == [1, 1, 101, 101, 201, 201]
    assert summary.complete and summary.records_saved == 216


def test_resumes_after_an_interrupted_run(ndl, tmp_path):
    ndl.plan[201] = [500, 500]
    with pytest.raises(FetchError):
        _fetch(ndl, tmp_path, retries=1)
    assert ndl.starts() == [1, 101, 201, 201]
    state_file = next(tmp_path.glob(".ndl_speech_*.state.json"))
    state = json.loads(state_file.read_text(encoding="utf-8"))
    assert state["next_start"] == 201 and state["complete"] is False
    ndl.requests.clear()
    summary = _fetch(ndl, tmp_path)
    assert ndl.starts() == [201]  # only the missing page
    assert summary.pages_resumed == 2 and summary.pages_fetched == 1
    assert summary.complete and summary.records_saved == 216


def test_max_pages_stops_early_and_a_deleted_page_is_fetched_again(ndl, tmp_path):
    partial = _fetch(ndl, tmp_path, max_pages=1)
    assert not partial.complete and partial.records_saved == 100
    assert "同じ条件で再実行すると続きを取得します" in str(partial)
    partial.files[0].unlink()
    ndl.requests.clear()
    summary = _fetch(ndl, tmp_path)
    assert ndl.starts() == [1, 101, 201]
    assert summary.complete and summary.records_saved == 216


def test_a_corrupt_state_file_starts_over(ndl, tmp_path):
    first = _fetch(ndl, tmp_path)
    first.state_path.write_text("{not json", encoding="utf-8")
    ndl.requests.clear()
    again = _fetch(ndl, tmp_path)
    assert ndl.starts() == [1, 101, 201] and again.complete


def test_a_position_that_does_not_advance_is_an_error(ndl, tmp_path):
    ndl.next_position_override = 1
    with pytest.raises(FetchError, match="次開始位置"):
        _fetch(ndl, tmp_path)


def test_waits_between_requests(ndl, tmp_path):
    started = time.monotonic()
    fetch_speeches(tmp_path, **QUERY, base_url=ndl.base_url, min_interval_s=0.15)
    assert time.monotonic() - started >= 0.3  # three requests, two pauses


def test_connection_refused_is_a_fetch_error(tmp_path):
    with pytest.raises(FetchError, match="接続エラー"):
        fetch_speeches(tmp_path, any="防衛", base_url="http://127.0.0.1:9/api/speech", retries=1,
                       backoff_s=0.0, min_interval_s=0.0, timeout_s=1.0)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "検索条件を1つ以上"),
        ({"any": "防衛", "max_records": 101}, "1〜100"),
        ({"any": "防衛", "date_from": "2024/07/30"}, "YYYY-MM-DD"),
        ({"any": "防衛", "base_url": "file:///etc/passwd"}, "http:// か https://"),
    ],
)
def test_bad_requests_are_refused_before_any_network(tmp_path, kwargs, expected):
    with pytest.raises(FetchError, match=expected):
        fetch_speeches(tmp_path, **kwargs)
