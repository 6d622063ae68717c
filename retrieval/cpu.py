"""What this processor can do, and which embedding path follows from it.

Machines of one kind differ (an AMX Xeon, an AVX2-only EPYC, an aarch64 server), so the
embedding path is chosen at run time from what the CPU reports, never assumed:

    >>> cpu = detect_cpu()
    >>> auto_paths(cpu, onnx_available=True)    # e.g. ["onnx-int8", "fp32"] on an AVX2-only CPU
    >>> check_path("bf16", cpu)                  # raises ConfigError (in Japanese) if it cannot run

The paths: ``bf16`` (the fused bf16 forward, fast where bf16 is native: AMX or AVX-512 BF16),
``onnx-int8`` (ONNX Runtime, dynamic int8: the fast path on AVX2, AVX-512 without bf16 and
aarch64; quality held on an AVX2-only EPYC, bench/embed_speed.py), ``int8`` (torch dynamic int8,
only when asked for) and ``fp32`` (torch, runs anywhere: the last resort).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from retrieval.errors import ConfigError

PATHS: tuple[str, ...] = ("auto", "bf16", "onnx-int8", "int8", "fp32")
PATH_LABELS = {
    "bf16": "bf16（融合 forward、PyTorch/oneDNN）",
    "onnx-int8": "int8（ONNX Runtime）",
    "int8": "int8（PyTorch 動的量子化）",
    "fp32": "fp32（PyTorch）",
}
# Flags that make bf16 matmuls native rather than emulated through AVX-512BW.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
SETTING_HINT = "embedding.precision（環境変数 GYOSEI_EMBEDDING__PRECISION）"


@dataclass(frozen=True)
class CpuInfo:
    """The facts the choice depends on: architecture, model name, instruction-set flags, and
    what torch itself says it can run (``torch_bf16``: oneDNN bf16 kernels usable at all)."""

    arch: str
    model: str
    flags: frozenset[str] = field(default_factory=frozenset)
    torch_bf16: bool = False
    torch_capability: str = ""

    @property
    def is_x86(self) -> bool:
        """An x86-64 processor."""
        return self.arch in ("x86_64", "amd64", "AMD64")

    @property
    def is_arm(self) -> bool:
        """An aarch64 processor (NEON is part of the base instruction set)."""
        return self.arch in ("aarch64", "arm64")

    @property
    def native_bf16(self) -> bool:
        """bf16 matmuls run natively (AMX or AVX-512 BF16) and torch can use them."""
        return self.torch_bf16 and any(f in self.flags for f in NATIVE_BF16_FLAGS)

    @property
    def int8_ok(self) -> bool:
        """ONNX Runtime's int8 kernels are fast and measured to hold quality on this class."""
        return self.is_arm or (self.is_x86 and "avx2" in self.flags)

    def summary(self) -> str:
        """One Japanese line for `gyosei setup` and the governance report."""
        shown = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
                             "avx512_bf16", "amx_bf16", "amx_int8", "asimd", "sve")
                 if f in self.flags]  # fmt: skip
        bf16 = "あり" if self.native_bf16 else ("エミュレーションのみ" if self.torch_bf16 else "なし")
        return (f"{self.model or '不明な CPU'}（{self.arch}）: 命令セット {' '.join(shown) or '基本のみ'}、"
                f"ネイティブ bf16 {bf16}")  # fmt: skip


def auto_paths(cpu: CpuInfo, onnx_available: bool) -> list[str]:
    """The paths ``precision = "auto"`` tries on ``cpu``, fastest first; fp32 always last."""
    paths = []
    if cpu.native_bf16:
        paths.append("bf16")
    if onnx_available and cpu.int8_ok:
        paths.append("onnx-int8")
    paths.append("fp32")
    return paths


def check_path(path: str, cpu: CpuInfo, onnx_available: bool = True) -> None:
    """Raise a Japanese ConfigError if an explicitly chosen ``path`` cannot run on ``cpu``."""
    if path not in PATHS:
        raise ConfigError(
            f"{SETTING_HINT} の値 {path!r} は使えません。{'/'.join(PATHS)} のいずれかを指定してください。"
        )
    if path == "bf16" and not cpu.torch_bf16:
        raise ConfigError(
            "この CPU には bf16 の計算に必要な命令（AMX-BF16、AVX512-BF16、または AVX512BW/VL/DQ）が"
            f"ありません（{cpu.summary()}）。{SETTING_HINT} を auto、onnx-int8 または fp32 にしてください。"
        )
    if path == "onnx-int8" and not onnx_available:
        raise ConfigError(
            "onnx-int8 には Python パッケージ onnxruntime と onnx が必要ですが、インストールされていません。"
            f"`pip install .` でインストールし直すか、{SETTING_HINT} を auto または fp32 にしてください。"
        )
    if path == "onnx-int8" and not cpu.int8_ok:
        raise ConfigError(
            f"この CPU（{cpu.summary()}）には int8 の高速な計算に必要な命令（x86-64 の AVX2、または "
            f"aarch64）がありません。{SETTING_HINT} を auto または fp32 にしてください。"
        )


@lru_cache(maxsize=1)
def detect_cpu() -> CpuInfo:
    """This machine's CpuInfo, read once per process (/proc/cpuinfo and torch's own checks)."""
    flags, model = _proc_cpuinfo(Path("/proc/cpuinfo"))
    torch_bf16, capability = False, ""
    try:
        import torch

        torch_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # an old or odd torch build: treat bf16 as unavailable
        pass
    return CpuInfo(platform.machine(), model or platform.processor(), flags, torch_bf16, capability)


def onnx_runtime_available() -> bool:
    """True if onnxruntime and onnx (for the one-time export) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def _proc_cpuinfo(path: Path) -> tuple[frozenset[str], str]:
    """Flags (x86 ``flags``, aarch64 ``Features``) and model name of the first processor."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return frozenset(), ""
    flags: set[str] = set()
    model = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
    return frozenset(flags), model


def index_path_note(current: str, index_paths: set[str]) -> str | None:
    """A Japanese note when the index holds vectors made by another path than ``current``.

    The paths "auto" picks agree with fp32 (cosine >= 0.995, tested), so such an index stays
    searchable; the note says so.
    """
    other = sorted(p for p in index_paths if p and p != current)
    if not other:
        return None
    made = "、".join(PATH_LABELS.get(p, p) for p in other)
    return (f"索引には {made} で作成したベクトルがあります（この環境の検索は {PATH_LABELS.get(current, current)}）。"
            "どの方式のベクトルも fp32 と一致する（コサイン 0.995 以上）ため、そのまま検索できます。")
