"""The pump pack's README carries its rules table as the pack generates it (devtools/pack_readme.py).

Why: titles, reason codes and sources live on the rules; a table typed by
hand drifted from them. Run ``python -m devtools.pack_readme`` after changing
a rule or its cases.
"""
from __future__ import annotations

import shutil

from cptkg.knowledge.loader import load_kb
from cptkg.knowledge.pack import DEFAULT_PACK
from devtools.pack_readme import BEGIN, END, render, updated


def _table(text: str) -> str:
    return BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END


def test_the_committed_rules_table_of_the_pump_readme_is_the_generated_one():
    readme = (DEFAULT_PACK / "README.md").read_text(encoding="utf-8")
    assert BEGIN in readme and END in readme, "kb/pump/README.md lost its generated table's markers"
    assert _table(readme) == render(load_kb(DEFAULT_PACK)), "stale: run python -m devtools.pack_readme"


def test_the_table_lists_every_rule_with_its_title_reason_code_and_sources():
    kb = load_kb(DEFAULT_PACK)
    table = render(kb)
    for r in list(kb.check_program.rules) + list(kb.infer_program.rules):
        row = next(line for line in table.splitlines() if line.startswith(f"| `{r.meta.id}` |"))
        assert f"| {kb.rule_title(r.meta.id)} |" in row
        assert all(s in row for s in r.meta.source)
        if r.meta.carc:
            assert f"| {r.meta.group}-{r.meta.carc} |" in row


def test_a_title_changed_on_the_rule_makes_the_committed_table_stale(tmp_path):
    dst = tmp_path / "pump"
    shutil.copytree(DEFAULT_PACK, dst)
    rules = dst / "rules" / "claim.dl"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "% title: Performer's role\n", "% title: Role of the performer\n", 1), encoding="utf-8")
    readme = (dst / "README.md").read_text(encoding="utf-8")
    fresh = render(load_kb(dst))
    assert _table(readme) != fresh and "| Role of the performer |" in fresh
    assert _table(updated(readme, fresh)) == fresh and updated(readme, fresh).startswith(readme.split(BEGIN)[0])
