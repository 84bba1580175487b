"""Claims in (JSON, FHIR R4, CSV) and results out (JSON, FHIR ClaimResponse,
CSV): each read back by a library other than the writer, each with
malformed input that gets a one-line error naming the row or element."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claimresponse import ClaimResponse

from cptkg import pipeline as batch
from cptkg.io import readers
from cptkg.io import writers
from cptkg.claims.models import parse_claims
from cptkg.io.readers import ReadError
from cptkg.io.readers.fhir import nucc_role

DATA = Path(__file__).parent / "data" / "interop"
FHIR_CLAIM = DATA / "fhir-claim.json"
FHIR_BUNDLE = DATA / "fhir-bundle.json"
CLAIMS_CSV = DATA / "claims.csv"
HISTORY_CSV = DATA / "history.csv"


def _fhir(mutate) -> bytes:
    doc = json.loads(FHIR_CLAIM.read_text())
    mutate(doc)
    return json.dumps(doc).encode()


# ------------------------------------------------------------- detection
@pytest.mark.parametrize("path,fmt", [(FHIR_CLAIM, "fhir"), (FHIR_BUNDLE, "fhir"), (CLAIMS_CSV, "csv")])
def test_format_is_detected_from_content(path, fmt):
    assert readers.detect(path.read_bytes()) == fmt


def test_claim_json_is_detected_as_json():
    assert readers.detect(b'{"claim_id": "A", "patient_id": "P", "lines": []}') == "json"
    assert readers.detect(b'[{"claim_id": "A"}]') == "json"


def test_unknown_content_is_an_input_error():
    with pytest.raises(ReadError, match="not a claim file"):
        readers.detect(b"%PDF-1.4 binary")


def test_input_format_overrides_detection():
    with pytest.raises(ReadError):
        readers.read(FHIR_CLAIM, input_format="csv")


# ------------------------------------------------------------------ FHIR
def test_fhir_claim_maps_to_claim_contract_that_the_engine_accepts():
    claims = readers.read_claims(FHIR_CLAIM)
    assert claims == [{"claim_id": "CLM-1001", "patient_id": "PAT-77", "lines": [
        {"line": 1, "code": "62370", "date_of_service": "2024-03-04", "provider_id": "NPI-1234567890",
         "provider_role": "nurse", "units": 1},
        {"line": 2, "code": "62370", "date_of_service": "2024-03-01", "provider_id": "NPI-2222222222",
         "provider_role": "physician_assistant", "units": 1}]}]
    parsed, _ = parse_claims(claims[0])
    assert parsed[0].claim_id == "CLM-1001"


def test_fhir_bundle_gives_every_claim_and_procedures_as_history():
    res = readers.read(FHIR_BUNDLE)
    assert [c["claim_id"] for c in res.claims] == ["CLM-1001", "CLM-1002"]
    second = res.claims[1]
    assert second["history"] == [{"code": "62362", "date_of_service": "2023-01-10", "provider_id": "DR-9"}]
    assert second["lines"][1]["modifiers"] == ["59"] and second["lines"][1]["date_of_service"] == "2024-05-02"
    assert second["lines"][0]["provider_role"] == "physician"


@pytest.mark.parametrize("code,role", [("207L00000X", "physician"), ("208VP0014X", "physician"),
                                       ("363LF0000X", "nurse_practitioner"), ("363AM0700X", "physician_assistant"),
                                       ("164W00000X", "nurse"), ("225100000X", "physical_therapist"),
                                       ("122300000X", None), ("20", None)])
def test_nucc_taxonomy_mapping(code, role):
    assert nucc_role(code) == role


FHIR_BAD = {
    "missing patient (FHIR model)": (lambda d: d.pop("patient"), "patient"),
    "wrong type for sequence": (lambda d: d["item"][0].update(sequence="one"), "item[0].sequence"),
    "no CPT coding": (lambda d: d["item"][0]["productOrService"]["coding"][0].update(system="http://snomed.info/sct"),
                      "item 1, element productOrService"),
    "patient urn:uuid the file does not hold": (lambda d: d["patient"].update(reference="urn:uuid:0000"),
                                                     "element patient: 'urn:uuid:0000' names a resource"),
    "no date": (lambda d: d["item"][1].pop("servicedDate"), "item 2, element servicedDate"),
    "unmapped role": (lambda d: d["careTeam"][0]["qualification"]["coding"][0].update(code="122300000X"),
                      "careTeam[sequence=1].qualification: NUCC taxonomy code '122300000X'"),
    "dangling careTeamSequence": (lambda d: d["item"][0].update(careTeamSequence=[9]), "careTeamSequence: 9"),
    "fractional units": (lambda d: d["item"][0].update(quantity={"value": 1.5}), "quantity.value"),
    "period over days": (lambda d: (d["item"][0].pop("servicedDate"),
                                    d["item"][0].update(servicedPeriod={"start": "2024-03-01", "end": "2024-03-03"})),
                         "servicedPeriod"),
    # FHIR: a period without an end is ongoing; taking its start as the one date of service would guess
    "period with a start only": (lambda d: (d["item"][0].pop("servicedDate"),
                                            d["item"][0].update(servicedPeriod={"start": "2024-03-01"})),
                                 "element servicedPeriod.end: missing"),
    "period with an end only": (lambda d: (d["item"][0].pop("servicedDate"),
                                           d["item"][0].update(servicedPeriod={"end": "2024-03-01"})),
                                "element servicedPeriod.start: missing"),
    # SimpleQuantity (qty-3): "more than 1" bills no known number of units
    "quantity with a comparator": (lambda d: d["item"][0].update(quantity={"value": 1, "comparator": ">"}),
                                   "item 1, element quantity.comparator: '>'"),
    # a period ending before it starts is no range to bill date by date (an audit: it read "spans")
    "period ending before it starts": (lambda d: (d["item"][0].pop("servicedDate"),
                                                  d["item"][0].update(servicedPeriod={"start": "2024-03-06",
                                                                                      "end": "2024-03-04"})),
                                       "servicedPeriod: ends (2024-03-04) before it starts (2024-03-06)"),
    # the codings of one concept are one concept: two billed codes in one item were judged as the first
    "two billed codes in one item": (lambda d: d["item"][0]["productOrService"]["coding"].append(
        {"system": "http://www.ama-assn.org/go/cpt", "code": "62367"}),
        "element productOrService: codes 62367, "),
    # FHIR R4 extensibility: a modifier extension the reader does not know must not be ignored
    "modifier extension on an item": (lambda d: d["item"][0].update(
        modifierExtension=[{"url": "http://example.org/not-performed", "valueBoolean": True}]),
        "element item[0].modifierExtension: a modifier extension (http://example.org/not-performed)"),
    "modifier extension on the claim": (lambda d: d.update(
        modifierExtension=[{"url": "http://example.org/test-only", "valueBoolean": True}]),
        "element modifierExtension: a modifier extension (http://example.org/test-only) changes what"),
}


def test_a_one_day_serviced_period_is_that_date_of_service():
    def one_day(d):
        d["item"][0].pop("servicedDate")
        d["item"][0]["servicedPeriod"] = {"start": "2024-03-04T09:00:00Z", "end": "2024-03-04T10:30:00Z"}
    got = readers.read(_fhir(one_day))
    assert got.claims[0]["lines"][0]["date_of_service"] == "2024-03-04"


@pytest.mark.parametrize("name", list(FHIR_BAD))
def test_malformed_fhir_claim_is_one_line_naming_the_element(name):
    mutate, where = FHIR_BAD[name]
    with pytest.raises(ReadError) as e:
        readers.read(_fhir(mutate))
    assert where in str(e.value) and "\n" not in str(e.value)


TWO_SERVERS = Path(__file__).parent / "data" / "interop" / "fhir-two-servers.json"  # SYNTHETIC NPIs


def test_a_relative_reference_resolves_on_the_server_of_the_claim_that_makes_it():
    """Two Practitioner/dr1 of two servers: the Claim at https://ehr.example/fhir/ names its own server's
    (FHIR R4, Bundle: a relative reference is relative to the referring entry's fullUrl base); the first
    one in the file was taken, another provider's NPI (an audit)."""
    got = readers.read(TWO_SERVERS.read_bytes())
    assert got.claims[0]["lines"][0]["provider_id"] == "1669999993"


def test_a_relative_reference_two_entries_answer_to_is_refused_naming_it():
    doc = json.loads(TWO_SERVERS.read_text())
    for e in doc["entry"]:
        if e["resource"]["resourceType"] == "Claim":
            e["fullUrl"] = "urn:uuid:0f0e0d0c-0000-4000-8000-000000000001"  # no server: neither is its own
    got = readers.read(json.dumps(doc).encode())
    (err,) = got.claims
    assert isinstance(err, ReadError) and err.claim_id == "TX1"
    assert str(err).startswith("Bundle entry 2 (Claim TX1): the reference 'Practitioner/dr1' names a "
                               "Practitioner that two entries of the Bundle have")


def test_bundle_without_claims_is_refused():
    doc = {"resourceType": "Bundle", "type": "collection", "entry": []}
    with pytest.raises(ReadError, match="no Claim"):
        readers.read(json.dumps(doc).encode())


def test_fhir_role_decides_the_verdict_through_the_engine():
    out = batch.run(FHIR_CLAIM, output="json")
    lines = {ln["line"]: ln for ln in out.results[0]["lines"]}
    assert lines[1]["status"] == "rejected"  # nurse on 62370
    assert "role.needs-physician-or-qhp" in {r["rule"] for r in lines[1]["reasons"]}
    assert not {r["rule"] for r in lines[2]["reasons"]} & {"role.needs-physician-or-qhp", "role.not-listed"}
    assert out.exit_code == 1


# ----------------------------------------------------- FHIR ClaimResponse
def test_claim_response_validates_with_fhir_resources_and_codes_rule_ids():
    out = batch.run(FHIR_CLAIM, output="fhir", created="2024-03-05T10:00:00+00:00")
    resp = ClaimResponse.model_validate_json(out.text)  # a reader other than our writer's dict building
    assert resp.outcome == "complete"
    assert resp.patient.reference == "Patient/PAT-77" and resp.request.reference == "Claim/CLM-1001"
    assert "line 1 (62370)" in resp.disposition
    errors = [(e.itemSequence, e.code.coding[0].system, e.code.coding[0].code) for e in resp.error]
    assert (1, "https://w3id.org/cptkg/rules", "role.needs-physician-or-qhp") in errors
    assert all(seq == 1 for seq, _, _ in errors)
    assert {i.itemSequence for i in resp.item} == {1, 2}
    item1 = next(i for i in resp.item if i.itemSequence == 1)
    assert item1.adjudication[0].reason.coding[0].code == "role.needs-physician-or-qhp"


def test_bundle_in_gives_bundle_of_claim_responses():
    out = batch.run(FHIR_BUNDLE, output="fhir")
    bundle = Bundle.model_validate_json(out.text)
    assert [e.resource.request.reference for e in bundle.entry] == ["Claim/CLM-1001", "Claim/CLM-1002"]
    # FHIR wants an absolute URL or a UUID URN, not urn:cptkg:...
    assert all(e.fullUrl.startswith("urn:uuid:") and len(e.fullUrl) == 45 for e in bundle.entry)


def test_every_rule_id_in_a_claim_response_is_a_rule_of_the_kb():
    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    out = batch.run(FHIR_BUNDLE, output="fhir")
    doc = json.loads(out.text)
    codes = {c["code"] for e in doc["entry"] for err in e["resource"].get("error", []) for c in err["code"]["coding"]}
    assert codes and all(kb.rule(c) is not None for c in codes)


def test_claim_ids_that_are_no_fhir_id_get_responses_of_their_own_and_identifier_references():
    # "CLM 1", "CLM/1" and "CLM_1" all answered as CLM-1-response, and "Claim/CLM/1" named another resource
    ids = ["CLM 1", "CLM/1", "CLM-1", "CLM_1", "CLM-1"]
    results = [{"claim_id": c, "status": "accepted", "lines": [{"line": 1, "code": "62370", "status": "accepted",
                                                                "reasons": []}]} for c in ids]
    bundle = Bundle.model_validate_json(writers.write(results, "fhir"))
    responses = [e.resource for e in bundle.entry]
    assert len({r.id for r in responses}) == len(ids)
    assert responses[2].id == "CLM-1-response" and responses[2].request.reference == "Claim/CLM-1"
    for cid, r in zip(ids, responses):
        if cid != "CLM-1":
            assert r.request.reference is None and r.request.identifier.value == cid


def test_claim_response_of_an_unjudgeable_claim_has_outcome_error():
    text = writers.write([{"claim_id": "X", "status": "error", "error": "claim X, line 1, field code: missing"}], "fhir",
                         was_list=False)
    resp = ClaimResponse.model_validate_json(text)
    assert resp.outcome == "error" and "field code" in resp.disposition


def test_a_claim_response_fhir_refuses_is_caught_before_output():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        writers.write([{"claim_id": "X", "status": "accepted", "lines": [{"line": "first", "code": "62370",
                                                                          "status": "accepted", "reasons": []}]}], "fhir")


# ------------------------------------------------------------------- CSV
def test_csv_rows_become_claims_grouped_by_claim_id():
    res = readers.read(CLAIMS_CSV, history=HISTORY_CSV)
    assert [c["claim_id"] for c in res.claims] == ["C1", "C2"]
    assert [ln["line"] for ln in res.claims[0]["lines"]] == [1, 2]
    assert res.claims[0]["history"] == [{"code": "62362", "date_of_service": "2023-06-01", "provider_id": "D1"}]
    assert "history" not in res.claims[1]
    assert res.row_keys == [("C1", 1), ("C2", 1), ("C1", 2)]


def test_csv_out_has_one_row_per_input_row_in_input_order():
    out = batch.run(CLAIMS_CSV, output="csv", history=HISTORY_CSV, progress=False)
    rows = list(csv.DictReader(io.StringIO(out.text)))
    src = list(csv.DictReader(io.StringIO(CLAIMS_CSV.read_text())))
    assert len(rows) == len(src)
    assert [(r["claim_id"], r["line"], r["code"]) for r in rows] == [(s["claim_id"], s["line"], s["code"]) for s in src]
    assert {r["status"] for r in rows} <= {"accepted", "rejected"}
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert rejected and all(r["rules"] and r["reasons"] for r in rejected)
    assert out.summary.startswith("2 claims, 3 lines")


def test_progress_bar_runs_when_asked():
    out = batch.run(CLAIMS_CSV, output="csv", progress=True)
    assert out.text.count("\n") == 4


HEADER = "claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
# (content, words of the message, whole file refused?): a file that cannot be
# read at all is refused whole; a bad row makes its claim an error entry
# (issue 21, finding 11), and the other claims are judged
CSV_BAD = {
    "missing column": ("claim_id,patient_id,line,code\nC,P,1,62370\n", "header: missing columns", True),
    "empty file": ("", "empty file", True),
    "header only": (HEADER, "no claim rows", True),
    "not utf-8": (None, "not UTF-8", True),
    "line not a number": (HEADER + "C,P,one,62370,2024-01-01,D,physician,1,\n", "row 1, claim C, field line", False),
    "impossible date": (HEADER + "C,P,1,62370,2024-01-01,D,physician,1,\nC,P,2,62370,2024-02-30,D,physician,1,\n",
                        "row 2, claim C, line 2, field date_of_service", False),
    "unknown role": (HEADER + "C,P,1,62370,2024-01-01,D,surgeon,1,\n", "row 1, claim C, line 1, field provider_role",
                     False),
    "empty code": (HEADER + "C,P,1,,2024-01-01,D,physician,1,\n", "row 1, claim C, field code", False),
    "duplicate line": (HEADER + "C,P,1,62370,2024-01-01,D,physician,1,\nC,P,1,62369,2024-01-01,D,physician,1,\n",
                       "row 2, claim C, line 1: the line number appears more than once in the claim (also in row 1)",
                       False),
    "two patients for a claim": (HEADER + "C,P,1,62370,2024-01-01,D,physician,1,\nC,Q,2,62369,2024-01-01,D,physician,1,\n",
                                 "row 2, claim C, field patient_id", False),
    "too many values": (HEADER + "C,P,1,62370,2024-01-01,D,physician,1,,extra\n",
                        "row 1, claim C: the record does not have one field per column", False),
}


@pytest.mark.parametrize("name", list(CSV_BAD))
def test_malformed_csv_is_one_line_naming_the_row(name):
    text, where, whole_file = CSV_BAD[name]
    data = b"claim_id,code\n\xff\xfe,1\n" if text is None else text.encode()
    if whole_file:
        with pytest.raises(ReadError) as e:
            readers.read(data, input_format="csv")
        message = str(e.value)
    else:
        claims = readers.read(data, input_format="csv").claims
        assert len(claims) == 1 and isinstance(claims[0], ReadError) and claims[0].claim_id == "C"
        message = str(claims[0])
    assert where in message and "\n" not in message


def test_malformed_history_row_is_named():
    bad = b"patient_id,code,date_of_service\nP1,,2023-01-01\n"
    claims = readers.read(CLAIMS_CSV, history=bad).claims
    mine = [c for c in claims if isinstance(c, ReadError)]
    # P1's claim cannot be judged without its history; P2's claim is judged
    assert [c.claim_id for c in mine] == ["C1"] and "history row 1, field code: is missing" in str(mine[0])
    assert [c["claim_id"] for c in claims if isinstance(c, dict)] == ["C2"]


# ------------------------------------------------------------------ JSON
def test_json_claims_pass_through_and_json_writer_keeps_shape():
    one = {"claim_id": "A", "patient_id": "P", "lines": [{"line": 1, "code": "62362", "date_of_service": "2024-01-01",
                                                          "provider_id": "D", "provider_role": "physician"}]}
    res = readers.read(json.dumps(one).encode())
    assert res.claims == [one] and res.was_list is False
    out = batch.run(json.dumps(one).encode(), output="json")
    assert json.loads(out.text)["claim_id"] == "A"
    out = batch.run(json.dumps([one]).encode(), output="json")
    assert isinstance(json.loads(out.text), list)


def test_malformed_json_is_one_line():
    from cptkg.claims.models import InputError

    with pytest.raises(InputError) as e:
        readers.read(b'{"claim_id": "A", "claim_id": "B"}', input_format="json")
    assert "appears twice" in str(e.value)


def test_unknown_output_format_is_refused():
    with pytest.raises(ValueError, match="--output"):
        writers.write([], "xlsx")


# ------------------------------------------------- CSV round trip (property)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_support import examples

_ident = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=8)
_line = st.fixed_dictionaries({
    "code": st.sampled_from(["62360", "62362", "62367", "62370", "95990", "95991", "99999"]),
    "date_of_service": st.dates(min_value=__import__("datetime").date(2020, 1, 1),
                                max_value=__import__("datetime").date(2026, 12, 31)).map(str),
    "provider_id": _ident,
    "provider_role": st.sampled_from(["physician", "physician_assistant", "nurse_practitioner", "nurse",
                                      "physical_therapist"]),
    "units": st.integers(1, 20),
    "modifiers": st.lists(st.sampled_from(["59", "XU", "52", "LT"]), max_size=2),
})
_claims = st.lists(st.tuples(_ident, _ident, st.lists(_line, min_size=1, max_size=4)), min_size=1, max_size=5,
                   unique_by=lambda t: t[0])


@settings(max_examples=examples(60), deadline=None)
@given(_claims)
def test_csv_written_by_the_csv_module_reads_back_as_the_same_claims(claims):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER.strip().split(","))
    expected = []
    for cid, pid, lines in claims:
        claim = {"claim_id": cid, "patient_id": pid, "lines": []}
        for n, ln in enumerate(lines, start=1):
            w.writerow([cid, pid, n, ln["code"], ln["date_of_service"], ln["provider_id"], ln["provider_role"],
                        ln["units"], ";".join(ln["modifiers"])])
            claim["lines"].append({"line": n, **ln})
        expected.append(claim)
    assert readers.read_claims(buf.getvalue().encode(), input_format="csv") == expected


def test_format_detection_parses_json_input_once(monkeypatch):
    import json as _json

    from cptkg.io import readers

    calls = []
    real = _json.loads
    monkeypatch.setattr(_json, "loads", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert readers.detect(b'[{"claim_id": "A", "lines": []}]') == "json"
    assert len(calls) == 1
    assert readers.peek_json(b'{"a": 1}') == {"a": 1}  # outside detect nothing is kept
    assert getattr(readers._peeked, "last", None) is None


def test_a_json_claim_that_cannot_be_judged_answers_every_line_it_gave_in_csv():
    # one bad date made the whole claim one CSV row with no line: its other lines were not answered
    claim = {"claim_id": "E-1", "patient_id": "P1", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"},
        {"line": 2, "code": "95990", "date_of_service": "2025-13-02", "provider_id": "D1", "provider_role": "physician"},
        {"line": "three", "code": 95991, "date_of_service": "2025-03-04", "provider_id": "D1"}]}
    out = batch.run(json.dumps([claim]).encode(), output="csv")
    rows = list(csv.DictReader(io.StringIO(out.text)))
    assert [(r["line"], r["code"], r["status"]) for r in rows] == [("1", "62367", "error"), ("2", "95990", "error"),
                                                                   ("", "", "error")]
    assert "line 2, field date_of_service" in rows[1]["reasons"]
    # the other lines say which line kept the claim from being judged, not the error as if it were theirs
    assert rows[0]["reasons"] == rows[2]["reasons"] == "claim not judged because line 2 has an error"
    assert out.summary.endswith("1 claim could not be judged (3 lines not judged)")
    as_json = json.loads(batch.run(json.dumps(claim).encode(), output="json").text)
    assert as_json["lines"] == [] and [g["line"] for g in as_json["lines_not_judged"]] == [1, 2, ""]


def test_a_bundle_claim_invalid_in_one_item_says_so_on_that_items_row_and_not_judged_on_the_others():
    # an audit: an item's FHIR error found by validating the whole Claim was repeated on every item's row
    doc = json.loads(FHIR_BUNDLE.read_text())
    claim = next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["item"][1]["xyz"] = 1
    out = batch.run(json.dumps(doc).encode(), output="csv")
    rows = [r for r in csv.DictReader(io.StringIO(out.text)) if r["claim_id"] == claim["id"]]
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[0]["reasons"] == "claim not judged because line 2 has an error"
    assert "element item[1].xyz: is not an element FHIR R4 defines here" in rows[1]["reasons"]


def test_claim_json_forced_on_a_fhir_resource_says_it_is_fhir():
    with pytest.raises(ReadError, match=r"a FHIR resource \(resourceType Bundle\), not claim JSON: read it as FHIR"):
        readers.read(FHIR_BUNDLE, input_format="json")


def test_an_excel_workbook_is_told_to_be_saved_as_csv():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ReadError, match=r"an Excel workbook \(\.xlsx\).*CSV UTF-8"):
        readers.detect(buf.getvalue())


def test_a_fhir_claim_with_no_care_team_is_told_to_name_the_performer_there():
    def drop_team(d):
        d.pop("careTeam")
        for item in d["item"]:
            item.pop("careTeamSequence", None)
    with pytest.raises(ReadError, match="the Claim has no careTeam: name the practitioner who performed the item "
                                        "in Claim.careTeam"):
        readers.read(_fhir(drop_team))


def test_a_claim_whose_id_repeats_in_a_json_list_answers_every_line_it_gave():
    # an audit: the repeated claim's two lines came back as one row with no line number ("lines in: 8" of 9)
    def claim(cid, codes):
        return {"claim_id": cid, "patient_id": "P1", "lines": [
            {"line": i, "code": c, "date_of_service": "2025-03-04", "provider_id": "D1", "provider_role": "physician"}
            for i, c in enumerate(codes, start=1)]}
    given = [claim("A", ["95990"]), claim("A", ["62367", "95990"]), claim("C", ["62370"])]
    out = batch.run(json.dumps(given).encode(), output="csv")
    rows = [(r["claim_id"], r["line"], r["code"], r["status"]) for r in csv.DictReader(io.StringIO(out.text))]
    assert rows == [("A", "1", "95990", "accepted"), ("A", "1", "62367", "error"), ("A", "2", "95990", "error"),
                    ("C", "1", "62370", "accepted")]
    assert out.summary == ("3 claims, 2 lines: 2 accepted, 0 rejected (0 claims with a rejected line); "
                           "1 claim could not be judged (2 lines not judged)")


@pytest.mark.parametrize("header, words", [
    ("patient_id;line;code;date_of_service;provider_id;provider_role\n", "separated by semicolons"),
    ("Patient ID\tLine\tCode\tDate of service\n", "separated by tabs or spaces"),
])
def test_content_read_as_no_format_names_a_semicolon_or_tab_header_without_a_claim_column(header, words):
    """Claims given without a file name (standard input) are told apart by content: a spreadsheet's
    semicolon or tab header is named as such even when its first column is not the claim id."""
    with pytest.raises(ReadError, match=words):
        readers.read((header + "P1;1;62370;2025-03-04;D1;physician\n").encode())


def test_content_of_no_claim_format_is_not_told_it_is_a_semicolon_csv():
    with pytest.raises(ReadError) as e:
        readers.read(b"hello; world\nthis is a letter\n")
    assert "not a claim file cptkg can read" in str(e.value) and "semicolon" not in str(e.value)


def test_a_claims_other_lines_say_which_line_kept_it_from_being_judged_not_that_lines_error(tmp_path):
    """check's CSV gave the bad row's error on every line of its claim, as if each line had it; the
    line with the error gives it, and each other line says the claim was not judged because of it
    (batch's rows say the same of rows), from a claim CSV and from claim JSON alike."""
    import json

    from click.testing import CliRunner

    from cptkg.faces.cli import main

    rows = ("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
            "A,P1,1,95990,2025-03-04,N1,physician,1,\n"
            "A,P1,2,62367,2025-02-30,N1,physician,1,\n"
            "A,P1,3,J0475,2025-03-04,N1,physician,1,KD\n")
    claims = [{"claim_id": "A", "patient_id": "P1", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "physician"},
        {"line": 2, "code": "62367", "date_of_service": "2025-02-30", "provider_id": "N1", "provider_role": "physician"},
        {"line": 3, "code": "J0475", "date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "physician",
         "modifiers": ["KD"]}]},
        {"claim_id": "B", "patient_id": "P2", "lines": [
            {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "physician"}]}]
    (tmp_path / "c.csv").write_text(rows, encoding="utf-8")
    (tmp_path / "c.json").write_text(json.dumps(claims), encoding="utf-8")
    for name in ("c.csv", "c.json"):
        res = CliRunner().invoke(main, ["check", str(tmp_path / name), "--output", "csv"])
        got = list(csv.DictReader(io.StringIO(res.stdout[:res.stdout.index("\n\n") if "\n\n" in res.stdout else None])))
        a = {int(r["line"]): r["reasons"] for r in got if r["claim_id"] == "A"}
        assert set(a) == {1, 2, 3}, (name, got)
        assert "field date_of_service: '2025-02-30' is not a real calendar date" in a[2], name
        if name == "c.json":
            assert a[1] == a[3] == "claim not judged because line 2 has an error", (name, a)
        else:  # a claim CSV's rows say it of rows, word for word as batch's rows
            assert [a[1], a[3]] == [f"row {n}, claim A: claim not judged because row 2 has an error" for n in (1, 3)], a
        res = CliRunner().invoke(main, ["check", str(tmp_path / name), "--json"])
        out = json.loads(res.stdout[:res.stdout.rindex("]") + 1])
        marks = [g.get("has_error", False) for g in out[0]["lines_not_judged"]]
        assert marks == [False, True, False], (name, out[0])


def test_two_rows_of_one_line_number_keep_their_own_codes_in_checks_csv():
    """check's CSV gave the second row of a repeated line number the first row's code, losing its own (95990
    written as 62367; an attack audit): each row of a claim not judged keeps the code it gave, as batch's does."""
    rows = ("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n"
            "A,P1,1,62367,2025-03-04,N1,physician,1,\n"
            "A,P1,1,95990,2025-03-04,N1,physician,1,\n"
            "A,P1,2,95991,2025-03-04,N1,physician,1,\n")
    out = batch.run(rows.encode(), "csv", "csv")
    got = list(csv.DictReader(io.StringIO(out.text)))
    assert [(r["line"], r["code"], r["status"]) for r in got] == [("1", "62367", "error"), ("1", "95990", "error"),
                                                                   ("2", "95991", "error")]


@pytest.mark.parametrize("where, value, words", [
    ("entry", "Claims", "element entry[1].resource: resourceType 'Claims' is not a FHIR R4 resource type "
                        "(did you mean 'Claim'?)"),
    ("entry", "claim", "resourceType 'claim' is not a FHIR R4 resource type (did you mean 'Claim'?)"),
    ("entry", 5, "element entry[1].resource: resourceType must be the name of a FHIR resource (text), got the "
                 "number 5"),
    ("entry", "Observatio", "(did you mean 'Observation'?)"),
    ("entry", "Zzzzzz", "resourceType 'Zzzzzz' is not a FHIR R4 resource type"),
    ("entry", None, "element entry[1].resource: has no resourceType"),
    ("contained", "Practitionr", "element entry[0].resource.contained[0]: resourceType 'Practitionr' is not a FHIR "
                                 "R4 resource type (did you mean 'Practitioner'?)"),
])
def test_a_resource_type_fhir_does_not_define_is_one_line_naming_the_element_not_a_traceback(where, value, words):
    """fhir.resources looked the name up in its own table: a misspelt resourceType was a Python KeyError
    ('R4.ClaimsType'), a traceback with exit 1 from check and "the duckdb engine failed" from batch; a
    resource with no resourceType was blamed on its first element (an inputs audit)."""
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    doc = json.loads(FHIR_BUNDLE.read_text())
    claim = next(e for e in doc["entry"] if e["resource"]["resourceType"] == "Claim")
    odd = json.loads(json.dumps(claim["resource"]))
    if value is not None:
        odd["resourceType"] = value
    else:
        del odd["resourceType"]
    if where == "entry":
        doc["entry"].insert(1, {"fullUrl": "urn:uuid:0f0e0d0c-0000-4000-8000-0000000000aa", "resource": odd})
    else:
        claim["resource"]["contained"] = [{"resourceType": value, "id": "x"}]
        words = words.replace("entry[0]", f"entry[{doc['entry'].index(claim)}]")
    with pytest.raises(ReadError) as got:
        readers.read(json.dumps(doc).encode())
    assert words in str(got.value)
    r = CliRunner().invoke(main, ["check", "-"], input=json.dumps(doc))
    assert r.exit_code == 2 and "Traceback" not in r.output and words in r.stderr, r.output
