"""``gyosei eval drafts``: character ROUGE-L (checked against the textbook dynamic programme), the
date cut-off (no source dated on or after the question's day), and the report on a few real diet_qa
pairs (fast with the hash embedder; slow through the CLI with the real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.compare import flat_metrics
from eval.drafts_eval import evaluate_drafts, lcs_length, markdown_drafts, rouge_l
from retrieval.embedder import HashEmbedder
from retrieval.settings import Settings

DIET_QA = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "diet_qa"


def _lcs_dp(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for ch in a:
        cur = [0]
        for j, other in enumerate(b):
            cur.append(prev[j] + 1 if ch == other else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="あいうえお税率。、", max_size=40), st.text(alphabet="あいうえお税率。、", max_size=40))
def test_lcs_matches_the_dynamic_programme(a: str, b: str):
    assert lcs_length(a, b) == _lcs_dp(a, b) == lcs_length(b, a)


def test_rouge_l_by_hand():
    r = rouge_l("防衛費の財源", "防衛力の財源確保")  # LCS 防衛の財源 = 5
    assert r["precision"] == pytest.approx(5 / 6) and r["recall"] == pytest.approx(5 / 8)
    assert r["f1"] == pytest.approx(2 * (5 / 6) * (5 / 8) / (5 / 6 + 5 / 8))
    assert rouge_l("", "答弁")["f1"] == 0.0 and rouge_l("同じ 文", "同じ文")["f1"] == 1.0


@pytest.fixture
def tiny_pairs(tmp_path: Path) -> Path:
    """Three diet_qa questions of 2025-02, their answers, and 12 other answers (some later)."""
    qrels = [line.split("\t")[:2] for line in (DIET_QA / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    queries = [json.loads(line) for line in (DIET_QA / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = [json.loads(line) for line in (DIET_QA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    gold_of = dict(qrels)
    picked = [q for q in queries if q["metadata"]["date"].startswith("2025-02-1")][:3]
    gold = {gold_of[q["_id"]] for q in picked}
    others = [d for d in corpus if d["_id"] not in gold]
    chosen = [d for d in corpus if d["_id"] in gold] + others[:6] + others[-6:]
    root = tmp_path / "diet_pairs"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in chosen), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in picked), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q['_id']}\t{gold_of[q['_id']]}\t1\n"
                                                                                    for q in picked), encoding="utf-8")
    assert len(picked) == 3
    return root


def test_drafts_report_on_real_pairs_sees_only_earlier_speeches(tiny_pairs, tmp_path):
    # The hash embedder's cosines mean nothing: let every passage through the relevance gate.
    s = Settings.load(index={"path": tmp_path / "var" / "index"}, answer={"min_relevance": -1.0})
    report = evaluate_drafts(tiny_pairs, s, limit=3, embedder=HashEmbedder(64), min_prior=0)
    assert report["kind"] == "drafts" and report["dataset"]["queries_evaluated"] == 3
    for row in report["per_query"]:
        assert row["leaked_sources"] == 0  # nothing dated on or after the question's day
        assert row["gold"] != row["baseline"]["source"]  # the real answer is out of reach
        assert row["draft"]["chars"] > 0 and 0.0 <= row["draft"]["rouge_l_f1"] <= 1.0
        assert row["gold_ministry"]
        assert row["draft"]["spoken"] == []  # the written-style rules leave no spoken form they know
    m = report["metrics"]
    assert set(m) == {"draft", "baseline", "draft_drafted", "baseline_drafted"} and m["draft"]["spoken_per_1000"] == 0.0
    assert report["targets"]["drafted_questions"] == 3 and m["draft_drafted"]["cosine"] == m["draft"]["cosine"]
    assert m["baseline"]["spoken_per_1000"] > 0  # pasted spoken answers keep theirs
    assert ("draft", "cosine") in flat_metrics(report) and m["draft"]["checker_spoken_per_1000"] == 0.0
    md = markdown_drafts(report)
    assert "答弁案の評価" in md and "話し言葉の残り" in md


@pytest.mark.slow
def test_drafts_eval_through_the_cli_with_the_real_model(tiny_pairs, tmp_path, monkeypatch, model_cache_dir):
    from app.cli import main

    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "var" / "index"))
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    monkeypatch.setenv("GYOSEI_LLM__PROVIDER", "none")
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["eval", "drafts", "--dataset", str(tiny_pairs), "--limit", "3", "--min-prior", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "答弁案評価" in result.output and "話し言葉" in result.output
    [json_path] = out.glob("*-drafts-diet_pairs.json")
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert (out / json_path.name.replace(".json", ".md")).exists()
    for row in report["per_query"]:
        assert row["leaked_sources"] == 0
        for system in ("draft", "baseline"):
            assert row[system]["chars"] == 0 or 0.5 < row[system]["cosine"] <= 1.0  # e5 cosines of Japanese texts
    assert report["metrics"]["draft"]["spoken_per_1000"] < 1.0
