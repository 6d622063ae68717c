"""Helpers for the Streamlit AppTest suites (tests/test_app_*.py): a configured environment in
tmp_path, a signed-in session, and the text a page shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import resources
from app.auth import User, UserStore

from .conftest import ROOT

HOME = str(ROOT / "app/Home.py")
PASSWORD = "correct-horse-battery"


@pytest.fixture
def app_env(tmp_path, monkeypatch) -> Path:
    """Settings pointing at tmp_path (users file, audit DB, index); caches released afterwards."""
    monkeypatch.delenv("GYOSEI_CONFIG", raising=False)
    monkeypatch.setenv("GYOSEI_AUTH__USERS_FILE", str(tmp_path / "var/users.json"))
    monkeypatch.setenv("GYOSEI_AUDIT__URL", f"sqlite:///{tmp_path / 'var/audit.sqlite3'}")
    monkeypatch.setenv("GYOSEI_INDEX__PATH", str(tmp_path / "var/index"))
    store = UserStore(tmp_path / "var/users.json")
    store.add("admin", PASSWORD, clearance=2, groups=["all"], roles=["admin"])
    store.add("clerk", PASSWORD, clearance=1, groups=["all"])
    yield tmp_path
    # Close this test's shared index and audit log (on_release), and drop the embedder: a test
    # that swapped in a small fake must not hand it to the next test (its index is 384-dim).
    resources._resources.clear()
    resources._audit.clear()
    resources._embedder.clear()


def app(user: User | None = None, timeout: float = 60) -> AppTest:
    """The app from its entry point, optionally with ``user`` already signed in (as the users
    file of ``app_env`` holds them now: the gate re-checks the session against it on every run)."""
    at = AppTest.from_file(HOME, default_timeout=timeout)
    if user is not None:
        users_file = os.environ.get("GYOSEI_AUTH__USERS_FILE")
        stored = UserStore(Path(users_file)).get(user.name) if users_file and user.via == "local" else None
        at.session_state["user"] = stored or user
    return at


def use_real_embedder(monkeypatch, cache_dir: Path, embedder) -> None:
    """The app's shared components get the session's real model instead of loading a second copy."""
    monkeypatch.setenv("GYOSEI_EMBEDDING__CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(resources, "build_embedder", lambda settings: embedder)


def open_page(user: User, page: str, timeout: float = 900) -> AppTest:
    """The app signed in as ``user``, switched to ``page`` (e.g. "ui_draft.py"), without errors.
    The generous time limit is for a first draft on a CPU without bf16: it trains the NLI
    classifier (minutes there) unless `gyosei setup` already did."""
    at = app(user, timeout=timeout).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


ADMIN = User("admin", 2, ["all"], ["admin"])
CLERK = User("clerk", 1, ["all"], [])


def texts(at: AppTest) -> str:
    """Everything a page shows as text (markdown, captions, titles, alerts), one per line."""
    kinds = ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success")
    return "\n".join(str(el.value) for kind in kinds for el in at.get(kind))


def widget_labels(at: AppTest) -> list[str]:
    """Labels of every input widget on the page (main area and sidebar)."""
    kinds = ("text_input", "text_area", "chat_input", "selectbox", "multiselect", "radio", "checkbox",
             "date_input", "file_uploader", "button")
    labels = []
    for kind in kinds:
        for el in at.get(kind):
            labels.append(getattr(el, "label", None) or getattr(el, "placeholder", "") or kind)
    return labels


def build_index(root: Path, embedder, parts: list[tuple[list[Path], dict]]) -> Path:
    """Index real documents into ``root/var/index`` (ids relative to ``root``); each part is
    (files, IngestOptions fields). Returns the index folder."""
    import shutil

    from ingest.pipeline import IngestOptions, Ingestor
    from retrieval.index.edge import EdgeIndex
    from retrieval.settings import ChunkSettings, SecuritySettings
    from retrieval.text.sparse import SparseEncoder

    folder = root / "var/index"
    index = EdgeIndex(folder, embedder.dimension)
    try:
        ingestor = Ingestor(index, embedder, SparseEncoder(), ChunkSettings(), SecuritySettings(), root)
        for i, (files, options) in enumerate(parts):
            part = root / f"part{i}"
            part.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copy(f, part)
            ingestor.ingest([part], IngestOptions(**options))
    finally:
        index.close()
    return folder


def copy_index(folder: Path, root: Path) -> None:
    """Give a test its own copy of a prebuilt index (Edge allows one open per folder)."""
    import shutil

    shutil.copytree(folder, root / "var/index")
