"""The UI's shared resources serve several officials' questions while a UI-started ingest runs.

One process, one shared Edge index (as app/resources.py builds it): four threads ask questions
over and over while the 文書管理 page's ``ingest_files`` indexes real uploads. Every question gets
a cited answer, nothing raises, and afterwards the index holds every document completely, once.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from app.documents import ingest_files
from app.factory import build_answerer, build_index
from app.resources import Resources
from ingest.pipeline import IngestOptions
from retrieval.settings import Settings
from retrieval.types import Access

from .conftest import SAMPLES

pytestmark = pytest.mark.slow

QUESTIONS = ["申請に対する審査の標準処理期間はどう定められていますか", "行政手続法の目的は何ですか",
             "不利益処分をしようとするときの手続", "行政指導の一般原則"]


def test_questions_are_answered_while_an_upload_is_ingested(tmp_path, monkeypatch, model_cache_dir, real_embedder):
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    settings = Settings.load(index={"path": str(tmp_path / "var/index")}, data_dir=str(tmp_path / "var"))
    index = build_index(settings, real_embedder)
    res = Resources(settings, real_embedder, index, build_answerer(settings, real_embedder, index))
    law = tmp_path / "var/uploads/gyosei_tetsuzuki.xml"
    law.parent.mkdir(parents=True)
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", law)
    ingest_files(res, [law], IngestOptions())  # what the officials ask about is already there

    uploads = []  # long enough an ingest (~400 chunks) for several questions to fall inside it
    for name in ("digital_agency/464-1_guidebook_api.md", "digital_agency/468-1_guidebook_dataquality.md",
                 "digital_agency/499_appendix_FAQ.md", "white_paper/r05_chapter5_soumu_ict_policy.txt"):
        uploads.append(tmp_path / "var/uploads" / Path(name).name)
        shutil.copy(SAMPLES / name, uploads[-1])

    access = Access(clearance=1, groups=["all"])
    ingesting, done = threading.Event(), threading.Event()
    answers: list[str] = []
    during: list[bool] = []  # per answer: begun after the ingest started and finished before it ended
    errors: list[BaseException] = []

    def official(i: int) -> None:
        while not done.is_set() or len(answers) < 8:
            try:
                begun = ingesting.is_set()
                answer = res.answerer.answer(QUESTIONS[i % len(QUESTIONS)], access)
                during.append(begun and not done.is_set())
                answers.append(answer.text)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                return
            i += 1

    threads = [threading.Thread(target=official, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        ingesting.set()
        report = ingest_files(res, uploads, IngestOptions())
    finally:
        done.set()
        for t in threads:
            t.join(timeout=600)
    try:
        assert not errors, errors
        assert report.failed == 0 and report.indexed == 4
        assert len(answers) >= 8 and all("[1]" in text for text in answers)
        assert sum(during) >= 3  # answered while the upload was being ingested, not queued behind it
        docs = index.documents()
        assert len(docs) == 5 and all(d.complete for d in docs.values())
        assert index.count() == sum(d.doc_chunks for d in docs.values())
        after = res.answerer.answer("データ品質の評価方法", access)
        assert any("データ品質" in s.label for s in after.sources)  # the upload is searchable at once
    finally:
        index.close()
