"""The administrators' 評価 and 利用状況 pages, driven headless by AppTest: reports written by the
real evaluation harness on a tiny set cut from the 国税庁 FAQ, and a tmp audit log filled through the
audit API."""

from __future__ import annotations

import json
import shutil

import pytest

from app.audit import AuditLog
from app.auth import UserStore
from app.eval_view import list_reports, metric_table
from app.factory import build_answerer
from eval.answers_eval import evaluate_answers, markdown_answers
from eval.charts import write_charts
from eval.compare import save_report
from eval.report import markdown_summary
from eval.retrieval_eval import evaluate_retrieval
from retrieval.embedder import HashEmbedder
from retrieval.settings import Settings

from .app_testing import ADMIN, PASSWORD, app_env, open_page, texts  # noqa: F401  (fixture)
from .test_eval_compare import _tiny_beir

# (stem in the folder, kind, created): listed newest first by their "created" field.
RETRIEVAL_OLD = "old-retrieval-nta_faq"
RETRIEVAL = "new-retrieval-nta_faq"
ANSWERS = "newest-answers-nta_faq"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Three reports of the harness (two retrieval runs with different k, one answer run) and a
    broken file, in one folder. The hash embedder keeps it fast; the page only reads the files."""
    root = tmp_path_factory.mktemp("eval")
    dataset = _tiny_beir(root / "nta_faq")
    settings = Settings.load(index={"path": root / "var" / "index"}, answer={"min_relevance": -1.0})
    runs = [
        (RETRIEVAL_OLD, "2026-01-01T09:00:00+00:00",
         evaluate_retrieval(dataset, settings, k=3, baselines=["bm25"], embedder=HashEmbedder(32))),
        (RETRIEVAL, "2026-01-02T09:00:00+00:00",
         evaluate_retrieval(dataset, settings, k=5, baselines=["bm25"], embedder=HashEmbedder(32))),
        (ANSWERS, "2026-01-03T09:00:00+00:00",
         evaluate_answers(dataset, settings, build_answerer, embedder=HashEmbedder(32), llm_judge=False)),
    ]
    folder = root / "reports"
    folder.mkdir()
    for stem, created, report in runs:
        report["created"] = created
        markdown = markdown_answers if report["kind"] == "answers" else markdown_summary
        json_path, md_path = save_report(report, root / stem, markdown)
        shutil.copy(json_path, folder / f"{stem}.json")
        shutil.copy(md_path, folder / f"{stem}.md")
        write_charts(report, folder / f"{stem}.json")
    (folder / "broken.json").write_text("{", encoding="utf-8")
    return folder


def test_reports_are_listed_newest_first_with_metric_tables(reports):
    entries, problems = list_reports(reports)
    assert [e.path.stem for e in entries] == [ANSWERS, RETRIEVAL, RETRIEVAL_OLD]
    assert len(problems) == 1 and "broken.json" in problems[0]
    report = json.loads(entries[1].path.read_text(encoding="utf-8"))
    rows = {r["システム"]: r for r in metric_table(report)}
    assert set(rows) >= {"dense", "sparse", "hybrid", "bm25"}
    assert rows["hybrid"]["mrr@5"] == round(report["metrics"]["hybrid"]["mrr@5"], 4)


def test_evaluation_page_shows_a_report_its_chart_and_compares_two_runs(app_env, reports, monkeypatch):
    folder = reports
    monkeypatch.setenv("GYOSEI_EVAL_REPORTS_DIR", str(folder))
    at = open_page(ADMIN, "ui_evaluation.py", timeout=60)
    assert not at.exception
    assert not at.text_input  # no path box: only the configured reports folder is read
    labels = at.selectbox(key="eval_report").options
    assert "回答評価・nta_faq" in labels[0] and len(labels) == 3
    table = at.dataframe[0].value
    assert "groundedness" in table.columns and table.iloc[0]["システム"] == "回答"
    assert at.image  # the .metrics.png beside the report
    assert "broken.json" in texts(at)
    # Compare the two lawqa retrieval runs: rows with B - A and a verdict.
    paths = at.selectbox(key="eval_a").options
    at.selectbox(key="eval_a").set_value(str(folder / f"{RETRIEVAL_OLD}.json"))
    at.selectbox(key="eval_b").set_value(str(folder / f"{RETRIEVAL}.json"))
    at.button(key="eval_compare").click().run()
    assert not at.exception and len(paths) == 3
    cmp = at.dataframe[-1].value
    assert {"A", "B", "差 (B−A)", "判定"} <= set(cmp.columns) and len(cmp) >= 5
    # Reports of different kinds are refused with a Japanese reason.
    at.selectbox(key="eval_a").set_value(str(folder / f"{ANSWERS}.json"))
    at.button(key="eval_compare").click().run()
    assert any("種類の異なるレポートは比較できません" in e.value for e in at.error)


def test_a_fresh_install_says_how_to_make_a_report_and_runs_one_from_the_page(app_env, tmp_path, monkeypatch):
    import time

    from app import eval_runner, resources

    monkeypatch.setenv("GYOSEI_EVAL_REPORTS_DIR", str(tmp_path / "no-reports-yet"))
    monkeypatch.setattr(resources, "build_embedder", lambda settings: HashEmbedder(32))
    sets = tmp_path / "datasets"
    _tiny_beir(sets / "nta_faq")
    monkeypatch.setattr(eval_runner, "DATASETS_DIR", sets)
    at = open_page(ADMIN, "ui_evaluation.py", timeout=60)
    shown = texts(at)
    assert not at.error and not at.warning
    assert "評価レポートはまだありません" in shown and "gyosei eval retrieval" in shown
    assert at.selectbox(key="eval_run_dataset").options == ["nta_faq"]
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 120
    while eval_runner.current().state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    job = eval_runner.current()
    assert job.state == "complete", job.message
    assert job.report_path.parent == tmp_path / "no-reports-yet" and job.report_path.is_file()
    at.run()
    assert "検索評価・nta_faq" in at.selectbox(key="eval_report").options[0]


def test_usage_page_renders_from_the_audit_log(app_env):
    # Frequent terms come from askers the users file knows, within the viewer's access.
    UserStore(app_env / "var/users.json").add("tanaka", PASSWORD, clearance=1)
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        for q, ms in [("マイナンバーカードの交付状況", 120), ("マイナンバーカードの利用", 300), ("行政手続法の目的", 80),
                      ("標準処理期間", 200)]:
            log.record("tanaka", "question", {"page": "質問", "question": q}, ["laws/x.xml"], latency_ms=ms)
        log.record("tanaka", "feedback", {"page": "質問", "rating": "good", "question": "行政手続法の目的"})
        log.record("suzuki", "feedback", {"page": "質問", "rating": "bad", "question": "標準処理期間"})
        log.record("suzuki", "feedback", {"page": "質問", "rating": "good", "question": "標準処理期間"})
        log.record("sato", "draft", {"page": "答弁作成", "question": "デジタル行政について"}, latency_ms=900)
        log.record("sato", "upload", {"files": ["a.pdf"]})
    at = open_page(ADMIN, "ui_usage.py", timeout=60)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["質問数"] == "4"
    assert metrics["評価「良い」の割合"] == "67%"
    assert metrics["応答時間 p50"] == "0.16 秒"  # median of 80, 120, 200, 300 ms
    assert metrics["応答時間 p95"] == "0.28 秒"
    pages = at.dataframe[0].value
    rows = {page: dict(zip(pages.columns[1:], values)) for page, *values in pages.itertuples(index=False)}
    assert rows["質問"]["質問"] == 4 and rows["質問"]["評価"] == 3  # the 質問 column is the total above
    assert rows["答弁作成"]["答弁作成"] == 1 and rows["文書管理"]["文書操作"] == 1
    assert metrics["利用者数"] == "3" and metrics["ログイン回数"] == "0"
    terms = at.dataframe[1].value
    assert terms.iloc[0]["語"] == "マイナンバーカード" and terms.iloc[0]["質問数"] == 2
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # questions per day
