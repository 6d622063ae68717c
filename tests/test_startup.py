"""The warm start behind ``gyosei serve``: phases in order, progress lines, the samples indexed into
the shared index, a second start that indexes nothing, a failure that says why, and the notice
under answers given while indexing (fast: the hash embedder and a small real Edge index)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from app import startup
from app.factory import build_answerer, build_index
from app.resources import Resources
from app.ui_startup import partial_index_notice
from retrieval.embedder import HashEmbedder
from retrieval.errors import ModelError
from retrieval.settings import Settings
from retrieval.types import Access

from .conftest import SAMPLES


class _Res(Resources):
    """The real shared components, with the drafter (NLI classifier training) only counted."""

    drafted = 0

    def drafter(self):  # noqa: D102
        type(self).drafted += 1


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "laws").mkdir(parents=True)
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", docs / "laws")
    shutil.copy(SAMPLES / "digital_agency/464-1_guidebook_api.md", docs)
    return docs


def _run(settings: Settings, paths: list[Path], gate: threading.Event | None = None):
    lines: list[str] = []
    opened: list[_Res] = []

    def build(s: Settings) -> _Res:
        if gate is not None:
            gate.wait(10)
        embedder = HashEmbedder(64)
        index = build_index(s, embedder)
        opened.append(_Res(s, embedder, index, build_answerer(s, embedder, index)))
        return opened[-1]

    job = startup.WarmStart(settings, paths, build, echo=lines.append, every_s=0.0)
    job.thread.start()
    return job, lines, opened


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    return Settings.load(index={"path": str(tmp_path / "index")}, data_dir=str(tmp_path))


def test_model_then_indexing_then_ready_and_the_index_answers(tmp_path, monkeypatch) -> None:
    settings = _settings(tmp_path, monkeypatch)
    docs = _folder(tmp_path)
    gate = threading.Event()
    job, lines, opened = _run(settings, [docs], gate)
    time.sleep(0.2)
    assert job.status().phase == "model" and not job.status().searchable  # the pages wait, with a banner
    gate.set()
    job.thread.join(60)
    status = job.status()
    assert status.phase == "ready", status
    assert job.report.failed == 0 and job.report.chunks > 50
    assert status.files_done == status.files_total == 2 and status.chunks == job.report.chunks
    assert lines[0] == "埋め込みモデルを準備しています…" and lines[-1] == "準備ができました。"
    assert any(line.startswith("サンプル文書を索引に取り込んでいます: 2/2 件") for line in lines), lines
    assert _Res.drafted >= 1  # the 矛盾チェック is readied before "ready"
    res = opened[0]
    answer = res.answerer.answer("行政手続法の目的は何ですか", Access(clearance=1, groups=["all"]))
    assert answer.sources and any(s.payload.get("embedding_path") == "hash" for s in answer.sources)
    res.index.close()

    again, again_lines, reopened = _run(settings, [docs])  # a second start: everything is already there
    again.thread.join(60)
    assert again.status().phase == "ready" and again.report.chunks == 0
    assert "取り込み完了: 0 チャンクを追加、変更のない文書 2 件、失敗 0 件" in again_lines
    assert {f.status for f in again.report.files} == {"skipped"}
    reopened[0].index.close()


def test_a_failed_warm_start_says_why_in_japanese(tmp_path, monkeypatch) -> None:
    settings = _settings(tmp_path, monkeypatch)

    def build(s: Settings):
        raise ModelError("組み込みモデルを書き込めません（空き容量なし）")

    lines: list[str] = []
    job = startup.WarmStart(settings, [], build, echo=lines.append, every_s=0.0)
    job.thread.start()
    job.thread.join(10)
    assert job.status().phase == "failed" and not job.status().searchable
    assert lines[-1] == "準備に失敗しました: 組み込みモデルを書き込めません（空き容量なし）"


def test_answers_given_while_indexing_carry_a_notice(monkeypatch) -> None:
    class Job:
        def __init__(self, phase: str) -> None:
            self._status = startup.Status(phase=phase, files_total=16, files_done=5)

        def status(self) -> startup.Status:
            return self._status

    monkeypatch.setattr(startup, "_job", Job("indexing"))
    notice = partial_index_notice()
    assert notice is not None and "5/16 件" in notice and "取り込みが終わった文書だけ" in notice
    monkeypatch.setattr(startup, "_job", Job("ready"))
    assert partial_index_notice() is None
    monkeypatch.setattr(startup, "_job", None)  # plain `streamlit run`: no warm start, no notice
    assert partial_index_notice() is None


def test_status_line_counts_down_while_indexing() -> None:
    line = startup.Status(phase="indexing", files_total=16, files_done=4, chunks=1280, chunks_per_s=10.24,
                          seconds_left=95).line()
    assert line == "サンプル文書を索引に取り込んでいます: 4/16 件、1,280 チャンク（10.2 チャンク/秒、残り約 1 分 35 秒）"
