"""A rich progress bar for ingestion: files, chunks and chunks per second."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichIngestObserver:
    """Implements ingest.pipeline.IngestObserver on the terminal."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]取り込み中"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ファイル"),
            TextColumn("{task.fields[chunks]} チャンク（{task.fields[rate]:.1f}/秒）"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("ingest", total=None, chunks=0, rate=0.0)
        self.chunks = 0
        self.started = time.perf_counter()

    def __enter__(self) -> "RichIngestObserver":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def files_found(self, count: int) -> None:
        self.progress.update(self.task, total=count)

    def file_done(self, result) -> None:
        self.progress.advance(self.task)

    def chunks_written(self, count: int) -> None:
        self.chunks += count
        rate = self.chunks / max(time.perf_counter() - self.started, 1e-6)
        self.progress.update(self.task, chunks=self.chunks, rate=rate)
