"""The embedding path chosen from what the CPU reports, on faked ability sets of every class users
have (AMX Xeon, AVX-512 without bf16, AVX2-only EPYC, aarch64, an old x86), and the fallback
from a path that fails to load or on its first batch (fast: no model is loaded)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from retrieval.cpu import CpuInfo, _proc_cpuinfo, auto_paths, check_path, detect_cpu, index_path_note
from retrieval.embedder import SentenceTransformerEmbedder
from retrieval.errors import ConfigError, ModelError

AMX = CpuInfo("x86_64", "Intel Xeon Platinum 8481C",
              frozenset({"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "amx_bf16",
                         "amx_int8", "avx512_vnni"}), torch_bf16=True, torch_capability="AVX512")  # fmt: skip
AVX512_NO_BF16 = CpuInfo("x86_64", "Intel Xeon Gold 6248",
                         frozenset({"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"}),
                         torch_bf16=True, torch_capability="AVX512")  # fmt: skip
AVX2 = CpuInfo("x86_64", "AMD EPYC", frozenset({"avx2", "fma", "f16c"}), torch_bf16=False, torch_capability="AVX2")
ARM = CpuInfo("aarch64", "Neoverse-N1", frozenset({"asimd", "fp"}), torch_bf16=False, torch_capability="DEFAULT")
OLD_X86 = CpuInfo("x86_64", "Intel Xeon E5-2670", frozenset({"sse4_2", "avx"}), torch_bf16=False)


@pytest.mark.parametrize(("cpu", "expected"), [
    (AMX, ["bf16", "onnx-int8", "fp32"]),
    (AVX512_NO_BF16, ["onnx-int8", "fp32"]),  # bf16 would only be emulated there: slower than int8
    (AVX2, ["onnx-int8", "fp32"]),
    (ARM, ["onnx-int8", "fp32"]),
    (OLD_X86, ["fp32"]),
])  # fmt: skip
def test_auto_picks_the_fast_paths_of_each_cpu_class_with_fp32_last(cpu: CpuInfo, expected: list[str]) -> None:
    assert auto_paths(cpu, onnx_available=True) == expected


def test_without_onnx_runtime_auto_keeps_torch_paths() -> None:
    assert auto_paths(AVX2, onnx_available=False) == ["fp32"]
    assert auto_paths(AMX, onnx_available=False) == ["bf16", "fp32"]


def test_an_explicit_path_the_cpu_cannot_run_is_a_japanese_error_naming_feature_and_setting() -> None:
    with pytest.raises(ConfigError) as err:
        check_path("bf16", AVX2)
    assert "AVX512-BF16" in str(err.value) and "GYOSEI_EMBEDDING__PRECISION" in str(err.value)
    with pytest.raises(ConfigError, match="AVX2"):
        check_path("onnx-int8", OLD_X86)
    with pytest.raises(ConfigError, match="onnxruntime"):
        check_path("onnx-int8", AVX2, onnx_available=False)
    with pytest.raises(ConfigError, match="fp16"):
        check_path("fp16", AMX)
    for path in ("auto", "fp32", "int8", "onnx-int8"):
        check_path(path, AVX2)  # runs there: no error
    check_path("bf16", AVX512_NO_BF16)  # emulated bf16 runs when forced


def test_an_explicit_path_this_cpu_lacks_is_refused_before_any_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.embedder as embedder_module

    monkeypatch.setattr(embedder_module, "detect_cpu", lambda: AVX2)
    emb = SentenceTransformerEmbedder("/nonexistent-model", precision="bf16")  # cheap: nothing checked yet
    with pytest.raises(ConfigError, match="bf16"):  # not the ModelError of the missing folder
        emb.embed_query("質問")
    monkeypatch.setattr(embedder_module, "onnx_runtime_available", lambda: True)
    assert SentenceTransformerEmbedder("unused", precision="auto").paths == ["onnx-int8", "fp32"]
    monkeypatch.setattr(embedder_module, "detect_cpu", lambda: AMX)
    assert SentenceTransformerEmbedder("unused", precision="auto").paths == ["bf16", "onnx-int8", "fp32"]
    assert SentenceTransformerEmbedder("unused", precision="fp32").paths == ["fp32"]


class _Scripted(SentenceTransformerEmbedder):
    """Paths that fail when they load or on their first batch, as scripted; no model is loaded."""

    def __init__(self, paths: list[str], load_fails: set[str], run_fails: set[str]) -> None:
        super().__init__("unused", paths=paths)
        self.load_fails, self.run_fails, self.loaded = load_fails, run_fails, []

    def _build_path(self, path: str) -> str:
        self.loaded.append(path)
        if path in self.load_fails:
            raise RuntimeError(f"mkldnn_reorder_linear_weight: {path} path needs the cpu support")
        return path

    def _run(self, model: str, texts: list[str], prompt: str) -> list[list[float]]:
        if model in self.run_fails:
            raise RuntimeError("first batch failed")
        return [[1.0, 0.0] for _ in texts]


def test_a_path_that_fails_to_load_hands_over_to_the_next_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    emb = _Scripted(["bf16", "onnx-int8", "fp32"], load_fails={"bf16"}, run_fails={"onnx-int8"})
    with caplog.at_level(logging.WARNING, logger="retrieval.embedder"):
        assert emb.embed_query("質問") == [1.0, 0.0]
    assert emb.path == "fp32" and emb.loaded == ["bf16", "onnx-int8", "fp32"]
    assert [p for p, _ in emb.fallbacks] == ["bf16", "onnx-int8"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "bf16" in lines[0] and "int8（ONNX Runtime）" in lines[0]
    emb.embed_documents(["文書"])  # no second attempt: the chosen path stays
    assert emb.loaded == ["bf16", "onnx-int8", "fp32"]


def test_when_the_last_path_fails_too_the_error_is_japanese() -> None:
    emb = _Scripted(["onnx-int8", "fp32"], load_fails={"onnx-int8", "fp32"}, run_fails=set())
    with pytest.raises(ModelError, match="埋め込みモデルをfp32（PyTorch）で実行できません"):
        emb.embed_query("質問")


def test_this_machines_cpu_is_read_and_its_choice_ends_with_fp32() -> None:
    cpu = detect_cpu()
    assert cpu.is_x86 or cpu.is_arm, cpu.arch
    assert cpu.flags, "no instruction-set flags read from /proc/cpuinfo"
    assert auto_paths(cpu, True)[-1] == "fp32"
    assert cpu.arch in cpu.summary()


def test_proc_cpuinfo_flags_of_x86_and_aarch64(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n\nprocessor\t: 1\nflags\t: other\n")
    assert _proc_cpuinfo(x86) == (frozenset({"fpu", "avx2", "fma"}), "AMD EPYC")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\n")
    assert _proc_cpuinfo(arm)[0] == frozenset({"fp", "asimd", "evtstrm"})
    assert _proc_cpuinfo(tmp_path / "missing") == (frozenset(), "")


def test_index_note_only_when_the_index_holds_vectors_of_another_path() -> None:
    assert index_path_note("onnx-int8", {"onnx-int8"}) is None
    assert index_path_note("onnx-int8", set()) is None
    note = index_path_note("onnx-int8", {"bf16", "onnx-int8"})
    assert note is not None and "bf16" in note and "そのまま検索できます" in note
