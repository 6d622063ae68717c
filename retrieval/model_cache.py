"""Small learned models built once into the cache folder, safely (a temp folder renamed into place
under an fcntl lock), so that two processes never train at once and a crash leaves no half model.

>>> folder = build_once(cache_dir / "support", key, lambda tmp: train(tmp))  # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from retrieval.errors import ModelError

__all__ = ["build_once", "DONE"]

DONE = "report.json"  # written last by a build: its presence marks a complete model folder


def build_once(root: Path, key: str, build: Callable[[Path], object], what: str) -> Path:
    """``root/key``, built by ``build(tmp_folder)`` unless complete; older keys are removed.

    ``what`` names the model in the Japanese error raised when the folder cannot be written.
    """
    root = Path(root).expanduser()
    target = root / key
    if (target / DONE).is_file():
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = open(root / ".train.lock", "w")
    except OSError as exc:
        raise ModelError(f"{root}: {what}のキャッシュフォルダを作成できません（{exc}）。書き込めるフォルダを指定してください。") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / DONE).is_file():
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
            try:
                build(tmp)
                if target.exists():
                    shutil.rmtree(target)
                os.rename(tmp, target)
                for stale in root.iterdir():  # models of older data/code: never read again
                    if stale.is_dir() and stale != target and (stale / DONE).is_file():
                        shutil.rmtree(stale, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    return target
