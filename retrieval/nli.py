"""NLI judges: does a premise entail, contradict or say nothing about a hypothesis?

Two implementations of one protocol, ``judge(premise, hypothesis) -> (label, probability)``:

* :class:`LLMJudge` asks the configured chat model (prompt ``prompts/nli_judge.yaml``);
* :class:`ClassifierJudge` is a logistic regression trained here on the Japanese NLI pairs in
  ``retrieval/data/nli`` (JNLI, JSICK, JaNLI) over the embedder's vectors ``(u, v, |u-v|, u*v)``
  plus the contradiction rule features. It is built on first use into
  ``<cache_dir>/nli/<hash of data + code + embedder>/`` (atomically, like the e5 build) and is a
  few dozen kilobytes of numpy arrays: no pickle, no scikit-learn at inference time.

    python -m retrieval.nli train            # train (or reuse) and print the held-out report
    >>> judge = classifier_from_cache(embedder, Path("~/.cache/gyosei-rag").expanduser())
    >>> judge.judge("予算は三千億円である。", "予算は二千億円である。")  # doctest: +SKIP
    ('contradiction', 0.97)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

from retrieval.contradiction_rules import RULE_FEATURE_NAMES, rule_features
from retrieval.errors import LLMError, ModelError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.embedder import Embedder

__all__ = ["NLIJudge", "LLMJudge", "ClassifierJudge", "train_classifier", "classifier_from_cache",
           "DEFAULT_NLI_DIR", "LABELS", "SEED"]

LABELS = ("entailment", "neutral", "contradiction")
SEED = 20261121
DEFAULT_NLI_DIR = Path(__file__).resolve().parent / "data" / "nli"  # package data: `pip install .` trains too
_DONE = "report.json"  # written last: its presence marks a complete model folder


@runtime_checkable
class NLIJudge(Protocol):
    """Judges a (premise, hypothesis) pair: one of LABELS and the probability of that label."""

    def judge(self, premise: str, hypothesis: str) -> tuple[str, float]: ...


# ----------------------------------------------------------------------------- LLM judge

_LABEL_WORDS = [("contradiction", ("contradiction", "矛盾")), ("entailment", ("entailment", "含意", "含む")),
                ("neutral", ("neutral", "中立", "不明"))]


class LLMJudge:
    """The configured chat model as NLI judge (prompt ``nli_judge``); answers are parsed leniently."""

    def __init__(self, chat_model: "BaseChatModel") -> None:
        self.chat_model = chat_model

    def judge(self, premise: str, hypothesis: str) -> tuple[str, float]:
        """Ask the model; raises LLMError (Japanese) when it fails or answers nothing usable."""
        from prompts import load_prompt
        from retrieval.llm import llm_error

        messages = load_prompt("nli_judge").render(premise=premise, hypothesis=hypothesis)
        try:
            reply = self.chat_model.invoke(messages)
        except Exception as exc:  # provider errors of every kind
            raise llm_error(exc) from exc
        return parse_judgement(str(getattr(reply, "content", reply)))


def parse_judgement(text: str) -> tuple[str, float]:
    """(label, confidence) from a reply such as ``{"label": "contradiction", "confidence": 0.9}``."""
    low = text.lower()
    m = re.search(r'"?label"?\s*[:：]\s*"?([a-z]+|矛盾|含意|中立)', low)
    head = m.group(1) if m else low
    label = next((lab for lab, words in _LABEL_WORDS if any(w in head for w in words)), None)
    if label is None:
        raise LLMError(f"NLI 判定の応答からラベルを読み取れません（応答の先頭: {text[:60]!r}）。モデルまたはプロンプト nli_judge を確認してください")
    c = re.search(r'confidence"?\s*[:：]\s*([01](?:\.\d+)?)', low)
    return label, float(c.group(1)) if c else 0.7


# ----------------------------------------------------------------------------- features


def _embedder_id(embedder: "Embedder") -> str:
    name = getattr(embedder, "model_name_or_path", type(embedder).__name__)
    return f"{Path(str(name)).name}|{getattr(embedder, 'path', '')}|{embedder.dimension}"


def embed_texts(embedder: "Embedder", texts: Sequence[str], cache_file: Path | None = None) -> dict[str, np.ndarray]:
    """Vectors of distinct ``texts`` (symmetric: the passage prompt on both sides), cached on disk."""
    cached: dict[str, np.ndarray] = {}
    if cache_file is not None and cache_file.is_file():
        with np.load(cache_file) as z:
            cached = dict(zip(json.loads(str(z["keys"])), z["vectors"]))
    key = lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest()[:20]  # noqa: E731
    todo = sorted({t for t in texts if key(t) not in cached})
    if todo:
        for start in range(0, len(todo), 256):
            batch = todo[start:start + 256]
            for t, v in zip(batch, embedder.embed_documents(batch)):
                cached[key(t)] = np.asarray(v, dtype=np.float32)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp.npz")
            keys = list(cached)
            np.savez(tmp, keys=np.array(json.dumps(keys)), vectors=np.stack([cached[k] for k in keys]))
            os.replace(tmp, cache_file)
    return {t: cached[key(t)] for t in texts}


def pair_features(u: np.ndarray, v: np.ndarray, premise: str, hypothesis: str) -> np.ndarray:
    """One feature row: u, v, |u-v|, u*v (premise u, hypothesis v) and the rule features."""
    return np.concatenate([u, v, np.abs(u - v), u * v, np.asarray(rule_features(premise, hypothesis), dtype=np.float32)])


# ----------------------------------------------------------------------------- classifier


class ClassifierJudge:
    """Logistic-regression NLI judge from a model folder written by :func:`train_classifier`."""

    def __init__(self, embedder: "Embedder", folder: Path) -> None:
        self.embedder = embedder
        self.folder = Path(folder)
        with np.load(self.folder / "weights.npz") as z:
            self.mean, self.scale = z["mean"], z["scale"]
            self.coef, self.intercept = z["coef"], z["intercept"]
            self.classes = [str(c) for c in z["classes"]]
        self.report = json.loads((self.folder / _DONE).read_text(encoding="utf-8"))
        self._vectors: dict[str, np.ndarray] = {}  # a checker asks about the same sentences often

    def _embed(self, texts: list[str]) -> dict[str, np.ndarray]:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            if len(self._vectors) > 20_000:
                self._vectors.clear()
            self._vectors.update(embed_texts(self.embedder, todo))
        return {t: self._vectors[t] for t in texts}

    def probabilities(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Class probabilities (columns in ``self.classes`` order) for many pairs at once."""
        vecs = self._embed(list(premises) + list(hypotheses))
        x = np.stack([pair_features(vecs[p], vecs[h], p, h) for p, h in zip(premises, hypotheses)])
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def judge(self, premise: str, hypothesis: str) -> tuple[str, float]:
        """The most probable label and its probability."""
        probs = self.probabilities([premise], [hypothesis])[0]
        i = int(probs.argmax())
        return self.classes[i], float(probs[i])

    def contradiction_probability(self, premise: str, hypothesis: str) -> float:
        """P(contradiction) for one pair."""
        return float(self.probabilities([premise], [hypothesis])[0][self.classes.index("contradiction")])


def _load_nli(data_dir: Path) -> dict[str, list[dict]]:
    files = sorted(Path(data_dir).glob("*.jsonl"))
    if not files:
        raise ModelError(f"{data_dir}: NLI の学習データ（*.jsonl）がありません。retrieval/data/nli を用意してください。")
    out = {}
    for f in files:
        out[f.stem] = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def _split(records: list[dict], seed: int, test_size: float) -> tuple[list[int], list[int]]:
    """Held-out split grouped by premise (pairs sharing a premise stay on one side)."""
    premises = sorted({r["premise"] for r in records})
    rng = np.random.default_rng(seed)
    test = set(rng.permutation(len(premises))[: int(round(test_size * len(premises)))].tolist())
    test_p = {premises[i] for i in test}
    tr = [i for i, r in enumerate(records) if r["premise"] not in test_p]
    te = [i for i, r in enumerate(records) if r["premise"] in test_p]
    return tr, te


def _code_hash(data_dir: Path, embedder: "Embedder", c: float) -> str:
    h = hashlib.sha256()
    for f in sorted(Path(data_dir).glob("*.jsonl")):
        h.update(f.name.encode() + f.read_bytes())
    for mod in ("nli.py", "contradiction_rules.py"):
        h.update((Path(__file__).parent / mod).read_bytes())
    from importlib.metadata import version

    h.update(f"{_embedder_id(embedder)}|{SEED}|{c}|sklearn {version('scikit-learn')}".encode())
    return h.hexdigest()[:16]


def train_classifier(embedder: "Embedder", out_dir: Path, data_dir: Path = DEFAULT_NLI_DIR, *, seed: int = SEED,
                     test_size: float = 0.3, c: float = 0.05, embedding_cache: Path | None = None) -> dict[str, Any]:
    """Train on a premise-grouped split of each NLI file, write ``out_dir``, return the held-out report.

    JaNLI is two-way: its "neutral" means non-entailment and it is scored as entailment vs not.
    """
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    data = _load_nli(data_dir)
    texts = [t for recs in data.values() for r in recs for t in (r["premise"], r["hypothesis"])]
    vecs = embed_texts(embedder, texts, embedding_cache)
    t_embed = time.perf_counter() - t0
    splits, rows, labels = {}, {}, {}
    for name, recs in data.items():
        splits[name] = _split(recs, seed, test_size)
        rows[name] = np.stack([pair_features(vecs[r["premise"]], vecs[r["hypothesis"]], r["premise"], r["hypothesis"]) for r in recs])
        labels[name] = np.array([r["label"] for r in recs])
    x_tr = np.concatenate([rows[n][splits[n][0]] for n in data])
    y_tr = np.concatenate([labels[n][splits[n][0]] for n in data])
    mean, scale = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    model.fit((x_tr - mean) / scale, y_tr)
    report: dict[str, Any] = {
        "seed": seed, "test_size": test_size, "C": c, "embedder": _embedder_id(embedder),
        "features": f"u,v,|u-v|,u*v ({len(mean) - len(RULE_FEATURE_NAMES)}) + rules {list(RULE_FEATURE_NAMES)}",
        "train_pairs": int(len(y_tr)), "held_out": {},
    }
    for name in data:
        te = splits[name][1]
        pred = model.predict((rows[name][te] - mean) / scale)
        report["held_out"][name] = _metrics(list(labels[name][te]), list(pred), binary_only=name == "janli")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "weights.npz", mean=mean.astype(np.float32), scale=scale.astype(np.float32),
             coef=model.coef_.astype(np.float32), intercept=model.intercept_.astype(np.float32),
             classes=np.array([str(c) for c in model.classes_]))
    report["seconds"] = {"embed": round(t_embed, 1), "total": round(time.perf_counter() - t0, 1)}
    report["size_bytes"] = (out_dir / "weights.npz").stat().st_size
    (out_dir / _DONE).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report


def _metrics(gold: list[str], pred: list[str], binary_only: bool) -> dict[str, Any]:
    """Accuracy and contradiction-vs-not P/R/F1 (JaNLI: entailment-vs-not accuracy only)."""
    n = len(gold)
    ent = sum((g == "entailment") == (p == "entailment") for g, p in zip(gold, pred)) / n
    if binary_only:
        return {"n": n, "entailment_vs_not_accuracy": round(ent, 4)}
    tp = sum(g == p == "contradiction" for g, p in zip(gold, pred))
    fp = sum(p == "contradiction" != g for g, p in zip(gold, pred))
    fn = sum(g == "contradiction" != p for g, p in zip(gold, pred))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"n": n, "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / n, 4),
            "entailment_vs_not_accuracy": round(ent, 4),
            "contradiction": {"precision": round(prec, 4), "recall": round(rec, 4),
                              "f1": round(2 * prec * rec / (prec + rec) if prec + rec else 0.0, 4)}}


def classifier_from_cache(embedder: "Embedder", cache_dir: Path, data_dir: Path = DEFAULT_NLI_DIR) -> ClassifierJudge:
    """The classifier for this embedder and training data, trained into the cache on first use.

    Safe against crashes (trained into a temp folder, then renamed) and against two processes
    training at once (an fcntl lock).
    """
    from retrieval.model_cache import build_once

    root = Path(cache_dir).expanduser() / "nli"
    cache = root / f"emb-{_slug(_embedder_id(embedder))}.npz"
    target = build_once(root, _code_hash(data_dir, embedder, 0.05),
                        lambda tmp: train_classifier(embedder, tmp, data_dir, embedding_cache=cache), "NLI 分類器")
    return ClassifierJudge(embedder, target)


def _slug(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()[:12]


def main(argv: list[str] | None = None) -> None:
    """``python -m retrieval.nli train [--cache DIR] [--data DIR]``: build (or reuse) and report."""
    import argparse

    from retrieval.embedder import embedder_from_settings
    from retrieval.settings import Settings

    ap = argparse.ArgumentParser(prog="python -m retrieval.nli")
    ap.add_argument("command", choices=["train"])
    ap.add_argument("--data", type=Path, default=DEFAULT_NLI_DIR)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    cfg = Settings.load().embedding
    t0 = time.perf_counter()
    judge = classifier_from_cache(embedder_from_settings(cfg), args.cache or cfg.cache_dir, args.data)
    print(json.dumps({"folder": str(judge.folder), "seconds_this_run": round(time.perf_counter() - t0, 1),
                      **judge.report}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
