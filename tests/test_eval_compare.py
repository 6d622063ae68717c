"""``gyosei eval compare``: real reports written to disk and read back, deltas per system and
metric, and the refusals (different kinds, different sets) and warnings (changed set files)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from eval.compare import CompareError, compare_reports, flat_metrics, load_report
from eval.report import write_report
from eval.retrieval_eval import evaluate_retrieval
from retrieval.embedder import HashEmbedder
from retrieval.settings import Settings

NTA = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "nta_faq"


def _tiny_beir(root: Path, query_ids: tuple[str, ...] = ("nta-q-25", "nta-q-26", "nta-q-31"), extra: int = 5) -> Path:
    qrels = [line.split("\t") for line in (NTA / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    kept = [(q, d) for q, d, _ in qrels if q in query_ids]
    gold = {d for _, d in kept}
    corpus = (NTA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [line for line in corpus if json.loads(line)["_id"] in gold]
    chosen += [line for line in corpus if json.loads(line)["_id"] not in gold][:extra]
    queries = [line for line in (NTA / "queries.jsonl").read_text(encoding="utf-8").splitlines() if json.loads(line)["_id"] in query_ids]
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("".join(f"{q}\t{d}\t1\n" for q, d in kept), encoding="utf-8")
    return root


def _flat(text: str) -> str:
    """Output without whitespace: rich wraps error lines at 80 columns, wherever it likes."""
    return "".join(text.split())


@pytest.fixture
def two_reports(tmp_path: Path) -> tuple[Path, Path, dict]:
    """A real retrieval report (sparse mode + BM25 on a tiny set) and a copy with changed numbers."""
    settings = Settings.load(index={"path": tmp_path / "var" / "index"})
    report = evaluate_retrieval(_tiny_beir(tmp_path / "nta_cmp"), settings, modes=["sparse"], k=5, baselines=["bm25"],
                                embedder=HashEmbedder(32))
    a_path, _ = write_report(report, tmp_path / "a")
    changed = copy.deepcopy(report)
    changed["metrics"]["sparse"]["ndcg@5"] = round(report["metrics"]["sparse"]["ndcg@5"] - 0.125, 6)
    changed["metrics"]["bm25"]["recall@1"] = round(report["metrics"]["bm25"]["recall@1"] + 0.25, 6)
    b_path, _ = write_report(changed, tmp_path / "b")
    return a_path, b_path, report


def test_deltas_per_system_and_metric(two_reports):
    a_path, b_path, report = two_reports
    comparison = compare_reports(load_report(a_path), load_report(b_path))
    assert comparison.kind == "retrieval" and comparison.dataset == "nta_cmp" and comparison.warnings == []
    deltas = {(r.system, r.metric): r.delta for r in comparison.rows}
    assert len(deltas) == 2 * len(report["metric_names"])
    assert deltas[("sparse", "ndcg@5")] == pytest.approx(-0.125)
    assert deltas[("bm25", "recall@1")] == pytest.approx(0.25)
    assert all(d == 0 for key, d in deltas.items() if key not in {("sparse", "ndcg@5"), ("bm25", "recall@1")})
    # rows follow the report's order: systems as run, metrics as named
    assert [r.metric for r in comparison.rows[: len(report["metric_names"])]] == report["metric_names"]


def test_cli_prints_the_deltas_with_japanese_headers(two_reports):
    a_path, b_path, report = two_reports
    result = CliRunner().invoke(main, ["eval", "compare", str(a_path), str(b_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "システム" in result.output and "差（B−A）" in result.output
    assert "-0.125" in result.output and "+0.250" in result.output
    assert "gyosei sparse" in result.output and "BM25（ベースライン）" in result.output
    # the same report against itself: every delta is zero
    same = CliRunner().invoke(main, ["eval", "compare", str(a_path), str(a_path)], terminal_width=200)
    assert same.exit_code == 0 and "+0.125" not in same.output and same.output.count("+0.000") == 2 * len(report["metric_names"])


def test_a_changed_set_is_compared_with_a_warning(two_reports, tmp_path):
    a_path, b_path, _ = two_reports
    other = json.loads(b_path.read_text(encoding="utf-8"))
    other["dataset"]["fingerprint"] = "0" * 64
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(other, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "compare", str(a_path), str(changed)], terminal_width=200)
    assert result.exit_code == 0
    assert "中身が異なります" in _flat(result.output) and "-0.125" in result.output


def test_reports_of_other_kinds_or_sets_are_refused(two_reports, tmp_path):
    a_path, _, report = two_reports
    other_set = copy.deepcopy(report)
    other_set["dataset"]["name"] = "diet_qa"
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other_set, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "compare", str(a_path), str(other_path)], terminal_width=200)
    assert result.exit_code == 2 and "評価セットの異なるレポートは比較できません" in _flat(result.output)

    nli = tmp_path / "pairs.jsonl"
    nli.write_text(json.dumps({"premise": "予算は3000億円である。", "hypothesis": "予算は2000億円である。", "label": "contradiction"},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    run = CliRunner().invoke(main, ["eval", "nli", "--dataset", str(nli), "--judge", "rules", "--out", str(tmp_path / "n"), "--no-charts"])
    assert run.exit_code == 0, run.output
    [nli_path] = (tmp_path / "n").glob("*.json")
    result = CliRunner().invoke(main, ["eval", "compare", str(a_path), str(nli_path)], terminal_width=200)
    assert result.exit_code == 2 and "種類の異なるレポートは比較できません" in _flat(result.output)
    with pytest.raises(CompareError, match="検索評価、B はNLI 評価"):
        compare_reports(load_report(a_path), load_report(nli_path))


def test_files_that_are_not_reports_are_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "compare", str(bad), str(tmp_path / "missing.json")], terminal_width=200)
    assert result.exit_code == 2 and "bad.json:JSONとして読めません" in _flat(result.output)
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CompareError, match="評価レポート"):
        load_report(tmp_path / "list.json")
    with pytest.raises(CompareError, match="見つかりません"):
        load_report(tmp_path / "missing.json")


def test_answers_reports_compare_latency_as_lower_is_better():
    def answers(p50: float, grounded: float) -> dict:
        return {"kind": "answers", "dataset": {"name": "nta_faq", "fingerprint": "f"},
                "metric_names": ["groundedness", "latency_p50_s"], "metrics": {"groundedness": grounded, "latency_p50_s": p50}}

    comparison = compare_reports(answers(2.0, 0.8), answers(1.5, 0.9))
    assert [(r.system, r.metric, r.delta) for r in comparison.rows] == [
        ("回答", "groundedness", pytest.approx(0.1)), ("回答", "latency_p50_s", pytest.approx(-0.5))]
    assert flat_metrics(answers(1.0, 1.0)) == {("回答", "groundedness"): 1.0, ("回答", "latency_p50_s"): 1.0}
