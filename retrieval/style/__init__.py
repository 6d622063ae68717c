"""公用文チェック: Japanese text checked against the official writing rules (offline).

The rules (``prompts/style_rules.yaml``) follow 「公用文作成の考え方」 (2022), 「公用文における
漢字使用等について」 (2010) and 「送り仮名の付け方」; parts of speech come from fugashi/UniDic.

>>> from retrieval.style import StyleChecker, fix_certain
>>> checker = StyleChecker()
>>> findings = checker.check("えー、制度の手続きを御説明致します。")
>>> fix_certain("えー、制度の手続きを御説明致します。", checker)[0]
'制度の手続を御説明いたします。'
"""

from retrieval.style.checker import Finding, StyleChecker
from retrieval.style.fix import apply_fixes, apply_one, fix_certain
from retrieval.style.rules import Rule, RuleSet, StyleRuleError, load_rules

__all__ = ["Finding", "StyleChecker", "apply_fixes", "apply_one", "fix_certain", "Rule", "RuleSet",
           "StyleRuleError", "load_rules"]
