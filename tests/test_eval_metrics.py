"""Retrieval metrics against hand-computed values; the BEIR loader's checks; the BM25 formula."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from eval.baselines import BM25Baseline
from eval.beir import BeirError, CorpusDoc, dataset_fingerprint, load_beir
from eval.metrics import (
    first_relevant_rank,
    mean_metrics,
    metric_names,
    mrr_at_k,
    ndcg_at_k,
    query_metrics,
    rank_documents,
    recall_at_k,
)

L2 = math.log2


# -- ranking documents by their best chunk ----------------------------------------------------------

def test_documents_ranked_by_best_chunk_and_deduplicated():
    hits = [("a", 0.9), ("b", 0.8), ("a", 0.7), ("c", 0.6), ("b", 0.1)]
    assert rank_documents(hits) == ["a", "b", "c"]


def test_unsorted_hits_are_ranked_by_their_best_score():
    assert rank_documents([("a", 0.1), ("b", 0.5), ("a", 0.9)]) == ["a", "b"]


def test_ties_are_broken_by_document_id_whatever_the_retrievers_order():
    # x and y tie at 1.0: the engine may return them in either order; z is better than both.
    assert rank_documents([("y", 1.0), ("x", 1.0), ("z", 2.0)]) == ["z", "x", "y"]
    assert rank_documents([("x", 1.0), ("y", 1.0), ("z", 2.0)]) == ["z", "x", "y"]
    # RRF sums that differ only in the last bits (1/61 + 1/62 in either order) are a tie as well
    a, b = 1 / 61 + 1 / 62, 1 / 62 + 1 / 61 + 1e-15
    assert rank_documents([("q", b), ("p", a)]) == ["p", "q"]


# -- recall ------------------------------------------------------------------------------------------

def test_recall_with_several_relevant_documents():
    ranked = ["a", "b", "c", "d"]
    rel = {"b", "d", "x"}  # x is never retrieved
    assert recall_at_k(ranked, rel, 1) == 0.0
    assert recall_at_k(ranked, rel, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, rel, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, rel, 100) == pytest.approx(2 / 3)


def test_duplicates_in_the_ranking_count_once():
    assert recall_at_k(["a", "a", "b"], {"b"}, 2) == 1.0  # a, b after de-duplication
    assert mrr_at_k(["a", "a", "b"], {"b"}, 10) == 0.5
    assert ndcg_at_k(["b", "b"], {"b", "c"}, 10) == pytest.approx(1 / (1 + 1 / L2(3)))


# -- MRR ---------------------------------------------------------------------------------------------

def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_document():
    ranked = ["a", "b", "c", "d"]
    assert mrr_at_k(ranked, {"c", "d"}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, {"c"}, 2) == 0.0  # beyond the cutoff
    assert mrr_at_k(ranked, {"a"}, 1) == 1.0
    assert first_relevant_rank(ranked, {"d"}) == 4
    assert first_relevant_rank(ranked, {"z"}) is None


# -- nDCG --------------------------------------------------------------------------------------------

def test_ndcg_single_relevant_document_at_rank_two():
    assert ndcg_at_k(["a", "b", "c"], {"b"}, 10) == pytest.approx(1 / L2(3))  # 0.6309


def test_ndcg_several_relevant_documents():
    # relevant at ranks 1 and 4: DCG = 1 + 1/log2(5); ideal = 1 + 1/log2(3)
    value = ndcg_at_k(["a", "b", "c", "d"], {"a", "d"}, 10)
    assert value == pytest.approx((1 + 1 / L2(5)) / (1 + 1 / L2(3)))
    assert value == pytest.approx(0.8772, abs=1e-4)


def test_ndcg_ideal_is_capped_at_k():
    # three relevant documents, k=2: ideal = 1 + 1/log2(3); only rank 1 is relevant
    assert ndcg_at_k(["a", "x", "b"], {"a", "b", "c"}, 2) == pytest.approx(1 / (1 + 1 / L2(3)))
    assert ndcg_at_k(["a", "b"], {"a", "b", "c"}, 2) == 1.0


def test_ndcg_with_a_tie_follows_the_tie_break():
    # gold ties with x; "gold" < "x", so gold ranks first whatever order the engine used
    assert ndcg_at_k(rank_documents([("x", 1.0), ("gold", 1.0)]), {"gold"}, 10) == 1.0
    # gold ties with a (and "a" < "gold"): gold is second, DCG = 1/log2(3)
    assert ndcg_at_k(rank_documents([("gold", 1.0), ("a", 1.0)]), {"gold"}, 10) == pytest.approx(1 / L2(3))


def test_no_relevant_document_retrieved_scores_zero():
    ranked = ["a", "b", "c"]
    assert query_metrics(ranked, {"z"}, 3) == {"recall@1": 0.0, "recall@3": 0.0, "mrr@3": 0.0, "ndcg@3": 0.0}
    assert query_metrics([], {"z"}, 10)["ndcg@10"] == 0.0


def test_a_query_without_relevant_documents_is_undefined():
    for fn in (recall_at_k, mrr_at_k, ndcg_at_k):
        with pytest.raises(ValueError):
            fn(["a"], set(), 10)
    with pytest.raises(ValueError):
        recall_at_k(["a"], {"a"}, 0)


def test_metric_names_and_means():
    assert metric_names(10) == ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]
    assert metric_names(3) == ["recall@1", "recall@3", "mrr@3", "ndcg@3"]
    rows = [query_metrics(["a", "b"], {"a"}, 10), query_metrics(["a", "b"], {"b"}, 10)]
    means = mean_metrics(rows)
    assert means["mrr@10"] == pytest.approx(0.75)
    assert means["recall@1"] == pytest.approx(0.5)
    assert means["ndcg@10"] == pytest.approx((1 + 1 / L2(3)) / 2)
    assert mean_metrics([]) == {}


# -- BM25 against the formula ---------------------------------------------------------------------

class _SplitTerms:
    """Whitespace terms, so BM25 can be checked by hand."""

    def terms(self, text: str) -> list[str]:
        return text.split()


def test_bm25_matches_the_okapi_formula():
    docs = [CorpusDoc("d1", "", "税 控除"), CorpusDoc("d2", "", "税 税 申告 期限"), CorpusDoc("d3", "", "年金")]
    bm25 = BM25Baseline(docs, _SplitTerms(), k1=1.5, b=0.75)
    avgdl = (2 + 4 + 1) / 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # 税 is in 2 of 3 documents

    def term_score(tf: int, dl: int) -> float:
        return idf * tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))

    hits = dict(bm25.search("税 税", depth=10))  # a repeated query term counts once
    assert set(hits) == {"d1", "d2"}  # d3 has no query term: not returned
    assert hits["d1"] == pytest.approx(term_score(1, 2))
    assert hits["d2"] == pytest.approx(term_score(2, 4))
    assert bm25.search("存在しない語", depth=10) == []


# -- the BEIR loader ---------------------------------------------------------------------------------

def _write_set(root: Path, corpus: str, queries: str, qrels: str) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (root / "queries.jsonl").write_text(queries, encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


CORPUS = '{"_id": "d1", "title": "", "text": "消費税の課税売上割合"}\n{"_id": "d2", "title": "t", "text": "所得税の源泉徴収"}\n'
QUERIES = '{"_id": "q1", "text": "課税売上割合とは"}\n{"_id": "q2", "text": "未判定の質問"}\n'


def test_loader_reads_corpus_queries_and_qrels_with_or_without_header(tmp_path):
    with_header = load_beir(_write_set(tmp_path / "a", CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n"))
    without = load_beir(_write_set(tmp_path / "b", CORPUS, QUERIES, "q1\td1\t1\n"))
    for ds in (with_header, without):
        assert [d.doc_id for d in ds.corpus] == ["d1", "d2"]
        assert ds.relevant == {"q1": {"d1"}}  # score 0 is not relevant
        assert [q.query_id for q in ds.judged_queries] == ["q1"]
    assert with_header.fingerprint != without.fingerprint  # the qrels differ
    assert with_header.corpus_fingerprint == without.corpus_fingerprint


def test_fingerprint_changes_with_any_file(tmp_path):
    root = _write_set(tmp_path / "s", CORPUS, QUERIES, "q1\td1\t1\n")
    before = dataset_fingerprint(root)
    assert dataset_fingerprint(root) == before
    (root / "queries.jsonl").write_text(QUERIES + '{"_id": "q3", "text": "追加"}\n', encoding="utf-8")
    assert dataset_fingerprint(root) != before


@pytest.mark.parametrize(
    ("corpus", "queries", "qrels", "expected"),
    [
        (CORPUS + "{壊れた行\n", QUERIES, "q1\td1\t1\n", ["corpus.jsonl 3行目", "JSON"]),
        (CORPUS + '{"_id": "d1", "text": "重複"}\n', QUERIES, "q1\td1\t1\n", ["corpus.jsonl 3行目", "重複", "1行目"]),
        (CORPUS + '{"title": "IDなし", "text": "本文"}\n', QUERIES, "q1\td1\t1\n", ["corpus.jsonl 3行目", "_id"]),
        (CORPUS, '{"_id": "q1", "text": ""}\n', "q1\td1\t1\n", ["queries.jsonl 1行目", "text が空"]),
        (CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td9\t1\n", ["test.tsv 2行目", "d9", "corpus.jsonl にありません"]),
        (CORPUS, QUERIES, "q1\td1\t1\nq9\td1\t1\n", ["test.tsv 2行目", "q9"]),
        (CORPUS, QUERIES, "q1\td1\tはい\n", ["test.tsv 1行目", "数値ではありません"]),
        (CORPUS, QUERIES, "q1\td1\t0\n", ["正解", "1件もありません"]),
    ],
)
def test_loader_errors_name_the_file_and_line(tmp_path, corpus, queries, qrels, expected):
    root = _write_set(tmp_path / "bad", corpus, queries, qrels)
    with pytest.raises(BeirError) as info:
        load_beir(root)
    for part in expected:
        assert part in str(info.value)


def test_loader_reports_missing_files(tmp_path):
    with pytest.raises(BeirError, match="見つかりません"):
        load_beir(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BeirError, match="corpus.jsonl、queries.jsonl がありません"):
        load_beir(tmp_path / "empty")


def test_the_shipped_dev_sets_load():
    root = Path(__file__).resolve().parents[1] / "eval" / "datasets"
    counts = {}
    for name in ("nta_faq", "diet_qa", "lawqa"):
        ds = load_beir(root / name)
        counts[name] = (len(ds.corpus), len(ds.queries), sum(len(v) for v in ds.relevant.values()))
    # the counts stated in eval/datasets/README.md
    assert counts == {"nta_faq": (1848, 921, 928), "diet_qa": (1515, 500, 500), "lawqa": (2074, 61, 97)}
