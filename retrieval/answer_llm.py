"""Answers written by a chat model, with every citation checked after generation.

The model gets the numbered passages as delimited data (``prompts/answer.yaml``) and must end
every sentence with ``[n]``. Nothing it writes is trusted: ``validate_citations`` removes markers
that point to passages it was not given, and flags sentences that are uncited or that their cited
passages do not support (``SupportJudge``, which names what is not backed). Failures (timeout, provider error, empty output)
raise ``LLMError``; the caller falls back to the extractive answer.

>>> answerer = LLMAnswerer(chat_model, SupportJudge(embedder, SparseEncoder(), model), timeout_s=60)
>>> answer = answerer.answer("行政手続法の目的は？", sources, on_delta=print)  # doctest: +SKIP
"""

from __future__ import annotations

import queue
import re
import threading
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Callable

from prompts import load_prompt
from retrieval.answer_types import (
    FLAG_INVALID_CITATION,
    FLAG_UNCITED,
    Answer,
    AnswerSentence,
    Source,
)
from retrieval.errors import LLMError
from retrieval.llm import llm_error
from retrieval.support import split_sentences
from retrieval.support_judge import SupportJudge

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["LLMAnswerer", "validate_citations", "expand_query", "generate", "endpoint_of", "parse_markers", "REFUSAL_PHRASE"]

# What the prompt tells the model to say when the passages do not answer the question.
REFUSAL_PHRASE = "資料からは分かりません"

# [1] ［1］ [1,2] [1、2] [1-3] ［１］ ... (full-width digits and brackets included).
_MARKER = re.compile(r"[\[［]\s*([0-9０-９]+(?:\s*[,，、・\-‐–~〜～]\s*[0-9０-９]+)*)\s*[\]］]")
# Markers written after the sentence's end ("…です。[1]"), possibly on the next line: move them
# before the terminator so that the sentence split keeps them with their sentence.
_MARKERS_AFTER_END = re.compile(r"([。！？!?])((?:\s*" + _MARKER.pattern + r")+)")
_RANGE = re.compile(r"[\-‐–~〜～]")
_MAX_RANGE = 20  # a "range" wider than this is not a citation
_EXPANSION_MAX_TERMS = 5


def parse_markers(body: str) -> list[int]:
    """The source numbers inside one marker's brackets: "1,2" -> [1, 2], "2-4" -> [2, 3, 4]."""
    body = unicodedata.normalize("NFKC", body)
    numbers: list[int] = []
    for part in re.split(r"[,，、・]", body):
        part = part.strip()
        if _RANGE.search(part):
            lo, hi = (int(x) for x in _RANGE.split(part, maxsplit=1))
            numbers.extend(range(lo, hi + 1) if 0 <= hi - lo <= _MAX_RANGE else (lo, hi))
        elif part:
            numbers.append(int(part))
    return numbers


def validate_citations(text: str, sources: list[Source], scorer: SupportJudge) -> list[AnswerSentence]:
    """Split generated text into sentences and check each one's ``[n]`` markers against ``sources``.

    A marker naming a number not among ``sources`` is removed (FLAG_INVALID_CITATION); a sentence
    with no marker at all is FLAG_UNCITED; a cited sentence the support judge finds not backed by
    its cited passages is FLAG_UNSUPPORTED, with the judge's note naming what is missing.
    ``support`` is set on every sentence (the judge's probability; 0.0 when uncited).
    """
    by_number = {s.n: s for s in sources}
    text = _MARKERS_AFTER_END.sub(lambda m: re.sub(r"\s+", "", m.group(2)) + m.group(1), text)
    sentences: list[AnswerSentence] = []
    for piece in split_sentences(text):
        cited: list[int] = []
        invalid = False
        for match in _MARKER.finditer(piece):
            for n in parse_markers(match.group(1)):
                if n not in by_number:
                    invalid = True
                elif n not in cited:
                    cited.append(n)
        had_marker = _MARKER.search(piece) is not None
        body = _tidy(_MARKER.sub("", piece))
        if not _has_content(body):
            # Only markers (or stray punctuation) on this piece: they belong to the sentence before.
            if sentences and had_marker:
                prev = sentences[-1]
                prev.citations.extend(n for n in cited if n not in prev.citations)
                if invalid and FLAG_INVALID_CITATION not in prev.flags:
                    prev.flags.append(FLAG_INVALID_CITATION)
                if FLAG_UNCITED in prev.flags:
                    prev.flags.remove(FLAG_UNCITED)
            continue
        flags: list[str] = []
        if invalid:
            flags.append(FLAG_INVALID_CITATION)
        if not had_marker:
            flags.append(FLAG_UNCITED)
        sentences.append(AnswerSentence(text=body, citations=cited, flags=flags))
    for sentence in sentences:
        if sentence.citations:
            scorer.mark(sentence, [by_number[n].text for n in sentence.citations])
        else:
            sentence.support = 0.0
    return sentences


def _tidy(text: str) -> str:
    """Marker-free sentence text: no doubled spaces, no space before the terminator."""
    text = re.sub(r"[ \t\u3000]+", " ", text).strip()
    return re.sub(r"\s+([。！？!?、，,.])", r"\1", text)


def _has_content(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


class LLMAnswerer:
    """Writes an answer with a chat model from numbered sources, streams it, validates its citations."""

    def __init__(self, chat_model: BaseChatModel, scorer: SupportJudge, *, timeout_s: float) -> None:
        self.chat_model = chat_model
        self.scorer = scorer
        self.timeout_s = timeout_s
        self.endpoint = endpoint_of(chat_model)

    def answer(
        self,
        question: str,
        sources: list[Source],
        on_delta: Callable[[str], None] | None = None,
    ) -> Answer:
        """The validated answer (method="llm"); ``on_delta`` gets each text delta as it streams.

        Raises ``LLMError`` (Japanese message) on a timeout, a provider error or empty output.
        """
        messages = load_prompt("answer").render(
            question=question,
            passages=[{"n": s.n, "label": s.label, "text": s.text} for s in sources],
        )
        started = time.perf_counter()
        text = generate(self.chat_model, messages, self.timeout_s, on_delta=on_delta, endpoint=self.endpoint)
        generated = time.perf_counter()
        sentences = validate_citations(text, sources, self.scorer)
        if not sentences:
            raise LLMError(f"LLM サーバー {self.endpoint} の回答に文がありませんでした。モデルの設定を確認してください")
        validated = time.perf_counter()
        refused = all(REFUSAL_PHRASE in s.text and not s.citations for s in sentences)
        return Answer(
            question=question,
            sentences=sentences,
            sources=sources,
            method="llm",
            refused=refused,
            timings={"generate": generated - started, "validate": validated - generated},
        )


def expand_query(question: str, chat_model: BaseChatModel, timeout_s: float) -> list[str]:
    """A few alternative phrasings / related terms for ``question``; ``[]`` on any failure (optional)."""
    try:
        messages = load_prompt("query_expansion").render(question=question, max_terms=_EXPANSION_MAX_TERMS)
        text = generate(chat_model, messages, timeout_s, endpoint=endpoint_of(chat_model))
    except Exception:  # expansion only helps; search goes on with the question alone
        return []
    # Small models echo the prompt back (chat-template tags, our instructions): not search terms.
    echo = "\n".join(content.replace(question, "") for _, content in messages)
    terms: list[str] = []
    for line in text.splitlines():
        term = re.sub(r"^\s*(?:[-*・•]|\d+[.)．、]|[（(]?\d+[)）])\s*", "", line).strip().strip("「」\"'")
        if (
            term
            and term != question.strip()
            and len(term) <= 60
            and term not in echo
            and not re.search(r"[<>]|\[/?INST\]", term)
            and term not in terms
        ):
            terms.append(term)
    return terms[:_EXPANSION_MAX_TERMS]


def generate(
    chat_model: BaseChatModel,
    messages: list[tuple[str, str]],
    timeout_s: float,
    *,
    on_delta: Callable[[str], None] | None = None,
    endpoint: str = "",
) -> str:
    """Stream the model's reply within ``timeout_s`` overall; deltas reach ``on_delta`` in this thread.

    The stream is consumed in a worker thread so that a server that stalls before its first token
    still times out; ``on_delta`` is called from the caller's thread (Streamlit needs that).
    """
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def consume() -> None:
        stream = chat_model.stream(messages)
        try:
            for chunk in stream:
                if stop.is_set():
                    break
                delta = _chunk_text(chunk)
                if delta:
                    events.put(("delta", delta))
            events.put(("done", None))
        except BaseException as exc:  # handed to the caller's thread
            events.put(("error", exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # ends the HTTP response when we stopped early

    worker = threading.Thread(target=consume, name="llm-stream", daemon=True)
    deadline = time.monotonic() + timeout_s
    worker.start()
    parts: list[str] = []
    try:
        while True:
            try:
                kind, value = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise llm_error(TimeoutError(), endpoint=endpoint, timeout_s=timeout_s) from None
            if kind == "delta":
                parts.append(value)
                if on_delta is not None:
                    on_delta(value)
                if time.monotonic() > deadline:
                    raise llm_error(TimeoutError(), endpoint=endpoint, timeout_s=timeout_s)
            elif kind == "error":
                if isinstance(value, ValueError) and "No generation chunks" in str(value):
                    break  # LangChain's word for a stream without a single chunk: empty output
                raise llm_error(value, endpoint=endpoint, model=_model_name(chat_model), timeout_s=timeout_s) from value
            else:
                break
    finally:
        stop.set()  # on a timeout or an on_delta failure the worker stops at its next chunk
    text = "".join(parts).strip()
    if not text:
        raise LLMError(
            f"LLM サーバー {endpoint} が空の回答を返しました。モデル名（GYOSEI_LLM__MODEL）と"
            "サーバーの設定（最大トークン数など）を確認してください"
        )
    return text


def _chunk_text(chunk: Any) -> str:
    """The text of one streamed message chunk (content may be a string or a list of blocks)."""
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", "")) if b.get("type") == "text" else ""
            for b in content
            if isinstance(b, (str, dict))
        )
    return ""


def endpoint_of(chat_model: Any) -> str:
    """The server URL of a chat model where it has one, else its class name (for messages)."""
    for attr in ("openai_api_base", "base_url", "azure_endpoint"):
        value = getattr(chat_model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(chat_model).__name__


def _model_name(chat_model: Any) -> str:
    for attr in ("model_name", "model"):
        value = getattr(chat_model, attr, None)
        if isinstance(value, str) and value:
            return value
    return ""
