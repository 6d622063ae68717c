"""Dense embedders: the ``Embedder`` seam, a sentence-transformers implementation and a fake.

    >>> emb = open_embedder("builtin:multilingual-e5-small", "query: ", "passage: ", "int8",
    ...                     32, 512, Path("~/.cache/gyosei-rag").expanduser())
    >>> vecs = emb.embed_documents(["第一条　この法律は…"]); q = emb.embed_query("目的は？")

Every vector is L2-normalized, so cosine similarity is a dot product.
"""

from __future__ import annotations


import hashlib
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from retrieval.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from retrieval.settings import EmbeddingSettings

Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")
BUILTIN_E5 = "builtin:multilingual-e5-small"


@runtime_checkable
class Embedder(Protocol):
    """Turns passages and queries into L2-normalized vectors of length ``dimension``."""

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def open_embedder(
    model: str,
    query_prompt: str,
    passage_prompt: str,
    precision: Precision,
    batch_size: int,
    max_seq_length: int,
    cache_dir: Path,
) -> Embedder:
    """Open the configured embedder; ``builtin:multilingual-e5-small`` is built offline (once).

    Any other value is a sentence-transformers model name (from the local Hugging Face cache) or
    a folder, used with the given prompts (e.g. ruri-v3's "検索クエリ: " / "検索文書: ").
    """
    if model.startswith("builtin:"):
        if model != BUILTIN_E5:
            raise ConfigError(
                f"embedding.model の組み込みモデル名 {model!r} は不明です。"
                f"使える組み込みモデルは {BUILTIN_E5!r} だけです。"
            )
        from retrieval.e5_build import build_e5_model

        model = str(build_e5_model(Path(cache_dir)))
    return SentenceTransformerEmbedder(
        model,
        query_prompt=query_prompt,
        passage_prompt=passage_prompt,
        precision=precision,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
    )


def embedder_from_settings(cfg: "EmbeddingSettings") -> Embedder:
    """The embedder described by the ``embedding`` section of the settings."""
    return open_embedder(
        cfg.model,
        query_prompt=cfg.query_prompt,
        passage_prompt=cfg.passage_prompt,
        precision=cfg.precision,
        batch_size=cfg.batch_size,
        max_seq_length=cfg.max_seq_length,
        cache_dir=cfg.cache_dir,
    )


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU, loaded on first use and never from the network.

    Each call sorts its texts by length so a batch holds texts of similar length (little
    padding), then restores the caller's order. ``precision`` "bf16" casts the weights to
    bfloat16 and, for a BERT model with mean pooling (the built-in e5), runs the forward pass
    through :class:`FusedBert` (``fused=False`` keeps sentence-transformers' own forward), one
    batch per core at a time (``workers``);
    "int8" applies torch dynamic int8 quantization (see :func:`quantize_int8`).
    """

    def __init__(
        self,
        model_name_or_path: str,
        query_prompt: str = "",
        passage_prompt: str = "",
        precision: Precision = "fp32",
        batch_size: int = 32,
        max_seq_length: int = 512,
        sort_by_length: bool = True,
        fused: bool = True,
        workers: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ConfigError(
                f"embedding.precision {precision!r} は使えません。{'/'.join(PRECISIONS)} の"
                "いずれかを指定してください。"
            )
        if batch_size < 1 or max_seq_length < 8:
            raise ConfigError(
                f"embedding.batch_size（{batch_size}）は 1 以上、max_seq_length"
                f"（{max_seq_length}）は 8 以上にしてください。"
            )
        self.model_name_or_path = model_name_or_path
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.precision = precision
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.sort_by_length = sort_by_length  # False only to measure what sorting saves
        self.fused = fused  # False only to measure what the fused forward saves
        self.workers = workers  # batches embedded at once by FusedBert; None: one per core
        self._model: Any = None
        self._fused: FusedBert | None = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """Length of every vector (loads the model if needed)."""
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or getattr(
            model, "get_sentence_embedding_dimension"
        )
        return int(get_dim())

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed passages (with the passage prompt), one normalized vector per text, in order."""
        vectors = self._encode(list(texts), self.passage_prompt)
        if len(texts) > 1:
            _release_freed_memory()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query (with the query prompt)."""
        return self._encode([text], self.query_prompt)[0]

    def _encode(self, texts: list[str], prompt: str) -> list[list[float]]:
        if not texts:
            return []
        import numpy as np

        model = self._load()
        order = list(range(len(texts)))
        if self.sort_by_length:
            order.sort(key=lambda i: len(texts[i]))
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        if self._fused is not None:
            fused = self._fused
            if len(batches) == 1 and len(order) >= 4 and fused.workers >= 2:
                # A handful of texts (an answer's candidate sentences): two half batches side by
                # side on one thread each beat one batch on two threads (bench/search_speed.py).
                half = (len(order) + 1) // 2
                batches = [order[:half], order[half:]]
            # Tokenize here (a fast tokenizer must not be shared across threads), run the forward
            # passes on the pool: one batch per core, each on one thread (see FusedBert.map).
            inputs = [fused.tokenize(model.tokenizer, [prompt + texts[i] for i in idx]) for idx in batches]
            results = fused.map(inputs)
        else:  # one encode call per batch: the batch's composition decides the padding
            results = (model.encode([texts[i] for i in idx], prompt=prompt or None,
                                    batch_size=len(idx), convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
                       for idx in batches)  # fmt: skip
        out: list[list[float]] = [[] for _ in texts]
        for idx, vecs in zip(batches, results):
            vecs = vecs.astype("float32")  # bf16 models return bf16: renormalize in fp32
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            for i, vec in zip(idx, vecs):
                out[i] = vec.tolist()
        return out

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def _build(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise to users
        try:
            model = SentenceTransformer(
                self.model_name_or_path, device="cpu", local_files_only=True
            )
        except Exception as exc:  # OSError, ValueError, HF hub errors: all mean "not usable"
            cause = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise ModelError(
                f"{self.model_name_or_path}: 埋め込みモデルを読み込めません（{cause}）。"
                "オフラインのため Hugging Face Hub からは取得しません。フォルダのパスを指定するか、"
                f"組み込みモデル {BUILTIN_E5!r} を使ってください。"
            ) from exc
        model.max_seq_length = self.max_seq_length
        model.eval()
        if self.precision == "bf16":
            model.to(torch.bfloat16)
            if self.fused and FusedBert.supports(model):
                self._fused = FusedBert(model[0].auto_model, self.max_seq_length, self.workers)
        elif self.precision == "int8":
            quantize_int8(model)
        return model


# Token lengths are rounded up to this (see FusedBert.tokenize).
PAD_MULTIPLE = 16


class FusedBert:
    """A BERT encoder's forward pass in bf16 on weights packed once for oneDNN, with mean pooling.

    The same arithmetic as Hugging Face's bf16 BERT (cosine >= 0.9999), with fewer, larger
    kernels: Q, K and V in one matmul, GELU and the residual adds fused into the matmuls, and
    weights packed into oneDNN's blocked layout once instead of at every call. On the 2-core
    AMX Xeon this made e5-small ~1.3x faster than sentence-transformers' bf16 forward
    (bench/embed_speed.py); torch.compile gained about as much but costs minutes of warm-up.
    """

    def __init__(
        self, bert: Any, max_seq_length: int, workers: int | None = None, tokens_hint: int = 4096
    ) -> None:
        import torch

        def pack(*linears: Any) -> tuple[Any, Any]:  # several: one matmul for all of them
            weight = torch.cat([m.weight.detach() for m in linears])
            bias = torch.cat([m.bias.detach() for m in linears])
            return torch.ops.mkldnn._reorder_linear_weight(weight, tokens_hint), bias

        self.max_seq_length = max_seq_length
        self.workers = workers if workers is not None else len(os.sched_getaffinity(0))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.embeddings = bert.embeddings
        self.layers = []
        for layer in bert.encoder.layer:
            att = layer.attention.self
            self.layers.append((
                pack(att.query, att.key, att.value), att.num_attention_heads,
                att.attention_head_size, att.scaling,
                pack(layer.attention.output.dense), layer.attention.output.LayerNorm,
                pack(layer.intermediate.dense), pack(layer.output.dense), layer.output.LayerNorm,
            ))  # fmt: skip

    @staticmethod
    def supports(model: Any) -> bool:
        """True for a sentence-transformers BERT with mean pooling and exact GELU (e5-small)."""
        import torch

        modules = list(model)
        if len(modules) < 2 or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
            return False
        bert = getattr(modules[0], "auto_model", None)
        config = getattr(bert, "config", None)
        return (
            getattr(config, "model_type", None) == "bert"
            and getattr(config, "hidden_act", None) == "gelu"
            and getattr(modules[1], "pooling_mode", None) == "mean"
            and not getattr(config, "is_decoder", False)
            and torch.backends.mkldnn.is_available()
        )

    def tokenize(self, tokenizer: Any, texts: list[str]) -> tuple[Any, Any]:
        """Input ids and attention mask of one batch, cut at ``max_seq_length`` tokens.

        Padded to a multiple of ``PAD_MULTIPLE`` tokens: oneDNN builds kernels per input shape, and
        questions of every length would each pay that on first sight (the mask keeps the vectors
        the same).
        """
        enc = tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                        pad_to_multiple_of=PAD_MULTIPLE, return_tensors="pt")  # fmt: skip
        return enc["input_ids"], enc["attention_mask"]

    def embed(self, inputs: tuple[Any, Any]) -> Any:
        """Mean-pooled, L2-normalized float32 vectors (numpy) of one tokenized batch."""
        import torch

        with torch.inference_mode():
            return torch.nn.functional.normalize(self.forward(*inputs), dim=-1).numpy()

    def map(self, batches: list[tuple[Any, Any]]) -> Any:
        """``embed`` over tokenized batches, several at once on a pool of one-thread workers.

        On 2 cores, two batches side by side on one thread each beat one batch at a time on two
        threads: no barrier after each of the ~100 small ops, and the pipeline's own thread
        (sparse encoding) takes a core without stalling both. Measured on the shared 2-core
        machine: 1.3x over fused on two threads, ingesting end to end (see bench/ingest_speed.py).
        A single batch (a query) runs here, on torch's threads.
        """
        if len(batches) < 2 or self.workers < 2:
            return map(self.embed, batches)
        with self._pool_lock:
            if self._pool is None:
                self._pool = _one_thread_pool(self.workers)
        return self._pool.map(self.embed, batches)

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        """Mean-pooled last hidden states in float32, shape (batch, hidden)."""
        import torch
        from torch.nn.functional import layer_norm, scaled_dot_product_attention

        linear = torch.ops.mkldnn._linear_pointwise
        batch, length = input_ids.shape
        hidden = self.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        mask = torch.zeros(batch, 1, 1, length, dtype=hidden.dtype)  # additive: -inf on padding
        mask.masked_fill_(~attention_mask.bool()[:, None, None, :], torch.finfo(hidden.dtype).min)
        h = hidden.reshape(batch * length, -1)
        for qkv_w, heads, head_size, scale, out_w, ln1, in_w, ffn_w, ln2 in self.layers:
            qkv = linear(h, *qkv_w, "none", [], "").view(batch, length, 3, heads, head_size)
            q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
            ctx = scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
            ctx = ctx.transpose(1, 2).reshape(batch * length, heads * head_size)
            h = linear.binary(ctx, h, *out_w, "add")  # attention output + residual
            h = layer_norm(h, ln1.normalized_shape, ln1.weight, ln1.bias, ln1.eps)
            inner = linear(h, *in_w, "gelu", [], "none")  # "none": exact (erf) GELU, as BERT's
            h = linear.binary(inner, h, *ffn_w, "add")  # FFN output + residual
            h = layer_norm(h, ln2.normalized_shape, ln2.weight, ln2.bias, ln2.eps)
        weights = attention_mask.unsqueeze(-1).float()
        pooled = (h.view(batch, length, -1).float() * weights).sum(1)
        return pooled / weights.sum(1).clamp(min=1e-9)


def _one_thread_pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool whose threads run torch ops on one thread each; others keep their count.

    ``torch.set_num_threads`` is per thread for OpenMP, but also sets the count that threads
    started later inherit: set it to 1 inside each worker, then restore it for everyone else.
    """
    import torch

    previous = torch.get_num_threads()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="embed-worker")
    started = threading.Barrier(workers)  # one setup task per worker thread, not two on one

    def one_thread() -> None:
        torch.set_num_threads(1)
        started.wait(timeout=60)

    for done in [pool.submit(one_thread) for _ in range(workers)]:
        done.result()
    torch.set_num_threads(previous)
    return pool


def quantize_int8(model: Any, keep_ffn_output: bool = True) -> None:
    """Dynamic int8 (per-channel weights) for a model's Linear layers, in place.

    ``keep_ffn_output`` leaves BERT's FFN output projections (``layer.N.output.dense``) in fp32:
    their inputs have outliers that per-tensor int8 activations clip; on e5-small this lifts the
    cosine to fp32 from ~0.98 to ~0.995 (see bench/embed_speed.py).
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and not (keep_ffn_output and name.endswith("output.dense") and "attention" not in name)
    }
    with warnings.catch_warnings():
        # torch 2.13 marks eager dynamic quantization deprecated; it still works.
        warnings.simplefilter("ignore")
        quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


class HashEmbedder:
    """Deterministic fake: signed hashing of character bigrams, L2-normalized.

    Texts sharing many bigrams get close vectors, so retrieval tests behave sensibly without a
    model. Same text, same vector, in every process (no salted ``hash()``).
    """

    def __init__(self, dimension: int = 64) -> None:
        if dimension < 2:
            raise ConfigError(f"HashEmbedder の次元数（{dimension}）は 2 以上にしてください。")
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Same mapping as documents (no prompts)."""
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self._dimension
        grams = [text[i : i + 2] for i in range(len(text) - 1)] or ([text] if text else [])
        for gram in grams:
            index, sign = _bucket(gram, self._dimension)
            vec[index] += sign
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:  # empty text (or cancelling signs): a fixed unit vector, never zero
            vec[0], norm = 1.0, 1.0
        return [v / norm for v in vec]


@lru_cache(maxsize=1 << 16)
def _bucket(gram: str, dimension: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "big")
    return digest % dimension, 1.0 if (digest >> 63) & 1 else -1.0


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def _release_freed_memory() -> None:
    """Give freed heap pages back to the OS after a batch.

    Batches of many different sequence lengths leave glibc's heap fragmented: measured on 1,024
    Diet speeches, resident memory grew 1.16 -> 1.80 GB without this and 1.16 -> 1.35 GB with it,
    at the same speed.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
