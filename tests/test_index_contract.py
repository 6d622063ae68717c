"""One contract for every ``Index``: Qdrant Edge on disk and qdrant-client (server stand-in).

The chunks are real text with deterministic vectors (tests/index_helpers.py). What only the
embedded Edge index does (persistence, the writer lock) is in tests/test_index_edge.py.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from retrieval.errors import IndexError_
from retrieval.types import Access, Filters, Query, SearchMode, SparseVector
from tests.index_helpers import (ADMIN, BY_DOC, CHUNKS, DIM, N_PUBLIC, PUBLIC, RESTRICTED, aim, ids, index_view,
                                 make_index, sparse_of, unique_terms, with_vectors)


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(params=["edge", "qdrant"])
def index(request, tmp_path):
    idx = make_index(request.param, tmp_path)
    idx.upsert(CHUNKS)
    idx.flush()
    yield idx
    idx.close()


# -- the contract -----------------------------------------------------------------------------

def test_upsert_overwrites_same_chunk_id(index):
    assert index.count() == len(CHUNKS)
    changed = replace(BY_DOC["nta:29"], text="差し替え後の本文です。", content_hash="h-new")
    index.upsert([with_vectors(changed)])
    assert index.count() == len(CHUNKS)
    hits = index.search(Query(dense=changed.dense, mode=SearchMode.DENSE), PUBLIC, k=1)
    assert hits[0].chunk_id == changed.chunk_id and hits[0].text == "差し替え後の本文です。"


def test_delete_by_document_returns_removed_count(index):
    assert index.delete("white_paper/r05_chapter5_soumu_ict_policy.txt") == 3
    assert index.delete("white_paper/r05_chapter5_soumu_ict_policy.txt") == 0
    assert index.count() == len(CHUNKS) - 3
    assert "white_paper/r05_chapter5_soumu_ict_policy.txt" not in index.documents()


def test_documents_detects_incomplete_and_mixed_versions(index):
    docs = index.documents()
    wp = docs["white_paper/r05_chapter5_soumu_ict_policy.txt"]
    assert (wp.chunks_found, wp.doc_chunks, wp.complete) == (3, 3, True)
    assert wp.title == "令和5年版 情報通信白書 第5章" and wp.source_path.endswith(".txt")
    # A re-ingest that stopped half-way: chunk 0 is from a new version of the document.
    index.upsert([with_vectors(replace(BY_DOC["white_paper/r05_chapter5_soumu_ict_policy.txt"], ordinal=0,
                                       content_hash="h-wp-v2"))])
    wp = index.documents()["white_paper/r05_chapter5_soumu_ict_policy.txt"]
    assert wp.hashes == {"h-wp-v1", "h-wp-v2"} and not wp.complete
    # Missing chunks: a 4-chunk version of which only two chunks arrived.
    index.delete("white_paper/r05_chapter5_soumu_ict_policy.txt")
    base = BY_DOC["white_paper/r05_chapter5_soumu_ict_policy.txt"]
    index.upsert([with_vectors(replace(base, ordinal=i, doc_chunks=4, content_hash="h-wp-v3")) for i in range(2)])
    wp = index.documents()["white_paper/r05_chapter5_soumu_ict_policy.txt"]
    assert (wp.chunks_found, wp.doc_chunks, wp.complete) == (2, 4, False)


def test_filters_narrow_every_field(index):
    def count(**kw):
        return index.count(PUBLIC, Filters(**kw))

    assert count() == N_PUBLIC
    assert count(doc_types=["faq"]) == 4
    assert count(doc_types=["faq", "white_paper"]) == 7
    assert count(house="参議院") == 8
    assert count(house="参議院", meeting="外交防衛委員会") == 4
    assert count(meeting="財務金融委員会") == 4
    speaker = BY_DOC[ids_of_meeting("外交防衛委員会")[1]].extra["speaker"]
    assert count(speaker=speaker) == sum(c.extra.get("speaker") == speaker for c in CHUNKS)
    assert count(doc_ids=["nta:29", "white_paper/r05_chapter5_soumu_ict_policy.txt"]) == 4
    # Dates are inclusive on both ends; undated chunks (the FAQ) drop out only under a date filter.
    assert count(date_from="2024-08-23", date_to="2024-08-23") == 8
    assert count(date_from="2024-07-30") == 12
    assert count(date_to="2024-07-29") == 3
    assert count(date_from="2023-01-01", doc_types=["faq"]) == 0
    # A date phrase found in a question narrows dated records but keeps undated reference material.
    assert count(date_from="2023-01-01", doc_types=["faq"], keep_undated=True) == 4
    assert count(date_from="2024-08-23", date_to="2024-08-23", keep_undated=True) == 8 + 4
    hits = index.search(Query(dense=aim((BY_DOC["nta:29"], 1.0))), PUBLIC, Filters(doc_types=["diet_speech"],
                        house="衆議院"), k=20)
    assert len(hits) == 4 and {h.payload["meeting"] for h in hits} == {"財務金融委員会"}
    with pytest.raises(IndexError_, match="YYYY-MM-DD"):
        count(date_from="令和6年8月")


def ids_of_meeting(meeting: str) -> list[str]:
    return [c.doc_id for c in CHUNKS if c.extra.get("meeting") == meeting]


@pytest.mark.parametrize("mode", list(SearchMode))
def test_access_rule_hides_restricted_chunks(index, mode):
    for doc_id in RESTRICTED:
        target = BY_DOC[doc_id]
        query = Query(dense=target.dense, sparse=sparse_of(unique_terms(target, 8)), mode=mode)
        assert doc_id not in ids(index.search(query, PUBLIC, k=50))
        assert doc_id not in ids(index.search(query, Access(clearance=2, groups=["soumu"]), k=50))
    assert index.count(PUBLIC) == N_PUBLIC
    assert index.count(PUBLIC, Filters(doc_types=["notice"])) == 0
    assert set(index.documents(PUBLIC)).isdisjoint(RESTRICTED)
    # The right clearance or group opens exactly the matching chunk.
    k3 = BY_DOC["internal/kimitsu3-memo"]
    assert ids(index.search(Query(dense=k3.dense, sparse=k3.sparse, mode=mode), Access(clearance=3), k=1)) == [k3.doc_id]
    fin = BY_DOC["internal/finance-memo"]
    hits = index.search(Query(dense=fin.dense, sparse=fin.sparse, mode=mode), Access(1, ["finance"]), k=50)
    assert fin.doc_id in ids(hits) and k3.doc_id not in ids(hits)
    assert index.count(ADMIN) == len(CHUNKS) == index.count()
    assert set(index.documents(ADMIN)) >= RESTRICTED


def test_dense_sparse_hybrid_ordering(index):
    a, b, c = BY_DOC["nta:29"], CHUNKS[0], CHUNKS[5]  # an FAQ and two Diet speeches
    query = Query(dense=aim((a, 1.0), (c, 0.9)), sparse=sparse_of({**unique_terms(b, 6), **unique_terms(c, 3)}))
    dense = index.search(replace(query, mode=SearchMode.DENSE), PUBLIC, k=5)
    sparse = index.search(replace(query, mode=SearchMode.SPARSE), PUBLIC, k=5)
    hybrid = index.search(replace(query, mode=SearchMode.HYBRID, rrf_k=60), PUBLIC, k=5)
    assert ids(dense)[:2] == [a.doc_id, c.doc_id]
    assert ids(sparse) == [b.doc_id, c.doc_id]  # sparse returns only chunks sharing a term
    assert ids(hybrid)[0] == c.doc_id and set(ids(hybrid)[:3]) == {a.doc_id, b.doc_id, c.doc_id}
    assert all(x.score >= y.score for x, y in zip(hybrid, hybrid[1:]))
    assert hybrid[0].payload["text"] == c.text and hybrid[0].chunk_id == c.chunk_id
    assert hybrid[0].payload["speaker"] == c.extra["speaker"]
    # The RRF constant reaches the engine: scores are sums of 1/(k + rank), ranks counted from 0.
    assert hybrid[0].score == pytest.approx(2 / 61, abs=1e-4)  # second in both branches, k=60
    assert index.search(replace(query, rrf_k=10), PUBLIC, k=1)[0].score == pytest.approx(2 / 11, abs=1e-4)
    # Weighted RRF (Qdrant's formula 1 / ((rank + 1) / w + k - 1)): the sparse weight reaches the engine.
    weighted = index.search(replace(query, rrf_k=10, sparse_weight=2.0), PUBLIC, k=1)[0]
    assert weighted.chunk_id == c.chunk_id and weighted.score == pytest.approx(1 / 11 + 1 / 10, abs=1e-4)
    # Hybrid without sparse terms still answers (dense only); sparse without terms finds nothing.
    assert ids(index.search(Query(dense=a.dense, sparse=SparseVector([], [])), PUBLIC, k=1)) == [a.doc_id]
    assert index.search(Query(sparse=SparseVector([], []), mode=SearchMode.SPARSE), PUBLIC) == []
    with pytest.raises(IndexError_, match="密ベクトル"):
        index.search(Query(sparse=b.sparse, mode=SearchMode.DENSE), PUBLIC)


@pytest.mark.parametrize("mode", [SearchMode.DENSE, SearchMode.SPARSE])
def test_equal_scores_come_in_one_order_in_every_process(index, mode):
    """Copies of one chunk score the same; they must not come back shuffled from run to run."""
    a = BY_DOC["nta:29"]
    index.upsert([replace(a, doc_id=f"copy:{i}") for i in range(8)])
    index.flush()
    hits = [h for h in index.search(Query(dense=a.dense, sparse=a.sparse, mode=mode), PUBLIC, k=20)
            if h.payload["doc_id"].startswith(("copy:", "nta:29"))]
    assert len(hits) == 9 and len({round(h.score, 9) for h in hits}) == 1
    assert [h.chunk_id for h in hits] == sorted(h.chunk_id for h in hits)


def test_a_fusion_tie_comes_in_one_order_in_every_process(index):
    """First in dense and second in sparse, or the other way round: the same RRF score."""
    a, b = BY_DOC["nta:29"], CHUNKS[0]
    query = Query(dense=aim((a, 1.0), (b, 0.9)), sparse=sparse_of({**unique_terms(b, 6), **unique_terms(a, 2)}))
    assert ids(index.search(replace(query, mode=SearchMode.DENSE), PUBLIC, k=2)) == [a.doc_id, b.doc_id]
    assert ids(index.search(replace(query, mode=SearchMode.SPARSE), PUBLIC, k=2)) == [b.doc_id, a.doc_id]
    hybrid = index.search(query, PUBLIC, k=2)
    assert hybrid[0].score == pytest.approx(hybrid[1].score)
    assert [h.chunk_id for h in hybrid] == sorted([a.chunk_id, b.chunk_id])


@pytest.mark.parametrize("mode", list(SearchMode))
def test_hits_carry_their_dense_vector_only_when_asked(index, mode):
    target = BY_DOC["nta:29"]
    query = Query(dense=aim((target, 1.0)), sparse=sparse_of(unique_terms(target, 3)), mode=mode)
    assert all(h.dense is None for h in index.search(query, PUBLIC, k=3))
    query.with_dense = True
    hits = index.search(query, PUBLIC, k=3)
    assert hits and all(h.dense is not None and len(h.dense) == len(target.dense) for h in hits)
    stored = next(h for h in hits if h.chunk_id == target.chunk_id).dense
    cos = sum(a * b for a, b in zip(stored, target.dense))  # unit vectors: cosine is the dot product
    assert cos == pytest.approx(1.0, abs=1e-3)


def test_fetch_returns_the_selected_chunks_in_document_order_under_access(index):
    """Reading a document or the speeches around one: no query vector, every selected chunk."""
    wp = "white_paper/r05_chapter5_soumu_ict_policy.txt"
    fetched = index.fetch(PUBLIC, Filters(doc_ids=[wp, "nta:29"]))
    assert [(h.payload["doc_id"], h.payload["ordinal"]) for h in fetched] == [("nta:29", 0), (wp, 0), (wp, 1), (wp, 2)]
    assert [h.text for h in fetched[1:]] == [c.text for c in CHUNKS if c.doc_id == wp]
    assert all(h.dense is None for h in fetched)
    with_dense = index.fetch(PUBLIC, Filters(doc_ids=["nta:29"]), with_dense=True)
    assert sum(a * b for a, b in zip(with_dense[0].dense, BY_DOC["nta:29"].dense)) == pytest.approx(1.0, abs=1e-3)
    assert len(index.fetch(PUBLIC, Filters(doc_types=["diet_speech"]))) == 12
    assert [h.payload["ordinal"] for h in index.fetch(PUBLIC, Filters(doc_ids=[wp]), limit=2)] == [0, 1]
    # Access applies as in search: restricted documents are not fetched even when named.
    assert index.fetch(PUBLIC, Filters(doc_ids=sorted(RESTRICTED))) == []
    assert ids(index.fetch(Access(1, ["finance"]), Filters(doc_ids=sorted(RESTRICTED)))) == ["internal/finance-memo"]
    assert set(ids(index.fetch(ADMIN, Filters(doc_ids=sorted(RESTRICTED))))) == RESTRICTED


def test_rejects_chunks_without_vectors_or_wrong_dimension(index):
    bad = replace(BY_DOC["nta:29"], dense=[0.1] * (DIM + 1))
    with pytest.raises(IndexError_, match="nta:29"):
        index.upsert([bad])
    with pytest.raises(IndexError_, match="ベクトルがありません"):
        index.upsert([replace(BY_DOC["nta:29"], sparse=None)])


def test_both_backends_answer_the_same(tmp_path):
    edge, server = make_index("edge", tmp_path), make_index("qdrant", tmp_path)
    try:
        for idx in (edge, server):
            idx.upsert(CHUNKS)
            idx.flush()
        rng = random.Random(7)
        for target in rng.sample(CHUNKS, 6):
            # Sparse terms unique to three chunks with distinct weights: engines may order equal
            # scores differently, and under RRF a swapped tie changes the fused scores.
            other1, other2 = rng.sample([c for c in CHUNKS if c is not target], 2)
            terms = {**unique_terms(target, 3), **{t: 0.7 for t in unique_terms(other1, 2)},
                     **{t: 0.4 for t in unique_terms(other2, 1)}}
            query = Query(dense=aim((target, 1.0), (rng.choice(CHUNKS), 0.5)), sparse=sparse_of(terms),
                          rrf_k=rng.choice([60, 20]))
            for mode in SearchMode:
                for access, flt in ((PUBLIC, None), (ADMIN, Filters(date_from="2024-01-01"))):
                    got = [index_view(i.search(replace(query, mode=mode), access, flt, k=8)) for i in (edge, server)]
                    assert got[0] == got[1], (mode, target.doc_id)
        assert edge.documents(PUBLIC) == server.documents(PUBLIC)
        assert edge.count(PUBLIC, Filters(house="参議院")) == server.count(PUBLIC, Filters(house="参議院")) == 8
    finally:
        edge.close()
        server.close()
