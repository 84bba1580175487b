"""Reading the rule files for the rule exports."""
from __future__ import annotations

from cptkg.exports import ExportError
from cptkg.knowledge.pack import FamilyPack
from cptkg.rules.ast import Rule
from cptkg.rules.parser import RuleSyntaxError, parse_file


def load_rules(pack: FamilyPack) -> list[Rule]:
    files = pack.rule_files()
    if not files:
        raise ExportError(f"no rule files (*.dl) in {pack.root / 'rules'}")
    rules: list[Rule] = []
    for path in files:
        try:
            rules.extend(parse_file(path, display=pack.shown(path)))
        except RuleSyntaxError as e:
            raise ExportError(f"rule file does not parse: {e}") from None
    return rules
