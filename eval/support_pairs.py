"""Claim/source pairs for the support judge (:mod:`retrieval.support_judge`), built from the dev sets.

Each record is ``{"id", "claim", "source", "label", "kind", "group", "split"}`` with ``label``
``supported`` or ``unsupported``. ``source`` is a passage of up to five consecutive sentences
of a real answer (diet_qa: government answers in the Diet; nta_faq: 国税庁 質疑応答事例), the
size of an indexed chunk.

Supported claims:

* ``verbatim``: a sentence of the passage (what an extractive answer quotes);
* ``clause``: one clause of a passage sentence (a summary keeps a part of what was said);
* ``paraphrase``: a passage sentence with its courtesy forms and fillers rewritten;
* ``faq_conclusion``: a 国税庁 FAQ's conclusion against its own 「（理由）」 (a real restatement);
* ``nli_entailment``: JNLI / JSICK entailment pairs (human-written paraphrases).

Unsupported claims (hard negatives):

* ``other_answer``: a sentence of another answer on the same topic (nearest by TF-IDF over the
  sparse encoder's lemmas), not contained in this passage — real text, not generated;
* ``faq_other_conclusion``: the conclusion of the most similar other FAQ against these reasons;
* ``nli_neutral`` / ``nli_contradiction``: JNLI / JSICK human pairs;
* generated from a passage sentence: ``noun_swap`` (one content noun replaced by a noun of
  the other answer), ``number`` / ``date`` (one digit changed), ``negation`` (the last
  predicate's negation flipped), ``inserted`` (an invented
  means such as 「AIを活用して」 put into the sentence), ``appended`` (a sentence of the other
  answer joined to a true one: the claim is only partly backed).

The generated kinds measure the judge against its own rules; the real kinds (other_answer, the
FAQ conclusions, the NLI pairs) do not, which is why the test split keeps them all. Splits are by group (the source
document, or the NLI premise): 60% train, 15% dev (threshold), 25% test (never trained on).
Seeded and deterministic.

    python -m eval.support_pairs     # writes retrieval/data/support_pairs.jsonl and eval/datasets/support/test.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from eval.altered_pairs import _NEGATIONS, _PARAPHRASES, _date, _number, _swap_last
from retrieval.support import split_sentences
from retrieval.text.normalize import normalize
from retrieval.text.sparse import DEFAULT_STOP_LEMMAS, SparseEncoder, morphemes

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "eval" / "datasets"
TRAIN_OUT = ROOT / "retrieval" / "data" / "support_pairs.jsonl"
TEST_OUT = DATASETS / "support" / "test.jsonl"
SEED = 20261121
SPLITS = (("train", 0.6), ("dev", 0.15), ("test", 0.25))

# Invented means or conditions (the shape of 「AIで検出し」): each names something a real passage
# on these topics rarely says, put in front of the sentence's last clause.
_INVENTED = ["AIを活用して", "ドローンにより", "ブロックチェーンを用いて", "民間委託により", "スマートフォンのアプリで",
             "顔認証により", "外国政府と共同で", "全国一律に", "来年度から", "補助金を倍増して", "罰則を設けた上で",
             "マイナンバーと連携して", "専門の調査会社に依頼して", "SNSで", "衛星データを使って", "無償で"]
_CLAUSE_END = re.compile(r"(?<=[しりてで])、|(?<=ところ)、|(?<=ため)、|(?<=ので)、|(?<=が)、")
_LABEL = re.compile(r"^○\S+?[　 ]+")
_TOPICAL = re.compile(r"[一-龥ァ-ヶ]")  # a noun with a kanji or katakana (not ところ, ふう)


def _docs(path: Path, limit: int, rng: random.Random) -> list[tuple[str, list[str]]]:
    """(doc id, sentences) of ``limit`` documents sampled from a BEIR corpus."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        text = _LABEL.sub("", normalize(rec["text"]).split("関係法令通達:")[0])
        sents = [s for s in split_sentences(text) if 15 <= len(s) <= 160 and s.endswith("。") and not s.startswith("（")]
        if len(sents) >= 2:
            rows.append((rec["_id"], sents))
    rng.shuffle(rows)
    return rows[:limit]


def _neighbours(docs: list[tuple[str, list[str]]], sparse: SparseEncoder) -> list[int]:
    """For each document, the most similar other document (TF-IDF cosine over lemma terms)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=lambda text: sparse.terms(text), sublinear_tf=True, min_df=2)
    x = vec.fit_transform(["".join(s) for _, s in docs])
    sims = (x @ x.T).toarray()
    for i in range(len(docs)):
        sims[i, i] = -1.0
    return [int(row.argmax()) for row in sims]


def _ngrams(text: str, n: int = 5) -> set[str]:
    return {text[i:i + n] for i in range(max(1, len(text) - n + 1))}


def _contained(claim: str, passage: str) -> float:
    """Share of the claim's character 5-grams found in the passage."""
    grams = _ngrams(claim)
    return len(grams & _ngrams(passage)) / len(grams)


def _nouns(sentence: str) -> list[str]:
    """Common nouns (2+ characters, no numerals) of a sentence, in order."""
    return [surface for surface, lemma, pos1, pos2, _pos3 in morphemes(sentence)
            if pos1 == "名詞" and pos2 == "普通名詞" and len(surface) >= 2 and _TOPICAL.search(surface)
            and lemma not in DEFAULT_STOP_LEMMAS and not re.search(r"\d", surface)]


def _clause(sentence: str) -> str | None:
    """The last clause of a multi-clause sentence (it carries the verb and the 。)."""
    parts = [p for p in _CLAUSE_END.split(sentence) if p]
    if len(parts) < 2:
        return None
    last = parts[-1]
    if len(last) >= 15 and not last.startswith(("これ", "それ", "この", "その")):
        return last
    return None


def _paraphrase(sentence: str) -> str | None:
    out = sentence
    for a, b in _PARAPHRASES:
        out = out.replace(a, b)
    return out if out != sentence and len(out) >= 12 else None


def _noun_swap(sentence: str, passage: str, other: list[str], rng: random.Random) -> str | None:
    mine = [n for n in _nouns(sentence) if sentence.count(n) == 1]
    theirs = [n for s in other for n in _nouns(s) if n not in passage]
    if not mine or not theirs:
        return None
    return sentence.replace(rng.choice(mine), rng.choice(theirs), 1)


def _inserted(sentence: str, rng: random.Random) -> str:
    phrase = rng.choice(_INVENTED)
    cut = sentence.rfind("、")
    return sentence[:cut + 1] + phrase + sentence[cut + 1:] if cut > 0 else phrase + sentence


def _passage_pairs(doc_id: str, sents: list[str], other: list[str], rng: random.Random) -> list[dict]:
    start = rng.randrange(0, max(1, len(sents) - 4))
    window = sents[start:start + 5]
    passage = "".join(window)
    target = rng.choice(window)
    out: list[dict] = []

    def add(claim: str | None, label: str, kind: str) -> None:
        if claim and claim != passage:
            out.append({"claim": claim, "source": passage, "label": label, "kind": kind, "group": doc_id})

    add(target, "supported", "verbatim")
    add(_clause(rng.choice(window)) or _paraphrase(rng.choice(window)), "supported", "clause")
    add(_paraphrase(rng.choice(window)), "supported", "paraphrase")
    # The other answer's sentence closest to this passage in words, but not a copy of it.
    candidates = [s for s in other if _contained(s, passage) < 0.5]
    if candidates:
        terms = set(SPARSE.terms(passage))
        best = max(candidates, key=lambda s: len(terms & set(SPARSE.terms(s))) / (1 + len(set(SPARSE.terms(s)))))
        add(best, "unsupported", "other_answer")
        if rng.random() < 0.4:
            add(target + rng.choice(candidates), "unsupported", "appended")
    add(_noun_swap(target, passage, other, rng), "unsupported", "noun_swap")
    # A figure or date changed, in a sentence of the window that has one.
    for kind, change in (("number", _number), ("date", _date)):
        having = [s for s in window if change(s, random.Random(0))]
        if having:
            add(change(rng.choice(having), rng), "unsupported", kind)
    flipped = _swap_last(target, _NEGATIONS, True)
    if flipped and rng.random() < 0.5:
        add(flipped, "unsupported", "negation")
    if rng.random() < 0.6:
        add(_inserted(target, rng), "unsupported", "inserted")
    return out


def _faq_pairs(path: Path, limit: int, rng: random.Random) -> list[dict]:
    """国税庁 FAQ answers state a conclusion, then 「（理由）」 (after normalization 「(理由)」): the conclusion against its own
    reasons is a real, human-written restatement (supported); the conclusion of the most similar
    other FAQ against these reasons is a real claim on the same topic they do not make."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        head, sep, reasons = normalize(rec["text"]).split("関係法令通達:")[0].partition("(理由)")
        conclusion = [s for s in split_sentences(head) if 15 <= len(s) <= 160 and s.endswith("。")]
        reason = [s for s in split_sentences(reasons) if s.endswith("。")][:5]
        if sep and conclusion and len(reason) >= 2:
            rows.append((rec["_id"], conclusion, reason))
    rng.shuffle(rows)
    rows = rows[:limit]
    near = _neighbours([(doc_id, reason) for doc_id, _c, reason in rows], SPARSE)
    out = []
    for (doc_id, conclusion, reason), j in zip(rows, near):
        source = "".join(reason)
        group = f"nta_faq:{doc_id}"
        out.append({"claim": conclusion[0], "source": source, "label": "supported", "kind": "faq_conclusion", "group": group})
        other = rows[j][1][0]
        if _contained(other, source) < 0.5:
            out.append({"claim": other, "source": source, "label": "unsupported", "kind": "faq_other_conclusion", "group": group})
    return out


def _nli_pairs(path: Path, per_label: int, rng: random.Random) -> list[dict]:
    recs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    out = []
    for label in ("entailment", "neutral", "contradiction"):
        pool = [r for r in recs if r["label"] == label]
        for r in rng.sample(pool, min(per_label, len(pool))):
            out.append({"claim": normalize(r["hypothesis"]), "source": normalize(r["premise"]),
                        "label": "supported" if label == "entailment" else "unsupported",
                        "kind": f"nli_{label}", "group": f"{path.stem}:{r['premise']}"})
    return out


SPARSE = SparseEncoder()


def build_pairs(datasets: Path = DATASETS, docs_per_corpus: int = 200, nli_per_label: int = 100,
                faq_reasons: int = 300, seed: int = SEED) -> list[dict]:
    """Every pair, with its split (assigned by group) and a stable id."""
    rng = random.Random(seed)
    pairs: list[dict] = []
    for corpus in ("diet_qa", "nta_faq"):
        docs = _docs(datasets / corpus / "corpus.jsonl", docs_per_corpus, rng)
        near = _neighbours(docs, SPARSE)
        for (doc_id, sents), j in zip(docs, near):
            pairs.extend(_passage_pairs(f"{corpus}:{doc_id}", sents, docs[j][1], rng))
    pairs.extend(_faq_pairs(datasets / "nta_faq" / "corpus.jsonl", faq_reasons, rng))
    for name in ("jnli", "jsick"):
        pairs.extend(_nli_pairs(datasets / "nli" / f"{name}.jsonl", nli_per_label, rng))
    groups = sorted({p["group"] for p in pairs})
    random.Random(seed).shuffle(groups)
    split_of, start = {}, 0
    for i, (name, share) in enumerate(SPLITS):
        end = len(groups) if i == len(SPLITS) - 1 else start + round(share * len(groups))
        split_of.update({g: name for g in groups[start:end]})
        start = end
    for i, p in enumerate(pairs):
        p["id"] = f"sp-{i:05d}"
        p["split"] = split_of[p["group"]]
    return pairs


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ("id", "claim", "source", "label", "kind", "group", "split")
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Build the pairs; the train and dev splits ship with the package, the test split stays in eval/."""
    ap = argparse.ArgumentParser(prog="python -m eval.support_pairs")
    ap.add_argument("--train-out", type=Path, default=TRAIN_OUT)
    ap.add_argument("--test-out", type=Path, default=TEST_OUT)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    pairs = build_pairs(seed=args.seed)
    write_jsonl(args.train_out, [p for p in pairs if p["split"] != "test"])
    write_jsonl(args.test_out, [p for p in pairs if p["split"] == "test"])
    from collections import Counter

    print(json.dumps({s: dict(Counter((p["kind"]) for p in pairs if p["split"] == s)) for s, _ in SPLITS},
                     ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
