"""Evaluation of the 公用文チェック (``gyosei eval style``): the ``style`` report.

* **Recall** on ``eval/datasets/style/departures.jsonl``: sentences with known departures, each
  named by its rule group and the text of its span; a departure counts as found when a finding
  of that group overlaps it. Findings that match no known departure are listed too.
* **False alarms** on texts written to the rules (the white paper, the laws and the written parts
  of the FAQs): findings per 1,000 characters, per text and per rule, with and without the
  sentence-length warning (advice rather than a spelling rule).
* **Hand review**: a fixed, stratified sample of those findings (every rule in turn) with a
  reviewer's verdicts kept in ``eval/datasets/style/review.jsonl`` (``real`` or ``false``);
  precision is real / reviewed. Sampled findings without a verdict are listed as 未確認.
* **Drafts**: findings per 1,000 characters on template drafts, before and after the automatic fixes.

Usage::

    report = evaluate_style(checker, departures, corpora, review, drafts)
    save_report(report, Path("eval/reports"), markdown_style)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.report import SCHEMA_VERSION, package_versions
from retrieval.errors import GyoseiError
from retrieval.style import Finding, StyleChecker

__all__ = ["StyleEvalError", "Corpus", "load_departures", "load_review", "written_parts", "evaluate_style",
           "review_sample", "markdown_style", "DEFAULT_SET", "DEFAULT_REVIEW", "LENGTH_RULE"]

DEFAULT_SET = Path("eval/datasets/style/departures.jsonl")
DEFAULT_REVIEW = Path("eval/datasets/style/review.jsonl")
LENGTH_RULE = "bunchou-nagai"
REVIEW_SIZE = 40
VERDICTS = ("real", "false")


class StyleEvalError(GyoseiError):
    """An evaluation file is missing or malformed (Japanese message naming the file and line)."""


@dataclass(frozen=True)
class Corpus:
    """A text written to the rules: its name, the text and whether it is horizontal writing
    (laws are vertical: their kanji numerals are right)."""

    name: str
    text: str
    horizontal: bool = True
    statute: bool = False  # the text of laws (rules marked skip_in_statutes do not apply)


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise StyleEvalError(f"{path}: ファイルが見つかりません。") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StyleEvalError(f"{path}: 読めません（{exc}）。") from exc
    out = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StyleEvalError(f"{path} {no}行目: JSON として読めません（{exc.msg}）。") from exc
        if not isinstance(item, dict):
            raise StyleEvalError(f"{path} {no}行目: JSON のオブジェクトではありません。")
        out.append((no, item))
    return out


def load_departures(path: Path, groups: set[str]) -> list[dict[str, Any]]:
    """The recall set: ``{"id", "text", "departures": [{"group", "span"}]}`` per line, each span
    found in the text and each group one of the rules file's."""
    items = []
    for no, item in _jsonl(path):
        text = item.get("text")
        if not isinstance(text, str) or not item.get("id") or not isinstance(item.get("departures"), list):
            raise StyleEvalError(f"{path} {no}行目: id、text、departures（一覧）が必要です。")
        cursor: dict[str, int] = {}
        spans = []
        for d in item["departures"]:
            if d.get("group") not in groups:
                raise StyleEvalError(f"{path} {no}行目: group {d.get('group')!r} は規則の分類にありません。")
            span = str(d.get("span") or "")
            at = text.find(span, cursor.get(span, 0)) if span else -1
            if at < 0:
                raise StyleEvalError(f"{path} {no}行目: span「{span}」が本文にありません。")
            cursor[span] = at + 1  # the same span twice: the next occurrence
            spans.append({"group": d["group"], "span": span, "start": at, "end": at + len(span)})
        items.append({"id": str(item["id"]), "text": text, "departures": spans})
    return items


def load_review(path: Path) -> list[dict[str, Any]]:
    """Hand-review verdicts: ``{"corpus", "rule", "start", "text", "verdict", "note"}`` per line."""
    if not Path(path).exists():
        return []
    out = []
    for no, item in _jsonl(path):
        if item.get("verdict") not in VERDICTS or not item.get("corpus") or not item.get("rule") or "start" not in item:
            raise StyleEvalError(f"{path} {no}行目: corpus、rule、start、text と verdict（real / false）が必要です。")
        out.append(item)
    return out


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"https?://\S+")
_MARKS = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+\.\s+|>\s*)")


def written_parts(markdown: str) -> str:
    """The prose of a Markdown FAQ: tables, images, link targets, URLs, HTML tags and list or
    heading marks removed (they are page furniture, not written sentences)."""
    lines = []
    for line in markdown.splitlines():
        if line.lstrip().startswith("|"):
            continue
        line = _URL.sub("", _TAG.sub("", _LINK.sub(r"\1", _IMAGE.sub("", line))))
        line = _MARKS.sub("", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


# -- the parts of the report -----------------------------------------------------------------------------


def recall(checker: StyleChecker, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Found / known departures, per group; misses and findings that match no known departure."""
    per_group: dict[str, list[int]] = {}
    misses, extra = [], []
    for item in items:
        findings = checker.check(item["text"])
        for d in item["departures"]:
            hit = any(f.start < d["end"] and f.end > d["start"] and _group_key(checker, f) == d["group"] for f in findings)
            per_group.setdefault(d["group"], [0, 0])
            per_group[d["group"]][0] += int(hit)
            per_group[d["group"]][1] += 1
            if not hit:
                misses.append({"id": item["id"], "group": d["group"], "span": d["span"], "text": item["text"]})
        for f in findings:
            if not any(f.start < d["end"] and f.end > d["start"] for d in item["departures"]):
                extra.append({"id": item["id"], "rule": f.rule_id, "span": f.text, "text": item["text"]})
    found = sum(v[0] for v in per_group.values())
    total = sum(v[1] for v in per_group.values())
    return {"sentences": len(items), "departures": total, "found": found, "recall": found / total if total else 0.0,
            "per_group": {g: {"found": v[0], "total": v[1], "recall": v[0] / v[1]} for g, v in sorted(per_group.items())},
            "misses": misses, "unexpected": extra}


def _group_key(checker: StyleChecker, f: Finding) -> str:
    return checker.rules.rule(f.rule_id).group


def _corpus_findings(corpora: list[Corpus], checker: StyleChecker) -> dict[str, list[Finding]]:
    out = {}
    for c in corpora:
        local = StyleChecker(checker.rules, max_sentence_chars=checker.options["max_sentence_chars"],
                             horizontal=c.horizontal, statute=c.statute, disabled=checker.disabled)
        out[c.name] = local.check(c.text)
    return out


def false_alarms(corpora: list[Corpus], found: dict[str, list[Finding]]) -> dict[str, Any]:
    """Findings per 1,000 characters on each text and overall (with and without the length warning)."""
    rows = {}
    for c in corpora:
        fs = found[c.name]
        spelling = [f for f in fs if f.rule_id != LENGTH_RULE]
        rows[c.name] = {"chars": len(c.text), "horizontal": c.horizontal, "statute": c.statute, "findings": len(fs),
                        "per_1000": 1000 * len(fs) / max(len(c.text), 1),
                        "findings_without_length": len(spelling),
                        "per_1000_without_length": 1000 * len(spelling) / max(len(c.text), 1),
                        "by_rule": dict(Counter(f.rule_id for f in fs).most_common())}
    chars = sum(r["chars"] for r in rows.values())
    total = sum(r["findings"] for r in rows.values())
    spelling = sum(r["findings_without_length"] for r in rows.values())
    return {"corpora": rows, "chars": chars, "findings": total, "per_1000": 1000 * total / max(chars, 1),
            "per_1000_without_length": 1000 * spelling / max(chars, 1)}


def review_sample(corpora: list[Corpus], found: dict[str, list[Finding]], size: int = REVIEW_SIZE, seed: int = 16) -> list[dict[str, Any]]:
    """A fixed sample of findings for review: rules in turn (so no single rule fills it), a
    seeded random finding of each, with 30 characters of context either side."""
    texts = {c.name: c.text for c in corpora}
    by_rule: dict[str, list[tuple[str, Finding]]] = {}
    for name, fs in found.items():
        for f in fs:
            by_rule.setdefault(f.rule_id, []).append((name, f))
    rng = random.Random(seed)
    for pool in by_rule.values():
        rng.shuffle(pool)
    sample = []
    while len(sample) < size and any(by_rule.values()):
        for rule in sorted(by_rule):
            if by_rule[rule] and len(sample) < size:
                name, f = by_rule[rule].pop()
                text = texts[name]
                sample.append({"corpus": name, "rule": f.rule_id, "start": f.start, "text": f.text[:80],
                               "suggestion": f.suggestion, "context": text[max(0, f.start - 30):f.start] + "【" + f.text[:80]
                               + "】" + text[f.end:f.end + 30]})
    return sample


def hand_review(sample: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The sample with the reviewer's verdicts; precision over the reviewed ones."""
    known = {(v["corpus"], v["rule"], int(v["start"])): v for v in verdicts}
    rows = []
    for s in sample:
        v = known.get((s["corpus"], s["rule"], s["start"]))
        rows.append({**s, "verdict": v["verdict"] if v else None, "note": v.get("note", "") if v else ""})
    reviewed = [r for r in rows if r["verdict"]]
    real = sum(1 for r in reviewed if r["verdict"] == "real")
    return {"size": len(rows), "reviewed": len(reviewed), "real": real,
            "precision": real / len(reviewed) if reviewed else None, "rows": rows}


def draft_rates(checker: StyleChecker, drafts: dict[str, str]) -> dict[str, Any]:
    """Findings per 1,000 characters of each draft text (e.g. ``before`` / ``after`` the fixes)."""
    out = {}
    for name, text in drafts.items():
        fs = checker.check(text)
        out[name] = {"chars": len(text), "findings": len(fs), "per_1000": 1000 * len(fs) / max(len(text), 1),
                     "certain": sum(1 for f in fs if f.certain and f.fixable),
                     "by_rule": dict(Counter(f.rule_id for f in fs).most_common()), "text": text}
    return out


def evaluate_style(checker: StyleChecker, departures_path: Path, corpora: list[Corpus],
                   review_path: Path | None = None, drafts: dict[str, str] | None = None,
                   question: str | None = None) -> dict[str, Any]:
    """The whole ``style`` report (see the module docstring)."""
    items = load_departures(departures_path, set(checker.rules.groups))
    rec = recall(checker, items)
    found = _corpus_findings(corpora, checker)
    alarms = false_alarms(corpora, found)
    review = hand_review(review_sample(corpora, found), load_review(review_path) if review_path else [])
    draft = draft_rates(checker, drafts) if drafts else {}
    metrics = {"recall": rec["recall"], "false_alarms_per_1000": alarms["per_1000"],
               "false_alarms_per_1000_without_length": alarms["per_1000_without_length"]}
    if review["precision"] is not None:
        metrics["review_precision"] = review["precision"]
    for name, row in draft.items():
        metrics[f"draft_{name}_per_1000"] = row["per_1000"]
    data = Path(departures_path).read_bytes()
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "style",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"name": "style", "path": str(departures_path), "fingerprint": hashlib.sha256(data).hexdigest(),
                    "sentences": rec["sentences"], "departures": rec["departures"],
                    "corpora": {c.name: len(c.text) for c in corpora}},
        "config": {"rules": checker.rules.path, "rule_count": len(checker.rules.rules), **checker.options,
                   "groups": checker.rules.groups, "question": question},
        "versions": package_versions(),
        "metric_names": list(metrics),
        "metrics": {k: round(v, 6) for k, v in metrics.items()},
        "recall": rec,
        "false_alarms": alarms,
        "review": review,
        "drafts": draft,
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "⏎")


def markdown_style(report: dict[str, Any]) -> str:
    """The report as a Markdown page (figures, per-group recall, per-text rates, the review table)."""
    m, rec, fa, rv = report["metrics"], report["recall"], report["false_alarms"], report["review"]
    groups = report["config"]["groups"]
    lines = [f"# 公用文チェックの評価（{report['created']}）", "",
             f"- 規則: `{report['config']['rules']}`（{report['config']['rule_count']} 規則）、文の長さの警告 {report['config']['max_sentence_chars']} 字超",
             "", "## 指標", "", "| 指標 | 値 |", "|---|---:|",
             f"| 再現率（既知の逸脱 {rec['departures']} 件、{rec['sentences']} 文） | {m['recall']:.3f} |",
             f"| 誤検出の候補（規則どおりの文書での指摘、1,000字あたり） | {fa['per_1000']:.2f} |",
             f"| 同（文の長さの警告を除く） | {fa['per_1000_without_length']:.2f} |"]
    if rv["precision"] is not None:
        lines.append(f"| 人手確認の適合率（{rv['reviewed']} 件中 {rv['real']} 件が本当の逸脱） | {rv['precision']:.3f} |")
    for name, row in report["drafts"].items():
        label = {"before": "答弁案（自動修正前）", "after": "答弁案（自動修正後）"}.get(name, name)
        lines.append(f"| {label}の指摘（1,000字あたり、{row['findings']} 件 / {row['chars']} 字） | {row['per_1000']:.2f} |")
    lines += ["", "## 分類別の再現率", "", "| 分類 | 検出 / 既知 | 再現率 |", "|---|---:|---:|"]
    for g, v in rec["per_group"].items():
        lines.append(f"| {groups.get(g, g)} | {v['found']} / {v['total']} | {v['recall']:.3f} |")
    if rec["misses"]:
        lines += ["", "見逃し:", ""] + [f"- {x['id']} {groups.get(x['group'], x['group'])}「{x['span']}」: {x['text']}" for x in rec["misses"]]
    if rec["unexpected"]:
        lines += ["", "既知の逸脱以外の指摘:", ""] + [f"- {x['id']} {x['rule']}「{x['span']}」: {x['text']}" for x in rec["unexpected"]]
    lines += ["", "## 規則どおりの文書での指摘", "", "| 文書 | 字数 | 書き方 | 指摘 | 1,000字あたり | 長さの警告を除く | 規則別 |",
              "|---|---:|---|---:|---:|---:|---|"]
    for name, r in fa["corpora"].items():
        rules = "、".join(f"{k} {v}" for k, v in r["by_rule"].items())
        lines.append(f"| {name} | {r['chars']:,} | {('横書き' if r['horizontal'] else '縦書き') + ('・法令' if r.get('statute') else '')} | {r['findings']} | {r['per_1000']:.2f} "
                     f"| {r['per_1000_without_length']:.2f} | {rules} |")
    lines += ["", f"## 人手確認（{rv['size']} 件、規則ごとに順に抽出）", "", "| # | 文書 | 規則 | 指摘箇所（前後30字） | 判定 | メモ |", "|---:|---|---|---|---|---|"]
    for i, r in enumerate(rv["rows"], 1):
        verdict = {"real": "本当の逸脱", "false": "誤検出"}.get(r["verdict"] or "", "未確認")
        context, note = _cell(r["context"]), _cell(r["note"])
        lines.append(f"| {i} | {r['corpus']} | {r['rule']} | {context} | {verdict} | {note} |")
    for name, row in report["drafts"].items():
        lines += ["", f"## 答弁案（{name}）", "", "```", row["text"], "```"]
    return "\n".join(lines) + "\n"
