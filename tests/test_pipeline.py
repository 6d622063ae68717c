"""The ingestion pipeline on real sample documents, with a fast fake embedder and the real
Qdrant Edge index: skip/replace/sync, bad input, confidentiality, and kill -9 safety."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.pipeline import IngestOptions, Ingestor
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.settings import ChunkSettings, IndexSettings, SecuritySettings
from retrieval.text.sparse import SparseEncoder

from .conftest import SAMPLES

DIM = 64


def make_ingestor(index, data_dir: Path | None = None, **security) -> Ingestor:
    return Ingestor(index, HashEmbedder(DIM), SparseEncoder(), ChunkSettings(), SecuritySettings(**security), data_dir, batch_size=16)


@pytest.fixture
def index(tmp_path):
    idx = open_index(IndexSettings(path=tmp_path / "index"), DIM)
    yield idx
    idx.close()


@pytest.fixture
def docs(tmp_path) -> Path:
    """A small folder of real documents: an e-Gov law, Diet speeches, a guideline, an FAQ file."""
    root = tmp_path / "docs"
    (root / "laws").mkdir(parents=True)
    (root / "kokkai").mkdir()
    (root / "guides").mkdir()
    shutil.copy(SAMPLES / "laws/405AC0000000088_20240401_504AC0100000052.xml", root / "laws")
    shutil.copy(SAMPLES / "kokkai/ndl_speech_121505261X00120241114.json", root / "kokkai")
    shutil.copy(SAMPLES / "digital_agency/499_appendix_FAQ.md", root / "guides")
    (root / "guides/.gyosei.toml").write_text('doc_type = "guideline"\n', encoding="utf-8")
    return root


def assert_consistent(index) -> None:
    """Every document complete; the number of points equals the sum of their chunk counts."""
    docs = index.documents()
    assert docs, "index is empty"
    incomplete = [d.doc_id for d in docs.values() if not d.complete]
    assert not incomplete, f"incomplete documents: {incomplete}"
    assert index.count() == sum(d.doc_chunks for d in docs.values())


def test_ingest_then_rerun_skips_everything(index, docs):
    ingestor = make_ingestor(index, docs)
    first = ingestor.ingest([docs])
    assert first.failed == 0, [f.reasons for f in first.files]
    assert first.indexed == 3
    stored = index.documents()
    assert "law:405AC0000000088" in stored
    assert stored["law:405AC0000000088"].doc_type == "law"
    assert stored["guides/499_appendix_FAQ.md"].doc_type == "guideline"
    assert any(d.startswith("kokkai:121505261X00120241114_") for d in stored)
    assert_consistent(index)
    count = index.count()

    second = ingestor.ingest([docs])
    assert second.indexed == 0 and second.skipped == 3 and second.chunks == 0
    assert index.count() == count


def test_changed_document_replaces_all_its_chunks(index, docs):
    ingestor = make_ingestor(index, docs)
    ingestor.ingest([docs])
    faq = docs / "guides/499_appendix_FAQ.md"
    before = index.documents()["guides/499_appendix_FAQ.md"]
    # Keep only the first third of the file: the document must shrink, with no stale chunk left.
    text = faq.read_text(encoding="utf-8")
    faq.write_text(text[: len(text) // 3], encoding="utf-8")
    report = ingestor.ingest([docs])
    assert report.indexed == 1 and report.skipped == 2
    after = index.documents()["guides/499_appendix_FAQ.md"]
    assert after.content_hash != before.content_hash
    assert after.doc_chunks < before.doc_chunks
    assert_consistent(index)


def test_sync_removes_deleted_files_but_keeps_unreadable_ones(index, docs):
    ingestor = make_ingestor(index, docs)
    ingestor.ingest([docs])
    (docs / "guides/499_appendix_FAQ.md").unlink()
    law = docs / "laws/405AC0000000088_20240401_504AC0100000052.xml"
    law.write_bytes(law.read_bytes()[:500])  # now truncated: fails to read
    report = ingestor.ingest([docs], IngestOptions(sync=True))
    stored = index.documents()
    assert report.removed == ["guides/499_appendix_FAQ.md"]
    assert "guides/499_appendix_FAQ.md" not in stored
    assert "law:405AC0000000088" in stored, "a file that failed to read must not lose its indexed version"
    assert report.failed == 1
    assert_consistent(index)


def test_bad_input_is_reported_in_japanese_and_the_rest_goes_on(index, tmp_path, docs):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "table.xlsx").write_bytes(b"PK\x03\x04 not really")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n")  # truncated
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (bad / "行政 文書 メモ.txt").write_text("行政手続法は、処分、行政指導及び届出に関する手続に関し、共通する事項を定める。", encoding="utf-8")
    (bad / "shiftjis.txt").write_bytes("国会答弁の作成支援について、過去の答弁との整合性を確認する。".encode("cp932"))
    outside = tmp_path / "secret.txt"
    outside.write_text("外部の秘密文書", encoding="utf-8")
    (bad / "link.txt").symlink_to(outside)
    ingestor = make_ingestor(index, tmp_path)
    ingestor.ingest([docs])
    before = index.count()

    report = ingestor.ingest([bad])
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["行政 文書 メモ.txt"].status == "indexed"
    assert by_name["shiftjis.txt"].status == "indexed"
    for name, cause in [
        ("empty.txt", "空"),
        ("table.xlsx", "対応していない"),
        ("broken.pdf", "PDF"),
        ("binary.txt", ""),
        ("link.txt", "シンボリックリンク"),
    ]:
        result = by_name[name]
        assert result.status == "failed", name
        reason = " ".join(result.reasons)
        assert name in reason and cause in reason, reason
        assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in reason), reason
    assert not report.nothing_indexed
    assert index.count() > before, "the good files were indexed"
    assert "外部の秘密文書" not in {h for d in index.documents().values() for h in [d.title]}
    assert_consistent(index)


def test_documents_above_the_allowed_level_are_refused(index, docs):
    ingestor = make_ingestor(index, docs, max_confidentiality=2)
    report = ingestor.ingest([docs / "guides"], IngestOptions(confidentiality=3))
    assert report.failed == 1 and report.nothing_indexed
    assert "機密性3" in report.files[0].reasons[0]
    assert index.count() == 0


def test_access_fields_are_stored_on_every_chunk(index, docs):
    ingestor = make_ingestor(index, docs)
    ingestor.ingest([docs / "guides"], IngestOptions(confidentiality=2, groups=["somu", "jinji"]))
    from retrieval.types import Access, Query, SearchMode

    query = Query(dense=HashEmbedder(DIM).embed_query("データ"), mode=SearchMode.DENSE)
    assert index.search(query, Access(clearance=1, groups=["all", "somu"]), k=5) == []
    assert index.search(query, Access(clearance=2, groups=["all"]), k=5) == []
    hits = index.search(query, Access(clearance=2, groups=["jinji"]), k=5)
    assert hits and all(h.payload["confidentiality"] == 2 and h.payload["groups"] == ["jinji", "somu"] for h in hits)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ingest.pipeline import Ingestor
    from retrieval.embedder import HashEmbedder
    from retrieval.index import open_index
    from retrieval.settings import ChunkSettings, IndexSettings, SecuritySettings
    from retrieval.text.sparse import SparseEncoder

    class SlowEmbedder(HashEmbedder):
        def embed_documents(self, texts):
            print("batch", flush=True)  # the parent counts batches to kill mid-write
            time.sleep(0.05)
            return super().embed_documents(texts)

    index = open_index(IndexSettings(path=Path(sys.argv[1])), 64)
    Ingestor(index, SlowEmbedder(64), SparseEncoder(), ChunkSettings(), SecuritySettings(), Path(sys.argv[2]), batch_size=8).ingest([Path(sys.argv[2])])
    index.close()
    print("DONE")
    """
)


def test_kill_9_at_random_moments_then_rerun_leaves_a_consistent_index(tmp_path, docs):
    index_path = tmp_path / "killed-index"
    script = tmp_path / "ingest_child.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    rng = random.Random(20261122)
    kills = 0
    partial_states = 0
    for _ in range(5):
        child = subprocess.Popen([sys.executable, str(script), str(index_path), str(docs)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # Kill after a random number of embedded batches, plus a random fraction of the next one:
        # wherever the child is then (embedding, deleting, upserting), the machine's speed doesn't matter.
        batches_before_kill = rng.randint(1, 4)
        seen = 0
        for line in child.stdout:
            seen += line.startswith("batch")
            if seen >= batches_before_kill:
                time.sleep(rng.uniform(0.0, 0.1))
                os.kill(child.pid, signal.SIGKILL)
                kills += 1
                break
        child.wait()
        child.stdout.close()
        if kills:
            probe = open_index(IndexSettings(path=index_path), DIM)
            partial_states += any(not d.complete for d in probe.documents().values())
            probe.close()
    assert kills >= 1, "the child always finished before the kill: make it slower"
    assert partial_states >= 1, "no kill landed in the middle of writing"
    index = open_index(IndexSettings(path=index_path), DIM)
    try:
        report = make_ingestor(index, docs).ingest([docs])
        assert report.failed == 0
        assert_consistent(index)
        ids = [h for h in index.documents()]
        assert len(ids) == len(set(ids))
        again = make_ingestor(index, docs).ingest([docs])
        assert again.indexed == 0
    finally:
        index.close()


BIG_FILE_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from ingest.pipeline import Ingestor
    from retrieval.embedder import HashEmbedder
    from retrieval.settings import ChunkSettings, SecuritySettings
    from retrieval.types import SparseVector

    class CheapSparse:  # fugashi would take minutes on 50 MB; this test is about memory
        def encode(self, text):
            return SparseVector(indices=[len(text) % 1000 + 1], values=[1.0])

    class CountingIndex:
        # Qdrant Edge keeps unflushed points in memory (~400 MB for 55k chunks with payload):
        # that is the index's memory, not the pipeline's, so this child counts writes instead.
        n = 0
        def documents(self, access=None): return {}
        def upsert(self, chunks): self.n += len(chunks)
        def delete(self, doc_id): return 0
        def flush(self): pass
        def count(self): return self.n
        def close(self): pass

    folder = Path(sys.argv[1])
    index = CountingIndex()
    ingestor = Ingestor(index, HashEmbedder(64), CheapSparse(), ChunkSettings(), SecuritySettings(), folder, batch_size=256)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = ingestor.ingest([folder])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(report.indexed, report.chunks, index.count(), (after - before) // 1024)
    index.close()
    """
)


@pytest.mark.slow
def test_a_50_mb_text_file_is_streamed_through_the_pipeline(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    paragraph = ("行政手続法は、処分、行政指導及び届出に関する手続並びに命令等を定める手続に関し、共通する事項を定めることによって、"
                 "行政運営における公正の確保と透明性の向上を図り、もって国民の権利利益の保護に資することを目的とする。\n") * 20 + "\n"
    with (folder / "large.txt").open("w", encoding="utf-8") as fh:
        while fh.tell() < 50 * 2**20:
            fh.write(paragraph)
    script = tmp_path / "big_child.py"
    script.write_text(BIG_FILE_SCRIPT, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script), str(folder)], capture_output=True, text=True, check=True)
    indexed, chunks, stored, grew_mb = map(int, out.stdout.split())
    assert indexed == 1 and stored == chunks > 30_000
    # The decoded text alone is ~35 MB and its chunk objects several times that: streaming keeps
    # the growth of the peak resident size well below what holding the file whole would cost.
    assert grew_mb < 20, f"peak RSS grew by {grew_mb} MB"  # measured: 3 MB streamed, 38 MB if read whole
