"""The answerability set through the product's answerer: answered when data_samples answers,
refused when it does not (a floor, measured with the real model on every path it runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.answer import Answerer
from retrieval.search import Searcher
from retrieval.settings import AnswerSettings
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access

from .support_helpers import offline_judge

SET = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "answerability" / "questions.jsonl"
PUBLIC = Access(clearance=3, groups=["all"])


@pytest.mark.slow
def test_answerable_questions_are_answered_from_their_file_and_the_rest_refused(samples_index, real_embedder):
    sparse = SparseEncoder()
    answerer = Answerer(Searcher(samples_index, real_embedder, sparse), real_embedder, offline_judge(sparse),
                        AnswerSettings())
    questions = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    answered, right_file, refused, wrong = 0, 0, 0, []
    for q in questions:
        result = answerer.answer(q["text"], PUBLIC)
        if q["answerable"] and not result.refused:
            answered += 1
            right_file += any(q["file"] in str(s.payload.get("source_path")) for s in result.cited_sources)
        elif not q["answerable"] and result.refused:
            refused += 1
        else:
            wrong.append((q["text"], result.gate_reason or result.text[:60]))
    n_pos = sum(q["answerable"] for q in questions)
    n_neg = len(questions) - n_pos
    print(f"\nanswered {answered}/{n_pos}, cited the right file {right_file}/{n_pos}, refused {refused}/{n_neg}")
    for text, why in wrong:
        print("  wrong:", text, "|", why)
    assert n_pos >= 40 and n_neg >= 30
    # Floors a little under the measured 95.8% / 92.1% (eval/answerability_eval.py): the bf16,
    # int8 and fp32 paths differ in the third decimal of a cosine.
    assert answered / n_pos >= 0.93
    assert refused / n_neg >= 0.89
    assert right_file / n_pos >= 0.85
