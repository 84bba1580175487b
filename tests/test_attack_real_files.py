"""Issue 22, audit: files as their publishers lay them out, written by an auditor from the specifications.

Every value here is SYNTHETIC (codes are the project's pump codes; NPIs, member ids, claim ids and
rationales are made up). Edit tables follow the practitioner PTP/MUE publication layout (domain notes,
"Real files billing offices and payers exchange"; Medicaid NCCI Edit Design Manual, "Publication
Formats"); FHIR Claims follow HL7 FHIR R4 Claim (careTeam roles from claimcareteamrole, NPI identifiers
as HL7 Terminology's NamingSystem "npi" names them: the URI or the OID 2.16.840.1.113883.4.6).
"""
from __future__ import annotations

import copy
import io
import json
import zipfile

import openpyxl
import pytest

from cptkg import pipeline
from cptkg.knowledge.edits.cms_import import EditTableError, import_table
from cptkg.io.readers import ReadError
from cptkg.io.readers import fhir

NOTICE = "CPT codes, descriptions and other data only are copyright 2025 American Medical Association (SYNTHETIC)."
PTP_HEADER = ["Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale",
              "\t\tprior to 1996\tDate\tDate\t0=not allowed\t",
              "\t\t\t\t*=no data\t1=allowed\t",
              "\t\t\t\t\t9=not applicable\t"]


def _ptp_text(rows: list[str], header: bool = True) -> bytes:
    """A practitioner PTP part file as published: notice, title, four-line header, CRLF, cp1252."""
    lines = ([NOTICE, "Column1/Column2 Edits"] + PTP_HEADER if header else []) + rows
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def _edits(ttl) -> list[tuple[str, str]]:
    import re

    return re.findall(r'column1Code "(\w+)" ; ont:column2Code "(\w+)"', ttl.read_text())


ROW = "{}\t62367\t\t20260101\t*\t1\tSYNTHETIC rationale"


def test_release_zip_part_without_its_own_header_is_read_with_the_first_parts_header(tmp_path):
    """A later part file that only continues the rows of the first must not refuse the whole release."""
    z = _zip(tmp_path / "ccipra-v321r0.zip", [
        ("ccipra-v321r0-f1.TXT", _ptp_text([ROW.format("95990")])),
        ("ccipra-v321r0-f2.TXT", _ptp_text([ROW.format("62369"), ROW.format("62370")], header=False))])
    result = import_table("ptp", [z], tmp_path / "out.ttl", imported=None)
    assert sorted(_edits(tmp_path / "out.ttl")) == [("62369", "62367"), ("62370", "62367"), ("95990", "62367")]
    assert any("f2.TXT: no header of its own" in n and "line 3 of" in n and "f1.TXT" in n for n in result.notices)


def test_mue_csv_part_without_header_keeps_the_first_parts_comma_delimiter(tmp_path):
    """A headless CSV part has no header to sniff its delimiter from: it is the part before's."""
    first = (b'"SYNTHETIC notice\nsecond line"\r\n"HCPCS/\nCPT Code","Practitioner Services MUE Values",'
             b'"MUE Adjudication Indicator","MUE Rationale"\r\n62367,1,"2 Date of Service Edit: Policy",x\r\n')
    second = b'62368,1,"1 Line Edit",x\r\n95990,1,"3 Date of Service Edit: Clinical","Clinical: Data"\r\n'
    z = _zip(tmp_path / "mue_pra_2026q2.zip", [("MUE-PRA-f1.csv", first), ("MUE-PRA-f2.csv", second)])
    import_table("mue", [z], tmp_path / "out.ttl")
    text = (tmp_path / "out.ttl").read_text()
    assert text.count("a ont:UnitEdit") == 3
    assert 'ont:editCode "95990" ; ont:maxUnits 1 ; ont:adjudicationIndicator "3"' in text


def test_a_headless_part_given_first_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "f2.txt").write_bytes(_ptp_text([ROW.format("62369")], header=False))
    (tmp_path / "f1.txt").write_bytes(_ptp_text([ROW.format("95990")]))
    with pytest.raises(EditTableError) as e:
        import_table("ptp", [tmp_path / "f2.txt", tmp_path / "f1.txt"], tmp_path / "out.ttl")
    assert "line 1 holds codes" in str(e.value) and "give the first part, with the header, first" in str(e.value)
    assert "\n" not in str(e.value)


def _xlsx(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([NOTICE])
    ws.append(["Column1/Column2 Edits"])
    ws.append(["Column 1", "Column 2", "*=in existence", "Effective", "Deletion", "Modifier", "PTP Edit Rationale"])
    ws.append([None, None, "prior to 1996", "Date", "Date", "0=not allowed", None])
    ws.append([None, None, None, None, "*=no data", "1=allowed", None])
    ws.append([None, None, None, None, None, "9=not applicable", None])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_release_zip_with_the_same_table_as_text_and_excel_reads_the_text_once(tmp_path):
    """CMS posts each table as text and as Excel; reading both copies would repeat every edit."""
    z = _zip(tmp_path / "ptp_2026q2.zip", [
        ("PTP/ccipra-v321r0-f1.XLSX", _xlsx([[95990, 62367, None, 20260101, "*", 1, "SYNTHETIC"]])),
        ("PTP/ccipra-v321r0-f1.TXT", _ptp_text([ROW.format("95990")]))])
    result = import_table("ptp", [z], tmp_path / "out.ttl")
    assert _edits(tmp_path / "out.ttl") == [("95990", "62367")]
    assert result.files == [f"{z} › PTP/ccipra-v321r0-f1.TXT"]
    assert f"{z}: not read: PTP/ccipra-v321r0-f1.XLSX, the same table as PTP/ccipra-v321r0-f1.TXT (read once)" \
        in result.notices



@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_release_zip_with_two_members_of_one_name_and_different_contents_is_refused(tmp_path):
    """A hostile-files audit: two members named a.txt (effective 2025-01-01 and 2025-04-01) were read as one, the
    second called "the same table" and its edits lost; two of one name and one content are read once."""
    other = _ptp_text(["95990\t62367\t\t20250401\t*\t1\tSYNTHETIC rationale"])
    z = _zip(tmp_path / "ptp_twice.zip", [("a.txt", _ptp_text([ROW.format("95990")])), ("a.txt", other)])
    with pytest.raises(EditTableError) as e:
        import_table("ptp", [z], tmp_path / "out.ttl")
    assert "holds two members named a.txt with different contents" in str(e.value)
    assert not (tmp_path / "out.ttl").exists()
    alike = _zip(tmp_path / "ptp_alike.zip", [("a.txt", other), ("a.txt", other)])
    import_table("ptp", [alike], tmp_path / "out.ttl")
    assert _edits(tmp_path / "out.ttl") == [("95990", "62367")]


# --------------------------------------------------------------------------- FHIR R4 Claims

CPT = fhir.CPT_SYSTEM
ROLE = fhir.CARE_TEAM_ROLE_SYSTEM
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _claim(cid="AUD-1", team=None, items=None, npi_system=fhir.NPI_SYSTEM) -> dict:
    """A professional Claim as an EHR sends it: contained Patient, Practitioners, Coverage (SYNTHETIC)."""
    item = lambda seq, code, ct, **kw: {"sequence": seq, "careTeamSequence": ct, "servicedDate": "2026-04-15",
                                        "productOrService": {"coding": [
                                            {"system": "https://ehr.example/chargecode", "code": f"CHG-{code}"},
                                            {"system": CPT, "code": code}]}, **kw}
    return {
        "resourceType": "Claim", "id": cid, "status": "active", "use": "claim", "created": "2026-04-16",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                 "code": "normal"}]},
        "patient": {"reference": "#pat"}, "provider": {"reference": "Organization/org-synthetic"},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "#cov"}}],
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G89.4"}]}}],
        "contained": [
            {"resourceType": "Patient", "id": "pat", "identifier": [
                {"type": {"coding": [{"system": V2, "code": "MB"}]}, "system": "https://payer.example/id",
                 "value": "MBR-SYN-1"}]},
            {"resourceType": "Practitioner", "id": "pr1", "identifier": [
                {"system": "https://ehr.example/staff", "value": "LOCAL-77"},
                {"system": npi_system, "value": "9990000001"}],
             "qualification": [{"code": {"coding": [{"system": fhir.NUCC_SYSTEM, "code": "208VP0014X"}]}}]},
            {"resourceType": "Practitioner", "id": "sup", "identifier": [{"system": fhir.NPI_SYSTEM,
                                                                          "value": "9990000009"}],
             "qualification": [{"code": {"coding": [{"system": fhir.NUCC_SYSTEM, "code": "208VP0014X"}]}}]},
            {"resourceType": "Coverage", "id": "cov", "status": "active", "beneficiary": {"reference": "#pat"},
             "payor": [{"display": "SYNTHETIC payer"}]}],
        "careTeam": team if team is not None else [
            {"sequence": 1, "provider": {"reference": "#pr1"}, "role": {"coding": [{"system": ROLE, "code": "primary"}]}},
            {"sequence": 2, "provider": {"reference": "#sup"},
             "role": {"coding": [{"system": ROLE, "code": "supervisor"}]}}],
        "item": items if items is not None else [item(1, "95990", [1, 2]), item(2, "62367", [1, 2])],
    }


def _lines(claim: dict) -> list[dict]:
    out = fhir.read(json.dumps(claim).encode(), "claim.json").claims
    assert isinstance(out[0], dict), out[0]
    return out[0]["lines"]


def test_npi_under_its_oid_is_the_provider_id_not_the_local_staff_id():
    """The same provider must get the same id from every file, or same-provider edits silently miss."""
    lines = _lines(_claim(npi_system="urn:oid:2.16.840.1.113883.4.6"))
    assert [ln["provider_id"] for ln in lines] == ["9990000001", "9990000001"]


def test_a_supervisor_listed_first_on_an_item_is_not_its_performer():
    team = _claim()["careTeam"]
    del team[0]["role"]  # the performer's member states no team role; the supervisor's does
    claim = _claim(team=team)
    for it in claim["item"]:
        it["careTeamSequence"] = [2, 1]
    assert [ln["provider_id"] for ln in _lines(claim)] == ["9990000001", "9990000001"]


def test_items_without_care_team_sequence_are_performed_by_the_teams_primary_member():
    claim = _claim()
    for it in claim["item"]:
        del it["careTeamSequence"]
    assert [ln["provider_id"] for ln in _lines(claim)] == ["9990000001", "9990000001"]


@pytest.mark.parametrize("code, role", [("Physician", "physician"), ("nurse practitioner", "nurse_practitioner"),
                                         ("NURSE-PRACTITIONER", "nurse_practitioner")])
def test_a_role_code_of_cptkgs_own_system_is_read_in_any_case_as_a_claim_files_role_is(code, role):
    """An audit: 'Physician' in cptkg's provider-role system was refused, in a message listing 'physician'."""
    claim = _claim()
    pr = claim["contained"][1]
    pr["qualification"] = [{"code": {"coding": [{"system": fhir.ROLE_SYSTEM, "code": code}]}}]
    assert {ln["provider_role"] for ln in _lines(claim)} == {role}
    pr["qualification"] = [{"code": {"coding": [{"system": fhir.ROLE_SYSTEM, "code": "surgeon"}]}}]
    with pytest.raises(fhir.ReadError, match="role code 'surgeon'"):
        _lines(claim)


def _verdicts(results):
    return [(r.get("claim_id"), r.get("status"),
             [(ln["line"], ln["status"], sorted(x["rule"] for x in ln.get("reasons", []))) for ln in r.get("lines", [])])
            for r in results]


def test_a_modifier_coded_as_cpt_and_as_a_local_code_is_one_modifier_with_the_claim_json_verdict():
    claim = _claim()
    claim["item"][1]["modifier"] = [{"coding": [{"system": CPT, "code": "59"},
                                                {"system": "https://ehr.example/mod", "code": "59-DISTINCT"}],
                                     "text": "59 Distinct procedural service"}]
    assert _lines(claim)[1]["modifiers"] == ["59"]
    twin = [{"claim_id": "AUD-1", "patient_id": "MBR-SYN-1", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2026-04-15", "provider_id": "9990000001",
         "provider_role": "physician"},
        {"line": 2, "code": "62367", "date_of_service": "2026-04-15", "provider_id": "9990000001",
         "provider_role": "physician", "modifiers": ["59"]}]}]
    got = pipeline.run(json.dumps(claim).encode(), progress=False)
    want = pipeline.run(json.dumps(twin).encode(), progress=False)
    assert got.exit_code != 2 and _verdicts(got.results) == _verdicts(want.results)


def test_a_modifier_given_only_as_text_is_an_error_naming_the_element_not_dropped():
    claim = _claim()
    claim["item"][1]["modifier"] = [{"text": "59"}]
    with pytest.raises(ReadError) as e:
        _lines(claim)
    assert "item 2, element modifier[0]: no coded modifier (only the text '59')" in str(e.value)


def test_an_invalid_claim_in_a_bundle_names_the_element_and_the_date_format_it_wants():
    bad = _claim("AUD-BAD")
    bad["item"][0]["servicedDate"] = "2026-04-15T10:00:00Z"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000b1", "resource": _claim("AUD-OK"),
         "request": {"method": "POST", "url": "Claim"}},
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000b2", "resource": bad,
         "request": {"method": "POST", "url": "Claim"}}]}
    claims = fhir.read(json.dumps(bundle).encode(), "b.json").claims
    assert isinstance(claims[0], dict)
    assert "element item[0].servicedDate: is not a FHIR date (YYYY-MM-DD, without a time)" in str(claims[1])


@pytest.mark.parametrize("doc, words", [
    # a Bundle of other resources: its first invalid resource's missing element was named instead
    ({"resourceType": "Bundle", "type": "collection",
      "entry": [{"resource": {"resourceType": "ExplanationOfBenefit", "id": "x", "status": "active"}}]},
     "the Bundle holds no Claim resources (it holds ExplanationOfBenefit)"),
    ({"resourceType": "Bundle", "type": "collection", "entry": []}, "the Bundle holds no Claim resources (it has no entries)"),
    # a lower-case resourceType was read as claim JSON missing its claim_id
    ({"resourceType": "claim", "id": "C1"}, "resourceType 'claim': cptkg reads a FHIR Claim or a Bundle of Claims "
                                            "(resourceType is written with a capital: 'Claim')"),
    ({"resourceType": "ExplanationOfBenefit", "id": "x"}, "resourceType 'ExplanationOfBenefit': cptkg reads a FHIR Claim"),
])
def test_a_fhir_document_with_no_claim_says_what_it_holds(doc, words):
    from cptkg.io import readers
    from cptkg.knowledge.loader import default_kb

    with pytest.raises(ReadError) as e:
        readers.read(json.dumps(doc).encode(), kb=default_kb())
    assert words in str(e.value), str(e.value)
    assert "claim_id" not in str(e.value) and "Field required" not in str(e.value)


def test_a_parquet_file_given_to_check_says_that_batch_reads_it(tmp_path):
    """check refused a Parquet file as "not a claim file cptkg can read", not saying batch reads it (an audit)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    path = tmp_path / "claims.parquet"
    pq.write_table(pa.table({"claim_id": ["A"], "code": ["95990"]}), path)
    r = CliRunner().invoke(main, ["check", str(path)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "a Parquet file: cptkg batch (and impact) read claim rows from Parquet" in r.stderr
