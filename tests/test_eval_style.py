"""``gyosei eval style``: recall on the departures set (every group, at least 60 sentences, at
least 95% found), findings per 1,000 characters on clean texts, the hand review, the report
(JSON and Markdown, comparable with ``eval compare``) and clear errors for bad files."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from app.cli import main
from eval.compare import compare_reports, load_report
from eval.style_eval import (DEFAULT_SET, Corpus, StyleEvalError, evaluate_style, load_departures, markdown_style,
                             written_parts)
from retrieval.style import StyleChecker

from .conftest import ROOT, SAMPLES

CHECKER = StyleChecker()


def test_the_departures_set_covers_every_group_and_the_checker_finds_95_percent():
    items = load_departures(ROOT / DEFAULT_SET, set(CHECKER.rules.groups))
    assert len(items) >= 60
    assert {d["group"] for i in items for d in i["departures"]} == set(CHECKER.rules.groups)
    report = evaluate_style(CHECKER, ROOT / DEFAULT_SET, [Corpus("x", "政府としては、対応してまいります。")])
    assert report["metrics"]["recall"] >= 0.95, report["recall"]["misses"]
    assert all(v["recall"] >= 0.9 for v in report["recall"]["per_group"].values())


def test_recall_false_alarms_and_review_on_a_small_set(tmp_path):
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": "a", "text": "確認する事が重要です。", "departures": [{"group": "keishiki", "span": "事"}]},
        {"id": "b", "text": "申請の手続きを行います。ちょっと待つ。", "departures": [{"group": "okurigana", "span": "手続き"},
                                                                      {"group": "hanashi", "span": "待つ"}]},
    ]) + "\n", encoding="utf-8")
    clean = Corpus("clean", "政府としては、関係機関と連携してまいります。\n事故が起きた時は連絡します。\n" * 10)
    review = tmp_path / "r.jsonl"
    first = clean.text.index("時")
    review.write_text(json.dumps({"corpus": "clean", "rule": "keishiki-toki", "start": first, "text": "時", "verdict": "real"},
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    report = evaluate_style(CHECKER, dataset, [clean], review, {"before": "確認する事です。", "after": "確認することです。"})
    rec = report["recall"]
    assert (rec["found"], rec["departures"]) == (2, 3) and rec["misses"][0]["span"] == "待つ"
    assert [x["rule"] for x in rec["unexpected"]] == ["hanashi-chotto"]  # found, but not where the set said
    fa = report["false_alarms"]["corpora"]["clean"]
    assert fa["findings"] == 10 and fa["by_rule"] == {"keishiki-toki": 10}
    assert fa["per_1000"] == pytest.approx(10 * 1000 / len(clean.text))
    rv = report["review"]
    assert rv["size"] == 10 and rv["reviewed"] == 1 and rv["precision"] == 1.0
    assert report["drafts"]["before"]["findings"] == 1 and report["drafts"]["after"]["findings"] == 0
    md = markdown_style(report)
    assert "再現率" in md and "未確認" in md and "本当の逸脱" in md and "答弁案（自動修正前）" in md


def test_bad_files_name_the_file_and_the_line(tmp_path):
    groups = set(CHECKER.rules.groups)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "本文", "departures": [{"group": "keishiki", "span": "ない"}]}\n', encoding="utf-8")
    with pytest.raises(StyleEvalError, match=r"bad.jsonl 1行目: span「ない」"):
        load_departures(bad, groups)
    bad.write_text('{"id": "a", "text": "本文", "departures": [{"group": "magic", "span": "本"}]}\n', encoding="utf-8")
    with pytest.raises(StyleEvalError, match=r"group 'magic'"):
        load_departures(bad, groups)
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(StyleEvalError, match=r"1行目: JSON"):
        load_departures(bad, groups)
    with pytest.raises(StyleEvalError, match="見つかりません"):
        load_departures(tmp_path / "none.jsonl", groups)


def test_written_parts_drop_markdown_furniture():
    md = "## 見出し\n| 表 | 列 |\n- 詳しくは[こちら](https://example.jp/a_(b))を御覧ください。![図](x.png)\n<br>本文です。https://x.jp"
    assert written_parts(md) == "見出し\n詳しくはこちらを御覧ください。\n本文です。"


def _small_data_dir(tmp_path):
    data = tmp_path / "data"
    (data / "white_paper").mkdir(parents=True)
    text = (SAMPLES / "white_paper/r05_chapter5_soumu_ict_policy.txt").read_text(encoding="utf-8")
    (data / "white_paper/wp.txt").write_text(text[:4000], encoding="utf-8")
    (data / "laws").mkdir()
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", data / "laws")
    (data / "nta").mkdir()
    lines = (SAMPLES / "nta/nta_qa.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    (data / "nta/nta_qa.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "digital_agency").mkdir()
    shutil.copy(SAMPLES / "digital_agency/499_appendix_FAQ.md", data / "digital_agency")
    return data


def test_the_command_writes_a_report_that_eval_compare_reads(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the default dataset and review paths are relative to the repository
    data = _small_data_dir(tmp_path)
    out = tmp_path / "reports"
    runner = CliRunner()
    first = runner.invoke(main, ["eval", "style", "--no-drafts", "--data-dir", str(data), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "再現率" in first.output and "人手確認の適合率" in first.output
    [json_path] = sorted(out.glob("*-style-style.json"))
    report = load_report(json_path)
    assert report["kind"] == "style" and set(report["false_alarms"]["corpora"]) == {"white_paper", "laws", "nta_faq", "digital_agency_faq"}
    assert report["false_alarms"]["corpora"]["laws"]["horizontal"] is False and report["false_alarms"]["corpora"]["laws"]["chars"] > 10_000
    assert json_path.with_suffix(".md").read_text(encoding="utf-8").startswith("# 公用文チェックの評価")
    comparison = compare_reports(report, report)
    assert any(r.metric == "recall" and r.delta == 0 for r in comparison.rows)
    missing = runner.invoke(main, ["eval", "style", "--no-drafts", "--data-dir", str(tmp_path / "none"), "--out", str(out)])
    assert missing.exit_code == 2 and "none" in missing.output
