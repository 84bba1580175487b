"""The public API refuses an argument of the wrong kind by its name, in words (an integrator's audit): a
wrong type reached deep code as a bare TypeError or AttributeError, ``kb={}`` was taken for "no pack" and
judged with the default one, a dict given to judge_claims was judged as its keys, and explaining a line
no claim has returned an empty explanation. Every identifier here is SYNTHETIC."""
from __future__ import annotations

import pytest

import cptkg

CLAIM = {"claim_id": "SYN-1", "patient_id": "SYN-P1", "lines": [
    {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "SYN-N1",
     "provider_role": "physician", "units": 1}]}


@pytest.mark.parametrize("kwargs, error, words", [
    ({"kb": 5}, TypeError, "kb must be a knowledge base (cptkg.load_kb()) or a family pack's folder or name, got a number"),
    ({"kb": {}}, TypeError, "kb must be a knowledge base (cptkg.load_kb()) or a family pack's folder or name, got an object"),
    ({"engine": 5}, TypeError, "engine must be an engine's name (text), got a number"),
    ({"session": "x"}, TypeError, "session must be a cptkg.Session (cptkg.Session.open()), got text"),
    ({"timeout": "abc"}, ValueError, "timeout must be a number of seconds above 0, got 'abc'"),
    ({"timeout": 0}, ValueError, "timeout must be a number of seconds above 0, got 0"),
    ({"timeout": -1}, ValueError, "timeout must be a number of seconds above 0, got -1"),
])
def test_check_refuses_an_argument_of_the_wrong_kind_by_its_name(kwargs, error, words):
    with pytest.raises(error) as e:
        cptkg.check(CLAIM, **kwargs)
    assert str(e.value) == words


@pytest.mark.parametrize("kwargs, words", [
    ({"line": 0}, "line must be a line number (a whole number of 1 or more), got 0"),
    ({"line": True}, "line must be a line number (a whole number of 1 or more), got True"),
    ({"depth": -1}, "depth must be a whole number of 0 or more, got -1"),
])
def test_explain_refuses_a_line_or_depth_no_claim_can_have(kwargs, words):
    with pytest.raises(ValueError) as e:
        cptkg.explain(CLAIM, **kwargs)
    assert str(e.value) == words


def test_explaining_a_line_the_claim_lacks_is_refused_as_the_cli_refuses_it():
    with pytest.raises(cptkg.InputError, match="claim SYN-1: has no line 9"):
        cptkg.explain(CLAIM, line=9)
    assert [ln["line"] for ln in cptkg.explain(CLAIM, line=1)["lines"]] == [1]


def test_judge_claims_takes_one_claim_as_one_claim_and_refuses_none():
    one = cptkg.judge_claims(claims=CLAIM)
    assert [r["claim_id"] for r in one] == ["SYN-1"] and one == cptkg.judge_claims(claims=[CLAIM])
    with pytest.raises(TypeError, match="claims must be a list of claims"):
        cptkg.judge_claims(claims=None)


def test_exit_code_takes_what_check_returns_for_one_claim_or_a_list():
    assert cptkg.exit_code(cptkg.check(CLAIM)) == cptkg.exit_code(cptkg.check([CLAIM])) == 0
    with pytest.raises(TypeError, match="exit_code takes the results of cptkg.check"):
        cptkg.exit_code(None)


def test_load_kb_and_impact_name_a_wrong_argument():
    with pytest.raises(TypeError, match="pack must be a family pack's folder or name, got a number"):
        cptkg.load_kb(5)
    with pytest.raises(TypeError, match="claims must be a claim file's content"):
        cptkg.impact(None)


def test_a_generator_of_claims_is_judged_claim_by_claim_as_a_list_is():
    """check(generator) was one claim, "must be a JSON object, got generator", and none of its claims was
    judged (an integrator's audit)."""
    import json
    from pathlib import Path

    import cptkg

    claims = json.loads((Path(__file__).resolve().parents[1] / "examples" / "claims-batch.json").read_text())[:3]
    assert cptkg.check(c for c in claims) == cptkg.check(claims)
    assert isinstance(cptkg.check(claims[0]), dict)


def test_the_api_release_note_names_its_sides_as_the_cli_json_does(tmp_path):
    """cptkg.diff() lacked the before/after keys of cptkg diff --json (an integrator's audit)."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    import cptkg
    from cptkg.faces.cli import main

    edits = Path(__file__).resolve().parent / "data" / "edits" / "synthetic-ptp.ttl"
    api = cptkg.diff(after_edits=[edits])
    cli = json.loads(CliRunner().invoke(main, ["diff", "--after-edits", str(edits), "--json"]).stdout)
    assert api == cli and api["after"]["edit_files"] == ["synthetic-ptp.ttl"] and api["before"]["edit_files"] == []


def test_what_run_batch_raises_is_in_the_public_api(tmp_path):
    import cptkg

    assert {"BatchInputError", "BatchTimeout"} <= set(cptkg.__all__)
    (tmp_path / "claims.xyz").write_text("nothing")
    with pytest.raises(cptkg.BatchInputError):
        cptkg.run_batch(str(tmp_path / "claims.xyz"), str(tmp_path / "out.csv"))


@pytest.mark.parametrize("given, words", [(None, "got null"), (5, "got a number"), ("C1", "got text")])
def test_one_value_given_that_is_no_claim_is_the_claims_error_not_a_lists_first_entry(given, words):
    """check(None) said "claim #1 in the list" of a call that gave no list (an integrator's audit): one value
    given alone is one claim, and its error names the claim, as the CLI names a file of one claim."""
    import cptkg

    for answer in (cptkg.check(given), cptkg.explain(given)):
        assert answer["status"] == "error"
        assert answer["error"] == f"claim: must be a JSON object, {words}"
    assert cptkg.check([given])[0]["error"] == f"claim #1 in the list: must be a JSON object, {words}"


def test_impact_and_diff_take_one_edit_file_given_as_a_path_not_a_list(tmp_path):
    """An integrator's audit: after_edits="/path/x.ttl" was walked one character at a time ("/: unknown edit file
    type '(none)'"); one path is one edit file."""
    import json as _json

    import cptkg
    from cptkg.knowledge.pack import DEFAULT_PACK

    edits = DEFAULT_PACK / "rules" / "edits" / "synthetic-ptp.ttl"
    claim = _json.dumps({"claim_id": "A", "patient_id": "P", "lines": [
        {"line": 1, "code": "95991", "date_of_service": "2026-05-01", "provider_id": "D", "provider_role": "physician"}]})
    as_one = cptkg.impact(claim, after_edits=str(edits)).to_json()
    as_list = cptkg.impact(claim, after_edits=[edits]).to_json()
    assert as_one["after"]["edit_files"] == as_list["after"]["edit_files"] == [edits.name]
    assert cptkg.diff(after_edits=edits)["after"] == cptkg.diff(after_edits=[str(edits)])["after"]


@pytest.mark.parametrize("bad", [{}, None, [], "report"])
def test_the_impact_work_paper_of_something_that_is_no_report_is_a_value_error_naming_it(bad):
    """An integrator's audit: {} raised a bare KeyError 'summary', None a TypeError from deep in the page."""
    import cptkg

    with pytest.raises(ValueError, match="report: must be the impact report"):
        cptkg.impact_work_paper(bad)
