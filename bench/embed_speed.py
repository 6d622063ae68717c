"""Embedding speed and retrieval quality per precision (fp32 / bf16 / int8) of the built-in e5.

"bf16" is the default path (the fused forward, retrieval.fused_bert.FusedBert, one batch per core
at a time, batches sorted by token count); "bf16-chars" the same with batches sorted by character
count; "bf16-1w" the fused forward one batch at a time on torch's threads; "bf16-st" the
same bf16 weights through sentence-transformers' own forward. "onnx-int8" is the product's
ONNX Runtime path (retrieval/onnx_forward.py: graph fused by its BERT optimizer, dynamic int8),
two single-thread runs at a time on one session; its file is built once into --cache-dir.
bf16 variants need a CPU with bf16 (retrieval/cpu.py); pass --variants to choose.

Speed: chunks/s on ~300 real 400-500 character chunks cut from data_samples, with length-sorted
batches (what the embedder does) and naive unsorted batches; rounds are interleaved and the
median is reported because the machine is shared. Quality: MRR@10 / nDCG@10 of dense retrieval
for a subset of eval/datasets/nta_faq queries over the full corpus (documents cut to 500 chars).

    .venv/bin/python bench/embed_speed.py [--chunks 300] [--queries 300] [--rounds 3]
    .venv/bin/python bench/embed_speed.py --variants fp32,bf16-st,bf16 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.cpu import detect_cpu  # noqa: E402
from retrieval.e5_build import build_e5_model  # noqa: E402
from retrieval.embedder import SentenceTransformerEmbedder, quantize_int8  # noqa: E402

CORPUS = ROOT / "data_samples"  # copies of shared/corpus
EVAL = ROOT / "eval" / "datasets"  # copies of the shared dev sets
SEED = 20261121


class Int8AllLinear(SentenceTransformerEmbedder):
    """Variant for comparison: every Linear layer in int8 (FFN output projections too)."""

    def _build(self):  # type: ignore[no-untyped-def]
        self.precision = "fp32"
        model = super()._build()
        quantize_int8(model, keep_ffn_output=False)
        self.precision = "int8"
        return model


class CharSorted(SentenceTransformerEmbedder):
    """Variant for comparison: the fused forward with batches sorted by character count (what the
    embedder did before it sorted by token count)."""

    def _encode(self, texts: list[str], prompt: str) -> list[list[float]]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = super()._encode([texts[i] for i in order], prompt)  # sort_by_length=False: kept
        out: list[list[float]] = [[] for _ in texts]
        for i, vec in zip(order, vectors):
            out[i] = vec
        return out


def corpus_sources() -> dict[str, list[str]]:
    """Long real texts per source in shared/corpus (plus law articles from eval/lawqa)."""
    c = CORPUS
    paper = c / "white_paper" / "r05_chapter5_soumu_ict_policy.txt"
    src = {
        "white_paper": [paper.read_text("utf-8")],
        "digital_agency": [p.read_text("utf-8") for p in sorted((c / "digital_agency").glob("*.md"))],
        "kokkai": [],
    }
    for path in sorted((c / "kokkai").glob("ndl_speech_*.json")):
        records = json.loads(path.read_text("utf-8"))["speechRecord"]
        src["kokkai"] += [r["speech"] for r in records]
    with open(c / "nta" / "nta_qa.jsonl", encoding="utf-8") as f:
        src["nta"] = [json.loads(line)["answer"] for line in f]
    with open(EVAL / "lawqa" / "corpus.jsonl", encoding="utf-8") as f:
        src["laws"] = [json.loads(line)["text"] for line in f]
    clean = {k: [re.sub(r"[ \t\u3000]+", " ", t).strip() for t in v] for k, v in src.items()}
    return {k: [t for t in v if len(t) >= 500] for k, v in clean.items()}


def sample_chunks(n: int) -> list[str]:
    """``n`` chunks of 400-500 characters, the same number from each source, shuffled."""
    rng = random.Random(SEED)
    sources = corpus_sources()
    chunks = []
    for i in range(n):
        texts = sources[sorted(sources)[i % len(sources)]]
        text = rng.choice(texts)
        size = rng.randint(400, 500)
        start = rng.randint(0, len(text) - size)
        chunks.append(text[start : start + size])
    rng.shuffle(chunks)
    return chunks


def load_nta(n_queries: int, n_docs: int = 0) -> tuple[list, list, list, list, dict]:
    """nta_faq dev: doc ids, doc texts (500 chars), query ids, query texts, qrels."""
    base = EVAL / "nta_faq"
    with open(base / "corpus.jsonl", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    with open(base / "queries.jsonl", encoding="utf-8") as f:
        queries = [json.loads(line) for line in f]
    qrels: dict[str, set[str]] = {}
    for line in (base / "qrels" / "test.tsv").read_text("utf-8").splitlines()[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(did)
    random.Random(SEED).shuffle(queries)
    queries = queries[:n_queries]
    if n_docs and n_docs < len(docs):  # every gold document, plus random distractors
        gold = {d for q in queries for d in qrels[q["_id"]]}
        rest = [d for d in docs if d["_id"] not in gold]
        random.Random(SEED).shuffle(rest)
        docs = [d for d in docs if d["_id"] in gold] + rest[: max(0, n_docs - len(gold))]
    return ([d["_id"] for d in docs], [d["text"][:500] for d in docs],
            [q["_id"] for q in queries], [q["text"] for q in queries], qrels)  # fmt: skip


def retrieval_scores(doc_ids, doc_vecs, q_ids, q_vecs, qrels) -> tuple[float, float]:
    scores = np.asarray(q_vecs) @ np.asarray(doc_vecs).T
    mrr = ndcg = 0.0
    for qi, qid in enumerate(q_ids):
        top = np.argsort(-scores[qi])[:10]
        gold = qrels[qid]
        hits = [doc_ids[j] in gold for j in top]
        mrr += next((1.0 / (r + 1) for r, h in enumerate(hits) if h), 0.0)
        dcg = sum(1.0 / math.log2(r + 2) for r, h in enumerate(hits) if h)
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(gold), 10)))
        ndcg += dcg / ideal
    return mrr / len(q_ids), ndcg / len(q_ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=300)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/gyosei-bench-cache"))
    ap.add_argument("--group", type=int, default=128,
                    help="chunks per embed_documents call (the ingest pipeline's batch)")  # fmt: skip
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--docs", type=int, default=0, help="document pool size (0 = all 1848)")
    ap.add_argument("--variants", default=None,
                    help="comma-separated: fp32, bf16 (fused forward, the default), bf16-1w (fused, "
                         "one batch at a time), bf16-chars (fused, batches sorted by characters, not "
                         "tokens), bf16-st "
                         "(sentence-transformers forward), int8 (per-channel, FFN output kept "
                         "fp32), int8-all (every Linear in int8), onnx-int8 "
                         "(ONNX Runtime; see above)")  # fmt: skip
    args = ap.parse_args()

    t0 = time.perf_counter()
    path = str(build_e5_model(args.cache_dir))
    print(f"model folder: {path} (ready in {time.perf_counter() - t0:.1f} s)", flush=True)
    chunks = sample_chunks(args.chunks)
    print(f"{len(chunks)} chunks, {sum(map(len, chunks)) / len(chunks):.0f} chars on average",
          flush=True)  # fmt: skip

    def make(precision: str, sort: bool) -> SentenceTransformerEmbedder:
        if precision == "onnx-int8":  # the product's ONNX Runtime path, built into --cache-dir
            return SentenceTransformerEmbedder(path, "query: ", "passage: ", "onnx-int8", args.batch_size, 512,
                                               cache_dir=args.cache_dir)
        if precision == "bf16-chars":
            return CharSorted(path, "query: ", "passage: ", "bf16", args.batch_size, 512, sort_by_length=False)
        cls = Int8AllLinear if precision == "int8-all" else SentenceTransformerEmbedder
        prec = {"int8-all": "int8", "bf16-st": "bf16", "bf16-1w": "bf16"}.get(precision, precision)
        return cls(path, "query: ", "passage: ", prec, args.batch_size, 512, sort_by_length=sort,
                   fused=precision != "bf16-st", workers=1 if precision == "bf16-1w" else None)

    # Default: every path this CPU runs (bf16 variants only where bf16 is native).
    default = "fp32,bf16-st,bf16-1w,bf16,int8,onnx-int8" if detect_cpu().native_bf16 else "fp32,int8,onnx-int8"
    variants = (args.variants or default).split(",")
    print(f"CPU: {detect_cpu().summary()}", flush=True)
    if "fp32" in variants:  # the quality reference: measured first
        variants = ["fp32"] + [v for v in variants if v != "fp32"]
    if args.skip_speed:
        args.rounds = 0
    # Unsorted batching is measured where it informs a choice (fp32, int8): the ratio is a
    # property of padding, not of the precision.
    embedders = {(p, s): make(p, s) for p in variants for s in (True, False)
                 if s or (p in ("fp32", "int8") and not args.skip_speed)}  # fmt: skip
    for emb in embedders.values():  # load (and warm up) outside the timings
        emb.embed_documents(chunks[:4])
    print("models loaded", flush=True)
    times: dict[tuple[str, bool], list[float]] = {k: [] for k in embedders}
    for rnd in range(args.rounds):  # interleaved rounds: load spikes hit every variant alike
        for key, emb in embedders.items():
            start = time.perf_counter()
            for first in range(0, len(chunks), args.group):  # as ingest/pipeline.py hands them over
                emb.embed_documents(chunks[first : first + args.group])
            times[key].append(time.perf_counter() - start)
            print(f"  round {rnd + 1} {key[0]:8s} sorted={key[1]!s:5s} "
                  f"{len(chunks) / times[key][-1]:6.1f} chunks/s", flush=True)  # fmt: skip
    # Query latency (one short query at a time): median and p95 of 40.
    latency = {}
    for p in variants:
        emb = embedders[(p, True)]
        samples = []
        for q in ["確定申告の期限はいつですか", "マイナンバーカードで本人確認できますか",
                  "行政手続法第五条の審査基準について教えてください", "中小企業の賃上げ支援策は"] * 10:
            q_start = time.perf_counter()
            emb.embed_query(q)
            samples.append(time.perf_counter() - q_start)
        samples.sort()
        latency[p] = (statistics.median(samples) * 1000, samples[int(0.95 * (len(samples) - 1))] * 1000)

    quality: dict[str, tuple[float, float, float]] = {}
    if not args.skip_quality:
        doc_ids, docs, q_ids, queries, qrels = load_nta(args.queries, args.docs)
        ref_docs = None
        for p in variants:
            emb = embedders[(p, True)]
            start = time.perf_counter()
            d_vecs = np.asarray(emb.embed_documents(docs))
            q_vecs = np.asarray(_queries(emb, queries))
            mrr, ndcg = retrieval_scores(doc_ids, d_vecs, q_ids, q_vecs, qrels)
            if ref_docs is None:  # the first variant; fp32 when measured (it goes first)
                ref_docs = d_vecs
            cos = float(np.median((d_vecs * ref_docs).sum(axis=1)))
            quality[p] = (mrr, ndcg, cos)
            print(f"  quality {p:8s} MRR@10 {mrr:.4f} nDCG@10 {ndcg:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip

    print()
    print(f"{'precision':10s} {'sorted c/s':>11s} {'ratio':>6s} {'unsorted c/s':>13s} "
          f"{'query ms':>9s} {'q p95 ms':>9s} {'MRR@10':>7s} {'nDCG@10':>8s} {'cos fp32':>9s}")  # fmt: skip
    def speed(key: tuple[str, bool]) -> float:
        return statistics.median([len(chunks) / t for t in times.get(key, [])] or [math.nan])

    base = "bf16" if "bf16" in variants else variants[0]
    first = speed((base, True))
    for p in variants:
        s, u = speed((p, True)), speed((p, False))
        mrr, ndcg, cos = quality.get(p, (float("nan"),) * 3)
        print(f"{p:10s} {s:11.1f} {s / first:6.2f} {u:13.1f} {latency[p][0]:9.1f} {latency[p][1]:9.1f} {mrr:7.4f} "
              f"{ndcg:8.4f} {cos:9.4f}")  # fmt: skip
    print(f"\n(medians of {args.rounds} interleaved rounds; batch size {args.batch_size}, "
          f"{args.group} chunks per call; ratio = sorted c/s over {base}'s; load "
          f"average {os.getloadavg()[0]:.1f}; "
          f"{len(q_ids) if quality else 0} nta_faq queries over {len(doc_ids) if quality else 0}"
          " documents cut to 500 chars; 'cos fp32' = median cosine of document vectors to fp32)")


def _queries(emb: SentenceTransformerEmbedder, queries: list[str]) -> list[list[float]]:
    # Batched query embedding with the query prompt (embed_query is one text at a time).
    return emb._encode(list(queries), emb.query_prompt)


if __name__ == "__main__":
    main()
