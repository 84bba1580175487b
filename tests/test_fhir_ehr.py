"""FHIR R4 Claims shaped as EHRs send them (issue 22, point 4) mean what the
same claims written as claim JSON mean: contained and bundled Practitioners
give the NPI and the NUCC role, HCPCS items are lines, references of every
kind resolve, and the ClaimResponse answers identifiers with identifiers.

Every identifier, NPI and name in these tests and fixtures is SYNTHETIC."""
from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse

from cptkg import pipeline
from cptkg.cases import load_cases
from cptkg.io import readers
from cptkg.io.readers import ReadError
from cptkg.io.writers.fhir import FULL_URL_NAMESPACE
from cptkg.claims.models import InputError
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, case_files
from devtools.fhir_build import bundle as build_bundle

DATA = Path(__file__).parent / "data" / "interop"
EHR_BUNDLE = DATA / "fhir-ehr-bundle.json"
EQUIVALENT = DATA / "fhir-ehr-bundle.equivalent.json"
NPI = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"


def _doc() -> dict:
    return json.loads(EHR_BUNDLE.read_text())


def _claim(doc: dict, cid: str) -> dict:
    return next(e["resource"] for e in doc["entry"] if e["resource"].get("resourceType") == "Claim"
                and (e["resource"].get("id") == cid or any(i["value"] == cid for i in e["resource"].get("identifier", []))))


def _read(doc: dict) -> list:
    return readers.read(json.dumps(doc).encode()).claims


def _verdicts(results: list[dict]) -> list:
    return [(r.get("claim_id"), r.get("status"),
             [(ln["line"], ln["status"], sorted(x["rule"] for x in ln.get("reasons", [])),
               sorted(x["rule"] for x in ln.get("warnings", []))) for ln in r.get("lines", [])]) for r in results]


def _run(doc_or_claims, **kw) -> pipeline.Outcome:
    return pipeline.run(json.dumps(doc_or_claims).encode(), progress=False, **kw)


# ------------------------------------------------------- same verdicts as claim JSON
def test_ehr_bundle_gets_the_verdicts_of_the_equivalent_claim_json():
    fhir = _run(_doc())
    plain = _run(json.loads(EQUIVALENT.read_text())["claims"])
    assert fhir.format == "fhir" and plain.format == "json"
    assert _verdicts(fhir.results) == _verdicts(plain.results)
    assert {r["status"] for r in fhir.results} <= {"accepted", "rejected"}  # judged, no error entry


def test_ehr_bundle_reads_as_the_equivalent_claim_json():
    claims = _read(_doc())
    for got, want in zip(claims, json.loads(EQUIVALENT.read_text())["claims"]):
        for line in want["lines"]:
            line.setdefault("units", 1)
        assert dict(got) == want


@pytest.mark.parametrize("where", ["Practitioner", "careTeam"])
def test_every_rule_case_built_as_an_ehr_bundle_gets_the_claim_json_verdicts(kb, where):
    cases = [c["given"] for c in load_cases(case_files(PACK, "claim")) if isinstance(c.get("given"), dict)]
    valid = [g for g in cases if not isinstance(pipeline.parse(kb, [g])[0], InputError)]
    assert len(valid) > 100
    as_fhir = []
    for g in valid:  # one Bundle per case: two cases of one patient carry different histories
        (claim,) = readers.read(json.dumps(build_bundle(g, kb, qualification_on=where)).encode(), kb=kb).claims
        as_fhir.append(claim)
    want = pipeline.judge(kb, pipeline.parse(kb, valid))
    got = pipeline.judge(kb, pipeline.parse(kb, as_fhir))
    assert _verdicts(got) == _verdicts(want)
    assert {r["status"] for r in got} == {"accepted", "rejected"}


# ------------------------------------------------------------- provider identity
def test_contained_practitioner_gives_its_npi_not_the_local_reference():
    ehr1 = _read(_doc())[0]
    assert {ln["provider_id"] for ln in ehr1["lines"]} == {"9990000001"}
    assert {ln["provider_role"] for ln in ehr1["lines"]} == {"physician"}  # 208VP0014X on Practitioner.qualification


def _duplicate_case(modifier: str | None) -> dict:
    """95991 on 2025-03-04 by the contained Practitioner; the Bundle's Procedure: 95991 that day by the same NPI."""
    doc = _doc()
    claim = _claim(doc, "EHR-1")
    claim["item"] = [{"sequence": 1, "careTeamSequence": [1], "servicedDate": "2025-03-04",
                      "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "95991"}]}}]
    if modifier:
        claim["item"][0]["modifier"] = [{"coding": [{"code": modifier}]}]
    doc["entry"] = [e for e in doc["entry"] if e["resource"].get("identifier", [{}])[0].get("value") != "EHR-2"]
    proc = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Procedure"
                and e["resource"]["performedDateTime"] == "2025-02-04")
    proc.update(performedDateTime="2025-03-04", code={"coding": [{"system": "http://www.ama-assn.org/go/cpt",
                                                                  "code": "95991"}]})
    return doc


def test_a_duplicate_of_the_same_npis_earlier_service_is_denied():
    out = _run(_duplicate_case(None))
    (line,) = out.results[0]["lines"]
    assert line["status"] == "rejected" and {r["rule"] for r in line["reasons"]} == {"duplicate.history"}


@pytest.mark.parametrize("reference", ["fullUrl", "Procedure/id"])
def test_the_procedure_a_claim_names_as_its_own_is_not_its_history(reference):
    # an EHR bundles the Procedure a Claim bills and names it in Claim.procedure: that is this service, not
    # an earlier bill of it (as history, it denied its own line as a duplicate, CO-18)
    doc = _duplicate_case(None)
    entry = next(e for e in doc["entry"] if e["resource"]["resourceType"] == "Procedure"
                 and e["resource"]["performedDateTime"] == "2025-03-04")
    proc = entry["resource"]
    proc.setdefault("id", "proc-own")
    ref = entry["fullUrl"] if reference == "fullUrl" and entry.get("fullUrl") else f"Procedure/{proc['id']}"
    claim = _claim(doc, "EHR-1")
    claim["procedure"] = [{"sequence": 1, "procedureReference": {"reference": ref}}]
    claim["item"][0]["procedureSequence"] = [1]
    (got,) = _read(doc)
    assert ("95991", "2025-03-04") not in {(h["code"], h["date_of_service"]) for h in got.get("history", [])}
    (line,) = _run(doc).results[0]["lines"]
    assert "duplicate.history" not in {r["rule"] for r in line.get("reasons", [])}
    # the Bundle's other Procedures of the patient stay its history
    assert len(got.get("history", [])) == len(_read(_duplicate_case(None))[0].get("history", [])) - 1


def test_a_repeat_marked_76_by_the_same_npi_is_accepted():
    out = _run(_duplicate_case("76"))
    (line,) = out.results[0]["lines"]
    assert line["status"] == "accepted", line["reasons"]
    assert "duplicate.76-other-provider" not in {r["rule"] for r in line.get("reasons", [])}


def test_a_contained_practitioner_with_no_identifier_is_that_claims_error():
    doc = _doc()
    _claim(doc, "EHR-1")["contained"][0].pop("identifier")
    claims = _read(doc)
    assert isinstance(claims[0], ReadError) and isinstance(claims[1], dict)
    msg = str(claims[0])
    assert "careTeam[sequence=1].provider" in msg and "'#pr1'" in msg and "cannot be identified" in msg
    out = _run(doc)
    assert [r["status"] for r in out.results] == ["error", "accepted"]


def test_an_unresolvable_relative_practitioner_reference_keeps_its_id():
    doc = _doc()
    _claim(doc, "EHR-1")["careTeam"][0].update(provider={"reference": "Practitioner/abc"},
                                               qualification={"coding": [{"system": NUCC, "code": "208VP0014X"}]})
    assert {ln["provider_id"] for ln in _read(doc)[0]["lines"]} == {"abc"}


def test_a_contained_reference_the_claim_does_not_hold_is_named():
    doc = _doc()
    _claim(doc, "EHR-1")["careTeam"][0]["provider"] = {"reference": "#nobody"}
    err = _read(doc)[0]
    assert isinstance(err, ReadError) and "'#nobody' names a resource the Claim does not contain" in str(err)


def test_two_contained_resources_of_one_id_are_refused_where_the_claim_refers_to_them():
    """FHIR R4 gives contained resources ids unique within their resource; two Practitioners "p1" of
    different NPIs made '#p1' the later one, silently (an attack audit): the line was judged against a
    provider the file may not mean. Refused naming the element that refers to them, and the id."""
    doc = _doc()
    claim = _claim(doc, "EHR-1")
    first = copy.deepcopy(next(r for r in claim["contained"] if r["resourceType"] == "Practitioner"))
    twin = copy.deepcopy(first)
    twin["identifier"] = [{"system": NPI, "value": "9990000042"}]
    claim["contained"] += [twin]
    claim["careTeam"][0]["provider"] = {"reference": f"#{first['id']}"}
    err = _read(doc)[0]
    assert isinstance(err, ReadError), err
    assert (f"element careTeam[sequence=1].provider: the reference '#{first['id']}' names a contained resource, and "
            f"two contained resources have the id '{first['id']}'") in str(err)


def test_a_logical_npi_reference_is_the_provider_id():
    doc = _doc()
    _claim(doc, "EHR-1")["careTeam"][0].update(provider={"identifier": {"system": NPI, "value": "9990000009"}},
                                               qualification={"coding": [{"system": NUCC, "code": "363AM0700X"}]})
    line = _read(doc)[0]["lines"][0]
    assert (line["provider_id"], line["provider_role"]) == ("9990000009", "physician_assistant")


def test_practitioner_role_gives_its_practitioners_npi_and_its_specialty_as_role():
    ehr2 = _read(_doc())[1]
    assert (ehr2["lines"][0]["provider_id"], ehr2["lines"][0]["provider_role"]) == ("9990000002", "nurse_practitioner")


# ------------------------------------------------------------------- care team
def test_a_supervisor_no_item_names_is_ignored_even_with_an_unknown_taxonomy():
    doc = _doc()
    _claim(doc, "EHR-1")["careTeam"][1]["qualification"] = {"coding": [{"system": NUCC, "code": "122300000X"}]}
    assert isinstance(_read(doc)[0], dict)


def test_the_primary_member_among_an_items_members_performed_it():
    doc = _doc()
    claim = _claim(doc, "EHR-1")
    claim["contained"][1]["identifier"] = [{"system": NPI, "value": "9990000005"}]
    claim["careTeam"][1]["qualification"] = {"coding": [{"system": NUCC, "code": "163W00000X"}]}
    claim["item"][0]["careTeamSequence"] = [2, 1]  # member 1 is the primary one
    claim["item"][1]["careTeamSequence"] = [2]
    lines = _read(doc)[0]["lines"]
    assert (lines[0]["provider_id"], lines[0]["provider_role"]) == ("9990000001", "physician")
    assert (lines[1]["provider_id"], lines[1]["provider_role"]) == ("9990000005", "nurse")


def test_an_unknown_taxonomy_is_the_claims_error_naming_the_code_and_the_element():
    doc = _doc()
    _claim(doc, "EHR-1")["contained"][0]["qualification"][0]["code"]["coding"][0]["code"] = "122300000X"
    claims = _read(doc)
    msg = str(claims[0])
    assert isinstance(claims[0], ReadError) and isinstance(claims[1], dict)
    assert "'122300000X'" in msg and "Practitioner #pr1, element qualification.code" in msg and "\n" not in msg


def test_codes_naming_two_roles_in_one_place_are_refused():
    doc = _doc()
    _claim(doc, "EHR-1")["contained"][0]["qualification"].append(
        {"code": {"coding": [{"system": NUCC, "code": "163W00000X"}]}})
    msg = str(_read(doc)[0])
    assert "different provider roles" in msg and "208VP0014X is physician" in msg


# ---------------------------------------------------------------- items, route
def test_a_hcpcs_item_is_a_line_with_its_modifier():
    line = _read(_doc())[0]["lines"][1]
    assert (line["code"], line["modifiers"], line["units"]) == ("J0475", ["KD"], 2)


def test_an_item_with_neither_cpt_nor_hcpcs_is_that_claims_error_naming_the_item():
    doc = _doc()
    _claim(doc, "EHR-1")["item"][1]["productOrService"]["coding"][0]["system"] = "http://snomed.info/sct"
    claims = _read(doc)
    assert isinstance(claims[0], ReadError) and "item 2, element productOrService" in str(claims[0])
    assert isinstance(claims[1], dict)


def test_the_route_extension_is_the_lines_route_and_an_unknown_route_is_named():
    lines = _read(_doc())[0]["lines"]
    assert [ln.get("route") for ln in lines] == ["intrathecal", None, "intrathecal"]
    doc = _doc()
    _claim(doc, "EHR-1")["item"][2]["extension"][0]["valueCode"] = "intravenous"
    msg = str(_read(doc)[0])
    assert "item 3, element extension[" in msg and "'intravenous' is not a route" in msg
    # a valueString where the extension takes a valueCode is named as what it is (a real-files audit: the
    # message named a valueCode the item did not have)
    doc = _doc()
    ext = _claim(doc, "EHR-1")["item"][2]["extension"][0]
    ext["valueString"] = ext.pop("valueCode")
    msg = str(_read(doc)[0])
    assert "item 3, element extension[" in msg and "].valueString: the route extension takes a valueCode" in msg, msg


# --------------------------------------------------------- patients, references
def test_bundled_patient_gives_its_member_id_to_claims_and_procedures():
    ehr1 = _read(_doc())[0]
    assert ehr1["patient_id"] == "MBR-7007"  # MB identifier, not the MR one nor the resource id
    assert [h["date_of_service"] for h in ehr1["history"]] == ["2024-01-10", "2025-02-04"]  # urn:uuid and Patient/pat-7


def test_an_absolute_patient_reference_gives_its_id_part():
    assert _read(_doc())[1]["patient_id"] == "123"


def test_a_contained_patient_with_no_identifier_is_named():
    doc = _doc()
    claim = _claim(doc, "EHR-1")
    claim["contained"].append({"resourceType": "Patient", "id": "pt1"})
    claim["patient"] = {"reference": "#pt1"}
    assert "cannot be told apart" in str(_read(doc)[0])


def test_a_history_file_matches_the_member_id_and_the_contained_practitioners_npi():
    """--history FILE with FHIR input: its rows join the Bundle's Procedures by the patient's member id,
    and a row by the same NPI makes the line an exact duplicate."""
    doc = _doc()
    _claim(doc, "EHR-1")["item"] = [{"sequence": 1, "careTeamSequence": [1], "servicedDate": "2025-03-04",
                                     "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt",
                                                                      "code": "95991"}]}}]
    hist = b"patient_id,code,date_of_service,provider_id\nMBR-7007,95991,2025-03-04,9990000001\n"
    res = readers.read(json.dumps(doc).encode(), history=hist)
    assert [h["date_of_service"] for h in res.claims[0]["history"]] == ["2024-01-10", "2025-02-04", "2025-03-04"]
    out = pipeline.run(json.dumps(doc).encode(), history=hist, progress=False)
    assert {r["rule"] for r in out.results[0]["lines"][0]["reasons"]} == {"duplicate.history"}


# --------------------------------------------------------------- ClaimResponse
def test_claim_response_bundle_is_valid_r4_and_answers_identifiers_with_identifiers():
    out = _run(_doc(), output="fhir", created="2025-06-03T09:00:00+00:00")
    bundle = Bundle.model_validate_json(out.text)
    r1, r2 = (e.resource for e in bundle.entry)
    assert r1.request.reference == "Claim/EHR-1" and r1.request.identifier is None
    assert r2.request.reference is None
    assert (r2.request.identifier.system, r2.request.identifier.value) == ("https://ehr.example/claim-number", "EHR-2")
    assert r1.patient.reference is None and r1.patient.identifier.value == "MBR-7007"
    assert r2.patient.reference == "https://ehr.example/fhir/Patient/123"  # never Patient/https://...
    assert [e.fullUrl for e in bundle.entry] == [f"urn:uuid:{uuid.uuid5(FULL_URL_NAMESPACE, c)}" for c in ("EHR-1", "EHR-2")]
    assert _run(_doc(), output="fhir", created="2025-06-03T09:00:00+00:00").text == out.text


def test_claim_response_of_a_claim_that_cannot_be_read_answers_its_request():
    doc = _doc()
    claim = _claim(doc, "EHR-2")
    claim["item"][0]["productOrService"]["coding"][0]["system"] = "http://snomed.info/sct"
    out = _run(doc, output="fhir")
    resp = json.loads(out.text)["entry"][1]["resource"]
    ClaimResponse.model_validate(resp)
    assert resp["outcome"] == "error" and resp["request"] == {
        "identifier": {"system": "https://ehr.example/claim-number", "value": "EHR-2"}}


def test_repeated_claim_ids_get_distinct_full_urls():
    from cptkg.io import writers

    results = [{"claim_id": None, "status": "error", "error": "x"}, {"claim_id": None, "status": "error", "error": "y"}]
    doc = json.loads(writers.write(results, "fhir"))
    urls = [e["fullUrl"] for e in doc["entry"]]
    assert len(set(urls)) == 2 and all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", u) for u in urls)


def test_a_practitioner_role_naming_itself_is_an_error_not_a_loop():
    doc = _doc()
    role = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "PractitionerRole")
    role["practitioner"] = {"reference": "PractitionerRole/np-li-pain"}
    err = _read(doc)[1]
    assert isinstance(err, ReadError) and "is a PractitionerRole, not the Practitioner" in str(err)


def test_an_item_with_sub_lines_is_that_claims_error_not_silently_read_without_them():
    """Claim.item.detail bills services too (a drug given with the refill, say); read without them they
    would be dropped unseen, so the claim is an error entry naming the element."""
    import json as _json

    from cptkg.io import readers
    from cptkg.io.readers import ReadError

    doc = _json.loads((Path(__file__).parent / "data/interop/fhir-claim.json").read_text())
    doc["item"][0]["detail"] = [{"sequence": 1, "productOrService": {"coding": [
        {"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J0475"}]}}]
    with pytest.raises(ReadError) as e:
        readers.read(_json.dumps(doc).encode(), "fhir")
    assert "element detail" in str(e.value) and "item 1" in str(e.value)


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
def test_a_withdrawn_claim_in_a_bundle_is_its_error_entry_as_an_837p_void_is(status):
    doc = _doc()
    _claim(doc, "EHR-1")["status"] = status
    out = _run(doc)
    by_id = {r["claim_id"]: r for r in out.results}
    assert by_id["EHR-1"]["status"] == "error"
    assert f"element status: the Claim is '{status}'" in by_id["EHR-1"]["error"]
    assert "bills nothing to judge" in by_id["EHR-1"]["error"]
    assert {r["status"] for cid, r in by_id.items() if cid != "EHR-1"} <= {"accepted", "rejected"}


def test_a_draft_claim_is_judged_it_is_a_claim_checked_before_it_goes_out():
    doc = _doc()
    _claim(doc, "EHR-1")["status"] = "draft"
    assert _verdicts(_run(doc).results) == _verdicts(_run(_doc()).results)


def test_a_single_withdrawn_claim_is_refused_naming_the_file(tmp_path):
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    claim = _claim(_doc(), "EHR-1")
    claim["status"] = "cancelled"
    src = tmp_path / "claim.json"
    src.write_text(json.dumps(claim))
    r = CliRunner().invoke(main, ["check", str(src)])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"cptkg: {src} (Claim ") and "the Claim is 'cancelled'" in r.stderr


@pytest.mark.parametrize("change, words", [
    ({"servicedDate": "2025-03"}, "element servicedDate: '2025-03' is not a full date (YYYY-MM-DD)"),
    ({"servicedDate": "2025-02-30"}, "element item[0].servicedDate: is not a real calendar date (no such day in that month)"),
    ({"quantity": {"value": 0}}, "element quantity.value: 0 bills no units"),
    ({"quantity": {"value": 20000}}, "element quantity.value: 20,000 units; at most 10,000 are judged on one line"),
])
def test_an_items_date_or_quantity_is_refused_in_the_elements_words(change, words):
    doc = _doc()
    claim = _claim(doc, "EHR-1")
    claim["item"][0].update(change)
    out = _run(doc)
    err = next(r for r in out.results if r["claim_id"] == "EHR-1")["error"]
    assert words in err and "item" in err and "date_of_service" not in err and "field units" not in err
    assert "Input should be" not in err


@pytest.mark.parametrize("system", ["http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"])
def test_hcpcs_codes_and_modifiers_are_read_in_hl7s_system_url_and_the_notes_spelling(system):
    """HL7 Terminology's CodeSystem hcpcs-Level-II has the url http://www.cms.gov/...; the domain notes
    spell it https://. A drug item in either is a line, and its KD is read even after an EHR's local coding
    of the same modifier (read as the local '01', the drug line was denied for lacking KD)."""
    import json as _json

    from cptkg.io import readers

    doc = _json.loads((Path(__file__).parent / "data/interop/fhir-claim.json").read_text())
    drug = _json.loads(_json.dumps(doc["item"][0]))
    drug.update(sequence=3, productOrService={"coding": [{"system": system, "code": "J0475"}]},
                modifier=[{"coding": [{"system": "urn:oid:1.2.3.4.5", "code": "01"}, {"system": system, "code": "KD"}]}])
    doc["item"].append(drug)
    result = readers.read(_json.dumps(doc).encode(), "fhir")
    (claim,) = [c for c in result.claims if not isinstance(c, Exception)]
    line = next(ln for ln in claim["lines"] if ln["line"] == 3)
    assert line["code"] == "J0475" and line["modifiers"] == ["KD"]


# ------------------------------------------------------------------ a real-files audit (issue 27's stop)

def _refill_claim() -> dict:
    line = lambda n, code, mods=None, units=1: {  # noqa: E731
        "line": n, "code": code, "date_of_service": "2025-03-04", "provider_id": "1234567893",
        "provider_role": "physician", "units": units, **({"modifiers": mods} if mods else {})}
    return {"claim_id": "Q1", "patient_id": "PQ", "lines": [line(1, "95990"), line(2, "J0475", ["KD"], 2)],
            "history": [{"code": "62362", "date_of_service": "2024-01-10"}]}


def _judge_bundle(b: dict) -> list[dict]:
    import csv as _csv
    import io as _io

    from cptkg import pipeline

    out = pipeline.run(json.dumps(b).encode(), "fhir", "csv")
    return list(_csv.DictReader(_io.StringIO(out.text)))


@pytest.mark.parametrize("quantity", [{"value": 20, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
                                      {"value": 20, "unit": "mg"}, {"value": 2, "code": "mL"}])
def test_a_quantity_in_a_measure_is_not_read_as_units_of_service(quantity):
    """20 mg of baclofen was read as 20 units (a unit-edit denial the 837P would not give: it refuses an SV103
    other than UN); a quantity in a measure is that item's error, and the claim's other items say so."""
    from devtools import fhir_build

    b = fhir_build.bundle(_refill_claim())
    claim = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["item"][1]["quantity"] = quantity
    rows = _judge_bundle(b)
    assert [r["status"] for r in rows] == ["error", "error"]
    assert "element quantity." in rows[1]["reasons"] and "is a measure, not units of service" in rows[1]["reasons"]
    assert rows[0]["reasons"] == "claim not judged because line 2 has an error"


@pytest.mark.parametrize("quantity", [{"value": 2}, {"value": 2, "unit": "units"}, {"value": 2, "code": "1",
                                      "system": "http://unitsofmeasure.org"}, {"value": 2, "code": "{unit}"}])
def test_a_quantity_counted_in_units_is_read(quantity):
    from devtools import fhir_build

    b = fhir_build.bundle(_refill_claim())
    claim = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["item"][1]["quantity"] = quantity
    assert [r["status"] for r in _judge_bundle(b)] == ["accepted", "accepted"]


@pytest.mark.parametrize("where", ["PractitionerRole.code", "oid"])
def test_the_nucc_taxonomy_is_read_on_a_practitionerrole_code_and_by_its_oid(where):
    """US Core binds PractitionerRole.code to the NUCC taxonomy: a care team naming a PractitionerRole whose code
    holds the taxonomy was refused ("no qualification or role code maps"); the NUCC OID system was refused too."""
    from devtools import fhir_build

    b = fhir_build.bundle(_refill_claim(), qualification_on="none")
    claim = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Claim")
    taxonomy = fhir_build.role_taxonomy("physician")
    if where == "oid":
        for m in claim["careTeam"][:1]:
            m["qualification"] = {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.101", "code": taxonomy}]}
    else:
        claim["contained"].append({"resourceType": "PractitionerRole", "id": "role1",
                                   "practitioner": {"reference": "#pr1"},
                                   "code": [{"coding": [{"system": "http://nucc.org/provider-taxonomy",
                                                         "code": taxonomy}]}]})
        claim["careTeam"][0]["provider"] = {"reference": "#role1"}
    rows = _judge_bundle(b)
    assert [r["status"] for r in rows] == ["accepted", "accepted"], rows


def test_a_claim_id_given_twice_in_a_bundle_is_the_later_claims_error_and_the_others_are_judged():
    """Two Claims of one id stopped the whole Bundle, while an 837P's CLM01 or claim JSON's claim_id given twice
    makes only the later claim an error entry (a real-files audit)."""
    from devtools import fhir_build

    first = _refill_claim()
    other = {**_refill_claim(), "claim_id": "Q2"}
    b = fhir_build.bundle([first, other])
    again = copy.deepcopy(next(e for e in b["entry"] if e["resource"].get("id") == "Q1"))
    again["fullUrl"] = "urn:uuid:" + str(uuid.uuid4())
    b["entry"].append(again)
    rows = _judge_bundle(b)
    assert [(r["claim_id"], r["status"]) for r in rows] == [("Q1", "accepted"), ("Q1", "accepted"), ("Q2", "accepted"),
                                                            ("Q2", "accepted"), ("Q1", "error"), ("Q1", "error")]
    assert "Claim.id 'Q1' already appears in entry" in rows[-1]["reasons"]


@pytest.mark.parametrize("change, words", [
    (lambda c: c["item"][0].update(sequence="1"), "item #1, element sequence: '1' is not a positive whole number"),
    (lambda c: c["item"][1].update(sequence=1), "item 1, element sequence: 1 is the sequence of another item"),
    (lambda c: c["item"][1].update(quantity={"value": "2"}), "item 2, element quantity.value: '2' is not a number"),
])
def test_fhir_item_problems_are_named_in_fhirs_words(change, words):
    """A string sequence was refused as "field line" (the claim JSON's words), a repeated sequence as "line 1
    appears more than once", and a string quantity was read as units (a real-files audit)."""
    from devtools import fhir_build

    b = fhir_build.bundle(_refill_claim())
    change(next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Claim"))
    rows = _judge_bundle(b)
    assert {r["status"] for r in rows} == {"error"} and any(words in r["reasons"] for r in rows), rows


LIBRARY_WORDS = ("Input should", "Field required", "Extra inputs", "<class", "Value error", "instance of",
                 "String should match", "Value for the field", "Datetimes provided", "Invalid JSON",
                 "expected range")


@pytest.mark.parametrize("change, words", [
    (lambda c: c.__setitem__("status", ["active"]), "element status: must be text, got a list"),
    (lambda c: c.__setitem__("statsu", "active"), "element statsu: is not an element FHIR R4 defines here"),
    (lambda c: c.__setitem__("item", {"sequence": 1}), "element item: must be a list ([...]), got an object"),
    (lambda c: c["item"][0].__setitem__("sequence", "one"), "element item[0].sequence: must be a whole number, got text"),
    (lambda c: c["item"][0].__setitem__("sequence", 1.5), "must be a whole number, got the number 1.5"),
    (lambda c: c["item"][0].__setitem__("sequence", 0), "element item[0].sequence: must be at least 1, got 0"),
    (lambda c: c.pop("patient"), "element patient: is required and is missing (or null)"),
    (lambda c: c.__setitem__("status", None), "element status: is required and is missing (or null)"),
    (lambda c: c["item"][0].__setitem__("productOrService", True),
     "element item[0].productOrService: must be an object ({...}), got true/false"),
    (lambda c: c.__setitem__("id", "a b$"), "element id: is not a FHIR id (letters, digits, '-' and '.' only"),
    (lambda c: c["item"][0]["productOrService"]["coding"][0].__setitem__("system", 5),
     "element item[0].productOrService.coding[0].system: must be text, got the number 5"),
    (lambda c: c.__setitem__("diagnosis", [{"sequence": 1}]),
     "element diagnosis[0]: needs one of diagnosisCodeableConcept or diagnosisReference"),
    # a reviewer's audit: pydantic's and Python's words, and a status FHIR does not define judged as active
    (lambda c: c["item"][0].__setitem__("servicedDate", 20250304),
     "element item[0].servicedDate: must be a date written YYYY-MM-DD (text), got the number 20250304"),
    (lambda c: c["item"][0].__setitem__("servicedDate", "2025-02-30"),
     "element item[0].servicedDate: is not a real calendar date (no such day in that month)"),
    (lambda c: c.__setitem__("status", "open"),
     "element status: 'open' is not a Claim status of FHIR R4 (active, cancelled, draft, entered-in-error)"),
])
def test_a_claim_fhir_refuses_is_refused_in_fhir_and_json_words_not_the_librarys(change, words):
    """An attack audit found pydantic's own words ("Input should be a valid string", "got type <class 'bool'>")
    in refusals: the element, what it must be and what the file gave, for a Claim alone and inside a Bundle."""
    alone = json.loads((DATA / "fhir-claim.json").read_text())
    change(alone)
    with pytest.raises(ReadError) as e:
        readers.read(json.dumps(alone).encode())
    assert words in str(e.value) and not any(w in str(e.value) for w in LIBRARY_WORDS), str(e.value)
    doc = _doc()
    change(_claim(doc, "EHR-1"))
    try:
        out = _run(doc)
    except ReadError as e:  # a broken id or patient reference is the Bundle's problem, not the entry's
        err = str(e)
    else:
        err = next(r["error"] for r in out.results if r["status"] == "error")
    assert not any(w in err for w in LIBRARY_WORDS), err


def test_a_bundle_refused_whole_names_the_entry_that_makes_it_unreadable_not_a_claims_error():
    """An entry given as text makes the Bundle unreadable; the refusal named the first Claim's bad date
    before it, and said of the text entry "Invalid JSON: expected ident" (the file is valid JSON)."""
    doc = _doc()
    _claim(doc, "EHR-1")["item"][0]["servicedDate"] = 20250304
    doc["entry"].append({"resource": "not an object"})
    with pytest.raises(ReadError) as e:
        readers.read(json.dumps(doc).encode())
    n = len(doc["entry"]) - 1
    assert f"not a valid FHIR R4 Bundle: element entry[{n}].resource: must be an object ({{...}}), got text" \
        in str(e.value), str(e.value)


@pytest.mark.parametrize("system", ["urn:oid:2.16.840.1.113883.6.12", "urn:oid:2.16.840.1.113883.6.285"])
def test_an_item_coded_with_the_cpt_or_hcpcs_oid_reads_as_with_its_url(system):
    """EHRs that map from CDA send CPT and HCPCS by their OIDs, as they send the NPI's (already read): the
    claim was an error entry "no coding with the CPT system" (a real-files audit)."""
    doc = _doc()
    claim = _claim(doc, "EHR-1")
    want = _verdicts(_run(copy.deepcopy(doc)).results)
    for item in claim["item"]:
        for coding in item["productOrService"]["coding"]:
            coding["system"] = system
    assert _verdicts(_run(doc).results) == want


# ------------------------------------------------------- a Procedure that cannot be read as history
@pytest.mark.parametrize("change, said", [
    ({"performedDateTime": None, "performedString": "last spring"},
     "element performedDateTime: the date is given as performedString, which gives no calendar date"),
    ({"performedDateTime": None, "performedPeriod": {"end": "2025-03-04"}}, "element performedPeriod.start: missing"),
    ({"performedDateTime": "2025-03"}, "element performedDateTime: '2025-03' is not a full date (YYYY-MM-DD)"),
    ({"performedDateTime": None}, "element performedDateTime: missing"),
    ({"code": {"coding": [{"system": "https://www.ama-assn.org/go/cpt", "code": "95991"}]}},
     "element code: no coding with the CPT system http://www.ama-assn.org/go/cpt"),
    ({"code": {"text": "95991 pump refill"}}, "element code: no coding with the CPT system"),
    ({"status": "unknown"}, "element status: 'unknown': it cannot be told whether the service was done"),
    ({"status": "Completed"}, "element status: 'Completed' is not a FHIR event status"),
    ({"code": {"coding": [{"code": "95991"}]}}, "element code: no coding with the CPT system"),
])
def test_a_procedure_of_the_patient_that_cannot_be_read_stops_its_claims_naming_the_element(change, said):
    """A security audit: a Bundle Procedure dated by performedString, coded with an https CPT system or as text
    only, or of unknown status, was left out without a word, and the claim judged as if the patient had no such
    service. As a --history row that cannot be read, it stops the patient's claims, naming the entry."""
    doc = _duplicate_case(None)
    proc = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Procedure"
                and e["resource"].get("performedDateTime") == "2025-03-04")
    for k, v in change.items():
        if v is None:
            proc.pop(k, None)
        else:
            proc[k] = v
    (got,) = _read(doc)
    assert isinstance(got, ReadError), got
    assert "the patient's history cannot be read (Bundle entry" in str(got) and said in str(got), str(got)
    out = _run(doc)
    assert out.results[0]["status"] == "error" and said in json.dumps(out.results)


def test_a_procedure_whose_patient_cannot_be_told_stops_every_claim_of_the_bundle():
    doc = _duplicate_case(None)
    proc = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Procedure"
                and e["resource"].get("performedDateTime") == "2025-03-04")
    proc["subject"] = {"reference": "urn:uuid:00000000-0000-0000-0000-00000000dead"}
    got = _read(doc)
    assert got and all(isinstance(c, ReadError) and "the Bundle's history cannot be read (Bundle entry" in str(c)
                       and "element subject" in str(c) for c in got), got


@pytest.mark.parametrize("change", [
    {"status": "preparation"}, {"status": "in-progress"}, {"status": "not-done"}, {"status": "entered-in-error"},
    {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "182926002"}], "text": "pump refill"}},
    {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "182926002"}], "text": "refill, lot 45872"}},
])
def test_a_procedure_that_is_no_billed_past_service_is_not_history_and_stops_nothing(change):
    """A procedure not done (preparation, in progress: an audit counted them as done removals) or coded only in
    SNOMED CT is no earlier bill: the claim is judged without it, as without the Procedure."""
    doc = _duplicate_case(None)
    proc = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Procedure"
                and e["resource"].get("performedDateTime") == "2025-03-04")
    proc.update(change)
    (got,) = _read(doc)
    assert isinstance(got, dict)
    assert ("95991", "2025-03-04") not in {(h["code"], h["date_of_service"]) for h in got.get("history", [])}


@pytest.mark.parametrize("change", [{"status": "unknown"}, {"performedDateTime": None, "performedString": "today"}])
def test_a_procedure_the_claim_names_as_its_own_does_not_stop_it_when_it_cannot_be_read(change):
    """A regression hunt: the Claim's own Procedure (Claim.procedure) of status unknown stopped the Claim as
    "history that cannot be read", where it is the service billed now, not history."""
    doc = _duplicate_case(None)
    entry = next(e for e in doc["entry"] if e["resource"]["resourceType"] == "Procedure"
                 and e["resource"].get("performedDateTime") == "2025-03-04")
    proc = entry["resource"]
    proc.setdefault("id", "proc-own")
    for k, v in change.items():
        if v is None:
            proc.pop(k, None)
        else:
            proc[k] = v
    claim = _claim(doc, "EHR-1")
    claim["procedure"] = [{"sequence": 1, "procedureReference": {"reference": f"Procedure/{proc['id']}"}}]
    claim["item"][0]["procedureSequence"] = [1]
    (got,) = _read(doc)
    assert isinstance(got, dict), str(got)


def _one_claim() -> dict:
    """A FHIR Claim of one 95991 by a contained physician (NPI, NUCC taxonomy) and a contained nurse."""
    return {"resourceType": "Claim", "id": "F-1", "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
            "use": "claim", "patient": {"reference": "Patient/P-1"}, "created": "2025-03-05",
            "provider": {"reference": "Organization/o1"},
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/c1"}}],
            "contained": [
                {"resourceType": "Practitioner", "id": "dr", "identifier": [{"system": NPI, "value": "1234567893"}],
                 "qualification": [{"code": {"coding": [{"system": NUCC, "code": "208VP0014X"}]}}]},
                {"resourceType": "Practitioner", "id": "rn", "identifier": [{"system": NPI, "value": "1111111112"}],
                 "qualification": [{"code": {"coding": [{"system": NUCC, "code": "163W00000X"}]}}]},
                {"resourceType": "Organization", "id": "grp", "identifier": [{"system": NPI, "value": "1215930367"}]}],
            "careTeam": [{"sequence": 1, "provider": {"reference": "#dr"}}, {"sequence": 2, "provider": {"reference": "#rn"}}],
            "item": [{"sequence": 1, "careTeamSequence": [1], "servicedDate": "2025-03-04", "quantity": {"value": 1},
                      "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "95991"}]}}]}


def _refused(doc: dict) -> str:
    with pytest.raises(ReadError) as e:
        _read(doc)
    return str(e.value)


def test_the_one_claim_these_refusals_start_from_is_read():
    got = _read(_one_claim())
    assert not isinstance(got[0], InputError), got
    assert got[0]["lines"][0]["provider_role"] == "physician"


@pytest.mark.parametrize("ref", ["#grp", "Organization/grp"])
def test_an_organization_as_the_performer_is_refused_as_the_837p_reader_refuses_it(ref):
    """A hostile-files audit: an Organization on the care team (contained, or a reference outside the file) was taken
    as the performer, its NPI as the provider's; the 837P reader refuses an organisation in the rendering loop."""
    doc = _one_claim()
    doc["careTeam"][0]["provider"] = {"reference": ref}
    assert "the performer cannot be identified" in _refused(doc) and "is an organisation" in _refused(doc)


def test_two_care_team_members_of_one_sequence_are_refused():
    """A hostile-files audit: two members of sequence 1 (a physician, then a nurse): the last was taken silently."""
    doc = _one_claim()
    doc["careTeam"][1]["sequence"] = 1
    assert "element careTeam[1].sequence: 1 is the sequence of another careTeam member" in _refused(doc)


@pytest.mark.parametrize("ref,kind", [("#dr", "Practitioner"), ("Practitioner/x", "Practitioner"),
                                      ("Organization/o1", "an Organization")])
def test_a_claim_patient_that_is_no_patient_is_refused(ref, kind):
    """A hostile-files audit: Claim.patient naming the contained Practitioner made the doctor's NPI the patient id."""
    doc = _one_claim()
    doc["patient"] = {"reference": ref}
    article = "" if kind.startswith("an ") else "a "
    assert f"element patient: {ref!r} is {article}{kind}, not a Patient" in _refused(doc)


def test_two_modifier_codes_in_one_modifier_element_are_refused():
    """A hostile-files audit: one item.modifier with CPT codings KD and 59 kept KD and dropped the 59 silently."""
    doc = _one_claim()
    cpt = "http://www.ama-assn.org/go/cpt"
    doc["item"][0]["modifier"] = [{"coding": [{"system": cpt, "code": "KD"}, {"system": cpt, "code": "59"}]}]
    assert "element modifier[0]: codes KD and 59 in one modifier" in _refused(doc)
    # one modifier coded twice (CPT and a local system, or CPT twice alike) is one modifier
    doc["item"][0]["modifier"] = [{"coding": [{"system": cpt, "code": "59"}, {"system": "urn:local", "code": "X"}]}]
    assert _read(doc)[0]["lines"][0]["modifiers"] == ["59"]


def test_an_item_with_no_care_team_sequence_beside_two_primaries_says_two_not_none():
    """A hostile-files audit: two members with role primary were said to be "not one ... has the role primary"."""
    doc = _one_claim()
    primary = {"coding": [{"system": ROLE, "code": "primary"}]}
    for m in doc["careTeam"]:
        m["role"] = primary
    del doc["item"][0]["careTeamSequence"]
    assert "2 of the care team's 2 members have the role primary" in _refused(doc)


def test_a_care_team_sequence_written_as_text_is_said_to_be_text():
    doc = _one_claim()
    doc["item"][0]["careTeamSequence"] = ["1"]
    msg = _refused(doc)
    assert "careTeamSequence: '1' (written as text; a sequence is a number) names no careTeam member" in msg, msg


def _bundle_with(procedure: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:6d1b8f0e-0000-4000-8000-000000000001", "resource": _one_claim()},
        {"fullUrl": "urn:uuid:6d1b8f0e-0000-4000-8000-000000000002", "resource": {
            "resourceType": "Procedure", "status": "completed", "performedDateTime": "2024-01-10",
            "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "62362"}]}, **procedure}}]}


def test_a_history_procedure_of_a_group_is_no_patients_history_not_an_unreadable_one():
    """A regression hunt: Procedure.subject is Reference(Patient | Group) in R4; a Group's Procedure stopped every claim
    of the Bundle ("'Group/G1' is a Group, not a Patient") once Claim.patient was held to a Patient."""
    got = _read(_bundle_with({"subject": {"reference": "Group/G1"}}))
    assert not isinstance(got[0], InputError), got
    assert not got[0].get("history"), got[0]


def test_a_history_procedure_performed_by_an_organization_keeps_it_as_the_provider():
    """A regression hunt: an earlier service's performer.actor may be an Organization (R4); refused as a claim's
    performer, it lost its provider in the history and a duplicate of another provider read as of no provider."""
    got = _read(_bundle_with({"subject": {"reference": "Patient/P-1"},
                              "performer": [{"actor": {"reference": "Organization/grp-9"}}]}))
    assert got[0]["history"] == [{"code": "62362", "date_of_service": "2024-01-10", "provider_id": "grp-9"}], got[0]


def test_a_claim_patient_at_an_address_that_names_no_fhir_resource_type_is_read():
    """A regression hunt: "https://mpi.example.org/MPI/12345" was refused as "a MPI, not a Patient"."""
    doc = _one_claim()
    doc["patient"] = {"reference": "https://mpi.example.org/MPI/12345"}
    assert _read(doc)[0]["patient_id"] == "12345"
