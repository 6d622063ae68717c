"""The warm start: load the model and index the sample folders in the background while the UI is up.

``gyosei serve`` (what ``make run`` calls) starts :class:`WarmStart` in the Streamlit server's own
process before the server, so the UI answers within seconds of the install while the model is
built and data_samples is indexed into the same shared index the pages use (app/resources.py).
Every page shows its progress (:func:`app.ui_startup.startup_banner`) and the terminal prints the
same lines. Questions asked meanwhile are answered from what is already indexed.

    >>> job = start(settings, [Path("data_samples")], echo=print)
    >>> job.status().phase      # "model" -> "indexing" -> "classifier" -> "ready" (or "failed")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from retrieval.errors import GyoseiError
from retrieval.settings import Settings

log = logging.getLogger(__name__)

PHASES = {
    "model": "埋め込みモデルを準備しています",
    "indexing": "サンプル文書を索引に取り込んでいます",
    "classifier": "矛盾チェック用の分類器を準備しています",
    "ready": "準備ができました",
    "failed": "準備に失敗しました",
}


@dataclass(frozen=True)
class Status:
    """A snapshot of the warm start, safe to read from any thread."""

    phase: str = "model"
    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    chunks_per_s: float = 0.0
    seconds_left: float | None = None
    started: float = 0.0
    message: str = ""

    @property
    def searchable(self) -> bool:
        """The model and index are open: questions can be answered (from what is indexed so far)."""
        return self.phase in ("indexing", "classifier", "ready")

    @property
    def indexing_done(self) -> bool:
        """Nothing more is being added to the index by the warm start."""
        return self.phase in ("classifier", "ready", "failed")

    def line(self) -> str:
        """One Japanese line for the terminal and the pages."""
        head = PHASES.get(self.phase, self.phase)
        if self.phase == "failed":
            return f"{head}: {self.message}"
        if self.phase != "indexing":
            return head + ("…" if self.phase != "ready" else "。")
        left = "" if self.seconds_left is None else f"、残り約 {_duration(self.seconds_left)}"
        return (f"{head}: {self.files_done}/{self.files_total or '?'} 件、{self.chunks:,} チャンク"
                f"（{self.chunks_per_s:.1f} チャンク/秒{left}）")  # fmt: skip


class WarmStart:
    """Builds the shared resources, ingests ``paths`` through them, then readies the 矛盾チェック.

    ``build`` makes the shared resources (``app.resources.resources``); it is a parameter so tests
    can hand in a small index and the hash embedder.
    """

    def __init__(self, settings: Settings, paths: list[Path], build: Callable[[Settings], Any],
                 echo: Callable[[str], None] | None = None, every_s: float = 5.0) -> None:
        self.settings = settings
        self.paths = paths
        self.build = build
        self.echo = echo or (lambda line: None)
        self.every_s = every_s
        self._status = Status(started=time.time())
        self._lock = threading.Lock()
        self._printed = 0.0
        self.report: Any = None
        self.thread = threading.Thread(target=self._run, name="gyosei-warm-start", daemon=True)

    def status(self) -> Status:
        """The current snapshot."""
        with self._lock:
            return self._status

    def _set(self, force_echo: bool = False, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)
            status = self._status
        now = time.monotonic()
        if force_echo or now - self._printed >= self.every_s:
            self._printed = now
            self.echo(status.line())

    def _run(self) -> None:
        # The shared resources are st.cache_resource values built outside any page: Streamlit
        # warns about the missing script context on every call, which is expected here.
        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
        try:
            self._set(True, phase="model")
            res = self.build(self.settings)
            res.embedder.embed_query("準備")  # the first question must not pay the model load
            if self.paths:
                self._ingest(res)
            self._set(True, phase="classifier")
            self._ready_checker(res)
            self._set(True, phase="ready")
        except GyoseiError as exc:
            log.warning("warm start failed: %s", exc)
            self._set(True, phase="failed", message=str(exc))
        except Exception as exc:  # the UI stays up and says so; the details go to the log
            log.exception("warm start failed")
            self._set(True, phase="failed", message=f"予期しないエラー（{type(exc).__name__}）。詳細はサーバーのログにあります。")

    def _ingest(self, res: Any) -> None:
        from app.documents import writing
        from ingest.pipeline import IngestOptions, Ingestor
        from retrieval.text.sparse import SparseEncoder

        s = self.settings
        self._set(True, phase="indexing")
        with writing(res.write_lock):
            ingestor = Ingestor(res.index, res.embedder, SparseEncoder(), s.chunk, s.security, s.data_dir,
                                _Progress(self), limits=s.limits)
            self.report = ingestor.ingest(self.paths, IngestOptions(sync=True))
        failed = [f for f in self.report.files if f.status == "failed"]
        skipped = sum(f.status == "skipped" for f in self.report.files)
        self._set(files_done=self._status.files_total, seconds_left=0.0)
        self.echo(f"取り込み完了: {self.report.chunks:,} チャンクを追加、変更のない文書 {skipped} 件、失敗 {len(failed)} 件")
        for f in failed:
            self.echo(f"  取り込めませんでした: {f.path}（{f.reason}）")

    def _ready_checker(self, res: Any) -> None:
        from retrieval.llm import chat_model_from_settings

        if chat_model_from_settings(self.settings.llm) is None:
            res.drafter()  # trains the NLI classifier into the cache on first set-up


class _Progress:
    """The ingest observer that feeds the warm start's status."""

    def __init__(self, job: WarmStart) -> None:
        self.job = job
        self.started = time.perf_counter()
        self.chunks = 0
        self.files = 0

    def files_found(self, count: int) -> None:
        self.job._set(files_total=count)

    def file_done(self, result: Any) -> None:
        self.files += 1
        total = self.job.status().files_total
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.files * max(total - self.files, 0) if self.files else None
        self.job._set(files_done=self.files, seconds_left=left)

    def chunks_written(self, count: int) -> None:
        self.chunks += count
        rate = self.chunks / max(time.perf_counter() - self.started, 1e-6)
        self.job._set(chunks=self.chunks, chunks_per_s=rate)


_job: WarmStart | None = None
_job_lock = threading.Lock()


def start(settings: Settings, paths: list[Path], echo: Callable[[str], None] | None = None,
          build: Callable[[Settings], Any] | None = None) -> WarmStart:
    """Start the process's warm start once (later calls return the running one)."""
    global _job
    with _job_lock:
        if _job is None:
            if build is None:
                from app.resources import resources as build
            _job = WarmStart(settings, paths, build, echo)
            _job.thread.start()
        return _job


def current() -> WarmStart | None:
    """The process's warm start, if ``gyosei serve`` started one."""
    return _job


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(int(seconds), 1)} 秒"
    return f"{int(seconds // 60)} 分 {int(seconds % 60)} 秒"
