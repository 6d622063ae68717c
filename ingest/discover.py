"""Find the files to ingest under the paths a user gave, with their ids and folder defaults.

Hidden files and folders are skipped. A symlink whose target lies outside the ingest root is
refused (it could expose files the user did not mean to publish). A folder may hold a
``.gyosei.toml`` with defaults for the files below it::

    doc_type = "guideline"
    confidentiality = 1
    groups = ["all"]
    exclude = ["ATTRIBUTION.md"]   # file name patterns not to ingest
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ingest.readers import is_supported

FOLDER_META = ".gyosei.toml"
_META_KEYS = {"doc_type", "confidentiality", "groups", "exclude"}


@dataclass
class Candidate:
    """A file to read: where it is, its stable id, and the defaults of its folders."""

    path: Path
    doc_id: str
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class Refused:
    """A path that will not be read, and why (Japanese)."""

    path: Path
    reason: str


def stable_id(path: Path, data_dir: Path | None) -> str:
    """The id of a file: relative to the data dir, else to the working dir, else absolute."""
    resolved = path.resolve()
    for base in (data_dir, Path.cwd()):
        if base is None:
            continue
        try:
            return resolved.relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return resolved.as_posix()


def _is_hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = (path.name,)
    return any(part.startswith(".") for part in parts)


def _folder_defaults(path: Path, root: Path, cache: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    """Merge ``.gyosei.toml`` files from the root down to the file's folder (nearest wins)."""
    folders = [path.parent]
    while folders[-1] != root and root in folders[-1].parents:
        folders.append(folders[-1].parent)
    merged: dict[str, Any] = {}
    for folder in reversed(folders):
        if folder not in cache:
            meta_file = folder / FOLDER_META
            data: dict[str, Any] = {}
            if meta_file.is_file():
                with meta_file.open("rb") as fh:
                    data = {k: v for k, v in tomllib.load(fh).items() if k in _META_KEYS}
            cache[folder] = data
        merged.update(cache[folder])
    return merged


def discover(paths: list[Path], data_dir: Path | None = None) -> Iterator[Candidate | Refused]:
    """Yield a ``Candidate`` per readable file under ``paths`` and a ``Refused`` per refused one."""
    meta_cache: dict[Path, dict[str, Any]] = {}
    for given in paths:
        if not given.exists() and not given.is_symlink():
            yield Refused(given, "指定されたパスが見つかりません")
            continue
        root = given.resolve() if given.is_dir() else given.resolve().parent
        files = [given] if not given.is_dir() else sorted(p for p in given.rglob("*") if p.is_file() or p.is_symlink())
        for path in files:
            absolute = path.absolute()
            if given.is_dir() and _is_hidden(absolute, given.absolute()):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root):
                    yield Refused(path, f"取り込み対象フォルダの外を指すシンボリックリンクのため読み込みません（リンク先: {target}）")
                    continue
                if not target.is_file():
                    yield Refused(path, "リンク先がファイルではありません")
                    continue
            defaults = _folder_defaults(absolute, given.absolute() if given.is_dir() else absolute.parent, meta_cache)
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in defaults.pop("exclude", [])):
                continue
            if not is_supported(path):
                yield Refused(path, f"対応していないファイル形式です（拡張子 {path.suffix or 'なし'}）")
                continue
            yield Candidate(path=path, doc_id=stable_id(path, data_dir), defaults=defaults)
