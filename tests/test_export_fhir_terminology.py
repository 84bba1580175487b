"""`cptkg export --format fhir`: the code systems a cptkg ClaimResponse and
FHIR claim use, defined where a terminology server can validate against them
(issue 26). Each file parses back as FHIR R4 (fhir.resources' R4B models,
not the writer's own objects); every coding of the ClaimResponses written for
the example claims is a concept of an exported CodeSystem (cptkg's own
systems) or a target of the rule -> CARC map (X12's); no ValueSet carries
CPT descriptor text."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg import exports as exporters
from cptkg import pipeline as batch
from cptkg.exports import fhir_terminology as ft
from cptkg.faces.cli import main
from cptkg.io.readers import fhir as fhir_reader
from cptkg.io.writers import fhir as fhir_writer
from cptkg.knowledge.datasets import load_graphs
from cptkg.knowledge.loader import default_kb

R4B = pytest.importorskip("fhir.resources.R4B")
ROOT = Path(__file__).resolve().parent.parent
# the HL7 code systems the ClaimResponse also uses: defined by HL7 Terminology (THO), not by cptkg
HL7_SYSTEMS = {fhir_writer.ADJUDICATION_SYSTEM, fhir_writer.CLAIM_TYPE_SYSTEM}


@pytest.fixture(scope="module")
def files() -> dict[str, dict]:
    return {name: json.loads(data) for name, data in exporters.export("fhir", graphs=load_graphs(default_kb())).items()}


def _model(doc: dict):
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(doc["resourceType"]).model_validate(doc)


def _code_systems(files) -> dict[str, set[str]]:
    return {d["url"]: {c["code"] for c in d["concept"]} for d in files.values() if d["resourceType"] == "CodeSystem"}


def _codings(node):
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            yield node["system"], node["code"]
        for value in node.values():
            yield from _codings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _codings(value)


def unknown_codings(response: dict, files) -> list[tuple[str, str]]:
    """The codings of a ClaimResponse no exported CodeSystem or CARC map target defines."""
    systems = _code_systems(files)
    carc = {t["code"] for d in files.values() if d.get("id") == "rule-to-carc"
            for e in d["group"][0]["element"] for t in e["target"]}
    out = []
    for system, code in _codings(response):
        if system in HL7_SYSTEMS:
            continue
        known = code in carc if system == ft.CARC_SYSTEM else code in systems.get(system, ())
        if not known:
            out.append((system, code))
    return out


def test_every_resource_parses_back_as_fhir_r4(files):
    kinds = sorted(d["resourceType"] for d in files.values())
    assert kinds.count("CodeSystem") == 3 and kinds.count("ConceptMap") == 2 and "ValueSet" in kinds
    for name, doc in files.items():
        model = _model(doc)
        assert name == f"{doc['resourceType']}-{model.id}.json"


def test_code_systems_sit_at_the_urls_the_claim_response_and_reader_use(files):
    systems = _code_systems(files)
    assert set(systems) == {fhir_writer.RULES_SYSTEM, fhir_writer.INPUT_ERROR_SYSTEM, fhir_reader.ROLE_SYSTEM}
    kb = default_kb()
    ids = {r.meta.id for r in kb.check_program.rules + kb.infer_program.rules if r.meta.id}
    assert systems[fhir_writer.RULES_SYSTEM] == ids
    from cptkg.knowledge.vocabulary import vocabulary

    assert systems[fhir_reader.ROLE_SYSTEM] == set(vocabulary(kb).values("role"))


def test_rule_concepts_carry_title_message_source_and_carc(files):
    cs = files["CodeSystem-cptkg-rules.json"]
    kb = default_kb()
    concept = next(c for c in cs["concept"] if c["code"] == "role.needs-physician-or-qhp")
    rule = kb.rule("role.needs-physician-or-qhp")
    assert concept["display"] == kb.rule_titles["role.needs-physician-or-qhp"]
    assert concept["definition"] == rule.meta.message
    props = {(p["code"], p.get("valueString") or p["valueCoding"]["code"]) for p in concept["property"]}
    assert ("carc", rule.meta.carc) in props
    assert {("source", "https://w3id.org/cptkg/source/" + s) for s in rule.meta.source} <= props


@pytest.mark.parametrize("claims", ["examples/claims-batch.json", "examples/claim-rejected.json",
                                    "examples/claim-pair.json", "tests/data/interop/fhir-claim.json",
                                    "tests/data/interop/fhir-bundle.json"])
def test_every_coding_of_a_claim_response_is_defined_by_the_export(files, claims):
    out = batch.run(ROOT / claims, output="fhir", created="2025-01-01T00:00:00+00:00", progress=False)
    response = json.loads(out.text)
    assert list(_codings(response))
    assert unknown_codings(response, files) == []


def test_a_coding_the_export_does_not_define_is_found_out(files):
    response = {"resourceType": "ClaimResponse", "error": [{"code": {"coding": [
        {"system": fhir_writer.RULES_SYSTEM, "code": "no.such-rule"},  # synthetic
        {"system": ft.CARC_SYSTEM, "code": "9999"}]}}]}
    assert unknown_codings(response, files) == [(fhir_writer.RULES_SYSTEM, "no.such-rule"), (ft.CARC_SYSTEM, "9999")]


def test_role_codes_of_the_example_fhir_claims_are_in_the_role_code_system_or_the_nucc_map(files):
    roles = _code_systems(files)[fhir_reader.ROLE_SYSTEM]
    cmap = files["ConceptMap-nucc-to-provider-role.json"]["group"][0]["element"]
    nucc = {e["code"]: e["target"][0]["code"] for e in cmap}
    assert set(nucc.values()) <= roles
    seen = 0
    for path in sorted((ROOT / "tests" / "data" / "interop").glob("fhir-*.json")):
        for system, code in _codings(json.loads(path.read_text())):
            if system == fhir_reader.ROLE_SYSTEM:
                assert code in roles, (path.name, code)
                seen += 1
            elif system == fhir_reader.NUCC_SYSTEM:
                assert nucc.get(code, fhir_reader.nucc_role(code)) == fhir_reader.nucc_role(code), (path.name, code)
                seen += 1
    assert seen > 0


def test_value_sets_list_codes_by_system_without_descriptors(files):
    vsets = {d["id"]: d for d in files.values() if d["resourceType"] == "ValueSet"}
    implant = vsets["group-implant"]["compose"]["include"]
    assert implant == [{"system": ft.CPT_SYSTEM, "concept": [{"code": c} for c in ("62360", "62361", "62362")]}]
    related = {inc["system"] for inc in vsets["family-related"]["compose"]["include"]}
    assert related == {ft.CPT_SYSTEM, ft.HCPCS_SYSTEM}
    text = json.dumps(vsets)
    from rdflib.namespace import RDF, SKOS

    from cptkg.knowledge.namespace import ONT

    g = default_kb().kb_graph
    descriptors = [str(d) for c in g.subjects(RDF.type, ONT.BillingCode) for d in g.objects(c, SKOS.prefLabel)]
    assert len(descriptors) >= 17 and '"display"' not in text
    assert [d for d in descriptors if d in text] == []


def test_rule_to_carc_map_targets_each_rejection_rule_carc(files):
    cmap = files["ConceptMap-rule-to-carc.json"]
    got = {e["code"]: e["target"][0]["code"] for e in cmap["group"][0]["element"]}
    kb = default_kb()
    want = {r.meta.id: r.meta.carc for r in kb.check_program.rules if r.meta.id and r.meta.carc}
    assert got == want and got
    # R4: ConceptMap.source[x]/target[x] name value sets; the code systems are the group's (an integrator's audit:
    # sourceUri held the rules' CodeSystem URL)
    assert "sourceUri" not in cmap and "targetUri" not in cmap
    assert cmap["group"][0]["source"] == "https://w3id.org/cptkg/rules" or cmap["group"][0]["source"].endswith("rules")


def test_fhir_export_needs_a_folder_and_writes_json_files(tmp_path):
    res = CliRunner().invoke(main, ["export", "--format", "fhir"])
    assert res.exit_code == 2 and "-o FOLDER" in res.output
    res = CliRunner().invoke(main, ["export", "--format", "fhir", "-o", str(tmp_path / "fhir")])
    assert res.exit_code == 0, res.output
    assert "CodeSystem-cptkg-rules.json" in {p.name for p in (tmp_path / "fhir").iterdir()}


def test_every_coding_in_a_claim_response_has_the_display_its_code_system_gives(files):
    """A terminology server's $validate-code compares a coding's display with the code system's: the rule
    codes carried the claim's message as display (found by an audit). The message is the concept's text."""
    root = Path(__file__).resolve().parents[1]
    claims = []
    for name in ("claims-batch.json", "claim-rejected.json"):  # the batch example holds a claim refused
        doc = json.loads((root / "examples" / name).read_text(encoding="utf-8"))
        claims += doc if isinstance(doc, list) else [doc]
    bundle = json.loads(batch.run(json.dumps(claims).encode(), output="fhir").text)
    displays = {(cs["url"], c["code"]): c["display"] for name, cs in files.items()
                if cs.get("resourceType") == "CodeSystem" for c in cs.get("concept", [])}
    checked, texts = 0, []

    def walk(node):
        nonlocal checked
        if isinstance(node, dict):
            for coding in node.get("coding", []) if isinstance(node.get("coding"), list) else []:
                key = (coding.get("system"), coding.get("code"))
                if key in displays:
                    assert coding.get("display") == displays[key], key
                    checked += 1
            if node.get("coding") and node.get("text"):
                texts.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(bundle)
    assert checked >= 5
    assert any("is included in" in t for t in texts)  # the message lives on as the concept's text
    assert any("2025-02-30" in t for t in texts), texts  # and the refused claim's own error


def test_every_resource_states_the_kb_version_it_was_exported_from(files):
    """No resource had a version: a terminology server could not keep two releases of cptkg-rules apart
    (an integrator's audit). It is the KB version check reports as kb_version."""
    version = default_kb().version
    assert version and {d.get("version") for d in files.values()} == {version}


def test_a_folder_export_names_the_files_an_earlier_export_left_that_it_did_not_write(tmp_path):
    """A ValueSet of a group since removed stayed in the folder without a word, and a server loading the
    folder would load it too: the export names it (and leaves it: the folder may hold the user's files)."""
    folder = tmp_path / "fhir"
    folder.mkdir()
    (folder / "ValueSet-removed-group.json").write_text("{}")
    (folder / "notes.txt").write_text("mine")
    res = CliRunner().invoke(main, ["export", "--format", "fhir", "-o", str(folder)])
    assert res.exit_code == 0, res.output
    note = " ".join(res.output.split())
    assert "also holds 1 file(s) this export did not write (ValueSet-removed-group.json)" in note
    assert (folder / "ValueSet-removed-group.json").exists() and "notes.txt" not in note
    res = CliRunner().invoke(main, ["export", "--format", "fhir", "-o", str(tmp_path / "new")])
    assert "did not write" not in res.output


def test_a_claim_response_for_a_claim_without_an_id_names_no_other_claim():
    """A hostile-files audit: the error response of a claim with an empty id had request Claim/unknown, the
    reference of a real claim named "unknown", which then got two responses."""
    import json as _json

    from cptkg.io.writers import fhir as _fhir

    results = [{"claim_id": "unknown", "status": "accepted", "lines": []},
               {"claim_id": "", "status": "error", "error": "claim: field claim_id: is missing", "lines": []}]
    doc = _json.loads(_fhir.write(results))
    requests = [e["resource"]["request"] for e in doc["entry"]]
    assert requests[0] == {"reference": "Claim/unknown"}
    assert "reference" not in requests[1] and requests[1]["display"] == "a claim that gave no id"
