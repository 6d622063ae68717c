"""Each user's 質問 conversations, kept server-side (SQLite beside the users file), so a reload or
another day reopens them. No Streamlit here.

Only the owner reads a conversation (every query is by user name). A reopened answer is checked
again against the reader's access *now* (``recheck``): a source they can no longer read is
dropped, with the sentences that cite it, and a Japanese note says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.conversation import Turn
from retrieval.ai_notice import AINotice
from retrieval.answer_types import Answer, AnswerSentence, Source

JST = dt.timezone(dt.timedelta(hours=9), "JST")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, user TEXT NOT NULL, created TEXT NOT NULL,
                                          updated TEXT NOT NULL, title TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY, conversation INTEGER NOT NULL REFERENCES conversations(id),
                                  user TEXT NOT NULL, created TEXT NOT NULL, turn TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation, id);
"""


@dataclass
class Conversation:
    """One line of the history list."""

    id: int
    title: str  # the first question
    updated: str  # ISO, JST
    turns: int


def _fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """An ``Answer`` from ``Answer.to_dict()`` (as stored)."""
    answer = Answer(**_fields(Answer, data))
    answer.sentences = [AnswerSentence(**_fields(AnswerSentence, s)) for s in data.get("sentences") or []]
    answer.sources = [Source(**_fields(Source, s)) for s in data.get("sources") or []]
    for s in answer.sources:
        s.highlights = [tuple(h) for h in s.highlights]
    if isinstance(data.get("notice"), dict):  # the AI-output notice as it was when answered
        answer.notice = AINotice(**_fields(AINotice, data["notice"]))
    return answer


def turn_to_json(turn: Turn) -> str:
    return json.dumps({"question": turn.question, "searched": turn.searched, "carried": list(turn.carried),
                       "answer": turn.answer.to_dict() if turn.answer is not None else None,
                       "event_id": turn.event_id, "feedback": turn.feedback}, ensure_ascii=False, default=str)


def turn_from_json(text: str) -> Turn:
    data = json.loads(text)
    answer = answer_from_dict(data["answer"]) if data.get("answer") else None
    return Turn(data["question"], data["searched"], list(data.get("carried") or []), answer, data.get("event_id"),
                data.get("feedback"))


def recheck(turn: Turn, readable: set[str]) -> Turn:
    """``turn`` with only the sources whose documents are in ``readable`` (the reader's access
    now); sentences citing a dropped source go too, and a note says how many were left out."""
    answer = turn.answer
    if answer is None:
        return turn
    gone = {s.n for s in answer.sources if s.doc_id not in readable}
    if not gone:
        return turn
    kept = [s for s in answer.sources if s.n not in gone]
    sentences = [s for s in answer.sentences if not set(s.citations) & gone]
    note = (f"閲覧できなくなった出典 {len(gone)} 件と、それに基づく文 {len(answer.sentences) - len(sentences)} 件を"
            "表示していません（機密性や閲覧グループの変更、または文書の削除によるもの）。")
    fresh = dataclasses.replace(answer, sources=kept, sentences=sentences, notes=[*answer.notes, note])
    if not sentences and not answer.refused:
        fresh.refused = True  # nothing the reader may see is left of it
    return dataclasses.replace(turn, answer=fresh)


class HistoryStore:
    """Conversations and their turns, per user."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # answers quote documents
        with self._db() as db:
            db.executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def add_turn(self, user: str, conversation: int | None, turn: Turn) -> int:
        """Append ``turn`` to the user's ``conversation`` (a new one when None or not theirs);
        returns the conversation id."""
        now = dt.datetime.now(JST).isoformat(timespec="seconds")
        with self._lock, self._db() as db:
            owned = conversation is not None and db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND user = ?", (conversation, user)).fetchone()
            if not owned:
                cur = db.execute("INSERT INTO conversations (user, created, updated, title) VALUES (?, ?, ?, ?)",
                                 (user, now, now, turn.question[:80]))
                conversation = int(cur.lastrowid)
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation))
            db.execute("INSERT INTO turns (conversation, user, created, turn) VALUES (?, ?, ?, ?)",
                       (conversation, user, now, turn_to_json(turn)))
        return int(conversation)

    def update_last(self, user: str, conversation: int, turn: Turn) -> None:
        """Rewrite the latest turn of the user's conversation (its feedback was given)."""
        with self._lock, self._db() as db:
            row = db.execute("SELECT max(id) FROM turns WHERE conversation = ? AND user = ?", (conversation, user)).fetchone()
            if row and row[0]:
                db.execute("UPDATE turns SET turn = ? WHERE id = ?", (turn_to_json(turn), row[0]))

    def conversations(self, user: str, limit: int = 30) -> list[Conversation]:
        """The user's conversations, latest first."""
        with self._db() as db:
            rows = db.execute("SELECT c.id, c.title, c.updated, count(t.id) FROM conversations c "
                              "LEFT JOIN turns t ON t.conversation = c.id WHERE c.user = ? "
                              "GROUP BY c.id ORDER BY c.updated DESC, c.id DESC LIMIT ?", (user, limit)).fetchall()
        return [Conversation(*r) for r in rows]

    def turns(self, user: str, conversation: int) -> list[Turn]:
        """The turns of one of the user's conversations (none for someone else's)."""
        with self._db() as db:
            rows = db.execute("SELECT turn FROM turns WHERE conversation = ? AND user = ? ORDER BY id",
                              (conversation, user)).fetchall()
        return [turn_from_json(r[0]) for r in rows]
