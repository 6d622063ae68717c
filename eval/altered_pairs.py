"""Altered-sentence pairs for the contradiction check: real government answers, changed on purpose.

From real answer sentences (data_samples/kokkai and the diet_qa corpus) this builds labelled
pairs ``{"premise": original, "hypothesis": altered, "label", "kind", "context"}``:

* contradiction: a figure changed (number), a date changed (date), a negation flipped
  (negation), a stance word swapped (modality), an article number changed (law), a law name
  replaced by another (law_name);
* entailment (must NOT be flagged): the same sentence (same), kanji <-> digit numerals
  (numerals), 令和 <-> 西暦 (era), harmless rewording (paraphrase);
* neutral (must NOT be flagged): the next sentence of the same answer (neighbor), a different
  statement on the same topic, often with other figures.

Seeded and deterministic: the same inputs and seed give the same file.

    python -m eval.altered_pairs --out eval/datasets/altered/altered.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path
from typing import Callable, Iterable

from retrieval.support import split_sentences
from retrieval.text.dates import find_dates
from retrieval.text.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KOKKAI = ROOT / "data_samples" / "kokkai"
DEFAULT_DIET_QA = ROOT / "eval" / "datasets" / "diet_qa" / "corpus.jsonl"
SEED = 20261121

_KD = "〇一二三四五六七八九"
_NUM_UNIT = re.compile(rf"(?<![第0-9{_KD}十百千])([0-9,.]+|[{_KD}十百千万億兆・]+)(兆円|億円|万円|円|%|％|割|人|件|社|回|倍|か所|カ所|機|隻|台|世帯)")
_ARTICLE = re.compile(rf"第([0-9{_KD}十百]+)条")
_LABEL = re.compile(r"^○\S+?[　 ]+")

# (affirmative, negative) endings; the last occurrence in a sentence is flipped.
_NEGATIONS = [
    ("ております", "ておりません"), ("ています", "ていません"), ("てございます", "てございません"),
    ("でございます", "ではございません"), ("あります", "ありません"), ("できます", "できません"),
    ("いたします", "いたしません"), ("いたしました", "いたしませんでした"), ("しました", "しませんでした"),
    ("している", "していない"), ("できる", "できない"), ("である", "ではない"),
]
_MODALITY = [
    ("検討して", "見送って"), ("実施して", "見送って"), ("推進して", "見送って"), ("進めて", "見送って"),
    ("可能", "困難"), ("困難", "可能"), ("積極的に", "慎重に"), ("前向きに", "慎重に"), ("慎重に", "積極的に"),
    ("取り組んで", "取りやめて"), ("実施いたしました", "見送りました"), ("導入", "導入見送り"),
]
_PARAPHRASES = [
    ("考えております", "考えています"), ("おります", "います"), ("でございます", "です"),
    ("につきましては", "については"), ("いたします", "します"), ("まいります", "いきます"),
    ("まさに", ""), ("しっかりと", ""), ("やはり", ""), ("いずれにいたしましても、", "いずれにしても、"),
]


def load_government_sentences(kokkai_dir: Path = DEFAULT_KOKKAI, diet_qa: Path | None = DEFAULT_DIET_QA,
                              max_speeches: int | None = None) -> list[list[str]]:
    """Government speeches as lists of sentences (speaker label removed), in a fixed order."""
    speeches: list[str] = []
    for path in sorted(Path(kokkai_dir).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for rec in data.get("speechRecord", []):
            if rec.get("speakerPosition") and rec.get("speechOrder", 1) != 0:
                speeches.append(rec["speech"])
    if diet_qa is not None and Path(diet_qa).is_file():
        with open(diet_qa, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if max_speeches is not None and i >= max_speeches:
                    break
                speeches.append(json.loads(line)["text"])
    out = []
    for speech in speeches:
        text = _LABEL.sub("", normalize(speech).strip())
        sents = [s for s in split_sentences(text) if 20 <= len(s) <= 160 and s.endswith("。")]
        if sents:
            out.append(sents)
    return out


def _change_digit(s: str, span: tuple[int, int], rng: random.Random) -> str | None:
    """Change one digit (ASCII or kanji) inside ``s[span]`` to another of the same script."""
    digit = lambda c: (c.isascii() and c.isdigit()) or c in _KD  # noqa: E731
    # Not the first two digits of a year (二〇二四 -> 六〇二四 is no date at all).
    idx = [i for i in range(*span) if (s[i].isdigit() and s[i].isascii() or s[i] in _KD[1:])
           and not (i + 3 < len(s) and all(digit(c) for c in s[i:i + 4]) and (i == 0 or not digit(s[i - 1])))
           and not (i >= 1 and i + 2 < len(s) and all(digit(c) for c in s[i - 1:i + 3]) and (i == 1 or not digit(s[i - 2])))]
    if not idx:
        return None
    i = rng.choice(idx)
    pool = "0123456789" if s[i].isascii() else _KD[1:]
    new = rng.choice([c for c in pool if c != s[i]])
    return s[:i] + new + s[i + 1:]


def _number(s: str, rng: random.Random) -> str | None:
    ms = [m for m in _NUM_UNIT.finditer(s) if m.group(0) != "一人"]  # 一人一人 is an idiom
    return _change_digit(s, rng.choice(ms).span(1), rng) if ms else None


def _date(s: str, rng: random.Random) -> str | None:
    ds = find_dates(s)
    if not ds:
        return None
    d = rng.choice(ds)
    return _change_digit(s, (d.start, d.end), rng)


def _article(s: str, rng: random.Random) -> str | None:
    ms = list(_ARTICLE.finditer(s))
    return _change_digit(s, rng.choice(ms).span(1), rng) if ms else None


def _swap_last(s: str, table: list[tuple[str, str]], both_ways: bool) -> str | None:
    best = None
    for a, b in table + ([(b, a) for a, b in table] if both_ways else []):
        i = s.rfind(a)
        if i >= 0 and (best is None or i > best[0]):
            best = (i, a, b)
    if best is None:
        return None
    i, a, b = best
    return s[:i] + b + s[i + len(a):]


def _numerals(s: str, rng: random.Random) -> str | None:
    from kanjize import kanji2number, number2kanji

    for m in _NUM_UNIT.finditer(s):
        raw = m.group(1)
        try:
            if raw.isascii() and raw.replace(",", "").isdigit():
                new = number2kanji(int(raw.replace(",", "")))
            elif "・" not in raw and all(c in _KD + "十百千万億兆" for c in raw):
                new = f"{kanji2number(raw):,}"
            else:
                continue
        except (ValueError, KeyError, TypeError):
            continue
        return s[: m.start(1)] + new + s[m.end(1):]
    return None


def _era(s: str, rng: random.Random) -> str | None:
    for d in find_dates(s):
        text = s[d.start:d.end]
        m = re.match(rf"令和([0-9{_KD}十元]+)年", text)
        if m:
            return s[:d.start] + f"{d.iso[:4]}年" + s[d.start + m.end():]
        m = re.match(r"(20[0-9]{2})年", text)
        if m and int(m.group(1)) >= 2020:
            return s[:d.start] + f"令和{int(m.group(1)) - 2018}年" + s[d.start + m.end():]
    return None


_LAWS = ["所得税法", "法人税法", "消費税法", "地方税法", "国家公務員法", "地方自治法", "刑事訴訟法", "民事訴訟法",
         "行政手続法", "自衛隊法", "生活保護法", "健康保険法", "国民年金法", "厚生年金保険法", "労働基準法",
         "災害対策基本法", "特定秘密保護法", "個人情報保護法", "公職選挙法", "政治資金規正法"]


def _law_name(s: str, rng: random.Random) -> str | None:
    found = [law for law in _LAWS if law in s]
    if not found:
        return None
    law = rng.choice(found)
    return s.replace(law, rng.choice([x for x in _LAWS if x != law and x not in s]), 1)


_MAKERS: dict[str, tuple[str, Callable[[str, random.Random], str | None]]] = {
    "number": ("contradiction", _number),
    "date": ("contradiction", _date),
    "negation": ("contradiction", lambda s, r: _swap_last(s, _NEGATIONS, True)),
    "modality": ("contradiction", lambda s, r: _swap_last(s, _MODALITY, False)),
    "law": ("contradiction", _article),
    "law_name": ("contradiction", _law_name),
    "same": ("entailment", lambda s, r: s),
    "numerals": ("entailment", _numerals),
    "era": ("entailment", _era),
    "paraphrase": ("entailment", lambda s, r: _swap_last(s, _PARAPHRASES, False)),
}


def generate_altered_pairs(speeches: Iterable[list[str]], seed: int = SEED, per_kind: int = 60) -> list[dict]:
    """Labelled pairs (see module doc): up to ``per_kind`` per alteration kind, plus neighbors."""
    speeches = list(speeches)
    rng = random.Random(seed)
    flat = [(si, j, s) for si, sents in enumerate(speeches) for j, s in enumerate(sents)]
    out: list[dict] = []
    for kind, (label, make) in _MAKERS.items():
        order = flat[:]
        rng.shuffle(order)
        n = 0
        for si, j, s in order:
            if n >= per_kind:
                break
            altered = make(s, rng)
            if altered is None or (altered == s) != (kind == "same") or not altered.strip("。"):
                continue
            context = "".join(speeches[si][max(0, j - 2): j + 3])
            out.append({"id": f"{kind}-{n}", "premise": s, "hypothesis": altered, "label": label,
                        "kind": kind, "context": context})
            n += 1
    # Neighbors: consecutive sentences of one answer (prefer ones with figures: the hard case).
    pairs = [(sents[j], sents[j + 1], "".join(sents[max(0, j - 1): j + 3])) for sents in speeches for j in range(len(sents) - 1)]
    rng.shuffle(pairs)
    pairs.sort(key=lambda p: not (_NUM_UNIT.search(p[0]) and _NUM_UNIT.search(p[1])))
    for n, (a, b, ctx) in enumerate(pairs[: 2 * per_kind]):
        out.append({"id": f"neighbor-{n}", "premise": a, "hypothesis": b, "label": "neutral", "kind": "neighbor", "context": ctx})
    return out


def main(argv: list[str] | None = None) -> None:
    """Write the altered-sentence set as JSONL."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--per-kind", type=int, default=60)
    args = ap.parse_args(argv)
    records = generate_altered_pairs(load_government_sentences(), args.seed, args.per_kind)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for r in records:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    print(f"{args.out}: {len(records)} pairs {counts}")


if __name__ == "__main__":
    main()
