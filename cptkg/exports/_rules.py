"""Reading the rule files for the rule exports."""
from __future__ import annotations

from pathlib import Path

from cptkg.exports import ExportError
from cptkg.rules.ast import Rule
from cptkg.rules.parser import RuleSyntaxError, parse_file


def rule_files(root: Path) -> list[Path]:
    return sorted((root / "kb" / "rules").glob("*.dl"))


def load_rules(root: Path) -> list[Rule]:
    files = rule_files(root)
    if not files:
        raise ExportError(f"no rule files (*.dl) in {root / 'kb' / 'rules'}")
    rules: list[Rule] = []
    for path in files:
        try:
            rules.extend(parse_file(path, display=str(path.relative_to(root))))
        except RuleSyntaxError as e:
            raise ExportError(f"rule file does not parse: {e}") from None
    return rules
