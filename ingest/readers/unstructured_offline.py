"""Make ``unstructured`` usable offline (no spaCy model download, no analytics ping).

unstructured 0.27.x downloads the spaCy model ``en_core_web_sm`` during every partition and
pings an analytics endpoint on import. Neither works (nor is wanted) here, so readers call
:func:`ensure_offline` before importing any ``unstructured.partition`` module.

The patch replaces a private function (``unstructured.nlp.tokenize._load_spacy_model``), which is
why ``unstructured`` is pinned exactly in pyproject and a test partitions every format offline.

Usage::

    from ingest.readers.unstructured_offline import ensure_offline
    ensure_offline()
    from unstructured.partition.docx import partition_docx
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_done = False

# Opt-outs unstructured reads from the environment (any non-empty DO_NOT_TRACK disables the
# telemetry ping; UNSTRUCTURED_DISABLE_NOTICE=1 hides the commercial banner).
_ENV_DEFAULTS = {"DO_NOT_TRACK": "true", "UNSTRUCTURED_DISABLE_NOTICE": "1"}


def _blank_spacy_model() -> Any:
    """A language-neutral spaCy pipeline that only splits sentences; needs no download."""
    import spacy

    nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp


def ensure_offline() -> None:
    """Set the opt-out environment variables (only where unset) and patch unstructured's
    spaCy loader to a blank model. Idempotent and thread-safe; cheap after the first call."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        for name, value in _ENV_DEFAULTS.items():
            # Respect an explicit choice by the operator; an empty value counts as unset.
            if not os.environ.get(name):
                os.environ[name] = value
        # Imported only now: importing unstructured runs its analytics hook, which must see
        # the opt-out set above.
        from unstructured.nlp import tokenize

        tokenize._load_spacy_model = _blank_spacy_model
        tokenize._get_nlp.cache_clear()
        # Results computed with a previous model must not leak into later partitions.
        tokenize._process_cached.cache_clear()
        _done = True


def is_patched() -> bool:
    """True when unstructured's spaCy loader is the offline stand-in (used by tests)."""
    from unstructured.nlp import tokenize

    return tokenize._load_spacy_model is _blank_spacy_model
