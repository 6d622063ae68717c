"""A non-editable install (``pip install .``) sets up, answers and drafts: prompts, the warm-up
passage and the NLI training data travel as package data, and nothing reads the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project installed (without dependencies: the venv has them) into a fresh folder."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    shutil.copytree(ROOT, build / "src", ignore=shutil.ignore_patterns(".venv", ".git", "var", "test-artifacts",
                                                                       "build", "*.egg-info", "__pycache__"))  # fmt: skip
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(build / "src")], check=True, capture_output=True)  # fmt: skip
    return target


def _gyosei(installed: Path, cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env, input=stdin, text=True,
                         capture_output=True, timeout=1200)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return "".join(out.stdout.split())  # rich wraps lines at 80 columns off a terminal


def test_the_installed_package_sets_up_answers_and_drafts(installed, tmp_path, model_cache_dir, real_embedder) -> None:
    work = tmp_path / "office"
    (work / "docs").mkdir(parents=True)
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", work / "docs")
    shutil.copy(SAMPLES / "kokkai/ndl_speech_121314370X00120240823.json", work / "docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GYOSEI_")}
    env.update(PYTHONPATH=str(installed), GYOSEI_EMBEDDING__CACHE_DIR=str(model_cache_dir),
               GYOSEI_DATA_DIR=str(work / "docs"))  # fmt: skip
    where = subprocess.run([sys.executable, "-c", "import app, retrieval, prompts; "
                            "print(app.__file__, retrieval.__file__, prompts.__file__)"],
                           cwd=work, env=env, text=True, capture_output=True, check=True).stdout  # fmt: skip
    assert all(Path(p).is_relative_to(installed) for p in where.split()), where  # not the source tree

    assert "NLI分類器の準備ができました" in _gyosei(installed, work, env, "setup")
    _gyosei(installed, work, env, "ingest", "docs")
    answer = _gyosei(installed, work, env, "ask", "行政手続法の目的は何ですか")
    assert "[1]" in answer and "行政手続法" in answer
    (work / "question.txt").write_text("行政手続法について伺います。行政指導の一般原則について政府の見解を伺います。", encoding="utf-8")
    _gyosei(installed, work, env, "draft", "question.txt", "--out", "draft.docx")
    assert (work / "draft.docx").stat().st_size > 5000
