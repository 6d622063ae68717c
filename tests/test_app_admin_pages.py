"""The administrators' 評価 and 利用状況 pages, driven headless by AppTest: real evaluation reports
from eval/reports, and a tmp audit log filled through the audit API."""

from __future__ import annotations

import shutil

from app.audit import AuditLog
from app.eval_view import list_reports, metric_table

from .app_testing import ADMIN, app, app_env, texts  # noqa: F401  (fixture)
from .conftest import ROOT

REPORTS = ROOT / "eval/reports"
RETRIEVAL = "20261122-052529-retrieval-lawqa"
RETRIEVAL_OLD = "20261122-043747-retrieval-lawqa"
ANSWERS = "20261122-054807-answers-nta_faq"


def _reports(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for stem in (RETRIEVAL, RETRIEVAL_OLD, ANSWERS):
        for f in REPORTS.glob(f"{stem}.*"):
            shutil.copy(f, folder)
    (folder / "broken.json").write_text("{", encoding="utf-8")
    return folder


def test_reports_are_listed_newest_first_with_metric_tables(tmp_path):
    entries, problems = list_reports(_reports(tmp_path))
    assert [e.path.stem for e in entries] == [ANSWERS, RETRIEVAL, RETRIEVAL_OLD]
    assert len(problems) == 1 and "broken.json" in problems[0]
    rows = {r["システム"]: r for r in metric_table(__import__("json").loads(entries[1].path.read_text()))}
    assert set(rows) >= {"dense", "sparse", "hybrid"} and rows["hybrid"]["mrr@10"] == 0.8214


def test_evaluation_page_shows_a_report_its_chart_and_compares_two_runs(app_env, tmp_path):
    folder = _reports(tmp_path)
    at = app(ADMIN).run()
    at.switch_page("ui_evaluation.py").run()
    at.text_input[0].set_value(str(folder)).run()
    assert not at.exception
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


def test_usage_page_renders_from_the_audit_log(app_env):
    with AuditLog(f"sqlite:///{app_env / 'var/audit.sqlite3'}") as log:
        for q, ms in [("マイナンバーカードの交付状況", 120), ("マイナンバーカードの利用", 300), ("行政手続法の目的", 80),
                      ("標準処理期間", 200)]:
            log.record("tanaka", "question", {"page": "質問", "question": q}, ["laws/x.xml"], latency_ms=ms)
        log.record("tanaka", "feedback", {"page": "質問", "rating": "good", "question": "行政手続法の目的"})
        log.record("suzuki", "feedback", {"page": "質問", "rating": "bad", "question": "標準処理期間"})
        log.record("suzuki", "feedback", {"page": "質問", "rating": "good", "question": "標準処理期間"})
        log.record("sato", "draft", {"page": "答弁作成", "question": "デジタル行政について"}, latency_ms=900)
        log.record("sato", "upload", {"files": ["a.pdf"]})
    at = app(ADMIN).run()
    at.switch_page("ui_usage.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["質問数"] == "4"
    assert metrics["評価「良い」の割合"] == "67%"
    assert metrics["応答時間 p50"] == "0.16 秒"  # median of 80, 120, 200, 300 ms
    assert metrics["応答時間 p95"] == "0.28 秒"
    pages = at.dataframe[0].value
    assert dict(zip(pages["ページ"], pages["件数"])) == {"質問": 7, "答弁作成": 1, "文書管理": 1}
    terms = at.dataframe[1].value
    assert terms.iloc[0]["語"] == "マイナンバーカード" and terms.iloc[0]["質問数"] == 2
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # questions per day
