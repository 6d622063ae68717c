"""The `gyosei` CLI end to end with the real embedder and the embedded index."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main

from .conftest import SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, model_cache_dir, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", docs)
    shutil.copy(SAMPLES / "digital_agency/499_appendix_FAQ.md", docs)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "index"))
    monkeypatch.setenv("GYOSEI_DATA_DIR", str(docs))
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(model_cache_dir))
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    return docs


def test_ingest_search_stats_delete(env):
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(env)])
    assert result.exit_code == 0, result.output
    assert "登録 2 ファイル" in result.output

    again = runner.invoke(main, ["ingest", str(env)])
    assert again.exit_code == 0 and "変更なし 2" in again.output

    found = runner.invoke(main, ["search", "行政指導に携わる者が守るべき一般原則は何か", "-k", "3"])
    assert found.exit_code == 0, found.output
    assert "行政手続法" in found.output and "第三十二条" in found.output

    stats = runner.invoke(main, ["index", "stats"])
    assert stats.exit_code == 0, stats.output
    # One law and one Markdown file with no folder defaults (type "other"), both counted.
    assert "law" in stats.output and "other" in stats.output
    assert re.search(r"合計\S*\s*│\s*2\s*│", stats.output), stats.output
    # Both documents were embedded by the path this CPU takes, and stats says which.
    from retrieval.cpu import PATH_LABELS, auto_paths, detect_cpu, onnx_runtime_available

    label = PATH_LABELS[auto_paths(detect_cpu(), onnx_runtime_available())[0]]
    assert f"ベクトルの作成方式: {label} 2 文書。この環境の検索: {label}" in " ".join(stats.output.split()), stats.output

    gone = runner.invoke(main, ["index", "delete", "499_appendix_FAQ.md"])
    assert gone.exit_code == 0 and "削除しました" in gone.output
    missing = runner.invoke(main, ["index", "delete", "499_appendix_FAQ.md"])
    assert missing.exit_code == 1


def test_exit_status_is_nonzero_only_when_nothing_could_be_indexed(env, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.md").write_bytes(b"")
    runner = CliRunner()
    failed = runner.invoke(main, ["ingest", str(bad)])
    assert failed.exit_code == 1
    assert "empty.md" in failed.output and "空" in failed.output

    (bad / "ok.txt").write_text("デジタル庁は、デジタル社会の形成に関する施策を推進する。", encoding="utf-8")
    partly = runner.invoke(main, ["ingest", str(bad)])
    assert partly.exit_code == 0, partly.output
    assert "失敗 1" in partly.output


def test_setup_prepares_the_model_and_the_nli_classifier(env, model_cache_dir, monkeypatch):
    monkeypatch.setenv("GYOSEI_LLM__PROVIDER", "none")
    result = CliRunner().invoke(main, ["setup"])
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())  # rich wraps long lines
    assert "埋め込みモデルの準備ができました" in flat
    ready = re.search(r"NLI分類器の準備ができました（(.+?)）", flat)
    assert ready, result.output
    folder = Path(ready.group(1))
    assert folder.parent == model_cache_dir / "nli" and (folder / "weights.npz").is_file()
    support = re.search(r"裏付け判定モデルの準備ができました（(.+?)、しきい値", flat)
    assert support and Path(support.group(1)).parent.parent == model_cache_dir / "support"
    assert (Path(support.group(1)) / "weights.npz").is_file()
    # With an LLM configured the 矛盾チェック asks it: nothing to train.
    monkeypatch.setenv("GYOSEI_LLM__PROVIDER", "openai_compatible")
    monkeypatch.setenv("GYOSEI_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GYOSEI_LLM__MODEL", "m")
    with_llm = CliRunner().invoke(main, ["setup"])
    assert with_llm.exit_code == 0, with_llm.output
    assert "埋め込みモデルの準備ができました" in with_llm.output and "NLI" not in with_llm.output
    assert "裏付け判定モデルの準備ができました" in "".join(with_llm.output.split())  # answers are judged offline either way


def test_setup_prints_the_cpu_the_chosen_path_and_a_measured_speed(env):
    from retrieval.cpu import PATH_LABELS, auto_paths, detect_cpu, onnx_runtime_available

    result = CliRunner().invoke(main, ["setup"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert f"CPU: {detect_cpu().summary()}" in out
    label = PATH_LABELS[auto_paths(detect_cpu(), onnx_runtime_available())[0]]
    assert re.search(rf"方式 {re.escape(label)}: 約 \d+\.\d チャンク/秒、質問 1 件 \d+ ミリ秒", out), out
    assert "NLI 分類器の準備ができました" in out


def test_forcing_a_path_this_cpu_cannot_run_is_a_japanese_error_not_a_traceback(env, monkeypatch):
    from retrieval.cpu import detect_cpu

    forced = "fp32" if detect_cpu().torch_bf16 else "bf16"
    if forced == "fp32":  # a bf16 machine runs everything: force the ONNX path without onnxruntime
        monkeypatch.setattr("retrieval.embedder.onnx_runtime_available", lambda: False)
        forced = "onnx-int8"
    monkeypatch.setenv("GYOSEI_EMBEDDING__PRECISION", forced)
    result = CliRunner().invoke(main, ["search", "行政手続法の目的"])
    assert result.exit_code == 2  # the CLI's exit status for a configuration error
    assert "Traceback" not in result.output and "GYOSEI_EMBEDDING__PRECISION" in " ".join(result.output.split())
