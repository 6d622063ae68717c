"""The retrieval evaluation end to end on a tiny BEIR set cut from the real 国税庁 FAQ dev set:
product index through the Ingestor, every mode, both baselines, reports, resume, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from eval.report import SCHEMA_PATH, markdown_summary, write_report
from eval.retrieval_eval import evaluate_retrieval
from retrieval.embedder import HashEmbedder
from retrieval.settings import Settings

NTA = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "nta_faq"
N_QUERIES, N_DOCS = 4, 12


@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    """The first 4 judged queries of nta_faq (one has 7 relevant records), their relevant
    documents and distractors from the same corpus: 12 documents in all."""
    qrels = [line.split("\t") for line in (NTA / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    query_ids: list[str] = []
    for qid, _, _ in qrels:
        if qid not in query_ids:
            query_ids.append(qid)
        if len(query_ids) == N_QUERIES:
            break
    kept_qrels = [(q, d) for q, d, _ in qrels if q in query_ids]
    gold = {d for _, d in kept_qrels}
    corpus_lines = (NTA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [line for line in corpus_lines if json.loads(line)["_id"] in gold]
    chosen += [line for line in corpus_lines if json.loads(line)["_id"] not in gold][: N_DOCS - len(chosen)]
    queries = [line for line in (NTA / "queries.jsonl").read_text(encoding="utf-8").splitlines()
               if json.loads(line)["_id"] in query_ids]
    root = tmp_path / "nta_tiny"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in kept_qrels), encoding="utf-8")
    assert len(chosen) == N_DOCS and len(queries) == N_QUERIES and len(gold) >= 7
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose index (and so var/eval) lives in tmp_path, never in the repository."""
    return Settings.load(index={"path": tmp_path / "var" / "index"})


def _validate(report: dict) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(report)), schema)


def test_tiny_set_end_to_end_with_the_fake_embedder(tiny_set, settings, tmp_path):
    stages: set[str] = set()
    report = evaluate_retrieval(tiny_set, settings, k=5, embedder=HashEmbedder(64),
                                progress=lambda stage, done, total: stages.add(stage))
    _validate(report)
    assert report["systems"] == ["dense", "sparse", "hybrid", "bm25", "langchain"]
    assert {"index", "bm25", "langchain", "query:hybrid", "query:langchain"} <= stages
    assert report["dataset"]["documents"] == N_DOCS and report["dataset"]["queries_evaluated"] == N_QUERIES
    # the index went through the product's Ingestor into var/eval beside the configured index
    index_path = Path(report["index"]["path"])
    assert index_path.is_relative_to(tmp_path / "var" / "eval")
    assert report["index"]["documents"] == N_DOCS and report["index"]["chunks"] >= N_DOCS
    assert report["index"]["new_chunks"] == report["index"]["chunks"]
    # per-query rows: one per system and query, with BEIR ids (not the reader's "corpus:" ids)
    rows = report["per_query"]
    assert len(rows) == 5 * N_QUERIES
    corpus_ids = {json.loads(line)["_id"] for line in (tiny_set / "corpus.jsonl").read_text(encoding="utf-8").splitlines()}
    for row in rows:
        assert set(row["retrieved"]) <= corpus_ids and len(row["retrieved"]) == 5
        assert len(set(row["retrieved"])) == len(row["retrieved"])
    # the query with 7 relevant records: recall@5 can be at most 5/7
    many = [r for r in rows if len(r["gold"]) == 7]
    assert len(many) == 5 and all(r["metrics"]["recall@5"] <= 5 / 7 + 1e-9 for r in many)
    # lexical search finds the records whose question the query is (real text, real tokenizer)
    assert report["metrics"]["sparse"]["mrr@5"] >= 0.75
    assert report["metrics"]["bm25"]["mrr@5"] >= 0.75
    assert 0 < report["timings"]["index_s"]
    assert "api_key" not in report["config"]["settings"]["index"]


def test_rerun_reuses_the_index_and_gives_the_same_numbers(tiny_set, settings):
    first = evaluate_retrieval(tiny_set, settings, k=5, embedder=HashEmbedder(64))
    second = evaluate_retrieval(tiny_set, settings, k=5, embedder=HashEmbedder(64))
    assert second["index"]["path"] == first["index"]["path"]
    assert second["index"]["new_chunks"] == 0  # unchanged documents are skipped
    assert second["metrics"] == first["metrics"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "ms"} for r in rows]  # noqa: E731
    assert strip(second["per_query"]) == strip(first["per_query"])


def test_changed_chunk_settings_get_their_own_index(tiny_set, settings):
    first = evaluate_retrieval(tiny_set, settings, modes=["sparse"], baselines=False, embedder=HashEmbedder(64))
    other = settings.model_copy(update={"chunk": settings.chunk.model_copy(update={"size": 200})})
    second = evaluate_retrieval(tiny_set, other, modes=["sparse"], baselines=False, embedder=HashEmbedder(64))
    assert second["index"]["path"] != first["index"]["path"]
    assert second["index"]["chunks"] > first["index"]["chunks"]


def test_an_interrupted_run_resumes_where_it_stopped(tiny_set, settings):
    class Stop(Exception):
        pass

    def stop_in_bm25(stage: str, done: int, total: int | None) -> None:
        if stage == "query:bm25" and done == 2:
            raise Stop

    with pytest.raises(Stop):
        evaluate_retrieval(tiny_set, settings, k=5, embedder=HashEmbedder(64), progress=stop_in_bm25)
    resumed = evaluate_retrieval(tiny_set, settings, k=5, embedder=HashEmbedder(64))
    assert resumed["timings"]["resumed_queries"] == {"dense": 4, "sparse": 4, "hybrid": 4, "bm25": 2, "langchain": 0}
    fresh_settings = Settings.load(index={"path": Path(settings.index.path).parent / "fresh" / "index"})
    fresh = evaluate_retrieval(tiny_set, fresh_settings, k=5, embedder=HashEmbedder(64))
    assert resumed["metrics"] == fresh["metrics"]
    # a finished run leaves no partial file behind: the next run starts afresh
    again = evaluate_retrieval(tiny_set, settings, k=5, embedder=HashEmbedder(64))
    assert set(again["timings"]["resumed_queries"].values()) == {0}


def test_reports_are_written_as_json_and_markdown(tiny_set, settings, tmp_path):
    report = evaluate_retrieval(tiny_set, settings, modes=["hybrid"], k=5, embedder=HashEmbedder(64))
    json_path, md_path = write_report(report, tmp_path / "reports")
    assert json_path.name.endswith("-retrieval-nta_tiny.json") and md_path.suffix == ".md"
    loaded = json.loads(json_path.read_text(encoding="utf-8"))
    _validate(loaded)
    assert loaded["metrics"] == report["metrics"]
    md = md_path.read_text(encoding="utf-8")
    assert md == markdown_summary(report)
    assert "| gyosei hybrid |" in md and "| BM25（ベースライン） |" in md and "ndcg@5" in md


def test_cli_reports_a_missing_dataset_in_japanese(tmp_path, monkeypatch):
    from app.cli import main

    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "var" / "index"))
    result = CliRunner().invoke(main, ["eval", "retrieval", "--dataset", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "評価セットのフォルダが見つかりません" in result.output
    result = CliRunner().invoke(main, ["eval", "retrieval", "--dataset", str(tmp_path), "--modes", "dense,bm25"])
    assert result.exit_code == 2 and "検索モード bm25 は使えません" in result.output


@pytest.mark.slow
def test_cli_end_to_end_with_the_real_model(tiny_set, tmp_path, monkeypatch, model_cache_dir):
    from app.cli import main

    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "var" / "index"))
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["eval", "retrieval", "--dataset", str(tiny_set), "--k", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "検索評価: nta_tiny" in result.output and "gyosei hybrid" in result.output
    (json_path,) = out.glob("*-retrieval-nta_tiny.json")
    report = json.loads(json_path.read_text(encoding="utf-8"))
    _validate(report)
    assert report["config"]["embedder"]["class"] == "SentenceTransformerEmbedder"
    # the real e5 model finds the record a question was asked in
    for system in ("dense", "hybrid", "langchain"):
        assert report["metrics"][system]["mrr@5"] >= 0.75, system
    assert (out / json_path.name.replace(".json", ".md")).exists()
    # embeddings were cached: a second run embeds nothing and gives the same numbers
    result = CliRunner().invoke(main, ["eval", "retrieval", "--dataset", str(tiny_set), "--k", "5", "--out", str(out / "2")])
    assert result.exit_code == 0, result.output
    (second_path,) = (out / "2").glob("*.json")
    second = json.loads(second_path.read_text(encoding="utf-8"))
    assert second["metrics"] == report["metrics"] and second["index"]["new_chunks"] == 0


class _Counting:
    """A HashEmbedder that counts the texts it was asked to embed."""

    def __init__(self) -> None:
        self.inner, self.calls = HashEmbedder(64), 0
        self.dimension = 64

    def embed_documents(self, texts):
        self.calls += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        self.calls += 1
        return self.inner.embed_query(text)


def test_embedding_cache_answers_a_second_process_without_the_model(tmp_path):
    from eval.embed_cache import CachedEmbedder

    texts = ["課税売上割合の計算", "源泉徴収の対象となる報酬", "課税売上割合の計算"]
    first = CachedEmbedder(_Counting(), tmp_path / "c.npz")
    vectors = first.embed_documents(texts)
    query = first.embed_query("課税売上割合の計算")
    first.save()
    assert first.inner.calls == 3  # two distinct passages (a repeat is embedded once) + one query
    second = CachedEmbedder(_Counting(), tmp_path / "c.npz")
    assert second.embed_documents(texts) == vectors and second.embed_query("課税売上割合の計算") == query
    assert second.inner.calls == 0 and second.dimension == 64
    # stored as float32 (the real model's own precision, so its vectors come back exactly)
    assert query == pytest.approx(HashEmbedder(64).embed_query("課税売上割合の計算"), abs=1e-7)


def test_a_new_sparse_configuration_reindexes_from_cached_embeddings(tiny_set, settings):
    from retrieval.text.sparse import SparseEncoder

    embedder = _Counting()
    first = evaluate_retrieval(tiny_set, settings, modes=["hybrid"], baselines=False, embedder=embedder)
    calls = embedder.calls
    second = evaluate_retrieval(tiny_set, settings, modes=["hybrid"], baselines=False, embedder=embedder,
                                sparse=SparseEncoder(compound_pairs=False))
    assert second["index"]["path"] != first["index"]["path"]  # the sparse vectors differ: own index
    assert second["index"]["new_chunks"] == second["index"]["chunks"]
    assert embedder.calls == calls  # every passage and query vector came from the cache
    assert second["config"]["sparse"]["compound_pairs"] is False
