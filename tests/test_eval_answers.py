"""Answer evaluation: metrics against hand-computed rows, the per-item judging of citations
(support score, the rule checker, an LLM judge that may fail), resume, and a tiny BEIR set cut
from the real 国税庁 FAQ answered end to end through ``gyosei eval answers``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from click.testing import CliRunner

from app.factory import build_answerer
from retrieval.support_judge import SupportVerdict
from eval.answers_eval import ANSWERS_SCHEMA_PATH, _PairJudge, answer_row, evaluate_answers, markdown_answers, summarize
from eval.beir import BeirQuery
from retrieval.answer_types import Answer, AnswerSentence, Source
from retrieval.embedder import HashEmbedder
from retrieval.errors import LLMError
from retrieval.settings import Settings
from retrieval.text.sparse import SparseEncoder
from retrieval.verify import ContradictionChecker

NTA = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "nta_faq"


def _validate(report: dict) -> None:
    jsonschema.validate(json.loads(json.dumps(report)), json.loads(ANSWERS_SCHEMA_PATH.read_text(encoding="utf-8")))


def _sentence(grounded: bool, supports: list[bool]) -> dict:
    return {"grounded": grounded, "cited": [{"supports": s} for s in supports]}


def test_summary_matches_hand_computation():
    rows = [
        # answered: 2 sentences (1 grounded), 3 (sentence, passage) pairs of which 1 supports; gold cited
        {"refused": False, "sentences": [_sentence(True, [True]), _sentence(False, [False, False])],
         "gold_cited": True, "gold_in_sources": True, "latency_s": 1.0},
        # refused: the gold document was among the passages, but nothing was cited
        {"refused": True, "sentences": [], "gold_cited": False, "gold_in_sources": True, "latency_s": 3.0},
        # answered: 1 grounded sentence, 1 supporting pair; another document cited
        {"refused": False, "sentences": [_sentence(True, [True])], "gold_cited": False, "gold_in_sources": False,
         "latency_s": 2.0},
    ]
    m = summarize(rows)
    assert m["groundedness"] == pytest.approx(2 / 3)
    assert m["citation_precision"] == pytest.approx(2 / 4)
    assert m["citation_recall"] == pytest.approx(1 / 2)  # over answered queries
    assert m["gold_cited_all"] == pytest.approx(1 / 3)  # over every query (a refusal cites nothing)
    assert m["gold_in_sources"] == pytest.approx(2 / 3)
    assert (m["answer_rate"], m["refusal_rate"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert m["sentences_per_answer"] == pytest.approx(1.5)
    assert m["latency_p50_s"] == pytest.approx(2.0)
    assert m["latency_p95_s"] == pytest.approx(2.9)  # linear: 2 + 0.9 * (3 - 2)


def test_no_answers_gives_zeros_not_errors():
    m = summarize([{"refused": True, "sentences": [], "gold_cited": False, "gold_in_sources": False, "latency_s": 0.5}])
    assert m["groundedness"] == 0.0 and m["citation_recall"] == 0.0 and m["refusal_rate"] == 1.0


PASSAGE_8 = "消費税の標準税率は8%である。軽減税率の対象は飲食料品である。"
PASSAGE_10 = "令和元年10月1日から消費税の標準税率は10%である。"


class _Judge:
    """Records what it was asked; supports every sentence that occurs verbatim in the passage."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int]] = []

    def judge_source(self, sentences, source):
        self.calls.append((list(sentences), source.n))
        return [{"n": source.n, "doc": source.payload.get("record_id", source.doc_id), "support": 1.0 if s in source.text else 0.0,
                 "conflicts": [], "supports": s in source.text} for s in sentences]


def _answer() -> Answer:
    sources = [
        Source(1, "c1", "corpus:1", "a", PASSAGE_8, 0.9, payload={"record_id": "nta-1"}),
        Source(2, "c2", "corpus:2", "b", PASSAGE_10, 0.8, payload={"record_id": "nta-2"}),
        Source(3, "c3", "corpus:3", "c", "関係のない資料である。", 0.7, payload={"record_id": "nta-3"}),
    ]
    sentences = [
        AnswerSentence("軽減税率の対象は飲食料品である。", [1], 1.0),
        AnswerSentence("令和元年10月1日から消費税の標準税率は10%である。", [1, 2], 0.9),  # [1] does not back it, [2] does
        AnswerSentence("国外の取引は対象外である。", [3], 0.1),
    ]
    return Answer("消費税率は", sentences, sources, "extractive", timings={"search": 0.1, "total": 0.25})


def test_answer_row_judges_each_citation_and_maps_documents_by_record_id():
    judge = _Judge()
    row = answer_row(BeirQuery("q1", "消費税率は"), {"nta-2"}, _answer(), judge)
    assert sorted(judge.calls) == [(["令和元年10月1日から消費税の標準税率は10%である。"], 2),
                                   (["国外の取引は対象外である。"], 3),
                                   (["軽減税率の対象は飲食料品である。", "令和元年10月1日から消費税の標準税率は10%である。"], 1)]
    assert [s["grounded"] for s in row["sentences"]] == [True, True, False]
    assert [[c["supports"] for c in s["cited"]] for s in row["sentences"]] == [[True], [False, True], [False]]
    assert row["cited_docs"] == ["nta-1", "nta-2", "nta-3"] and row["gold_cited"] and row["gold_in_sources"]
    assert row["latency_s"] == 0.25 and row["refused"] is False


def test_pair_judge_flags_a_changed_figure_even_when_the_support_score_is_high():
    scorer = SimpleNamespace(judge=lambda sentence, passage: SupportVerdict("supported", 0.9))  # fooled by word overlap
    judge = _PairJudge(SimpleNamespace(scorer=scorer), ContradictionChecker(HashEmbedder(64), SparseEncoder()), None)
    source = Source(1, "c1", "corpus:1", "a", PASSAGE_8, 0.9, payload={"record_id": "nta-1"})
    ok, changed = judge.judge_source(["軽減税率の対象は飲食料品である。", "消費税の標準税率は10%である。"], source)
    assert ok["supports"] and not ok["conflicts"]
    assert not changed["supports"] and changed["conflicts"][0]["kind"] == "number"


def test_pair_judge_uses_the_llm_judge_and_falls_back_when_it_fails():
    class Flaky:
        def __init__(self):
            self.n = 0

        def judge(self, premise, hypothesis):
            self.n += 1
            if self.n == 2:
                raise LLMError("応答がありません")
            return ("entailment" if "飲食料品" in hypothesis else "neutral"), 0.8

    scorer = SimpleNamespace(judge=lambda sentence, passage: SupportVerdict("supported", 0.9))
    judge = _PairJudge(SimpleNamespace(scorer=scorer), None, Flaky())
    source = Source(1, "c1", "corpus:1", "a", PASSAGE_8, 0.9)
    a, b, c = judge.judge_source(["軽減税率の対象は飲食料品である。", "何か。", "別の文である。"], source)
    assert a["supports"] and a["judge"]["label"] == "entailment"
    assert b["supports"] and "error" in b["judge"]  # the LLM failed: the support score decides
    assert not c["supports"] and c["judge"]["label"] == "neutral"
    assert judge.fallbacks == 1


@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    """Three judged nta_faq queries, their gold records and distractors: 10 real documents."""
    qrels = [line.split("\t") for line in (NTA / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    kept = [(q, d) for q, d, _ in qrels if q in ("nta-q-25", "nta-q-26", "nta-q-31")]
    gold = {d for _, d in kept}
    corpus = (NTA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [line for line in corpus if json.loads(line)["_id"] in gold]
    chosen += [line for line in corpus if json.loads(line)["_id"] not in gold][: 10 - len(chosen)]
    queries = [line for line in (NTA / "queries.jsonl").read_text(encoding="utf-8").splitlines()
               if json.loads(line)["_id"] in {q for q, _ in kept}]
    root = tmp_path / "nta_answers"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in kept),
                                             encoding="utf-8")
    assert len(queries) == 3 and len(gold) == 3
    return root


def test_an_interrupted_answer_run_resumes(tiny_set, tmp_path):
    # The hash embedder's cosines are meaningless: let every passage through the relevance gate.
    settings = Settings.load(index={"path": tmp_path / "var" / "index"}, answer={"min_relevance": -1.0})

    class Stop(Exception):
        pass

    def stop_at_two(stage, done, total):
        if stage == "answer" and done == 2:
            raise Stop

    with pytest.raises(Stop):
        evaluate_answers(tiny_set, settings, build_answerer, embedder=HashEmbedder(64), progress=stop_at_two, llm_judge=False)
    report = evaluate_answers(tiny_set, settings, build_answerer, embedder=HashEmbedder(64), llm_judge=False)
    _validate(report)
    assert report["timings"]["resumed_queries"] == 2 and len(report["per_item"]) == 3
    assert [r["query_id"] for r in report["per_item"]] == ["nta-q-25", "nta-q-26", "nta-q-31"]
    again = evaluate_answers(tiny_set, settings, build_answerer, embedder=HashEmbedder(64), limit=2, llm_judge=False)
    assert again["timings"]["resumed_queries"] == 0 and again["dataset"]["queries_evaluated"] == 2


@pytest.mark.slow
def test_tiny_set_end_to_end_through_the_cli(tiny_set, tmp_path, monkeypatch, model_cache_dir):
    from app.cli import main

    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "var" / "index"))
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    monkeypatch.setenv("GYOSEI_LLM__PROVIDER", "none")
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["eval", "answers", "--dataset", str(tiny_set), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "根拠のある文の割合" in result.output and "応答時間 p95" in result.output
    [json_path] = out.glob("*-answers-nta_answers.json")
    report = json.loads(json_path.read_text(encoding="utf-8"))
    _validate(report)
    assert report["config"]["method"] == ["extractive"] and report["config"]["judge"] == "none"
    assert Path(report["index"]["path"]).is_relative_to(tmp_path / "var" / "eval")
    m = report["metrics"]
    # These FAQ questions are answered from their own records: quoted sentences back themselves.
    assert m["answer_rate"] == 1.0 and m["citation_recall"] == 1.0
    assert m["groundedness"] >= 0.9 and m["citation_precision"] >= 0.9
    assert 0 < m["latency_p50_s"] <= m["latency_p95_s"]
    for row in report["per_item"]:
        assert row["sentences"] and all(s["citations"] for s in row["sentences"])
        assert set(row["cited_docs"]) <= set(row["source_docs"])
    assert (out / json_path.name.replace(".json", ".md")).read_text(encoding="utf-8") == markdown_answers(report)
    png = out / json_path.name.replace(".json", ".metrics.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
