"""A BERT encoder's bf16 forward pass, fused for oneDNN, with mean pooling (the built-in e5's path),
and ``BatchedForward``, the batching it shares with the ONNX Runtime path (retrieval/onnx_forward.py).

``retrieval.embedder.SentenceTransformerEmbedder`` uses it for bf16 BERT models with mean pooling;
``fused=False`` there keeps sentence-transformers' own forward (to compare: bench/embed_speed.py).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Token lengths are rounded up to this (see FusedBert.pad).
PAD_MULTIPLE = 16


class BatchedForward:
    """What every fast forward pass shares: token ids cut at ``max_seq_length``, batches padded to
    a multiple of ``PAD_MULTIPLE``, and several batches at once on one-thread workers (``map``).
    Subclasses implement ``embed(inputs) -> L2-normalized float32 numpy vectors``.
    """

    def __init__(self, max_seq_length: int, workers: int | None = None) -> None:
        self.max_seq_length = max_seq_length
        self.workers = workers if workers is not None else len(os.sched_getaffinity(0))
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def embed(self, inputs: tuple[Any, Any]) -> Any:
        """Vectors of one ``pad`` output (implemented by each path)."""
        raise NotImplementedError

    def token_ids(self, tokenizer: Any, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, cut at ``max_seq_length`` tokens (special tokens included)."""
        return tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]

    def pad(self, tokenizer: Any, ids: list[list[int]]) -> tuple[Any, Any]:
        """Input ids and attention mask of one batch of ``token_ids`` output.

        Padded to a multiple of ``PAD_MULTIPLE`` tokens: oneDNN builds kernels per input shape, and
        questions of every length would each pay that on first sight (the mask keeps the vectors
        the same).
        """
        enc = tokenizer.pad({"input_ids": ids}, padding=True, pad_to_multiple_of=PAD_MULTIPLE, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

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


class FusedBert(BatchedForward):
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

        super().__init__(max_seq_length, workers)
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
        """True for a sentence-transformers BERT with mean pooling and exact GELU (e5-small),
        where torch has the oneDNN kernels this forward calls."""
        import torch

        return (
            FusedBert.is_mean_pooled_bert(model)
            and hasattr(torch.ops.mkldnn, "_linear_pointwise")
            and torch.backends.mkldnn.is_available()
        )

    @staticmethod
    def is_mean_pooled_bert(model: Any) -> bool:
        """True for a sentence-transformers BERT encoder with mean pooling and exact GELU."""
        modules = list(model)
        if len(modules) < 2:
            return False
        config = getattr(getattr(modules[0], "auto_model", None), "config", None)
        return (
            getattr(config, "model_type", None) == "bert"
            and getattr(config, "hidden_act", None) == "gelu"
            and getattr(modules[1], "pooling_mode", None) == "mean"
            and not getattr(config, "is_decoder", False)
        )

    def embed(self, inputs: tuple[Any, Any]) -> Any:
        """Mean-pooled, L2-normalized float32 vectors (numpy) of one tokenized batch."""
        import torch

        with torch.inference_mode():
            return torch.nn.functional.normalize(self.forward(*inputs), dim=-1).numpy()

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
