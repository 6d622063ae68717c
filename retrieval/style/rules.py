"""The 公用文 rules as data: ``prompts/style_rules.yaml`` parsed into :class:`Rule` objects.

Every rule names its group, how it is matched (``morph``, ``regex``, ``words`` or ``builtin``),
its fix, whether the fix is certain (safe to apply without a human), a Japanese explanation and
its source (document and section). A malformed file raises :class:`StyleRuleError` naming the
file and the rule, so an edit by a domain reviewer fails loudly, not silently.

>>> rules = load_rules()
>>> rules.rule("keishiki-toki").source_text
'公用文における漢字使用等について（平成22年11月30日 内閣訓令第1号） 1(2)キ'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from retrieval.errors import GyoseiError

__all__ = ["Rule", "RuleSet", "StyleRuleError", "load_rules", "KINDS", "BUILTINS"]

KINDS = ("morph", "regex", "words", "builtin")
BUILTINS = ("sentence_length", "brackets", "kanji_numerals", "comma_mix", "missing_period")
# Fixes computed from the matched text (the others are {replace: ...}, {append: ...} or a words table).
NAMED_FIXES = ("reading", "nfkc", "fullwidth_parens", "collapse_punct", "ja_punct")
_CONDITION_KEYS = {"surface", "surface_re", "lemma", "pos", "not_pos", "cform"}
_RULE_KEYS = {"id", "group", "kind", "match", "prev", "next", "prev_not", "next_not", "absorb_next", "pattern", "not_pos",
              "words", "check", "params", "fix", "certain", "explanation", "source", "examples", "skip_quoted",
              "horizontal_only", "skip_in_statutes"}
DEFAULT_FILE = "style_rules.yaml"


class StyleRuleError(GyoseiError):
    """The rules file is missing or malformed (Japanese message naming the file and the rule)."""


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple)) else (str(value),)


@dataclass(frozen=True)
class Condition:
    """Conditions on one morpheme; every given key must hold (values in a list: any of them)."""

    surface: tuple[str, ...] = ()
    surface_re: re.Pattern[str] | None = None
    lemma: tuple[str, ...] = ()
    pos: tuple[str, ...] = ()
    not_pos: tuple[str, ...] = ()
    cform: tuple[str, ...] = ()  # "" in the list also accepts words that do not conjugate

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> "Condition":
        unknown = set(spec) - _CONDITION_KEYS
        if unknown:
            raise ValueError(f"不明な条件 {', '.join(sorted(unknown))}")
        return cls(surface=_tuple(spec.get("surface")), lemma=_tuple(spec.get("lemma")),
                   surface_re=re.compile(spec["surface_re"]) if spec.get("surface_re") else None,
                   pos=_tuple(spec.get("pos")), not_pos=_tuple(spec.get("not_pos")), cform=_tuple(spec.get("cform")))


@dataclass(frozen=True)
class Rule:
    """One rule of the rules file (see the file's header for what each field means)."""

    id: str
    group: str
    group_label: str
    kind: str
    explanation: str
    source_doc: str
    source_section: str
    certain: bool
    fix: Any = None  # "reading" | NAMED_FIXES | {"replace": str} | {"append": str} | None
    match: Condition | None = None
    prev: Condition | None = None
    next: Condition | None = None
    prev_not: Condition | None = None  # the rule does not apply when the previous morpheme matches
    next_not: Condition | None = None
    skip_quoted: bool = False  # not inside 「」『』 (quoted titles, slogans and speech are names)
    skip_in_statutes: bool = False  # not for the text of laws (they follow the 法制執務 rules instead)
    horizontal_only: bool = False  # applies to horizontal writing only (full-width digits are right in vertical)
    absorb_next: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    not_pos: tuple[str, ...] = ()
    words: dict[str, str] = field(default_factory=dict)
    check: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def source_text(self) -> str:
        """「document section」 for display."""
        return f"{self.source_doc} {self.source_section}".strip()


@dataclass(frozen=True)
class RuleSet:
    """All rules with the file's settings (sentence length limit, writing direction) and labels."""

    rules: tuple[Rule, ...]
    groups: dict[str, str]
    sources: dict[str, str]
    settings: dict[str, Any]
    path: str

    def rule(self, rule_id: str) -> Rule:
        """The rule called ``rule_id`` (KeyError if none)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _rule(spec: Any, groups: dict[str, str], sources: dict[str, str], where: str) -> Rule:
    if not isinstance(spec, dict) or not spec.get("id"):
        raise StyleRuleError(f"{where}: 規則には id が必要です。")
    rid = str(spec["id"])
    def bad(reason: str) -> StyleRuleError:
        return StyleRuleError(f"{where}: 規則 {rid} が不正です（{reason}）。")

    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise bad(f"不明な項目 {', '.join(sorted(unknown))}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise bad(f"kind は {', '.join(KINDS)} のいずれかにしてください")
    if spec.get("group") not in groups:
        raise bad(f"group {spec.get('group')!r} が groups にありません")
    source = spec.get("source") or {}
    if source.get("doc") not in sources or not source.get("section"):
        raise bad("source には sources のキー doc と section が必要です")
    if not spec.get("explanation"):
        raise bad("explanation がありません")
    fix = spec.get("fix")
    if not (fix is None or fix in NAMED_FIXES or (isinstance(fix, dict) and set(fix) in ({"replace"}, {"append"}))):
        raise bad(f"fix は {', '.join(NAMED_FIXES)}、{{replace: …}}、{{append: …}} のいずれかにしてください")
    try:
        conditions = {k: Condition.parse(spec[k]) if spec.get(k) else None for k in ("match", "prev", "next", "prev_not", "next_not")}
        pattern = re.compile(spec["pattern"]) if spec.get("pattern") else None
    except (ValueError, re.error) as exc:
        raise bad(str(exc)) from exc
    words = {str(k): str(v) for k, v in (spec.get("words") or {}).items()}
    if kind == "morph" and conditions["match"] is None:
        raise bad("morph の規則には match が必要です")
    if kind == "regex" and pattern is None:
        raise bad("regex の規則には pattern が必要です")
    if kind == "words" and not words:
        raise bad("words の規則には words の表が必要です")
    if kind == "builtin" and spec.get("check") not in BUILTINS:
        raise bad(f"check は {', '.join(BUILTINS)} のいずれかにしてください")
    if kind == "words":
        # Longest first, so 受付け is not read as 受付 + け.
        pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    return Rule(
        id=rid, group=spec["group"], group_label=groups[spec["group"]], kind=kind,
        explanation=str(spec["explanation"]).strip(), source_doc=sources[source["doc"]],
        source_section=str(source["section"]), certain=bool(spec.get("certain", False)), fix=fix,
        match=conditions["match"], prev=conditions["prev"], next=conditions["next"],
        prev_not=conditions["prev_not"], next_not=conditions["next_not"], skip_quoted=bool(spec.get("skip_quoted", False)),
        horizontal_only=bool(spec.get("horizontal_only", False)),
        skip_in_statutes=bool(spec.get("skip_in_statutes", False)),
        absorb_next=_tuple(spec.get("absorb_next")), pattern=pattern, not_pos=_tuple(spec.get("not_pos")),
        words=words, check=str(spec.get("check") or ""), params=dict(spec.get("params") or {}),
        examples={k: str(v) for k, v in (spec.get("examples") or {}).items()},
    )


def parse_rules(text: str, where: str) -> RuleSet:
    """A RuleSet from the YAML ``text``; ``where`` names the file in error messages."""
    import yaml

    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StyleRuleError(f"{where}: YAML として読めません（{exc}）。") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("rules"), list) or not spec["rules"]:
        raise StyleRuleError(f"{where}: rules（規則の一覧）がありません。")
    groups = {str(k): str(v) for k, v in (spec.get("groups") or {}).items()}
    sources = {str(k): str(v) for k, v in (spec.get("sources") or {}).items()}
    rules = tuple(_rule(r, groups, sources, where) for r in spec["rules"])
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise StyleRuleError(f"{where}: 規則の id が重複しています（{', '.join(dupes)}）。")
    return RuleSet(rules=rules, groups=groups, sources=sources, settings=dict(spec.get("settings") or {}), path=where)


@functools.lru_cache(maxsize=8)
def load_rules(path: str | None = None) -> RuleSet:
    """The rules of ``path``, or of the packaged ``prompts/style_rules.yaml`` (parsed once)."""
    if path is None:
        resource = files("prompts").joinpath(DEFAULT_FILE)
        return parse_rules(resource.read_text(encoding="utf-8"), f"prompts/{DEFAULT_FILE}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StyleRuleError(f"{path}: 規則ファイルが見つかりません。") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StyleRuleError(f"{path}: 規則ファイルを読めません（{exc}）。") from exc
    return parse_rules(text, str(path))
