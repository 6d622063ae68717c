"""Dense embedders: the ``Embedder`` seam, a sentence-transformers implementation and a fake.

    >>> emb = open_embedder("builtin:multilingual-e5-small", "query: ", "passage: ", "auto",
    ...                     32, 512, Path("~/.cache/gyosei-rag").expanduser())
    >>> vecs = emb.embed_documents(["第一条　この法律は…"]); q = emb.embed_query("目的は？")

Every vector is L2-normalized, so cosine similarity is a dot product.
"""

from __future__ import annotations


import hashlib
import logging
import math
import statistics
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from retrieval.cpu import PATH_LABELS, PATHS, auto_paths, check_path, detect_cpu, onnx_runtime_available
from retrieval.errors import ConfigError, GyoseiError, ModelError
from retrieval.fused_bert import BatchedForward, FusedBert

if TYPE_CHECKING:
    from retrieval.settings import EmbeddingSettings

Precision = Literal["auto", "bf16", "onnx-int8", "int8", "fp32"]
BUILTIN_E5 = "builtin:multilingual-e5-small"
PROBE_TEXT = "準備"  # embedded once when a path loads: a path that fails here hands over to the next

log = logging.getLogger(__name__)


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
        cache_dir=Path(cache_dir),
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


def embedder_path(embedder: Embedder) -> str:
    """The inference path an embedder runs on (``path``: bf16, onnx-int8, int8, fp32, hash)."""
    path = getattr(embedder, "path", "")
    return path if isinstance(path, str) and path else type(embedder).__name__


@dataclass(frozen=True)
class WarmUp:
    """A short measured figure of an embedder's speed on this machine (shown by `gyosei setup`)."""

    chunks_per_s: float
    query_ms: float


def warm_up(embedder: Embedder, chunks: int = 12, queries: int = 5) -> WarmUp:
    """Load the embedder and time a few ~450-character passages and short queries."""
    from prompts import load_text

    text = "".join(load_text("warmup_passage.txt").split()) * 2
    passages = [text[i * 31 : i * 31 + 450] for i in range(chunks)]  # distinct texts of one length
    embedder.embed_query("準備")  # loads the model outside the timing
    start = time.perf_counter()
    embedder.embed_documents(passages)
    rate = chunks / max(time.perf_counter() - start, 1e-9)
    samples = []
    for i in range(queries):
        start = time.perf_counter()
        embedder.embed_query(f"確定申告の期限はいつですか{i}")
        samples.append(time.perf_counter() - start)
    return WarmUp(rate, 1000 * statistics.median(samples))


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU, loaded on first use and never from the network.

    ``precision`` names the inference path (see ``retrieval.cpu``): "auto" (the default) tries the
    paths this CPU runs well, fastest first, and hands over to the next one (one log line) if a
    path fails to load or on its first batch; an explicit path is checked against the CPU first
    and gets a Japanese ConfigError if it cannot run. ``path`` tells which one is in use.

    - "bf16": bfloat16 weights; a BERT model with mean pooling (the built-in e5) runs through
      :class:`FusedBert` (``fused=False`` keeps sentence-transformers' own forward);
    - "onnx-int8": the same model exported once to ONNX and run by ONNX Runtime in int8
      (:mod:`retrieval.onnx_forward`, BERT with mean pooling only; built into ``cache_dir``);
    - "int8": torch dynamic int8 quantization (see :func:`quantize_int8`);
    - "fp32": sentence-transformers as it is.

    Each call sorts its texts by length (token count on the fast paths, characters otherwise) so
    a batch holds texts of similar length (little padding), then restores the caller's order.
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
        cache_dir: Path | None = None,
        paths: Sequence[str] | None = None,
    ) -> None:
        if precision not in PATHS:  # the CPU itself is asked only when the model loads
            raise ConfigError(
                f"embedding.precision {precision!r} は使えません。{'/'.join(PATHS)} のいずれかを指定してください。"
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
        self.workers = workers  # batches embedded at once by the fast paths; None: one per core
        self.cache_dir = Path(cache_dir or Path("~/.cache/gyosei-rag")).expanduser()
        self._paths = list(paths) if paths is not None else None  # given only by fallback tests
        self.fallbacks: list[tuple[str, str]] = []  # (path, reason) of each path that failed
        self._path = ""
        self._model: Any = None
        self._fused: BatchedForward | None = None
        self._lock = threading.Lock()

    @property
    def paths(self) -> list[str]:
        """The candidate paths, fastest first: what "auto" picks on this CPU, or the one forced
        (checked against the CPU: a Japanese ConfigError names the missing feature)."""
        if self._paths is None:
            cpu = detect_cpu()
            if self.precision == "auto":
                self._paths = auto_paths(cpu, onnx_runtime_available())
            else:
                check_path(self.precision, cpu, onnx_available=onnx_runtime_available())
                self._paths = [self.precision]
        return self._paths

    @property
    def path(self) -> str:
        """The inference path in use (loads the model if needed): bf16, onnx-int8, int8 or fp32."""
        self._load()
        return self._path

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
        return self._run(self._load(), texts, prompt)

    def _run(self, model: Any, texts: list[str], prompt: str) -> list[list[float]]:
        import numpy as np

        order = list(range(len(texts)))
        fused = self._fused
        if fused is not None:
            # Tokenize here (a fast tokenizer must not be shared across threads), then sort by
            # token count, which differs from character count by script (kanji vs kana, digits):
            # batches of equal token length carry little padding (bench/embed_speed.py).
            ids = fused.token_ids(model.tokenizer, [prompt + t for t in texts])
            if self.sort_by_length:
                order.sort(key=lambda i: len(ids[i]))
        elif self.sort_by_length:
            order.sort(key=lambda i: len(texts[i]))
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        if fused is not None:
            if len(batches) == 1 and len(order) >= 4 and fused.workers >= 2:
                # A handful of texts (an answer's candidate sentences): two half batches side by
                # side on one thread each beat one batch on two threads (bench/search_speed.py).
                half = (len(order) + 1) // 2
                batches = [order[:half], order[half:]]
            # The forward passes run on the pool: one batch per core, each on one thread (see FusedBert.map).
            inputs = [fused.pad(model.tokenizer, [ids[i] for i in idx]) for idx in batches]
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
        """Load the first candidate path that loads and embeds a probe text; fall back in order."""
        for n, path in enumerate(self.paths):
            try:
                model = self._build_path(path)
                self._run(model, [PROBE_TEXT], self.query_prompt)  # the path's first batch
            except ConfigError:
                raise
            except Exception as exc:  # any failure of a path means "try the next one"
                self._fused = None
                reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
                self.fallbacks.append((path, reason))
                if n + 1 == len(self.paths):
                    if isinstance(exc, GyoseiError):
                        raise
                    hint = ("Python パッケージ torch と sentence-transformers のインストールを確認してください（pip install .）。"
                            if path == "fp32" else "embedding.precision（環境変数 GYOSEI_EMBEDDING__PRECISION）を auto か fp32 にしてください。")
                    raise ModelError(f"埋め込みモデルを{PATH_LABELS.get(path, path)}で実行できません（{reason}）。{hint}") from exc
                log.warning("埋め込み: %sが使えないため%sに切り替えます（%s）", PATH_LABELS.get(path, path),
                            PATH_LABELS.get(self.paths[n + 1], self.paths[n + 1]), reason)
                continue
            self._path = path
            return model
        raise ConfigError("埋め込みの実行方法が一つも指定されていません。")  # paths=[]: a caller's bug

    def _build_path(self, path: str) -> Any:
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
        if path == "bf16":
            model.to(torch.bfloat16)
            if self.fused and FusedBert.supports(model):
                self._fused = FusedBert(model[0].auto_model, self.max_seq_length, self.workers)
        elif path == "onnx-int8":
            from retrieval.onnx_forward import OnnxForward, build_onnx_int8

            if not FusedBert.is_mean_pooled_bert(model):
                raise ModelError("int8（ONNX Runtime）は平均プーリングの BERT モデルにだけ使えます。")
            onnx_file = build_onnx_int8(Path(self.model_name_or_path), self.cache_dir)
            self._fused = OnnxForward(onnx_file, self.max_seq_length, self.workers)
        elif path == "int8":
            quantize_int8(model)
        return model


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

    path = "hash"  # the inference path, as real embedders report theirs

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
