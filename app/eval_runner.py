"""A retrieval evaluation started from the 評価 page, run in a background thread with its
progress readable on every rerun. No Streamlit here; one run at a time per process."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import GyoseiError
from retrieval.settings import Settings

log = logging.getLogger(__name__)
DATASETS_DIR = Path(__file__).resolve().parents[1] / "eval/datasets"
STAGE_LABELS = {"index": "評価用索引への取り込み", "bm25": "BM25 の準備", "langchain": "LangChain 既定の準備"}


@dataclass
class EvalJob:
    """One background run: what it evaluates, where it is, and how it ended."""

    dataset: str
    started: float = field(default_factory=time.time)
    stage: str = "準備中"
    done: int = 0
    total: int | None = None
    state: str = "running"  # running | complete | error
    message: str = ""
    report_path: Path | None = None

    def progress(self, stage: str, done: int, total: int | None) -> None:
        name = stage.split(":", 1)
        self.stage = STAGE_LABELS.get(stage) or (f"検索（{name[1]}）" if len(name) == 2 else stage)
        self.done, self.total = done, total

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


_lock = threading.Lock()
_job: EvalJob | None = None


def datasets(root: Path | None = None) -> list[str]:
    """The BEIR sets a retrieval evaluation can run on (folders with corpus, queries and qrels)."""
    root = root or DATASETS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if (p / "corpus.jsonl").is_file() and (p / "queries.jsonl").is_file() and (p / "qrels").is_dir())


def current() -> EvalJob | None:
    """The running or last finished run of this process."""
    return _job


def start(settings: Settings, dataset: str, embedder: Any = None, k: int = 10, root: Path | None = None) -> EvalJob:
    """Start a retrieval evaluation of ``dataset`` (a name from ``datasets()``); GyoseiError when
    one is already running or the name is unknown."""
    global _job
    root = root or DATASETS_DIR
    if dataset not in datasets(root):
        raise GyoseiError(f"評価セット {dataset} は見つかりません。")
    with _lock:
        if _job is not None and _job.state == "running":
            raise GyoseiError("評価を実行中です。終わってから、もう一度お試しください。")
        job = _job = EvalJob(dataset)

    def run() -> None:
        from eval.report import write_report
        from eval.retrieval_eval import evaluate_retrieval

        try:
            report = evaluate_retrieval(root / dataset, settings, k=k, baselines=["bm25"], progress=job.progress,
                                        embedder=embedder)
            job.report_path, _ = write_report(report, settings.eval_reports_dir)
            job.state, job.message = "complete", f"完了しました（{time.time() - job.started:.0f} 秒）: {job.report_path.name}"
        except Exception as exc:  # noqa: BLE001 - told on the page, logged in full
            log.exception("retrieval evaluation from the page failed")
            job.state = "error"
            job.message = str(exc) if isinstance(exc, GyoseiError) else "評価に失敗しました（詳細はサーバーのログにあります）。"

    threading.Thread(target=run, name=f"eval-{dataset}", daemon=True).start()
    return job
