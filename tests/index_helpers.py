"""Index test data: real text from data_samples/ (copies of shared/corpus) with deterministic vectors.

Sparse = character bigrams (crc32 ids, tf weights; the index adds IDF); dense = a seeded random unit
vector per chunk, so a query can be aimed at chosen chunks. Shared by the contract tests and the
Edge-specific ones (tests/test_index_contract.py, tests/test_index_edge.py).
"""

from __future__ import annotations

import json
import math
import random
import zlib
from pathlib import Path

from qdrant_client import QdrantClient

from retrieval.index.edge import EdgeIndex
from retrieval.index.qdrant import QdrantIndex
from retrieval.types import Access, Chunk, SparseVector


ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data_samples"  # copies of shared/corpus
DIM = 32
PUBLIC = Access(clearance=1, groups=[])
ADMIN = Access(clearance=3, groups=["finance"])


# -- deterministic vectors --------------------------------------------------------------------

def bigrams(text: str) -> dict[int, float]:
    counts: dict[int, float] = {}
    chars = [c for c in text if not c.isspace()]
    for a, b in zip(chars, chars[1:]):
        tid = zlib.crc32((a + b).encode()) & 0x7FFFFFFF
        counts[tid] = counts.get(tid, 0.0) + 1.0
    return counts


def sparse_of(terms: dict[int, float]) -> SparseVector:
    ids = sorted(terms)
    return SparseVector(indices=ids, values=[terms[i] for i in ids])


def unit_vector(seed: str) -> list[float]:
    rng = random.Random(zlib.crc32(seed.encode()))
    v = [rng.gauss(0, 1) for _ in range(DIM)]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def with_vectors(c: Chunk) -> Chunk:
    c.dense = unit_vector(c.chunk_id)
    c.sparse = sparse_of(bigrams(c.text))
    return c


# -- chunks from the real corpus --------------------------------------------------------------

def corpus_chunks() -> list[Chunk]:
    chunks: list[Chunk] = []
    for name in ("121304376X02420240823", "121313950X00120240730", "121314370X00120240823"):
        records = json.loads((CORPUS / "kokkai" / f"ndl_speech_{name}.json").read_text(encoding="utf-8"))
        for r in records["speechRecord"][4:8]:
            chunks.append(Chunk(
                doc_id=f"kokkai:{r['speechID']}", ordinal=0, text=r["speech"].replace("\r\n", "\n")[:400],
                title=f"{r['nameOfHouse']} {r['nameOfMeeting']} {r['issue']}", doc_type="diet_speech",
                date=r["date"], source_url=r["speechURL"], groups=["all"], content_hash=f"h-{r['speechID']}",
                extra={"house": r["nameOfHouse"], "meeting": r["nameOfMeeting"], "speaker": r["speaker"],
                       "speech_order": r["speechOrder"]},
            ))
    lines = (CORPUS / "nta" / "nta_qa.jsonl").read_text(encoding="utf-8").splitlines()
    qas = [json.loads(x) for x in lines[:6]]
    for qa in qas[:4]:
        chunks.append(Chunk(
            doc_id=f"nta:{qa['id']}", ordinal=0, text=(qa["question"] + "\n" + qa["answer"])[:400],
            title=qa["title"], doc_type="faq", groups=["all"], content_hash=f"h-nta-{qa['id']}",
        ))
    paper = (CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt").read_text(encoding="utf-8")
    for i in range(3):
        chunks.append(Chunk(
            doc_id="white_paper/r05_chapter5_soumu_ict_policy.txt", ordinal=i, text=paper[i * 400:(i + 1) * 400],
            title="令和5年版 情報通信白書 第5章", doc_type="white_paper", date="2023-07-04", section="第5章",
            groups=["all"], content_hash="h-wp-v1", doc_chunks=3, char_start=i * 400, char_end=(i + 1) * 400,
            source_path="white_paper/r05_chapter5_soumu_ict_policy.txt",
        ))
    # Restricted material: 機密性3 (readable with clearance 3 only) and a finance-only memo.
    chunks.append(Chunk(doc_id="internal/kimitsu3-memo", ordinal=0, text="【機密性3】" + qas[4]["answer"][:300],
                        title="内部検討メモ（機密性3）", doc_type="notice", date="2024-08-01", confidentiality=3,
                        groups=["all"], content_hash="h-k3"))
    chunks.append(Chunk(doc_id="internal/finance-memo", ordinal=0, text="【財務課限り】" + qas[5]["answer"][:300],
                        title="財務課内部資料", doc_type="notice", date="2024-08-01", confidentiality=1,
                        groups=["finance"], content_hash="h-fin"))
    return [with_vectors(c) for c in chunks]


CHUNKS = corpus_chunks()
BY_DOC = {c.doc_id: c for c in CHUNKS}
RESTRICTED = {"internal/kimitsu3-memo", "internal/finance-memo"}
N_PUBLIC = len(CHUNKS) - len(RESTRICTED)


def unique_terms(target: Chunk, n: int) -> dict[int, float]:
    """``n`` bigram ids that occur in ``target`` and in no other chunk."""
    others: set[int] = set()
    for c in CHUNKS:
        if c is not target:
            others |= set(c.sparse.indices)
    return {t: 1.0 for t in [t for t in target.sparse.indices if t not in others][:n]}


def aim(*weighted: tuple[Chunk, float]) -> list[float]:
    v = [sum(w * c.dense[i] for c, w in weighted) for i in range(DIM)]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


# -- fixtures ---------------------------------------------------------------------------------

def make_index(kind: str, tmp_path: Path):
    if kind == "edge":
        return EdgeIndex(tmp_path / "edge", DIM)
    return QdrantIndex(QdrantClient(":memory:"), "gyosei", DIM, close_client=True)


def ids(hits) -> list[str]:
    return [h.payload["doc_id"] for h in hits]


def index_view(hits):
    """Hits as comparable data: equal scores may come back in either order, and at the cut-off of
    ``k`` either of two equal-scored chunks may be the one kept, so that last group counts by size."""
    view = sorted(((round(h.score, 5), h.chunk_id, json.dumps(h.payload, sort_keys=True, ensure_ascii=False))
                   for h in hits), reverse=True)
    if not view:
        return view
    lowest = view[-1][0]
    return [v for v in view if v[0] != lowest] + [(lowest, sum(v[0] == lowest for v in view))]
