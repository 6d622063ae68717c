"""No path hands a user a passage, citation, title or count of a document they may not read.

One small real index per backend (Qdrant Edge on disk, qdrant-client local mode as the server's
stand-in), ingested from real sample documents through the real pipeline, with folder defaults
setting 機密性1/2/3 and groups:

    public/   行政手続法 (law XML)                       機密性1, all
    soumu/    情報通信白書 第5章 (txt)                   機密性2, soumu
    kimitsu3/ API導入実践ガイドブック (md)               機密性3, all
    finance/  データ品質管理ガイドブック (md)            機密性1, finance

Each restricted copy carries a unique marker sentence; every path below is asked questions aimed
at the restricted documents (a positive control proves the admin gets them) and must return
nothing of them: no doc id, title, passage text, marker, or count. Embeddings come from the
deterministic HashEmbedder: access is enforced by the index filter, not by the model.

Eval runs as an evaluator who may read everything by design (``eval.retrieval_eval.EVAL_ACCESS``),
on its own eval index built from public corpora; it is not a user-facing path.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from ingest.pipeline import IngestOptions, Ingestor
from retrieval.answer import Answerer
from retrieval.answer_llm import LLMAnswerer
from retrieval.embedder import HashEmbedder
from retrieval.index import open_index
from retrieval.langchain_retriever import GyoseiRetriever
from retrieval.search import Searcher
from retrieval.settings import AnswerSettings, ChunkSettings, IndexSettings, SecuritySettings
from tests.support_helpers import offline_judge
from retrieval.text.sparse import SparseEncoder
from retrieval.types import Access, Filters, Query, SearchMode
from retrieval.verify import ContradictionChecker

from .conftest import SAMPLES

DIM = 64
DOCS = {
    # folder: (source file, confidentiality, groups, marker sentence or None)
    "public": (SAMPLES / "laws" / "405AC0000000088_20240401_504AC0100000052.xml", 1, ["all"], None),
    "soumu": (SAMPLES / "white_paper" / "r05_chapter5_soumu_ict_policy.txt", 2, ["soumu"],
              "本資料は総務課限りとし、識別符号はソウムニ九三、関連予算は3,000億円である。"),
    "kimitsu3": (SAMPLES / "digital_agency" / "464-1_guidebook_api.md", 3, ["all"],
                 "本資料は機密性3情報であり、識別符号はキミツサン七一、関連予算は3,000億円である。"),
    "finance": (SAMPLES / "digital_agency" / "468-1_guidebook_dataquality.md", 1, ["finance"],
                "本資料は財務課限りとし、識別符号はザイムイチ五八、関連予算は3,000億円である。"),
    # Diet minutes (one record per speech): past answers and follow-ups come from these.
    "diet_public": (SAMPLES / "kokkai" / "ndl_speech_121304376X02420240823.json", 1, ["all"], None),
    "diet_soumu": (SAMPLES / "kokkai" / "ndl_speech_121313950X00120240730.json", 2, ["soumu"], None),
}
DIET_SPEECHES = 40
MARKERS = {folder: spec[3] for folder, spec in DOCS.items() if spec[3]}
# Questions aimed at each restricted document: its marker, and a topic only it covers.
QUESTIONS = {
    "soumu": ["総務課限り 識別符号 ソウムニ九三", "郵便局におけるマイナンバーカードの普及と総務省の取組"],
    "kimitsu3": ["機密性3情報 識別符号 キミツサン七一", "APIエコノミーとAPI導入のモデル仕様書"],
    "finance": ["財務課限り 識別符号 ザイムイチ五八", "データ品質管理フレームワークと品質評価"],
    "diet_soumu": ["在沖縄米軍事件の通報事案について政府の対応", "防衛省・自衛隊の不適切事案と再発防止"],
}
ALL_QUESTIONS = [q for qs in QUESTIONS.values() for q in qs] + ["行政手続法の目的は何か"]

USERS = {
    "public": Access(clearance=1, groups=["all"]),
    "public_no_groups": Access(clearance=1, groups=[]),  # "all" is implied
    "soumu2": Access(clearance=2, groups=["soumu"]),
    "soumu1": Access(clearance=1, groups=["soumu"]),  # right group, clearance too low
    "finance1": Access(clearance=1, groups=["finance"]),
    "clear3_all": Access(clearance=3, groups=["all"]),  # high clearance, no restricted group
}
ADMIN = Access(clearance=3, groups=["soumu", "finance"])


def readable(access: Access) -> set[str]:
    """Folders whose document ``access`` may read: level within clearance and a shared group."""
    groups = set(access.groups) | {"all"}
    return {f for f, (_, level, g, _) in DOCS.items() if level <= access.clearance and groups & set(g)}


# -- the index ------------------------------------------------------------------------------------


def write_docs(root: Path) -> Path:
    docs = root / "docs"
    for folder, (src, level, groups, marker) in DOCS.items():
        target = docs / folder
        target.mkdir(parents=True)
        (target / ".gyosei.toml").write_text(
            f"confidentiality = {level}\ngroups = {json.dumps(groups)}\n", encoding="utf-8")
        if src.suffix == ".json":  # the first speeches of a meeting keep the index small and fast
            data = json.loads(src.read_text(encoding="utf-8"))
            data["speechRecord"] = data["speechRecord"][:DIET_SPEECHES]
            (target / src.name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            continue
        if marker is None:
            shutil.copy(src, target / src.name)
            continue
        text = src.read_text(encoding="utf-8")
        cut = text.index("\n", text.index("\n") + 1)  # after the first heading line
        (target / src.name).write_text(text[:cut] + f"\n\n{marker}\n\n" + text[cut:], encoding="utf-8")
    return docs


def index_settings(root: Path, backend: str) -> IndexSettings:
    if backend == "edge":
        return IndexSettings(path=root / "edge")
    return IndexSettings(url=str(root / "qdrant"))  # qdrant-client local mode (server stand-in)


@pytest.fixture(scope="module", params=["edge", "qdrant"])
def built(request, tmp_path_factory):
    """Ingest the four documents (max level 3 allowed here), then close: tests reopen it."""
    root = tmp_path_factory.mktemp(f"access-{request.param}")
    docs = write_docs(root)
    settings = index_settings(root, request.param)
    index = open_index(settings, DIM)
    try:
        ingestor = Ingestor(index, HashEmbedder(DIM), SparseEncoder(), ChunkSettings(),
                            SecuritySettings(max_confidentiality=3), docs)
        report = ingestor.ingest([docs])
        assert report.failed == 0 and report.indexed == len(DOCS), report
        admin_docs = index.documents(None)
        forbidden_texts: dict[str, set[str]] = {}
        for doc_id in admin_docs:
            forbidden_texts[doc_id] = {h.text for h in index.fetch(ADMIN, Filters(doc_ids=[doc_id]))}
    finally:
        index.close()
    folder_of = {doc_id: (info.source_path or "").split("/", 1)[0] for doc_id, info in admin_docs.items()}
    return {"root": root, "docs": docs, "backend": request.param, "settings": settings, "admin_docs": admin_docs,
            "folder_of": folder_of, "texts": forbidden_texts}


@pytest.fixture
def index(built):
    idx = open_index(built["settings"], DIM, read_only=True)
    yield idx
    idx.close()


def searcher_for(index) -> Searcher:
    return Searcher(index, HashEmbedder(DIM), SparseEncoder())


class Guard:
    """What ``access`` must never see, and the checks every path's output goes through."""

    def __init__(self, built, access: Access) -> None:
        allowed = readable(access)
        self.allowed_ids = {d for d, f in built["folder_of"].items() if f in allowed}
        self.forbidden_ids = set(built["admin_docs"]) - self.allowed_ids
        self.forbidden_titles = {built["admin_docs"][d].title for d in self.forbidden_ids}
        self.forbidden_markers = {MARKERS[f] for f in MARKERS if f not in allowed}
        self.forbidden_texts = set().union(*(built["texts"][d] for d in self.forbidden_ids)) if self.forbidden_ids else set()
        self.allowed_texts = set().union(*(built["texts"][d] for d in self.allowed_ids))

    def doc_ids(self, ids) -> None:
        ids = set(ids)
        assert ids <= self.allowed_ids, f"forbidden documents returned: {ids - self.allowed_ids}"

    def titles(self, titles) -> None:
        assert not set(titles) & self.forbidden_titles

    def passages(self, texts) -> None:
        for text in texts:
            assert text not in self.forbidden_texts or text in self.allowed_texts

    def anywhere(self, blob: str) -> None:
        """No marker, forbidden doc id or forbidden title anywhere in a serialized output."""
        for secret in self.forbidden_markers | self.forbidden_ids | self.forbidden_titles:
            assert secret[:30] not in blob, f"leaked: {secret[:30]}"

    def hits(self, hits) -> None:
        self.doc_ids(h.payload["doc_id"] for h in hits)
        self.titles(h.payload.get("title") for h in hits)
        self.passages(h.text for h in hits)
        self.anywhere(json.dumps([h.payload for h in hits], ensure_ascii=False))

    def answer(self, result) -> None:
        self.doc_ids(s.doc_id for s in result.sources)
        self.titles(s.payload.get("title") for s in result.sources)
        self.passages(s.text for s in result.sources)
        if result.method == "extractive":  # every quote is a piece of a readable source
            for sentence in result.sentences:
                assert sentence.quote and any(sentence.quote in s.text.replace("\n", "") for s in result.sources)
        self.anywhere(json.dumps(result.to_dict(), ensure_ascii=False))


def test_the_fixture_really_holds_restricted_material(built, index):
    """Positive control: the admin finds every restricted document by the questions used below."""
    searcher = searcher_for(index)
    assert {f for f in built["folder_of"].values()} == set(DOCS)
    for folder, questions in QUESTIONS.items():
        for question in questions:
            hits = searcher.search(question, ADMIN, mode=SearchMode.HYBRID, k=10)
            assert any(built["folder_of"][h.payload["doc_id"]] == folder for h in hits), (folder, question)
    marker_hits = searcher.search(QUESTIONS["kimitsu3"][0], ADMIN, mode=SearchMode.SPARSE, k=3)
    assert MARKERS["kimitsu3"] in marker_hits[0].text


# -- retrieval paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(SearchMode))
@pytest.mark.parametrize("user", list(USERS))
def test_searcher_every_mode(built, index, user, mode):
    guard, searcher = Guard(built, USERS[user]), searcher_for(index)
    returned = set()
    for question in ALL_QUESTIONS:
        hits = searcher.search(question, USERS[user], mode=mode, k=20)
        guard.hits(hits)
        returned |= {h.payload["doc_id"] for h in hits}
    assert returned  # every user gets the public law at least


@pytest.mark.parametrize("user", list(USERS))
def test_index_search_count_and_document_listing(built, index, user):
    """The Index seam itself: a doc-id filter cannot widen access; counts and listings are per user."""
    access, guard = USERS[user], Guard(built, USERS[user])
    query = Query(dense=HashEmbedder(DIM).embed_query("識別符号"), mode=SearchMode.DENSE, with_dense=True)
    for doc_id in built["admin_docs"]:
        hits = index.search(query, access, Filters(doc_ids=[doc_id]), k=50)
        assert bool(hits) == (doc_id in guard.allowed_ids)
        fetched = index.fetch(access, Filters(doc_ids=[doc_id]), with_dense=True)
        assert len(fetched) == (built["admin_docs"][doc_id].chunks_found if doc_id in guard.allowed_ids else 0)
        guard.hits(fetched)
        assert index.count(access, Filters(doc_ids=[doc_id])) == (
            built["admin_docs"][doc_id].chunks_found if doc_id in guard.allowed_ids else 0)
    listed = index.documents(access)
    assert set(listed) == guard.allowed_ids
    guard.titles(d.title for d in listed.values())
    assert index.count(access) == sum(built["admin_docs"][d].chunks_found for d in guard.allowed_ids)
    # Filters narrow, never widen: a doc type held only by restricted documents counts zero.
    assert index.count(access, Filters(doc_types=["law"])) == index.count(access, Filters(doc_ids=[
        d for d in guard.allowed_ids if built["admin_docs"][d].doc_type == "law"]))


@pytest.mark.parametrize("refuse", [False, True], ids=["answered", "refused"])
@pytest.mark.parametrize("user", list(USERS))
def test_answerer_extractive(built, index, user, refuse):
    """Answers, citations and (when refused) the closest sources listed for the user."""
    embedder, sparse = HashEmbedder(DIM), SparseEncoder()
    settings = AnswerSettings(min_relevance=0.999 if refuse else -1.0, passages=10)
    answerer = Answerer(searcher_for(index), embedder, offline_judge(sparse), settings)
    guard = Guard(built, USERS[user])
    for question in ALL_QUESTIONS:
        result = answerer.answer(question, USERS[user])
        if refuse:  # nothing passes the gate: no sentence, but the closest readable sources listed
            assert result.refused and not result.sentences and result.sources, question
        elif question == ALL_QUESTIONS[-1]:  # the public law answers it for everyone
            assert not result.refused and result.sentences and result.sources, question
        guard.answer(result)


class RecordingChat(FakeListChatModel):
    """A fake chat model that keeps every prompt it is sent."""

    prompts: list[str] = []

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[override]
        self.prompts.append("\n".join(str(m.content) for m in messages))
        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)


@pytest.mark.parametrize("user", list(USERS))
def test_answerer_llm_path_prompts_and_sources(built, index, user):
    """With an LLM, the prompt (what leaves the machine) holds only readable passages."""
    embedder, sparse = HashEmbedder(DIM), SparseEncoder()
    chat = RecordingChat(responses=["資料によれば、行政手続法は公正の確保と透明性の向上を目的とします[1]。"] * 20, prompts=[])
    llm = LLMAnswerer(chat, offline_judge(sparse), timeout_s=30)
    answerer = Answerer(searcher_for(index), embedder, offline_judge(sparse),
                        AnswerSettings(min_relevance=-1.0, passages=8), llm=llm)
    guard = Guard(built, USERS[user])
    for question in ALL_QUESTIONS:
        result = answerer.answer(question, USERS[user])
        assert result.method == "llm"
        guard.answer(result)
    assert len(chat.prompts) == len(ALL_QUESTIONS)
    for prompt in chat.prompts:
        guard.anywhere(prompt)
        for text in guard.forbidden_texts - guard.allowed_texts:
            assert text not in prompt


@pytest.mark.parametrize("mode", list(SearchMode))
@pytest.mark.parametrize("user", ["public", "soumu2", "finance1"])
def test_langchain_retriever(built, index, user, mode):
    guard = Guard(built, USERS[user])
    retriever = GyoseiRetriever(searcher=searcher_for(index), access=USERS[user], mode=mode, k=20)
    seen = set()
    for question in ALL_QUESTIONS:
        docs = retriever.invoke(question)
        guard.doc_ids(d.metadata["doc_id"] for d in docs)
        guard.titles(d.metadata.get("title") for d in docs)
        guard.passages(d.page_content for d in docs)
        guard.anywhere(json.dumps([d.metadata for d in docs], ensure_ascii=False, default=str))
        seen |= {built["folder_of"][d.metadata["doc_id"]] for d in docs}
    # Positive control: the retriever really returns what this user may read.
    assert "public" in seen and seen <= readable(USERS[user])


# Draft sentences that contradict each marker (a figure changed): the checker warns about them
# exactly when the marker's passage is among the sources it was given.
CLAIMS = [m.replace("3,000億円", "2,000億円") for m in MARKERS.values()]


@pytest.mark.parametrize("user", ["public", "soumu1", "finance1", "admin"])
def test_contradiction_checker_sees_only_the_sources_it_is_given(built, index, user):
    """The checker never searches: given a user's sources, its evidence comes only from them."""
    access = ADMIN if user == "admin" else USERS[user]
    sparse = SparseEncoder()
    answerer = Answerer(searcher_for(index), HashEmbedder(DIM), offline_judge(sparse),
                        AnswerSettings(min_relevance=-1.0, passages=10))
    guard = Guard(built, access)
    warned = set()
    for question in ALL_QUESTIONS:
        sources = answerer.answer(question, access).sources
        given = {s.chunk_id for s in sources}
        for conflict in ContradictionChecker(None, sparse).check(CLAIMS, sources):
            assert conflict.evidence_source.chunk_id in given
            guard.doc_ids([conflict.evidence_source.doc_id])
            guard.anywhere(conflict.evidence)
            warned.add(built["folder_of"][conflict.evidence_source.doc_id])
    # Positive control: each marker the user may read is found and contradicted, the others never.
    assert warned == readable(access) & set(MARKERS)


# -- Diet answer drafting: past answers, supporting documents, follow-up questions ----------------

DIET_POINTS = QUESTIONS["diet_soumu"] + ["日本銀行の金融政策と為替の変動", "API導入とデータ品質管理"]


@pytest.mark.parametrize("user", ["public", "soumu1", "soumu2", "finance1", "clear3_all"])
def test_past_answers_and_supporting_documents(built, index, user):
    from retrieval.past_answers import PastAnswerFinder

    access, guard = USERS[user], Guard(built, USERS[user])
    finder = PastAnswerFinder(searcher_for(index))
    found = set()
    for point in DIET_POINTS:
        for pa in finder.find(point, access, k=10, context=point) + finder.find_for_question(point, access, k=10):
            sources = [pa.answer] + ([pa.question] if pa.question else [])
            guard.doc_ids(s.doc_id for s in sources)
            guard.passages(s.text for s in sources)
            guard.anywhere(json.dumps([s.payload for s in sources], ensure_ascii=False, default=str))
            found |= {built["folder_of"][s.doc_id] for s in sources}
        documents = finder.find_documents(point, access, k=10)
        guard.doc_ids(s.doc_id for s in documents)
        guard.passages(s.text for s in documents)
    assert "diet_public" in found and ("diet_soumu" in found) == ("diet_soumu" in readable(access))


@pytest.mark.parametrize("user", ["public", "soumu1", "soumu2", "clear3_all"])
def test_follow_up_mining(built, index, user):
    from retrieval.followup import FollowUpMiner

    access, guard = USERS[user], Guard(built, USERS[user])
    miner = FollowUpMiner(searcher_for(index), min_similarity=-1.0, candidates=40)
    found = set()
    for point in DIET_POINTS:
        for follow in miner.mine(point, access, k=10):
            sources = [s for s in (follow.source, follow.after) if s is not None]
            guard.doc_ids(s.doc_id for s in sources)
            guard.passages(s.text for s in sources)
            guard.anywhere(follow.question + json.dumps([s.payload for s in sources], ensure_ascii=False, default=str))
            found |= {built["folder_of"][s.doc_id] for s in sources}
    assert found <= readable(access)
    assert ("diet_soumu" in found) == ("diet_soumu" in readable(access))


@pytest.mark.parametrize("with_llm", [False, True], ids=["template", "llm"])
@pytest.mark.parametrize("user", ["public", "soumu1", "soumu2", "finance1"])
def test_drafter(built, index, user, with_llm):
    """A whole 国会答弁案: its sources, past answers, documents, conflicts and the LLM's prompt."""
    from retrieval.draft import Drafter
    from retrieval.past_answers import PastAnswerFinder

    access, guard = USERS[user], Guard(built, USERS[user])
    embedder, sparse = HashEmbedder(DIM), SparseEncoder()
    chat = RecordingChat(responses=["お尋ねの件については、資料のとおりと考えております[1]。"] * 50, prompts=[]) if with_llm else None
    drafter = Drafter(PastAnswerFinder(searcher_for(index)), embedder, sparse, ContradictionChecker(None, sparse),
                      chat, min_relevance=-1.0, documents=5, judge=offline_judge(sparse))
    found = set()
    for question in ["在沖縄米軍事件の通報事案について政府の対応を伺う。また、防衛省・自衛隊の不適切事案の再発防止策はどうか。",
                     "API導入とデータ品質管理について、政府の取組を伺う。"]:
        draft = drafter.draft(question, access)
        sources = list(draft.sources)
        for point in draft.points:
            sources += [d.source for d in point.documents] + [pa.answer for pa in point.past_answers]
            sources += [pa.question for pa in point.past_answers if pa.question]
            sources += [c.evidence_source for c in point.conflicts if c.evidence_source]
            guard.anywhere(point.text + "".join(c.evidence for c in point.conflicts))
        guard.doc_ids(s.doc_id for s in sources)
        guard.passages(s.text for s in sources)
        guard.anywhere(json.dumps([s.payload for s in sources], ensure_ascii=False, default=str))
        found |= {built["folder_of"][s.doc_id] for s in sources}
    assert found <= readable(access) and ("diet_soumu" in found) == ("diet_soumu" in readable(access))
    if chat is not None:  # the LLM variant really went through the model
        assert chat.prompts and draft.method == "llm"
    for prompt in (chat.prompts if chat else []):
        guard.anywhere(prompt)
        for text in guard.forbidden_texts - guard.allowed_texts:
            assert text not in prompt


# -- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli(built, tmp_path, monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("GYOSEI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    if built["backend"] == "edge":
        monkeypatch.setenv("GYOSEI_INDEX__PATH", str(built["settings"].path))
    else:
        monkeypatch.setenv("GYOSEI_INDEX__URL", built["settings"].url)
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path}/audit.sqlite3")
    monkeypatch.setenv("GYOSEI_AUDIT__USER", "tester")
    monkeypatch.setenv("GYOSEI_ANSWER__MIN_RELEVANCE", "-1")
    monkeypatch.setattr("app.cli.build_embedder", lambda settings: HashEmbedder(DIM))
    from app.cli import main

    return lambda *args: CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("user", ["soumu2", "finance1", "clear3_all"])
def test_cli_search_and_ask_with_clearance_and_groups(built, cli, user):
    access, guard = USERS[user], Guard(built, USERS[user])
    flags = ["--clearance", str(access.clearance), "--groups", ",".join(access.groups)]
    seen = set()
    for question in ALL_QUESTIONS:
        found = cli("search", question, "-k", "10", *flags)
        assert found.exit_code == 0, found.output
        guard.anywhere(found.output)
        asked = cli("ask", question, "--json", *flags)
        assert asked.exit_code == 0, asked.output
        guard.anywhere(asked.output)
        result = json.loads(asked.output)
        guard.doc_ids(s["doc_id"] for s in result["sources"])
        guard.passages(s["text"] for s in result["sources"])
        seen |= {s["doc_id"] for s in result["sources"]}
    # The flags really reach the index: the restricted folders a user may read are found.
    folders = {built["folder_of"][d] for d in seen}
    assert folders <= readable(access) and readable(access) & set(QUESTIONS) <= folders


@pytest.mark.parametrize("user", ["soumu2", "finance1", "clear3_all"])
def test_cli_index_stats_counts_only_readable_documents(built, cli, user):
    access, guard = USERS[user], Guard(built, USERS[user])
    stats = cli("index", "stats", "--clearance", str(access.clearance), "--groups", ",".join(access.groups))
    assert stats.exit_code == 0, stats.output
    guard.anywhere(stats.output)
    total = re.search(r"合計\S*\s*│\s*(\d+)\s*│", stats.output)
    assert total and int(total.group(1)) == len(guard.allowed_ids), stats.output
    everything = cli("index", "stats", "--all")
    assert re.search(rf"合計\S*\s*│\s*{len(built['admin_docs'])}\s*│", everything.output), everything.output


def test_cli_defaults_to_the_lowest_clearance(built, cli):
    guard = Guard(built, Access(clearance=1, groups=["all"]))
    seen = set()
    for question in ALL_QUESTIONS:  # the questions aimed at restricted documents, and the public one
        found = cli("search", question, "-k", "20")
        asked = cli("ask", question, "--json")
        assert found.exit_code == 0 and asked.exit_code == 0, found.output + asked.output
        guard.anywhere(found.output + asked.output)
        seen |= {built["folder_of"][s["doc_id"]] for s in json.loads(asked.output)["sources"]}
    assert "public" in seen and seen <= readable(Access(clearance=1, groups=["all"]))
    stats = cli("index", "stats")
    assert stats.exit_code == 0, stats.output
    guard.anywhere(stats.output)


# -- ingestion ------------------------------------------------------------------------------------


def test_ingestion_refuses_documents_above_the_configured_maximum(tmp_path):
    docs = write_docs(tmp_path)
    index = open_index(IndexSettings(path=tmp_path / "index"), DIM)
    try:
        ingestor = Ingestor(index, HashEmbedder(DIM), SparseEncoder(), ChunkSettings(), SecuritySettings(), docs)
        report = ingestor.ingest([docs])  # default maximum: 機密性2
        failed = [f for f in report.files if f.status == "failed"]
        assert [Path(f.path).parent.name for f in failed] == ["kimitsu3"]
        (reason,) = failed[0].reasons
        assert "機密性3の文書は取り込めません" in reason and "上限は機密性2" in reason and "464-1_guidebook_api.md" in reason
        # An explicit level on the command line is held to the same limit.
        again = ingestor.ingest([docs / "public"], IngestOptions(confidentiality=3))
        assert again.failed == 1 and "機密性3" in again.files[0].reasons[0]
        assert {(d.source_path or "").split("/")[0] for d in index.documents().values()} == set(DOCS) - {"kimitsu3"}
        assert index.count(Access(clearance=3, groups=["soumu", "finance"]), Filters(doc_ids=[
            "kimitsu3/464-1_guidebook_api.md"])) == 0
    finally:
        index.close()
