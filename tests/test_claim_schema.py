"""``cptkg schema`` gives the JSON Schema of claim and encounter JSON, generated
from the parser's own models with the pack's values: what it accepts the
parser accepts, and what it refuses the parser refuses."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from cptkg import pipeline
from cptkg.cases import load_cases
from cptkg.knowledge.pack import case_files
from cptkg.claims.models import InputError
from cptkg.claims.schema import claim_schema, encounter_schema
from cptkg.knowledge.loader import default_kb

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kb():
    return default_kb()


@pytest.fixture(scope="module")
def validator(kb):
    schema = claim_schema(kb)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_every_example_claim_file_is_valid_under_the_schema(validator):
    for name in ("claim-pair.json", "claim-rejected.json", "claims-edits.json"):
        validator.validate(json.loads((ROOT / "examples" / name).read_text()))


def test_the_batch_examples_bad_claim_is_the_one_the_schema_refuses(validator):
    """examples/claims-batch.json holds one claim dated 2025-02-30 on purpose; the date format catches it."""
    claims = json.loads((ROOT / "examples/claims-batch.json").read_text())
    refused = [c["claim_id"] for c in claims if not validator.is_valid(c)]
    assert refused == ["C-BAD"]


def test_the_schema_and_the_parser_agree_on_every_rule_case(kb, validator):
    """Each case's claim, valid or not by the parser, is valid or not by the schema alike, except what
    a schema cannot say (a real calendar date, a line number given twice)."""
    disagree = []
    for case in load_cases(case_files(ROOT / "kb/pump", "claim")):
        given = case.get("given")
        if not isinstance(given, dict):
            continue
        parsed = not isinstance(pipeline.parse(kb, [given])[0], InputError)
        schema_ok = validator.is_valid(given)
        if parsed and not schema_ok:  # never: the schema must not refuse what the parser takes
            disagree.append(case["name"])
    assert not disagree


@pytest.mark.parametrize("given", [{"units": None}, {"modifiers": None}, {"units": None, "modifiers": None},
                                   {"units": 2.0}])
def test_what_the_parser_takes_the_schema_takes(kb, validator, given):
    """null units or modifiers are absent to the parser (their defaults apply); the schema refused them."""
    claim = {"claim_id": "S-1", "patient_id": "P-1", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "1234567893",
         "provider_role": "physician", **given}]}
    assert not isinstance(pipeline.parse(kb, [claim])[0], InputError)
    validator.validate(claim)


@pytest.mark.parametrize("mutate,field", [
    (lambda c: c["lines"][0].update(provider_role="surgeon"), "provider_role"),
    (lambda c: c["lines"][0].update(route="brain"), "route"),
    (lambda c: c["lines"][0].update(units=0), "units"),
    (lambda c: c["lines"][0].update(date_of_service="03/04/2025"), "date_of_service"),
    (lambda c: c["lines"][0].update(colour="red"), "colour"),
    (lambda c: c.pop("patient_id"), "patient_id"),
    (lambda c: c.update(lines=[]), "lines"),
])
def test_what_the_parser_refuses_the_schema_refuses(kb, validator, mutate, field):
    claim = {"claim_id": "S-1", "patient_id": "P-1", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "1234567893",
         "provider_role": "physician"}]}
    validator.validate(claim)
    mutate(claim)
    assert isinstance(pipeline.parse(kb, [claim])[0], InputError)
    said = []
    stack = list(validator.iter_errors(claim))
    while stack:  # the one-of alternatives' own errors say which field
        e = stack.pop()
        said.append(" ".join(str(x) for x in e.absolute_path) + " " + e.message)
        stack.extend(e.context or ())
    assert said and any(field in x for x in said), said


def test_roles_and_routes_are_the_packs_values(kb):
    from cptkg.knowledge.vocabulary import vocabulary

    line = claim_schema(kb)["$defs"]["ClaimLine"]["properties"]
    assert line["provider_role"]["enum"] == vocabulary(kb).values("role")
    route = next(a for a in line["route"]["anyOf"] if a.get("type") == "string")
    assert route["enum"] == vocabulary(kb).values("route")


def test_the_encounter_schema_validates_the_example_encounter(kb):
    schema = encounter_schema(kb)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(json.loads((ROOT / "examples/encounter.json").read_text()))


def test_cli_schema_prints_the_claim_schema():
    run = subprocess.run([sys.executable, "-m", "cptkg", "schema"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["$id"] == "https://w3id.org/cptkg/schema/claim.json"


def test_a_written_role_is_folded_to_the_value_it_stands_for_only_when_one_value_folds_to_it():
    """'Nurse Practitioner' and ' PHYSICIAN ' are the pack's values; two values that fold alike (a pack with
    'nurse' and 'Nurse') take neither for a third spelling: it is refused, not guessed."""
    from cptkg.knowledge.vocabulary import Vocabulary

    v = Vocabulary({"role": {"nurse_practitioner": "NP", "physician": "Ph", "nurse": "N", "Nurse": "N2"}})
    assert v.canonical("role", "Nurse Practitioner") == "nurse_practitioner"
    assert v.canonical("role", " PHYSICIAN ") == "physician"
    assert v.canonical("role", "nurse-practitioner") == "nurse_practitioner"
    assert v.canonical("role", "Nurse") == "Nurse" and v.canonical("role", "NURSE") == "NURSE"
    assert v.refusal("role", "NURSE") is not None
    assert v.canonical("role", "Рhysician") == "Рhysician"  # a Cyrillic Р folds to nothing: refused as written
