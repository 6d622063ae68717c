"""``gyosei eval support``: a tiny file with known verdicts (fast, the offline judge), bad input
explained in Japanese, and the real judge on the fixed test split against the targets (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from eval.compare import flat_metrics, load_report
from eval.support_eval import evaluate_support

from .conftest import ROOT
from .support_helpers import offline_judge
from .test_support_judge import FAKE, HEAT, POST

TEST_SPLIT = ROOT / "eval" / "datasets" / "support" / "test.jsonl"
QUOTE = "総務省は引き続き、郵便局におけるマイナンバーカード交付に必要な法律改正の手続を進めている。"
PAIRS = [
    {"id": "quote", "claim": QUOTE, "source": POST, "label": "supported", "kind": "verbatim"},
    {"id": "fake", "claim": FAKE, "source": HEAT, "label": "unsupported", "kind": "inserted"},
    {"id": "other", "claim": "消費税の軽減税率は8%である。", "source": POST, "label": "unsupported", "kind": "other_answer"},
]


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Path:
    import app.factory

    monkeypatch.setattr(app.factory, "build_embedder", lambda settings: None)
    monkeypatch.setattr(app.factory, "build_support_judge", lambda settings, embedder, sparse=None: offline_judge())
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PAIRS), encoding="utf-8")
    return data


def test_eval_support_writes_a_report_with_the_figures_of_a_tiny_file(tiny, tmp_path):
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["eval", "support", "--dataset", str(tiny), "--out", str(out)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.output
    [path] = out.glob("*-support-pairs.json")
    assert (out / (path.stem + ".md")).read_text(encoding="utf-8").startswith("# 裏付け判定の評価: pairs")
    report = load_report(path)
    m = report["metrics"]
    # The quote scores 1.0, both unbacked claims lower and flagged: everything right.
    assert m["roc_auc"] == 1.0 and m["accuracy"] == 1.0
    assert m["unsupported_marked_supported"] == 0.0 and m["supported_flagged"] == 0.0
    assert m["not_supported_precision"] == 1.0 and m["not_supported_recall"] == 1.0
    assert m["by_kind"] == {"inserted": 1.0, "other_answer": 1.0, "verbatim": 1.0}
    fake = next(i for i in report["per_item"] if i["id"] == "fake")
    assert fake["label"] == "unsupported" and "『AIで検出』は出典にありません" in fake["note"]
    assert flat_metrics(report)[("判定", "roc_auc")] == 1.0


def test_eval_support_explains_bad_input_in_japanese(tiny, tmp_path):
    missing = CliRunner().invoke(main, ["eval", "support", "--dataset", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)])
    assert missing.exit_code != 0 and "見つかりません" in missing.output
    one_label = tmp_path / "one.jsonl"
    one_label.write_text(json.dumps(PAIRS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "support", "--dataset", str(one_label), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "両方のペアが必要です" in result.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"claim": "a"}\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "support", "--dataset", str(broken), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "broken.jsonlの1行目" in "".join(result.output.split())  # rich wraps lines


@pytest.mark.slow
def test_the_real_judge_meets_its_targets_on_the_test_split(real_embedder, model_cache_dir):
    """The shipped judge on pairs it was never trained on (their documents and premises are
    held out), real pairs (other answers, FAQ conclusions, NLI) included: ROC AUC >= 0.85 and
    quotes always pass. The two error rates are guarded at 25%: the issue's 20% targets are what
    `gyosei eval support` measures and the closing notes report per CPU; on ~800 pairs a rate
    moves by about two points between machines whose vectors differ in the last bits."""
    from retrieval.support_judge import SupportJudge
    from retrieval.support_model import support_model_from_cache
    from retrieval.text.sparse import SparseEncoder

    judge = SupportJudge(real_embedder, SparseEncoder(), support_model_from_cache(real_embedder, model_cache_dir))
    report = evaluate_support(TEST_SPLIT, judge)
    m = report["metrics"]
    print(json.dumps({k: v for k, v in m.items()}, ensure_ascii=False))
    assert report["dataset"]["pairs"] > 600 and {"other_answer", "faq_conclusion", "nli_neutral"} <= set(m["by_kind"])
    assert m["roc_auc"] >= 0.85
    assert m["unsupported_marked_supported"] <= 0.25
    assert m["supported_flagged"] <= 0.25
    assert m["by_kind"]["verbatim"] == 1.0
    verdict = judge.judge(FAKE, HEAT)  # with the real vectors too
    assert not verdict.supported and "『AIで検出』は出典にありません" in verdict.note
