"""A rule in one place for a pack author (issue 24): the title on the rule, the cases by topic.

Done when "a new rule with its title and cases touches the rule file and one
cases file": a copy of the pump pack gains a rule (title in its metadata) and a
new cases file, and nothing else; ``cptkg test`` fires the rule and ``cptkg
lint`` finds its title. The values of the added rule are SYNTHETIC (a test rule,
not billing data).
"""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from cptkg.cases import load_cases
from cptkg.faces.cli import main
from cptkg.knowledge.loader import KBLoadError, load_kb
from cptkg.knowledge.pack import DEFAULT_PACK, REPO_ROOT, case_files, read_pack

FIXTURE = REPO_ROOT / "tests" / "families" / "stimfix"

# SYNTHETIC: a warning rule made up for this test, over declared input predicates and a source id of the pack
NEW_RULE = """
% id: test.many-units
% title: Synthetic test rule: more than fifty units on a line
% message: line {L} bills {N} units (a synthetic test rule).
% source: n-code-scope
warn(L) :- line(L), line_units(L, N), N > 50.
"""
NEW_CASE = [{
    "name": "synthetic test rule: 60 units of 62367 on one line are warned",
    "given": {"claim_id": "T-1", "patient_id": "P-1",
              "lines": [{"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "NPI-1",
                         "provider_role": "physician", "units": 60}],
              "history": [{"code": "62362", "date_of_service": "2024-01-10"}]},
    "expect": {"status": "accepted", "lines": {1: {"status": "accepted", "warnings": ["test.many-units"]}}},
}]


def _invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def pump_copy(tmp_path):
    dst = tmp_path / "pump"
    shutil.copytree(DEFAULT_PACK, dst)
    return dst


def _changed_files(before: dict, root) -> list[str]:
    after = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))


def test_a_new_rule_with_its_title_and_a_case_touches_the_rule_file_and_one_cases_file(pump_copy):
    before = {p.relative_to(pump_copy).as_posix(): p.read_bytes() for p in pump_copy.rglob("*") if p.is_file()}
    rules = pump_copy / "rules" / "claim.dl"
    rules.write_text(rules.read_text(encoding="utf-8") + NEW_RULE, encoding="utf-8")
    (pump_copy / "rules" / "claim.cases" / "test-units.yaml").write_text(
        yaml.safe_dump(NEW_CASE, sort_keys=False), encoding="utf-8")
    assert _changed_files(before, pump_copy) == ["rules/claim.cases/test-units.yaml", "rules/claim.dl"]

    r = _invoke("test", "--kb", str(pump_copy), "-v")
    assert r.exit_code == 0, r.output
    assert "PASS  rules/claim.cases/test-units.yaml: synthetic test rule" in r.output
    assert ", 0 failed, 0 rules untested" in r.output

    r = _invoke("lint", "--kb", str(pump_copy))
    assert r.exit_code == 0, r.output
    assert "test.many-units" not in r.output  # lint names a rule without a title; this one has its title
    kb = load_kb(pump_copy)
    assert kb.rule_titles["test.many-units"] == "Synthetic test rule: more than fifty units on a line"
    assert kb.rule_title("test.many-units") == kb.rule_titles["test.many-units"]


def test_lint_names_a_new_rule_whose_metadata_has_no_title(pump_copy):
    rules = pump_copy / "rules" / "claim.dl"
    rules.write_text(rules.read_text(encoding="utf-8") + NEW_RULE.replace("% title: Synthetic", "% note: Synthetic"),
                     encoding="utf-8")
    r = _invoke("lint", "--kb", str(pump_copy))
    assert "rule test.many-units" in r.output and "has no title" in r.output


def test_the_pump_pack_titles_every_rule_in_its_metadata_and_has_no_titles_file():
    pack = read_pack(DEFAULT_PACK)
    assert not pack.titles_file().exists()
    kb = load_kb(DEFAULT_PACK)
    for r in list(kb.check_program.rules) + list(kb.infer_program.rules):
        assert r.meta.title and kb.rule_titles[r.meta.id] == r.meta.title, r.where
    assert kb.rule_verdicts["code.outside-kb"] == "not checked (outside the knowledge base)"
    assert kb.rule_unchecked == frozenset({"code.outside-kb"})


def test_a_titles_file_is_still_read_for_a_pack_that_has_one():
    kb = load_kb(FIXTURE)
    titles = yaml.safe_load((FIXTURE / "rules" / "titles.yaml").read_text(encoding="utf-8"))
    assert kb.rule_titles == {k: " ".join(v.split()) for k, v in titles.items()}


def test_a_rule_titled_in_its_metadata_and_in_the_titles_file_is_refused_naming_both(tmp_path):
    dst = tmp_path / "fx"
    shutil.copytree(FIXTURE, dst)
    rules = dst / "rules" / "claim.dl"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "% id: fx.included\n", "% id: fx.included\n% title: Included elsewhere\n"), encoding="utf-8")
    with pytest.raises(KBLoadError) as e:
        load_kb(dst)
    assert "rules/titles.yaml: fx.included" in str(e.value) and "rules/claim.dl:" in str(e.value)


def test_the_pump_claim_cases_are_files_by_topic_read_in_name_order():
    files = case_files(DEFAULT_PACK, "claim")
    assert [p.parent.name for p in files] == ["claim.cases"] * len(files) and len(files) > 5
    assert [p.name for p in files] == sorted(p.name for p in files)
    cases = load_cases(files)
    assert cases == load_cases(DEFAULT_PACK / "rules" / "claim.cases")  # a folder reads the same
    assert [c["name"] for c in cases] == [c["name"] for f in files for c in load_cases(f)]


def test_a_case_name_used_in_two_files_is_refused_naming_both(tmp_path):
    dst = tmp_path / "fx"
    shutil.copytree(FIXTURE, dst)
    single = dst / "rules" / "claim.cases.yaml"
    first = yaml.safe_load(single.read_text(encoding="utf-8"))[0]
    (dst / "rules" / "claim.cases").mkdir()
    (dst / "rules" / "claim.cases" / "more.yaml").write_text(yaml.safe_dump([first]), encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_cases(case_files(dst, "claim"))
    assert "claim.cases.yaml" in str(e.value) and "more.yaml" in str(e.value) and first["name"][:40] in str(e.value)
    r = _invoke("test", "--kb", str(dst))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "rules/claim.cases/more.yaml" in r.output and "rules/claim.cases.yaml" in r.output
    r = _invoke("lint", "--kb", str(dst))
    assert r.exit_code == 2 and "more.yaml" in r.output and "rename one" in r.output


def test_a_cases_file_and_a_cases_folder_of_one_pack_are_both_run(tmp_path):
    dst = tmp_path / "fx"
    shutil.copytree(FIXTURE, dst)
    single = dst / "rules" / "claim.cases.yaml"
    cases = yaml.safe_load(single.read_text(encoding="utf-8"))
    single.write_text(yaml.safe_dump(cases[:1], sort_keys=False), encoding="utf-8")
    (dst / "rules" / "claim.cases").mkdir()
    (dst / "rules" / "claim.cases" / "rest.yaml").write_text(yaml.safe_dump(cases[1:], sort_keys=False),
                                                            encoding="utf-8")
    r = _invoke("test", "--kb", str(dst), "-v")
    assert r.exit_code == 0, r.output
    ran = [line.split(": ", 1) for line in r.output.splitlines() if line.startswith("PASS  rules/claim")]
    assert [name for _, name in ran] == [c["name"] for c in cases]
    assert [f for f, _ in ran] == ["PASS  rules/claim.cases.yaml"] + ["PASS  rules/claim.cases/rest.yaml"] * (len(cases) - 1)


def test_a_case_in_a_topic_file_names_edit_files_relative_to_the_rules_folder():
    edit_cases = [c for f in case_files(DEFAULT_PACK, "claim") for c in load_cases(f) if c.get("edits")]
    assert edit_cases and all(e.startswith("edits/") for c in edit_cases for e in c["edits"])
    assert json.dumps(edit_cases)  # plain data: each case stands on its own (no YAML anchors shared across files)
