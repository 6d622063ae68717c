"""The support judge's learned combination: a calibrated logistic regression over the claim features.

Trained on the claim/source pairs shipped as package data (``retrieval/data/support_pairs.jsonl``,
built by ``python -m eval.support_pairs``; its ``train`` split fits the weights, its ``dev``
split picks the threshold: the lowest score at which both error rates, unbacked claims shown as
backed and backed claims flagged, are as small as they can be together). A logistic regression
on standardized features, calibrated by scikit-learn's ``CalibratedClassifierCV`` (isotonic,
5-fold), gives the probabilities (the report keeps the dev Brier score and calibration table). It is built on first use (``gyosei setup`` does it ahead) into
``<cache_dir>/support/<embedder>/<hash of data + code + embedder>/``: a few hundred bytes of numpy arrays,
no pickle.

    python -m retrieval.support_model train      # train (or reuse) and print the dev report
"""

from __future__ import annotations

import hashlib
import json
import time
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from retrieval.errors import ModelError
from retrieval.model_cache import DONE, build_once
from retrieval.support_features import FEATURE_NAMES

if TYPE_CHECKING:
    from retrieval.embedder import Embedder
    from retrieval.support_judge import SupportJudge

__all__ = ["SupportModel", "hard_rules", "settle", "train_support_model", "support_model_from_cache", "load_pairs", "choose_threshold", "SEED"]

SEED = 20261121
C = 1.0
_CODE = ("support_model.py", "support_features.py", "support_judge.py", "contradiction_rules.py", "text/sparse.py",
         "text/figures.py", "text/dates.py")


# How far the margin may move a probability inside its isotonic step (calibration off by <= 0.005).
TIE_BREAK = 0.01


class SupportModel:
    """Weights, feature scaling and the shipped threshold of a trained support model."""

    def __init__(self, folder: Path, threshold: float | None = None) -> None:
        self.folder = Path(folder)
        with np.load(self.folder / "weights.npz") as z:
            self.mean, self.scale = z["mean"], z["scale"]
            self.coef, self.intercept = z["coef"], float(z["intercept"])
            self.iso_x, self.iso_y = z["iso_x"], z["iso_y"]
        if threshold is None:  # a finished model folder: its report holds the shipped threshold
            self.report = json.loads((self.folder / DONE).read_text(encoding="utf-8"))
            threshold = float(self.report["threshold"])
        else:
            self.report = {}
        self.threshold = threshold
        self.caps: dict[str, float] = self.report.get("caps", {})
        if len(self.mean) != len(FEATURE_NAMES):
            raise ModelError(f"{self.folder}: 裏付け判定モデルの特徴量の数が合いません。フォルダを削除して作り直してください。")

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """P(supported) for feature rows (one per sentence)."""
        z = self.margin(rows)
        # Isotonic steps are flat: a fifth of the claims can share one value, and a threshold could
        # then only pass or flag them all. Within a step the regression's margin orders them.
        return np.clip(self.calibrated(rows) + TIE_BREAK * (1.0 / (1.0 + np.exp(-z)) - 0.5), 0.0, 1.0)

    def margin(self, rows: np.ndarray) -> np.ndarray:
        """The logistic regression's decision score."""
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    def calibrated(self, rows: np.ndarray) -> np.ndarray:
        """The isotonic calibration of the margin alone (clipped at both ends)."""
        return np.interp(self.margin(rows), self.iso_x, self.iso_y)


def load_pairs(path: Path | None = None) -> list[dict]:
    """Claim/source pairs from a JSONL file (default: the packaged training pairs)."""
    if path is None:
        text = files("retrieval").joinpath("data", "support_pairs.jsonl").read_text(encoding="utf-8")
        name = "retrieval/data/support_pairs.jsonl"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: 読み込めません（{exc}）。UTF-8 の JSONL ファイルを指定してください。") from exc
        name = str(path)
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            claim, source, label = str(rec["claim"]), str(rec["source"]), str(rec["label"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"{name} の {i} 行目: claim・source・label を持つ JSON ではありません（{exc}）。") from exc
        if label not in ("supported", "unsupported", "contradicted"):
            raise ModelError(f"{name} の {i} 行目: label は supported・unsupported・contradicted のいずれかにしてください（{label!r}）。")
        out.append({**rec, "claim": claim, "source": source, "label": label})
    if not out:
        raise ModelError(f"{name}: ペアが1件もありません。")
    return out


def choose_threshold(probs: np.ndarray, supported: np.ndarray) -> float:
    """The score that minimizes the larger of the two error rates on these (dev) pairs."""
    best_t, best = 0.5, 2.0
    for t in np.unique(np.round(probs, 4)):
        passed = probs >= t
        false_pass = float(passed[~supported].mean()) if (~supported).any() else 0.0
        false_flag = float((~passed[supported]).mean()) if supported.any() else 0.0
        if max(false_pass, false_flag) < best:
            best_t, best = float(t), max(false_pass, false_flag)
    return best_t


def hard_rules(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Rows a rule settles whatever the model says: a figure, numeral or date the passage does
    not state (``figure``), a 矛盾チェック rule fired against the aligned sentence (``conflict``)."""
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    figure = (rows[:, [col["figures_missing"], col["numbers_missing"], col["dates_missing"]]] > 0).any(axis=1)
    conflict = (rows[:, [col[n] for n in FEATURE_NAMES if n.startswith("rule_")]] > 0).any(axis=1)
    return {"figure": figure, "conflict": conflict}


def settle(probs: np.ndarray, rows: np.ndarray, caps: dict[str, float]) -> np.ndarray:
    """Model probabilities with the hard rules applied: a settled row shows at most its rule's rate."""
    out = np.asarray(probs, dtype=np.float64).copy()
    for name, mask in hard_rules(rows).items():
        out[mask] = np.minimum(out[mask], caps.get(name, 0.0))
    return out


def _rate(supported: np.ndarray) -> float:
    """The share of supported claims among those a rule settles (Laplace-smoothed): the
    calibrated probability shown for them."""
    return round((float(supported.sum()) + 1.0) / (len(supported) + 2.0), 4)


def _embedder_id(embedder: "Embedder | None") -> str:
    if embedder is None:
        return "none"
    name = getattr(embedder, "model_name_or_path", type(embedder).__name__)
    return f"{Path(str(name)).name}|{getattr(embedder, 'precision', '')}|{embedder.dimension}"


def _key(embedder: "Embedder | None") -> str:
    from importlib.metadata import version

    h = hashlib.sha256(files("retrieval").joinpath("data", "support_pairs.jsonl").read_bytes())
    here = Path(__file__).parent
    for mod in _CODE:
        h.update((here / mod).read_bytes())
    h.update(files("prompts").joinpath("antonyms.yaml").read_bytes())  # rule data of the features
    h.update(f"{_embedder_id(embedder)}|{SEED}|{C}|sklearn {version('scikit-learn')}".encode())
    return h.hexdigest()[:16]


def _calibration(probs: np.ndarray, supported: np.ndarray, bins: int = 5) -> list[dict[str, Any]]:
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges, edges[1:]):
        m = (probs >= lo) & ((probs < hi) if hi < 1 else (probs <= hi))
        if m.any():
            out.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(m.sum()), "mean_prob": round(float(probs[m].mean()), 3),
                        "supported_share": round(float(supported[m].mean()), 3)})
    return out


def train_support_model(judge: "SupportJudge", out_dir: Path, pairs: Sequence[dict] | None = None) -> dict[str, Any]:
    """Fit on the ``train`` pairs, pick the threshold on ``dev``, write ``out_dir``, return the report."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    t0 = time.perf_counter()
    pairs = list(pairs) if pairs is not None else load_pairs()
    rows, quoted = judge.rows([(p["claim"], p["source"]) for p in pairs])
    y = np.array([p["label"] == "supported" for p in pairs])
    split = np.array([p.get("split", "train") for p in pairs])
    t_feat = time.perf_counter() - t0
    fit = (split == "train") & ~quoted  # quotes never reach the model
    if not fit.any() or not (split == "dev").any():
        raise ModelError("裏付け判定の学習データに train と dev の両方が必要です。")
    mean, scale = rows[fit].mean(axis=0), rows[fit].std(axis=0) + 1e-6
    # One logistic regression on all train pairs; its scores mapped to probabilities by isotonic
    # regression fitted on 5-fold out-of-fold scores (the score-to-support curve is not a sigmoid).
    calibrated = CalibratedClassifierCV(LogisticRegression(C=C, max_iter=2000, random_state=SEED), method="isotonic",
                                        cv=StratifiedKFold(5, shuffle=True, random_state=SEED), ensemble=False)
    calibrated.fit((rows[fit] - mean) / scale, y[fit])
    inner = calibrated.calibrated_classifiers_[0]
    lr, iso = inner.estimator, inner.calibrators[0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "weights.npz", mean=mean.astype(np.float32), scale=scale.astype(np.float32),
             coef=lr.coef_[0].astype(np.float32), intercept=np.float32(lr.intercept_[0]),
             iso_x=np.asarray(iso.X_thresholds_, dtype=np.float64), iso_y=np.asarray(iso.y_thresholds_, dtype=np.float64))
    dev = split == "dev"
    model = SupportModel(out_dir, threshold=0.5)
    probs = model.probability(rows)
    if not np.allclose(model.calibrated(rows[fit]), calibrated.predict_proba((rows[fit] - mean) / scale)[:, 1], atol=1e-4):
        raise ModelError("裏付け判定モデルの保存に失敗しました（確率が学習時と一致しません）。")
    caps = {name: _rate(y[fit & mask]) for name, mask in hard_rules(rows).items()}
    probs = np.where(quoted, 1.0, settle(probs, rows, caps))
    threshold = choose_threshold(probs[dev], y[dev])
    settled = np.logical_or.reduce(list(hard_rules(rows).values())) & ~quoted
    passed = (probs[dev] >= threshold) & ~settled[dev]
    report = {
        "seed": SEED, "C": C, "embedder": _embedder_id(judge.embedder), "features": list(FEATURE_NAMES),
        "coefficients": {n: round(float(c), 4) for n, c in zip(FEATURE_NAMES, lr.coef_[0])},
        "train_pairs": int(fit.sum()), "dev_pairs": int(dev.sum()), "threshold": round(threshold, 4), "caps": caps,
        "dev": {"roc_auc": round(float(roc_auc_score(y[dev], probs[dev])), 4),
                "brier": round(float(brier_score_loss(y[dev], probs[dev])), 4),
                "unsupported_marked_supported": round(float(passed[~y[dev]].mean()), 4),
                "supported_flagged": round(float((~passed[y[dev]]).mean()), 4),
                "calibration": _calibration(probs[dev], y[dev])},
        "seconds": {"features": round(t_feat, 1), "total": round(time.perf_counter() - t0, 1)},
    }
    (out_dir / DONE).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report


def support_model_from_cache(embedder: "Embedder | None", cache_dir: Path) -> SupportModel:
    """The support model for this embedder and the packaged pairs, trained into the cache on first use."""
    from retrieval.support_judge import SupportJudge
    from retrieval.text.sparse import SparseEncoder

    slug = hashlib.sha1(_embedder_id(embedder).encode()).hexdigest()[:12]
    # One folder per embedder: a rebuild removes older models of this embedder only.
    root = Path(cache_dir).expanduser() / "support" / slug

    def build(tmp: Path) -> None:
        judge = SupportJudge(embedder, SparseEncoder(), None, cache_size=10**6)
        if embedder is not None:  # vectors of the pairs kept on disk: retraining after a code change is quick
            from retrieval.nli import embed_texts
            from retrieval.support_features import normalized_parts

            texts = [t for p in load_pairs() for _s, _p, cl, sents in [normalized_parts(p["claim"], p["source"])] for t in cl + sents]
            judge._vectors.update({t: list(v) for t, v in embed_texts(embedder, texts, root / "vectors.npz").items()})
        train_support_model(judge, tmp)

    return SupportModel(build_once(root, _key(embedder), build, "裏付け判定モデル"))


def main(argv: list[str] | None = None) -> None:
    """``python -m retrieval.support_model train [--cache DIR]``: build (or reuse) and report."""
    import argparse

    from retrieval.embedder import embedder_from_settings
    from retrieval.settings import Settings

    ap = argparse.ArgumentParser(prog="python -m retrieval.support_model")
    ap.add_argument("command", choices=["train"])
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    cfg = Settings.load().embedding
    t0 = time.perf_counter()
    model = support_model_from_cache(embedder_from_settings(cfg), args.cache or cfg.cache_dir)
    print(json.dumps({"folder": str(model.folder), "seconds_this_run": round(time.perf_counter() - t0, 1), **model.report},
                     ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
