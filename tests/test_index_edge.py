"""What only the embedded index (Qdrant Edge on disk) does: persistence, crash recovery, the
dimension check and the writer lock; and ``open_index`` choosing the configured backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from retrieval.errors import ConfigError, IndexError_, IndexLockedError
from retrieval.index import open_index
from retrieval.index.edge import EdgeIndex
from retrieval.index.qdrant import QdrantIndex
from retrieval.settings import IndexSettings
from retrieval.types import Query
from tests.index_helpers import CHUNKS, DIM, PUBLIC, ROOT, index_view


def test_edge_persists_across_close_and_reopen(tmp_path):
    with EdgeIndex(tmp_path / "idx", DIM) as idx:
        idx.upsert(CHUNKS)
        idx.flush()
        before = index_view(idx.search(Query(dense=CHUNKS[3].dense, sparse=CHUNKS[3].sparse), PUBLIC, k=5))
    with EdgeIndex(tmp_path / "idx", DIM, read_only=True) as ro:
        assert ro.count() == len(CHUNKS)
        assert index_view(ro.search(Query(dense=CHUNKS[3].dense, sparse=CHUNKS[3].sparse), PUBLIC, k=5)) == before
        with pytest.raises(IndexError_, match="読み取り専用"):
            ro.delete("nta:29")
    settings = IndexSettings(backend="edge", path=tmp_path / "idx")
    reopened = open_index(settings, DIM)
    try:
        assert reopened.delete("nta:29") == 1
    finally:
        reopened.close()
    with EdgeIndex(tmp_path / "idx", DIM, read_only=True) as ro:
        assert ro.count() == len(CHUNKS) - 1


def test_edge_keeps_unflushed_writes_after_a_crash(tmp_path):
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[2])\n"
        "from tests.index_helpers import CHUNKS, DIM\n"
        "from retrieval.index.edge import EdgeIndex\n"
        "idx = EdgeIndex(__import__('pathlib').Path(sys.argv[1]), DIM); idx.upsert(CHUNKS)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "idx"), str(ROOT)], cwd=ROOT)
    assert proc.returncode == -9
    with EdgeIndex(tmp_path / "idx", DIM, read_only=True) as ro:  # the kernel dropped the lock
        assert ro.count() == len(CHUNKS)


def test_dimension_mismatch_is_a_clear_error(tmp_path):
    EdgeIndex(tmp_path / "idx", DIM).close()
    with pytest.raises(IndexError_, match=f"次元は {DIM} .*モデルは 16 次元") as err:
        EdgeIndex(tmp_path / "idx", 16)
    assert "16" in str(err.value) and "取り込み直" in str(err.value)
    client = QdrantClient(":memory:")
    QdrantIndex(client, "gyosei", DIM)
    with pytest.raises(IndexError_, match="取り込み直"):
        QdrantIndex(client, "gyosei", 16)
    with pytest.raises(IndexError_, match="先に文書を取り込んで"):
        EdgeIndex(tmp_path / "none", DIM, read_only=True)


OPEN_IN_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[3])\n"
    "from pathlib import Path\n"
    "from retrieval.index.edge import EdgeIndex\n"
    "try:\n"
    "    EdgeIndex(Path(sys.argv[1]), 32, read_only=sys.argv[2] == 'ro').close(); print('OPENED')\n"
    "except Exception as exc:\n"
    "    print(type(exc).__name__, exc)\n"
)


def open_in_child(path: Path, mode: str) -> str:
    out = subprocess.run([sys.executable, "-c", OPEN_IN_CHILD, str(path), mode, str(ROOT)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    return out.stdout.strip() + out.stderr.strip()


def test_second_writer_in_another_process_is_refused(tmp_path):
    path = tmp_path / "idx"
    writer = EdgeIndex(path, DIM)
    try:
        out = open_in_child(path, "rw")
        assert out.startswith("IndexLockedError") and "書き込み中" in out and str(os.getpid()) in out
        # Edge itself keeps one open shard per folder: a reader must wait for the writer too.
        assert open_in_child(path, "ro").startswith("IndexLockedError")
        with pytest.raises(IndexLockedError):  # a second open in this process is refused as well
            EdgeIndex(path, DIM)
    finally:
        writer.close()
    assert open_in_child(path, "rw") == "OPENED"
    reader = EdgeIndex(path, DIM, read_only=True)
    try:
        assert open_in_child(path, "rw").startswith("IndexLockedError")  # a reader blocks writers
    finally:
        reader.close()


def test_open_index_builds_the_configured_backend(tmp_path):
    mem = open_index(IndexSettings(url=":memory:"), DIM)  # a URL means the server backend
    try:
        assert isinstance(mem, QdrantIndex)
        mem.upsert(CHUNKS[:3])
        assert mem.count(PUBLIC) == 3
    finally:
        mem.close()
    local = open_index(IndexSettings(backend="qdrant", url=str(tmp_path / "local")), DIM)
    try:
        with pytest.raises(IndexLockedError, match="使用中"):
            open_index(IndexSettings(backend="qdrant", url=str(tmp_path / "local")), DIM)
    finally:
        local.close()
    with pytest.raises(ConfigError, match="index.url"):
        open_index(IndexSettings(backend="qdrant"), DIM)
    with pytest.raises(IndexError_, match="先に文書を取り込んで"):
        open_index(IndexSettings(url=":memory:"), DIM, read_only=True)
