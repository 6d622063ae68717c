"""Text-processing speed on ~1 MB of real Japanese (the white paper chapter): normalization
against CPython's own NFKC on the same text (a machine-independent yardstick), and the sparse
encoder's fugashi terms in characters per second.

Usage: .venv/bin/python bench/text_speed.py
"""

from __future__ import annotations

import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.text.normalize import join_wrapped_lines, normalize  # noqa: E402
from retrieval.text.sparse import SparseEncoder  # noqa: E402


def median_seconds(fn, arg, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    text = (ROOT / "data_samples/white_paper/r05_chapter5_soumu_ict_policy.txt").read_text(encoding="utf-8") * 3
    size_mb = len(text.encode("utf-8")) / 1e6
    normalize("準備")
    nfkc = median_seconds(lambda t: unicodedata.normalize("NFKC", t), text)
    for name, fn in (("normalize", normalize), ("join_wrapped_lines", join_wrapped_lines)):
        t = median_seconds(fn, text)
        print(f"{name:20s} {size_mb / t:6.1f} MB/s  ({t / nfkc:.2f}x the time of CPython NFKC)")
    encoder = SparseEncoder()
    encoder.terms("準備")
    one = text[: len(text) // 3]
    t = median_seconds(encoder.terms, one, rounds=3)
    print(f"{'sparse terms':20s} {len(one) / t / 1000:6.0f} k chars/s")


if __name__ == "__main__":
    main()
