"""``gyosei eval nli`` and ``gyosei eval charts``: a tiny labelled file with hand-computed
metrics, the generated altered-sentence set, the classifier on held-out pairs, and the PNG charts
and hardest-queries section written next to reports (with and without a Japanese font)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from app.cli import main
from app.cli_eval import _is_training_file
from eval import charts
from eval.nli_report import NLI_SCHEMA_PATH
from eval.report import write_report
from eval.retrieval_eval import evaluate_retrieval
from retrieval.embedder import HashEmbedder
from retrieval.nli import DEFAULT_NLI_DIR
from retrieval.settings import Settings

from .test_eval_compare import _tiny_beir

PNG = b"\x89PNG\r\n\x1a\n"

# gold: C E N C ; the rule checker answers: C N N C (it never says "entailment")
PAIRS = [
    {"id": "fig", "premise": "令和6年度の予算は3000億円である。", "hypothesis": "令和6年度の予算は2000億円である。", "label": "contradiction"},
    {"id": "same", "premise": "行政手続法は公正の確保を目的とする。", "hypothesis": "行政手続法は公正の確保を目的とする。", "label": "entailment"},
    {"id": "other", "premise": "消費税の申告期限は3月31日である。", "hypothesis": "本日の委員会は散会いたします。", "label": "neutral"},
    {"id": "neg", "source": "本制度は来年度から実施します。", "claim": "本制度は来年度から実施しません。", "label": "refuted"},
]


def _validate(report: dict) -> None:
    jsonschema.validate(json.loads(json.dumps(report)), json.loads(NLI_SCHEMA_PATH.read_text(encoding="utf-8")))


def _only_report(folder: Path) -> dict:
    [path] = folder.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "var" / "index"))  # partial files stay in tmp_path
    return tmp_path


def test_nli_rules_on_a_tiny_file_matches_hand_computation(env):
    data = env / "pairs.jsonl"
    data.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PAIRS), encoding="utf-8")
    out = env / "reports"
    result = CliRunner().invoke(main, ["eval", "nli", "--dataset", str(data), "--judge", "rules", "--out", str(out)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "正解率 0.750" in result.output
    report = _only_report(out)
    _validate(report)
    m = report["metrics"]
    assert m["n"] == 4 and m["accuracy"] == pytest.approx(0.75)
    assert m["per_label"]["contradiction"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "predicted": 2}
    assert (m["per_label"]["neutral"]["precision"], m["per_label"]["neutral"]["recall"]) == (0.5, 1.0)
    assert m["per_label"]["neutral"]["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["per_label"]["entailment"]["f1"] == 0.0 and m["per_label"]["entailment"]["support"] == 1
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3, abs=1e-6)
    assert m["confusion"] == {"entailment": {"entailment": 0, "neutral": 1, "contradiction": 0},
                              "neutral": {"entailment": 0, "neutral": 1, "contradiction": 0},
                              "contradiction": {"entailment": 0, "neutral": 0, "contradiction": 2}}
    assert [i["pred"] for i in report["per_item"]] == ["contradiction", "neutral", "neutral", "contradiction"]
    assert report["per_item"][3]["premise"] == "本制度は来年度から実施します。"  # the claim/source form
    assert report["dataset"]["split"] == "all" and report["config"]["judge"]["name"] == "rules"
    md = next(out.glob("*.md")).read_text(encoding="utf-8")
    assert "| contradiction | 1.000 | 1.000 | 1.000 | 2 |" in md and "混同行列" in md
    assert next(out.glob("*.confusion.png")).read_bytes()[:8] == PNG


def test_nli_bad_input_and_missing_llm_are_explained_in_japanese(env, monkeypatch):
    bad = env / "bad.jsonl"
    bad.write_text('{"premise": "a", "hypothesis": "b", "label": "maybe"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "nli", "--dataset", str(bad), "--judge", "rules"])
    assert result.exit_code == 2 and "不明なラベル" in "".join(result.output.split())
    result = CliRunner().invoke(main, ["eval", "nli", "--dataset", str(env / "none.jsonl"), "--judge", "rules"])
    assert result.exit_code == 2 and "見つかりません" in "".join(result.output.split())
    monkeypatch.setenv("GYOSEI_LLM__PROVIDER", "none")
    good = env / "good.jsonl"
    good.write_text(json.dumps(PAIRS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "nli", "--dataset", str(good), "--judge", "llm"])
    assert result.exit_code == 2 and "LLMが設定されていないため" in "".join(result.output.split())


def test_nli_on_the_generated_altered_set(env):
    out = env / "reports"
    result = CliRunner().invoke(main, ["eval", "nli", "--dataset", "altered", "--judge", "rules", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = _only_report(out)
    _validate(report)
    by_kind = report["metrics"]["by_kind"]
    assert {"number", "date", "negation", "same", "numerals", "era", "neighbor"} <= set(by_kind)
    # the rules must not flag a sentence quoted as is; they catch most changed figures
    assert by_kind["same"] == 1.0 and by_kind["number"] >= 0.8
    assert report["dataset"]["name"] == "altered" and report["dataset"]["pairs"] > 300


def test_training_files_are_recognised_by_content(tmp_path):
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes((DEFAULT_NLI_DIR / "janli.jsonl").read_bytes())
    assert _is_training_file(str(copy))
    copy.write_text("{}\n", encoding="utf-8")
    assert not _is_training_file(str(copy)) and not _is_training_file(str(tmp_path / "missing.jsonl"))


@pytest.mark.slow
def test_classifier_on_held_out_janli_matches_its_training_report(env, model_cache_dir, monkeypatch):
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    out = env / "reports"
    result = CliRunner().invoke(main, ["eval", "nli", "--dataset", str(DEFAULT_NLI_DIR / "janli.jsonl"), "--judge", "classifier",
                                       "--held-out", "--out", str(out), "--no-charts"])
    assert result.exit_code == 0, result.output
    report = _only_report(out)
    _validate(report)
    assert report["dataset"]["split"] == "held_out" and report["dataset"]["pairs_in_file"] == 400
    folder = model_cache_dir / "nli" / report["config"]["judge"]["folder"]
    trained = json.loads((folder / "report.json").read_text(encoding="utf-8"))["held_out"]["janli"]
    assert report["dataset"]["pairs"] == trained["n"]  # the same premise-grouped split as training
    # the same pairs, embedded one batch differently (bf16): nearly the same accuracy
    assert report["metrics"]["entailment_vs_not"]["accuracy"] == pytest.approx(trained["entailment_vs_not_accuracy"], abs=0.03)


@pytest.fixture
def retrieval_report(tmp_path) -> Path:
    settings = Settings.load(index={"path": tmp_path / "var" / "index"})
    report = evaluate_retrieval(_tiny_beir(tmp_path / "nta_chart"), settings, modes=["sparse", "hybrid"], k=5,
                                baselines=["bm25"], embedder=HashEmbedder(32))
    json_path, _ = write_report(report, tmp_path / "reports")
    return json_path


def test_charts_for_a_retrieval_report(retrieval_report):
    result = CliRunner().invoke(main, ["eval", "charts", str(retrieval_report)])
    assert result.exit_code == 0, result.output
    png = retrieval_report.with_suffix(".metrics.png")
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000
    md = retrieval_report.with_suffix(".md").read_text(encoding="utf-8")
    assert "## 難しい質問（gyosei hybrid" in md
    section = md.split("## 難しい質問")[1]
    assert section.count("| nta-q-") == 3  # every query of the tiny set, worst first
    assert "消費税" in section or "課税" in section  # query texts read back from the set
    # drawing again replaces the PNG but does not repeat the section
    CliRunner().invoke(main, ["eval", "charts", str(retrieval_report)])
    assert retrieval_report.with_suffix(".md").read_text(encoding="utf-8").count("## 難しい質問") == 1


def test_hardest_queries_order_worst_rank_first():
    report = {"systems": ["hybrid"], "dataset": {"path": "/nonexistent"}, "per_query": [
        {"system": "hybrid", "query_id": "a", "gold": ["d1"], "retrieved": ["d1"], "first_gold_rank": 1},
        {"system": "hybrid", "query_id": "b", "gold": ["d2"], "retrieved": ["d9", "d8", "d7", "d6"], "first_gold_rank": None},
        {"system": "hybrid", "query_id": "c", "gold": ["d3"], "retrieved": ["d5", "d3"], "first_gold_rank": 2},
    ]}
    system, rows = charts.hardest_queries(report, n=2)
    assert system == "hybrid" and [r["query_id"] for r in rows] == ["b", "c"]
    assert [d["id"] for d in rows[0]["retrieved"]] == ["d9", "d8", "d7"]  # what came instead, top 3
    assert "| b |  | 圏外 |" in charts.hardest_markdown(system, rows)


def test_without_a_japanese_font_charts_fall_back_to_ascii_with_a_warning(retrieval_report, monkeypatch):
    monkeypatch.setattr(charts, "japanese_font", lambda *a, **k: None)
    files, warnings = charts.write_charts(json.loads(retrieval_report.read_text(encoding="utf-8")), retrieval_report)
    assert warnings == [charts.NO_FONT_WARNING] and "fonts-ipafont" in warnings[0]
    assert files[0].read_bytes()[:8] == PNG

