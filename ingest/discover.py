"""Find the files to ingest under the paths a user gave, with their ids and folder defaults.

Hidden files and folders are skipped. A symlink whose target lies outside the ingest root is
refused (it could expose files the user did not mean to publish). A folder may hold a
``.gyosei.toml`` with defaults for the files below it::

    doc_type = "guideline"
    confidentiality = 1
    groups = ["all"]
    exclude = ["ATTRIBUTION.md"]   # file name patterns not to ingest

A ``.gyosei.toml`` that is not valid TOML or holds a value of the wrong kind (``groups =
"secret"``, a string where a list is needed, would otherwise be read letter by letter) refuses
the files below it with a Japanese reason naming the file: access settings are never guessed.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ingest.readers import is_supported
from retrieval.types import DOC_TYPES

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


class BadFolderMeta(Exception):
    """A ``.gyosei.toml`` that cannot be used (Japanese reason naming the file)."""


def _string_list(meta_file: Path, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        example = f'{key} = ["{value}"]' if isinstance(value, str) else f'{key} = ["all"]'
        raise BadFolderMeta(f"{meta_file}: {key} は文字列のリストで書いてください（例: {example}）。"
                            "この設定が直るまで、このフォルダのファイルは取り込みません")
    return [v.strip() for v in value]


def _checked_meta(meta_file: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The known keys of one ``.gyosei.toml``, each of the kind it must be."""
    meta = {k: v for k, v in data.items() if k in _META_KEYS}
    if "groups" in meta:
        meta["groups"] = _string_list(meta_file, "groups", meta["groups"])
    if "exclude" in meta:
        meta["exclude"] = _string_list(meta_file, "exclude", meta["exclude"])
    level = meta.get("confidentiality")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 3):
        raise BadFolderMeta(f"{meta_file}: confidentiality は 1〜3 の整数で書いてください（{level!r} が書かれています）")
    doc_type = meta.get("doc_type")
    if doc_type is not None and doc_type not in DOC_TYPES:
        raise BadFolderMeta(f"{meta_file}: doc_type {doc_type!r} は使えません（{', '.join(DOC_TYPES)} のいずれか）")
    return meta


def _folder_defaults(path: Path, root: Path, cache: dict[Path, dict[str, Any] | BadFolderMeta]) -> dict[str, Any]:
    """Merge ``.gyosei.toml`` files from the root down to the file's folder (nearest wins);
    BadFolderMeta when one of them cannot be used."""
    folders = [path.parent]
    while folders[-1] != root and root in folders[-1].parents:
        folders.append(folders[-1].parent)
    merged: dict[str, Any] = {}
    for folder in reversed(folders):
        if folder not in cache:
            meta_file = folder / FOLDER_META
            data: dict[str, Any] | BadFolderMeta = {}
            if meta_file.is_file():
                try:
                    with meta_file.open("rb") as fh:
                        data = _checked_meta(meta_file, tomllib.load(fh))
                except tomllib.TOMLDecodeError as exc:
                    data = BadFolderMeta(f"{meta_file}: TOML として読めません（{exc}）")
                except BadFolderMeta as exc:
                    data = exc
            cache[folder] = data
        found = cache[folder]
        if isinstance(found, BadFolderMeta):
            raise found
        merged.update(found)
    return merged


def discover(paths: list[Path], data_dir: Path | None = None) -> Iterator[Candidate | Refused]:
    """Yield a ``Candidate`` per readable file under ``paths`` and a ``Refused`` per refused one."""
    meta_cache: dict[Path, dict[str, Any] | BadFolderMeta] = {}
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
            try:
                defaults = _folder_defaults(absolute, given.absolute() if given.is_dir() else absolute.parent, meta_cache)
            except BadFolderMeta as exc:
                yield Refused(path, str(exc))
                continue
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in defaults.pop("exclude", [])):
                continue
            if not is_supported(path):
                yield Refused(path, f"対応していないファイル形式です（拡張子 {path.suffix or 'なし'}）")
                continue
            yield Candidate(path=path, doc_id=stable_id(path, data_dir), defaults=defaults)
