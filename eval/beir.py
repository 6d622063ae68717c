"""Load an evaluation set in the BEIR layout, with Japanese errors that name the file and line.

Layout (UTF-8, one JSON object per line)::

    <dir>/corpus.jsonl     {"_id": "...", "title": "...", "text": "...", "metadata": {...}}
    <dir>/queries.jsonl    {"_id": "...", "text": "...", "metadata": {...}}
    <dir>/qrels/<split>.tsv   query-id <TAB> corpus-id <TAB> score   (header line optional)

Usage::

    ds = load_beir(Path("eval/datasets/nta_faq"))
    ds.relevant["nta-q-25"]   # -> {"nta-25"}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from retrieval.errors import GyoseiError

__all__ = ["BeirError", "BeirDataset", "CorpusDoc", "BeirQuery", "load_beir", "dataset_fingerprint", "dataset_files"]

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_DIR = "qrels"


class BeirError(GyoseiError):
    """An evaluation set is missing a file or holds a bad line (the message names both)."""


@dataclass
class CorpusDoc:
    """One corpus document as written in corpus.jsonl."""

    doc_id: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class BeirQuery:
    """One query as written in queries.jsonl."""

    query_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class BeirDataset:
    """A loaded set: corpus and queries in file order, and the relevant documents per query.

    ``relevant`` holds only judgements with score > 0 (binary relevance).
    """

    name: str
    path: Path
    corpus: list[CorpusDoc]
    queries: list[BeirQuery]
    relevant: dict[str, set[str]]
    fingerprint: str
    corpus_fingerprint: str
    qrels_files: list[str]

    @property
    def judged_queries(self) -> list[BeirQuery]:
        """Queries that have at least one relevant document (the others cannot be scored)."""
        return [q for q in self.queries if self.relevant.get(q.query_id)]


def dataset_files(path: Path) -> list[Path]:
    """The files that make up the set (corpus, queries, every qrels TSV), in a fixed order."""
    path = Path(path)
    if not path.is_dir():
        raise BeirError(f"{path}: 評価セットのフォルダが見つかりません。corpus.jsonl・queries.jsonl・qrels/ を含むフォルダを指定してください。")
    missing = [name for name in (CORPUS_FILE, QUERIES_FILE) if not (path / name).is_file()]
    if missing:
        raise BeirError(f"{path}: {'、'.join(missing)} がありません（BEIR形式: corpus.jsonl、queries.jsonl、qrels/*.tsv）。")
    qrels = sorted((path / QRELS_DIR).glob("*.tsv")) if (path / QRELS_DIR).is_dir() else []
    if not qrels:
        raise BeirError(f"{path / QRELS_DIR}: 正解ファイル（qrels/*.tsv）がありません。")
    return [path / CORPUS_FILE, path / QUERIES_FILE, *qrels]


def _sha256_files(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\x00")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\x00")
    return digest.hexdigest()


def dataset_fingerprint(path: Path) -> str:
    """sha256 over the set's files (names and bytes): same files, same fingerprint."""
    path = Path(path)
    return _sha256_files(dataset_files(path), path)


def _json_lines(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; a bad line raises BeirError naming file and line."""
    try:
        fh = file.open("rb")
    except OSError as exc:
        raise BeirError(f"{file}: ファイルを開けません（{exc.strerror or exc}）。") from exc
    with fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise BeirError(f"{file} {line_no}行目: UTF-8として読めません（{exc.start}バイト目）。") from exc
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BeirError(f"{file} {line_no}行目: JSONとして読めません（{exc.colno}文字目: {exc.msg}）。") from exc
            if not isinstance(obj, dict):
                raise BeirError(f"{file} {line_no}行目: JSONオブジェクト（{{...}}）ではありません。")
            yield line_no, obj


def _record_id(file: Path, line_no: int, obj: dict[str, Any], seen: dict[str, int]) -> str:
    raw = obj.get("_id", obj.get("id"))
    if raw is None or (isinstance(raw, str) and not raw.strip()) or isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise BeirError(f"{file} {line_no}行目: _id がありません（文字列か整数で指定してください）。")
    rid = str(raw).strip()
    if rid in seen:
        raise BeirError(f"{file} {line_no}行目: _id {rid!r} が重複しています（{seen[rid]}行目と同じ）。")
    seen[rid] = line_no
    return rid


def _text_field(file: Path, line_no: int, obj: dict[str, Any], key: str, required: bool) -> str:
    value = obj.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BeirError(f"{file} {line_no}行目: {key} が文字列ではありません。")
    if required and not value.strip():
        raise BeirError(f"{file} {line_no}行目: {key} が空です。")
    return value


def _metadata(file: Path, line_no: int, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise BeirError(f"{file} {line_no}行目: metadata がJSONオブジェクトではありません。")
    return meta


def _load_corpus(file: Path) -> list[CorpusDoc]:
    seen: dict[str, int] = {}
    docs = []
    for line_no, obj in _json_lines(file):
        doc_id = _record_id(file, line_no, obj, seen)
        docs.append(CorpusDoc(doc_id, _text_field(file, line_no, obj, "title", False),
                              _text_field(file, line_no, obj, "text", True), _metadata(file, line_no, obj)))
    if not docs:
        raise BeirError(f"{file}: 文書が1件もありません。")
    return docs


def _load_queries(file: Path) -> list[BeirQuery]:
    seen: dict[str, int] = {}
    queries = []
    for line_no, obj in _json_lines(file):
        qid = _record_id(file, line_no, obj, seen)
        queries.append(BeirQuery(qid, _text_field(file, line_no, obj, "text", True), _metadata(file, line_no, obj)))
    if not queries:
        raise BeirError(f"{file}: 質問が1件もありません。")
    return queries


def _load_qrels(file: Path, query_ids: set[str], doc_ids: set[str], relevant: dict[str, set[str]]) -> None:
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise BeirError(f"{file}: UTF-8として読めません（{exc.start}バイト目）。") from exc
    except OSError as exc:
        raise BeirError(f"{file}: ファイルを開けません（{exc.strerror or exc}）。") from exc
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split("\t")]
        if line_no == 1 and cols[0].lower() in ("query-id", "query_id", "qid"):
            continue  # the optional header
        if len(cols) < 2:
            raise BeirError(f"{file} {line_no}行目: タブ区切りで query-id、corpus-id（、score）の列が必要です。")
        qid, did = cols[0], cols[1]
        try:
            score = float(cols[2]) if len(cols) > 2 and cols[2] else 1.0
        except ValueError as exc:
            raise BeirError(f"{file} {line_no}行目: score {cols[2]!r} が数値ではありません。") from exc
        if qid not in query_ids:
            raise BeirError(f"{file} {line_no}行目: 質問ID {qid!r} が queries.jsonl にありません。")
        if did not in doc_ids:
            raise BeirError(f"{file} {line_no}行目: 文書ID {did!r} が corpus.jsonl にありません。")
        if score > 0:
            relevant.setdefault(qid, set()).add(did)


def load_beir(path: Path, name: str | None = None) -> BeirDataset:
    """Read and check a BEIR-layout folder; raise BeirError (Japanese, file and line) on bad input."""
    path = Path(path)
    files = dataset_files(path)
    corpus = _load_corpus(path / CORPUS_FILE)
    queries = _load_queries(path / QUERIES_FILE)
    relevant: dict[str, set[str]] = {}
    doc_ids = {d.doc_id for d in corpus}
    query_ids = {q.query_id for q in queries}
    for qrels in files[2:]:
        _load_qrels(qrels, query_ids, doc_ids, relevant)
    if not relevant:
        raise BeirError(f"{path / QRELS_DIR}: 正解（score > 0 の行）が1件もありません。")
    return BeirDataset(
        name=name or path.resolve().name,
        path=path,
        corpus=corpus,
        queries=queries,
        relevant=relevant,
        fingerprint=_sha256_files(files, path),
        corpus_fingerprint=_sha256_files(files[:1], path),
        qrels_files=[f.relative_to(path).as_posix() for f in files[2:]],
    )
