"""NLI evaluation metrics against hand-computed examples, both input forms, and bad input."""

from __future__ import annotations

import json

import pytest

from eval.nli_eval import NLIEvalError, evaluate_nli, load_pairs, nli_metrics

from .conftest import ROOT

# gold:  E  E  N  C  C  C
# pred:  E  N  N  C  E  N
GOLD = ["entailment", "entailment", "neutral", "contradiction", "contradiction", "contradiction"]
PRED = ["entailment", "neutral", "neutral", "contradiction", "entailment", "neutral"]


def test_metrics_match_hand_computation():
    m = nli_metrics(GOLD, PRED)
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(3 / 6)
    c = m["per_label"]["contradiction"]  # tp 1, fp 0, fn 2
    assert (c["precision"], c["recall"], c["f1"], c["support"]) == (pytest.approx(1.0), pytest.approx(1 / 3), pytest.approx(0.5), 3)
    e = m["per_label"]["entailment"]  # tp 1, fp 1, fn 1
    assert (e["precision"], e["recall"], e["f1"]) == (pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.5))
    n = m["per_label"]["neutral"]  # tp 1, fp 2, fn 0
    assert (n["precision"], n["recall"], n["f1"]) == (pytest.approx(1 / 3), pytest.approx(1.0), pytest.approx(0.5))
    assert m["macro_f1"] == pytest.approx(0.5)
    assert m["confusion"] == {
        "entailment": {"entailment": 1, "neutral": 1, "contradiction": 0},
        "neutral": {"entailment": 0, "neutral": 1, "contradiction": 0},
        "contradiction": {"entailment": 1, "neutral": 1, "contradiction": 1},
    }
    assert m["contradiction_vs_not"] == m["per_label"]["contradiction"]
    assert m["entailment_vs_not"]["accuracy"] == pytest.approx(4 / 6)


def test_nothing_predicted_positive_gives_zero_not_an_error():
    m = nli_metrics(["contradiction", "neutral"], ["neutral", "neutral"])
    assert m["contradiction_vs_not"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}
    assert m["per_label"]["neutral"]["precision"] == pytest.approx(0.5)


class Echo:
    """Predicts whatever the hypothesis says its label is (a deterministic fake judge)."""

    def judge(self, premise, hypothesis):
        return hypothesis.split(":")[0], 0.9


def test_both_input_forms_and_label_aliases(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"id": "a", "premise": "p", "hypothesis": "entailment:x", "label": "entailment"},
        {"id": "b", "source": "p", "claim": "contradiction:x", "label": "refuted"},
        {"id": "c", "source": "p", "claim": "neutral:x", "label": "supported"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = evaluate_nli(path, Echo())
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert [i["gold"] for i in result["items"]] == ["entailment", "contradiction", "entailment"]
    assert result["contradiction_vs_not"]["f1"] == pytest.approx(1.0)


def test_real_nli_file_loads_and_janli_is_two_way():
    pairs = load_pairs(ROOT / "retrieval" / "data" / "nli" / "janli.jsonl")
    assert len(pairs) == 400 and {p["label"] for p in pairs} == {"entailment", "neutral"}


def test_bad_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"premise": "p", "hypothesis": "h", "label": "entailment"}\n{"premise": "p", "label": "x"}\n', encoding="utf-8")
    with pytest.raises(NLIEvalError, match="bad.jsonl:2"):
        load_pairs(path)
    path.write_text('{"premise": "p", "hypothesis": "h", "label": "maybe"}\n', encoding="utf-8")
    with pytest.raises(NLIEvalError, match="不明なラベル"):
        load_pairs(path)
