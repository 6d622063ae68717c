"""GyoseiRetriever: the index as a LangChain retriever, over real chunks from data_samples/.

Both index implementations (Qdrant Edge on disk, qdrant-client ``:memory:``) are filled with NTA
Q&As, Diet speeches and two restricted memos, embedded by the deterministic ``HashEmbedder`` and
the real fugashi ``SparseEncoder``; one slow test uses the real embedding model.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from pydantic import ValidationError
from qdrant_client import QdrantClient

from retrieval.citation import describe_source
from retrieval.embedder import HashEmbedder
from retrieval.index.edge import EdgeIndex
from retrieval.index.qdrant import QdrantIndex
from retrieval.langchain_retriever import GyoseiRetriever, hit_to_document
from retrieval.search import Searcher
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, Chunk, Filters, Hit, SearchMode

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"  # copies of shared/corpus
PUBLIC = Access(clearance=1, groups=["all"])
FINANCE = Access(clearance=1, groups=["all", "finance"])
TOP_SECRET = Access(clearance=3, groups=["all"])
RESTRICTED = {"internal/finance-memo", "internal/kimitsu3-memo"}


def nta_records() -> dict[str, dict]:
    lines = (SAMPLES / "nta" / "nta_qa.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines[:24])}


NTA = nta_records()
# The restricted memos repeat, word for word, the question of an FAQ that is NOT in the index:
# a public user asking exactly that question must still never see them.
SECRET_TOPIC = NTA.pop("550")["question"]  # 漢方薬やビタミン剤の購入費用は、医療費控除の対象になりますか。
FINANCE_TOPIC = NTA.pop("544")["question"]  # 医師やナースセンターに対する贈物の購入費用


def corpus_chunks() -> list[Chunk]:
    chunks = [
        Chunk(doc_id=f"nta:{r['id']}", ordinal=0, text=(r["question"] + "\n" + r["answer"])[:450],
              title=r["title"], doc_type="faq", source_url=r.get("url"), groups=["all"],
              content_hash=f"h-nta-{r['id']}")
        for r in NTA.values()
    ]
    records = json.loads((SAMPLES / "kokkai" / "ndl_speech_121304376X02420240823.json").read_text(encoding="utf-8"))
    for r in records["speechRecord"][4:10]:
        chunks.append(Chunk(
            doc_id=f"kokkai:{r['speechID']}", ordinal=0, text=r["speech"].replace("\r\n", "\n")[:450],
            title=f"{r['nameOfHouse']} {r['nameOfMeeting']} {r['issue']}", doc_type="diet_speech",
            section=r["speaker"], date=r["date"], source_url=r["speechURL"], groups=["all"],
            content_hash=f"h-{r['speechID']}",
            extra={"house": r["nameOfHouse"], "meeting": r["nameOfMeeting"], "speaker": r["speaker"],
                   "speaker_position": r.get("speakerPosition") or "", "speech_order": r["speechOrder"]},
        ))
    chunks.append(Chunk(doc_id="internal/finance-memo", ordinal=0, text="【財務課限り】" + FINANCE_TOPIC,
                        title="財務課内部資料", doc_type="notice", date="2024-08-01", groups=["finance"],
                        content_hash="h-fin"))
    chunks.append(Chunk(doc_id="internal/kimitsu3-memo", ordinal=0, text="【機密性3】" + SECRET_TOPIC,
                        title="内部検討メモ（機密性3）", doc_type="notice", date="2024-08-01", confidentiality=3,
                        groups=["all"], content_hash="h-k3"))
    return chunks


CHUNKS = corpus_chunks()
BY_DOC = {c.doc_id: c for c in CHUNKS}


def embedded(chunks: list[Chunk], embedder, sparse: SparseEncoder) -> list[Chunk]:
    vectors = embedder.embed_documents([c.text for c in chunks])
    for c, dense, sp in zip(chunks, vectors, sparse.encode_many([c.text for c in chunks])):
        c.dense, c.sparse = list(dense), sp
    return chunks


def make_index(kind: str, tmp_path: Path, dimension: int):
    if kind == "edge":
        return EdgeIndex(tmp_path / "edge", dimension)
    return QdrantIndex(QdrantClient(":memory:"), "gyosei", dimension, close_client=True)


@pytest.fixture(scope="module")
def sparse_encoder() -> SparseEncoder:
    return SparseEncoder()


@pytest.fixture(scope="module", params=["edge", "qdrant"])
def searcher(request, tmp_path_factory, sparse_encoder):
    """One filled index per backend for the whole module: the retriever only reads."""
    embedder = HashEmbedder(64)
    index = make_index(request.param, tmp_path_factory.mktemp("index"), embedder.dimension)
    index.upsert(embedded([c for c in corpus_chunks()], embedder, sparse_encoder))
    index.flush()
    yield Searcher(index, embedder, sparse_encoder)
    index.close()


def doc_ids(docs: list[Document]) -> list[str]:
    return [d.metadata["doc_id"] for d in docs]


# -- invoke and metadata ------------------------------------------------------------------------

def test_invoke_returns_cited_documents(searcher):
    target = BY_DOC["nta:522"]  # 転地療養のための費用
    retriever = GyoseiRetriever(searcher=searcher, access=PUBLIC, k=3)
    docs = retriever.invoke(NTA["522"]["question"])
    assert 1 <= len(docs) <= 3
    top = docs[0]
    assert isinstance(top, Document)
    assert top.metadata["doc_id"] == "nta:522" and top.page_content == target.text
    assert top.id == target.chunk_id == top.metadata["chunk_id"]
    assert "text" not in top.metadata
    assert top.metadata["citation"] == describe_source(target.payload()) == "転地療養のための費用"
    assert top.metadata["title"] == "転地療養のための費用" and top.metadata["doc_type"] == "faq"
    assert [d.metadata["rank"] for d in docs] == list(range(1, len(docs) + 1))  # ranks, never raw scores
    assert "score" not in top.metadata


def test_diet_speech_citation_names_meeting_speaker_and_date(searcher):
    speech = next(c for c in CHUNKS if c.doc_type == "diet_speech" and c.extra["speaker"] == "植田和男")
    retriever = GyoseiRetriever(searcher=searcher, access=PUBLIC, filters=Filters(doc_types=["diet_speech"]), k=8)
    docs = retriever.invoke("植田総裁 株価や為替の変動 経済指標の下振れ")
    assert docs and set(d.metadata["doc_type"] for d in docs) == {"diet_speech"}
    hit = next(d for d in docs if d.metadata["doc_id"] == speech.doc_id)
    citation = hit.metadata["citation"]
    assert "衆議院 財務金融委員会" in citation and "植田和男" in citation and "2024-08-23" in citation
    assert hit.metadata["speaker"] == "植田和男" and hit.metadata["date"] == "2024-08-23"
    assert hit.metadata["source_url"].startswith("https://kokkai.ndl.go.jp/")


def test_modes_and_k_are_checked_at_construction(searcher):
    sparse = GyoseiRetriever(searcher=searcher, access=PUBLIC, mode="sparse", k=2)
    assert sparse.mode is SearchMode.SPARSE
    assert doc_ids(sparse.invoke(NTA["368"]["question"]))[0] == "nta:368"  # 広告請負に係る内外判定
    with pytest.raises(ValidationError):
        GyoseiRetriever(searcher=searcher, access=PUBLIC, mode="keyword")
    with pytest.raises(ValidationError):
        GyoseiRetriever(searcher=searcher, access=PUBLIC, k=0)


def test_access_is_required():
    with pytest.raises(ValidationError, match="access"):
        GyoseiRetriever(searcher=object())


# -- access control through the retriever --------------------------------------------------------

@pytest.mark.parametrize("mode", list(SearchMode))
def test_restricted_chunks_never_reach_users_without_the_group_or_clearance(searcher, mode):
    for question in (SECRET_TOPIC, FINANCE_TOPIC, "【機密性3】" + SECRET_TOPIC, "【財務課限り】" + FINANCE_TOPIC):
        for access in (PUBLIC, Access(clearance=2, groups=["all", "soumu"]), Access(clearance=1, groups=[])):
            retriever = GyoseiRetriever(searcher=searcher, access=access, mode=mode, k=50)
            assert RESTRICTED.isdisjoint(doc_ids(retriever.invoke(question))), (question, access)
    # The right group or clearance opens exactly the matching memo, ranked first for its own text.
    finance = GyoseiRetriever(searcher=searcher, access=FINANCE, mode=mode, k=50).invoke("【財務課限り】" + FINANCE_TOPIC)
    assert doc_ids(finance)[0] == "internal/finance-memo" and "internal/kimitsu3-memo" not in doc_ids(finance)
    secret = GyoseiRetriever(searcher=searcher, access=TOP_SECRET, mode=mode, k=50).invoke("【機密性3】" + SECRET_TOPIC)
    assert doc_ids(secret)[0] == "internal/kimitsu3-memo" and "internal/finance-memo" not in doc_ids(secret)
    assert secret[0].metadata["confidentiality"] == 3


# -- composition in LangChain ------------------------------------------------------------------

def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{i}] {d.metadata['citation']}\n{d.page_content}" for i, d in enumerate(docs, 1))


def test_composes_in_lcel_chains(searcher):
    retriever = GyoseiRetriever(searcher=searcher, access=PUBLIC, k=2)
    chain = retriever | RunnableLambda(format_docs)
    context = chain.invoke(NTA["390"]["question"])  # 共同事業の計算期間が構成員の課税期間と異なる場合
    assert context.startswith("[1] 共同事業の計算期間が構成員の課税期間と異なる場合の取扱い\n")
    assert "[2] " in context and "[3] " not in context

    # The usual RAG shape: a dict of runnables feeding a prompt-building step.
    rag = {"context": retriever | format_docs, "question": RunnablePassthrough()} | RunnableLambda(
        lambda d: f"資料:\n{d['context']}\n\n質問: {d['question']}"
    )
    prompt = rag.invoke(NTA["321"]["question"])  # 輸入物品について海外の購入先から受ける割戻し
    assert prompt.endswith("質問: " + NTA["321"]["question"])
    assert "[1] 輸入物品について海外の購入先から受ける割戻し" in prompt

    batch = retriever.batch([NTA["522"]["question"], NTA["368"]["question"]])
    assert [docs[0].metadata["doc_id"] for docs in batch] == ["nta:522", "nta:368"]
    docs = asyncio.run(retriever.ainvoke(NTA["271"]["question"]))  # async runs the same search
    assert docs[0].metadata["doc_id"] == "nta:271"


def test_hit_to_document_keeps_payload_fields_and_drops_text():
    chunk = BY_DOC["internal/finance-memo"]
    doc = hit_to_document(Hit(chunk_id=chunk.chunk_id, score=0.5, payload=chunk.payload()), rank=3)
    assert doc.page_content == chunk.text and doc.id == chunk.chunk_id
    assert doc.metadata["groups"] == ["finance"] and doc.metadata["rank"] == 3
    assert doc.metadata["citation"] == "財務課内部資料 ／ 2024-08-01"
    assert set(doc.metadata) == (set(chunk.payload()) - {"text"}) | {"rank", "citation"}


# -- the real model ------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_japanese_question_finds_the_right_document_first(tmp_path, real_embedder, sparse_encoder):
    index = EdgeIndex(tmp_path / "edge", real_embedder.dimension)
    try:
        index.upsert(embedded(corpus_chunks(), real_embedder, sparse_encoder))
        index.flush()
        retriever = GyoseiRetriever(searcher=Searcher(index, real_embedder, sparse_encoder), access=PUBLIC, k=3)
        # Paraphrases, not the FAQ's own wording.
        cases = {
            "子どもの療養で海辺の別荘を借りた家賃は医療費控除になりますか": "nta:522",
            "海外の仕入先から後でリベートを受け取ったときの消費税の扱い": "nta:321",
            "バス会社がデイサービスの利用者を送迎する場合の消費税": "nta:42",
        }
        for question, expected in cases.items():
            docs = retriever.invoke(question)
            assert docs[0].metadata["doc_id"] == expected, (question, doc_ids(docs))
            assert docs[0].metadata["citation"] == BY_DOC[expected].title
        # The public user never sees the memos, even asking in their own words.
        assert RESTRICTED.isdisjoint(doc_ids(GyoseiRetriever(
            searcher=retriever.searcher, access=PUBLIC, k=50).invoke("漢方薬やビタミン剤は医療費控除の対象か")))
    finally:
        index.close()
