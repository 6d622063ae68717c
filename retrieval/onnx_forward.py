"""The e5 encoder through ONNX Runtime in dynamic int8: the fast path on CPUs without native bf16.

:func:`build_onnx_int8` exports the built e5 (``retrieval.e5_build``) to ONNX once per cache
folder, lets ONNX Runtime's BERT optimizer fuse it (EmbedLayerNormalization, Attention, BiasGelu,
SkipLayerNormalization) and quantizes the MatMuls and Attention to int8 (per-channel 7-bit
weights, dynamic activations; the FFN output projections stay fp32, see ``_export``). Like the
e5 build it is atomic (temp folder, then rename), locked against a second process, and
checksummed (``build.json`` holds the file's SHA-256, checked when opened).

:class:`OnnxForward` runs it with the same tokenizer, padding and mean pooling as
:class:`retrieval.fused_bert.FusedBert`, two single-thread runs side by side on 2 cores.
Speed and quality per path on the machine at hand: bench/embed_speed.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from retrieval.errors import ModelError
from retrieval.fused_bert import BatchedForward

MODEL_FILE = "model.onnx"
RECIPE = "v2"  # in the folder name: a changed export or quantization recipe builds anew
BUILD_INFO = "build.json"


def build_onnx_int8(model_dir: Path, cache_dir: Path) -> Path:
    """The int8 ONNX file for the sentence-transformers BERT in ``model_dir``, built on first use.

    Raises ModelError (Japanese, with the cause) if onnxruntime/onnx are missing or the export
    fails; the caller falls back to another path.
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError("onnxruntime がインストールされていないため int8（ONNX Runtime）は使えません。") from exc
    target = Path(cache_dir).expanduser() / f"{Path(model_dir).name}.onnx-int8-{RECIPE}-ort{onnxruntime.__version__}"
    if _verified(target):
        return target / MODEL_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = open(target.parent / f".{target.name}.lock", "w")
    except OSError as exc:
        raise ModelError(f"{target.parent}: キャッシュフォルダを作成できません（{exc}）。") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _verified(target):  # another process finished it while we waited
            return target / MODEL_FILE
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            _export(Path(model_dir), tmp)
            digest = _sha256(tmp / MODEL_FILE)
            (tmp / BUILD_INFO).write_text(json.dumps({"sha256": digest, "source": str(model_dir)}))
            os.rename(tmp, target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            cause = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise ModelError(
                f"{target}: int8（ONNX Runtime）のモデルを構築できません（{cause}）。"
                "空き容量（約 600 MB 必要）と書き込み権限を確認してください。"
            ) from exc
    return target / MODEL_FILE


def _verified(folder: Path) -> bool:
    """A finished build whose file still has the recorded SHA-256 (a damaged one is rebuilt)."""
    try:
        info = json.loads((folder / BUILD_INFO).read_text())
        return info.get("sha256") == _sha256(folder / MODEL_FILE)
    except (OSError, ValueError):
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _export(model_dir: Path, out: Path) -> None:
    """Export (TorchScript exporter), fuse (ORT's BERT optimizer), quantize to int8."""
    import logging

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    raw, fused = out / "raw.onnx", out / "fused.onnx"
    ids = torch.randint(5, 1000, (2, 16))
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and trace notes
        torch.onnx.export(_classic_bert(bert), (ids, torch.ones_like(ids)), str(raw),
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask")},
                          opset_version=17, dynamo=False)  # fmt: skip
    logging.getLogger("onnxruntime").setLevel(logging.WARNING)
    opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=bert.config.num_attention_heads,
                                   hidden_size=bert.config.hidden_size)  # fmt: skip
    opt.save_model_to_file(str(fused))
    raw.unlink()
    # FFN output projections (the MatMul after each GELU) stay fp32: their inputs have outliers
    # that per-tensor int8 activations clip. reduce_range (7-bit weights) avoids the int16
    # saturation of u8 x s8 products on CPUs without VNNI (AVX2). Measured on 50 real texts on an
    # AVX2 EPYC: min cosine to fp32 0.9910 plain, 0.9951 reduce_range, 0.9983 both, for ~5% more
    # CPU time per chunk.
    graph = onnx.load(str(fused)).graph
    made_by = {out_name: node for node in graph.node for out_name in node.output}
    ffn_out = [n.name for n in graph.node if n.op_type == "MatMul" and n.input[0] in made_by
               and made_by[n.input[0]].op_type in ("BiasGelu", "Gelu", "FastGelu")]  # fmt: skip
    quantize_dynamic(fused, out / MODEL_FILE, per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=ffn_out,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fmt: skip
    fused.unlink()


def _classic_bert(bert: Any) -> Any:
    """BERT written as transformers 4.x wrote it (explicit attention, additive mask) with mean
    pooling, so ORT's optimizer can fuse it (transformers 5's own graph fuses no Attention)."""
    import torch

    class Module(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            h = bert.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
            ext = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
            batch, length = input_ids.shape
            for layer in bert.encoder.layer:
                att = layer.attention.self
                heads, size = att.num_attention_heads, att.attention_head_size
                q, k, v = (m(h).view(batch, length, heads, size).permute(0, 2, 1, 3)
                           for m in (att.query, att.key, att.value))  # fmt: skip
                scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(size) + ext
                ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3)
                ctx = ctx.contiguous().view(batch, length, heads * size)
                out = layer.attention.output
                h = out.LayerNorm(out.dense(ctx) + h)
                h = layer.output.LayerNorm(layer.output.dense(layer.intermediate(h)) + h)
            w = attention_mask.unsqueeze(-1).to(h.dtype)
            return (h * w).sum(1) / w.sum(1).clamp(min=1e-9)

    return Module().eval()


class OnnxForward(BatchedForward):
    """Mean-pooled vectors of tokenized batches from the int8 ONNX file, one thread per run.

    One session serves every thread (``InferenceSession.run`` is thread-safe); with
    ``intra_op_num_threads = 1`` two batches run side by side on 2 cores, which beat one batch on
    two threads (bench/embed_speed.py), and a single query runs on one thread (~13 ms).
    """

    def __init__(self, onnx_file: Path, max_seq_length: int, workers: int | None = None) -> None:
        import onnxruntime as ort

        super().__init__(max_seq_length, workers)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # warnings about unused initializers are noise to users
        self._session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])

    def embed(self, inputs: tuple[Any, Any]) -> Any:
        """L2-normalized float32 vectors (numpy) of one ``pad`` output."""
        import numpy as np

        ids, mask = (t.numpy().astype(np.int64) for t in inputs)
        vecs = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0].astype(np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
