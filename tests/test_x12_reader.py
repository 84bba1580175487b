"""X12 837P claims in (issue 22, part 3): detected from ISA, validated by pyx12 against
005010X222A1, mapped loop by loop onto the claim contract, and judged like claim JSON.

Every file here is SYNTHETIC, built by devtools/x12_build.py from the guide's loop
structure (or read from tests/data/x12, built the same way)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg import pipeline
from cptkg.cases import load_cases
from cptkg.faces.cli import main
from cptkg.io import readers
from cptkg.io.readers import ReadError
from cptkg.knowledge.pack import case_files
from devtools.x12_build import build

DATA = Path(__file__).parent / "data" / "x12"
ONE = DATA / "one-claim.x12"
MANY = DATA / "three-claims-two-interchanges.x12"
DEPENDANT = DATA / "dependant-patient.x12"
CASES = case_files(Path(__file__).parent.parent / "kb" / "pump", "claim")
NPI_A, NPI_B, NPI_C = "1234567893", "1669999993", "1538888882"  # SYNTHETIC NPIs


def L(n, code, npi=NPI_A, role="physician", date="2025-03-04", **kw):
    return dict(line=n, code=code, date_of_service=date, provider_id=npi, provider_role=role, **kw)


def C(cid, *lines, patient="MBR-SYN-01", **x12):
    c = {"claim_id": cid, "patient_id": patient, "lines": list(lines)}
    if x12:
        c["x12"] = x12
    return c


def read(text: str) -> list:
    return readers.read(text.encode(), kb=None).claims


def errors(claims) -> dict:
    return {c.claim_id: str(c) for c in claims if not isinstance(c, dict)}


def run(args, data=None):
    return CliRunner().invoke(main, args, input=data)


# ------------------------------------------------------------------ detection
def test_837p_is_detected_from_its_isa_segment_even_after_a_bom_and_blank_lines():
    text = ONE.read_bytes()
    assert readers.detect(text) == "x12"
    assert readers.detect(b"\xef\xbb\xbf\r\n  " + text) == "x12"


@pytest.mark.parametrize("data", [b"ISAAC,claim_id,code\n1,2,3\n", b'{"claim_id": "ISA*"}', b"GS*HC*A~"])
def test_content_that_does_not_begin_with_an_isa_segment_is_not_taken_for_x12(data):
    from cptkg.io.readers import x12

    assert not x12.detect(data)


def test_input_format_x12_forces_the_reader_and_names_what_is_missing():
    with pytest.raises(ReadError, match="must begin with an ISA segment"):
        readers.read(b'{"claim_id": "C"}', input_format="x12")


# ------------------------------------------------------------------ mapping
def test_one_claim_maps_loop_by_loop_to_the_claim_contract():
    r = readers.read(ONE)
    assert r.format == "x12" and r.was_list
    assert r.claims == [{"claim_id": "PCN-1001", "patient_id": "MBR-SYN-01", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": NPI_A,
         "provider_role": "nurse", "units": 1, "modifiers": ["KD"]},
        {"line": 2, "code": "95990", "date_of_service": "2025-03-04", "provider_id": NPI_A,
         "provider_role": "nurse", "units": 1}]}]


def test_a_file_on_one_line_with_crlf_or_without_line_breaks_reads_the_same():
    text = ONE.read_text()
    assert read(text.replace("\n", "")) == read(text) == read(text.replace("\n", "\r\n"))


def test_spaces_after_a_segment_terminator_are_layout_as_line_breaks_are():
    # "~  " then a line break, or records padded with spaces: nothing of X12 stands before a segment's id
    text = ONE.read_text().replace("\n", "")
    padded = "".join(seg + "~" + " " * (3 + i % 5) + ("\r\n" if i % 2 else "")
                     for i, seg in enumerate(text.split("~")[:-1]))
    assert read(padded) == read(text)
    assert read(text.replace("~", "~\t")) == read(text)


def test_claims_of_every_interchange_group_and_transaction_are_read_in_file_order():
    claims = readers.read(MANY).claims
    assert [c["claim_id"] for c in claims] == ["PCN-2001", "PCN-2002", "PCN-2003"]
    assert MANY.read_text().count("ISA*") == 2 and MANY.read_text().count("ST*837*") == 3


def test_several_claims_in_one_transaction_each_under_its_subscriber():
    claims = read(build([C("A", L(1, "62370"), patient="M-1"), C("B", L(1, "62362"), patient="M-2"),
                         C("D", L(1, "62369"), patient="M-1")]))
    assert [(c["claim_id"], c["patient_id"]) for c in claims] == [("A", "M-1"), ("B", "M-2"), ("D", "M-1")]


def test_a_dependant_patient_is_the_member_id_with_the_2010CA_name_and_birth_date():
    [claim] = readers.read(DEPENDANT).claims
    assert claim["patient_id"] == "MBR-SYN-04/SYNTHETIC/CHILD/20150615"
    # the same dependant in another file (another claim, name in other case) is the same patient
    again = read(build([C("Z", L(1, "62362"), patient="MBR-SYN-04")]))
    other = read(build([{"claim_id": "Z", "patient_id": "MBR-SYN-04", "lines": [L(1, "62362")],
                         "x12": {"patient": {"last": "synthetic", "first": "child", "dob": "20150615"}}}]))
    assert other[0]["patient_id"] == claim["patient_id"]
    assert again[0]["patient_id"] == "MBR-SYN-04"  # the subscriber: another patient
    sibling = read(build([{"claim_id": "Y", "patient_id": "MBR-SYN-04", "lines": [L(1, "62362")],
                           "x12": {"patient": {"last": "Synthetic", "first": "Twin", "dob": "20150615"}}}]))
    assert sibling[0]["patient_id"] != claim["patient_id"]


def test_line_rendering_provider_2420A_overrides_2310B_for_its_line_only():
    text = build([C("R", L(1, "62370", NPI_A, "physician"), L(2, "95990", NPI_B, "nurse", x12_2420A=True),
                    L(3, "62369", NPI_A, "physician"), rendering="2310B")])
    assert text.count("NM1*82*") == 2  # 2310B once, 2420A for line 2
    [claim] = read(text)
    assert [(ln["provider_id"], ln["provider_role"]) for ln in claim["lines"]] == [
        (NPI_A, "physician"), (NPI_B, "nurse"), (NPI_A, "physician")]


def test_the_billing_provider_performs_when_the_claim_names_no_rendering_provider():
    text = build([C("B", L(1, "62370", NPI_C, "nurse_practitioner"), rendering="billing")])
    assert "NM1*82*" not in text and "PRV*BI*PXC*363L00000X" in text
    [claim] = read(text)
    assert claim["lines"][0]["provider_id"] == NPI_C and claim["lines"][0]["provider_role"] == "nurse_practitioner"


def test_a_group_billing_provider_with_no_rendering_provider_leaves_the_performer_unidentified():
    text = build([C("G", L(1, "62370"))]).replace("NM1*82*1*SYNTHETIC*PROVIDER****XX*" + NPI_A + "~\n", "")
    text = text.replace("PRV*PE*PXC*208VP0014X~\n", "")
    text = re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) - 2}*", text)
    [err] = read(text)
    assert isinstance(err, ReadError) and err.claim_id == "G"
    assert "performer cannot be identified" in str(err) and "organisation" in str(err)


@pytest.mark.parametrize("loop", ["2310B", "2420A"])
def test_a_rendering_provider_that_is_an_organisation_leaves_the_performer_unidentified(loop):
    # a group NPI does not tell who did the service: judged on the group's taxonomy, a 62370 was accepted
    text = build([C("O", L(1, "62370", NPI_A, "physician", x12_2420A=loop == "2420A"),
                    rendering="2310B" if loop == "2310B" else "billing")])
    assert text.count("NM1*82*1*") == 1
    [err] = read(text.replace("NM1*82*1*", "NM1*82*2*"))
    assert isinstance(err, ReadError) and err.claim_id == "O"
    assert f"the rendering provider in loop {loop}" in str(err) and "is an organisation (NM102 = 2)" in str(err)


def test_modifiers_and_units_come_from_sv1():
    [claim] = read(build([C("M", L(1, "62370", modifiers=["59", "KD", "76", "XU"], units=3))]))
    assert claim["lines"][0]["modifiers"] == ["59", "KD", "76", "XU"] and claim["lines"][0]["units"] == 3
    assert "SV1*HC:62370:59:KD:76:XU*100*UN*3" in build([C("M", L(1, "62370", modifiers=["59", "KD", "76", "XU"],
                                                                 units=3))])


def test_a_whole_decimal_count_of_units_is_that_count():
    text = build([C("U", L(1, "62370", units=2))]).replace("*UN*2*", "*UN*2.0*")
    assert read(text)[0]["lines"][0]["units"] == 2


@pytest.mark.parametrize("change,words", [
    (("*UN*1*", "*UN*1.5*"), "SV104 '1.5'"),
    (("*UN*1*", "*UN*0*"), "SV104 '0' (segment"),   # a whole number, but no units billed
    (("*UN*1*", "*UN*0*"), "bills no units: a line bills at least 1 unit"),
    (("*UN*1*", "*UN*99999*"), "SV104 '99999' (segment"),
    (("*UN*1*", "*UN*99999*"), "at most 10,000 units are judged on one line"),
    (("*UN*1*", "*MJ*1*"), "SV103 is 'MJ'"),
    (("SV1*HC:", "SV1*WK:"), "qualifier 'WK'"),
    (("DTP*472*D8*20250304", "DTP*472*RD8*20250304-20250306"), "range 20250304-20250306"),
    # an audit: "-1" read "not a whole number", and a range ending before it starts was advised as a range
    (("*UN*1*", "*UN*-1*"), "SV104 '-1' (segment"),
    (("*UN*1*", "*UN*-1*"), "is negative: a line bills at least 1 unit"),
    (("DTP*472*D8*20250304", "DTP*472*RD8*20250306-20250304"), "which ends before it starts"),
])
def test_a_line_that_cannot_be_judged_is_its_claims_error_naming_the_line_and_the_others_are_read(change, words):
    text = build([C("OK1", L(1, "62370")), C("BAD", L(1, "62362"), L(2, "62370"))])
    head, _, tail = text.partition("CLM*BAD")
    tail = tail.replace(*change, 1)
    claims = read(head + "CLM*BAD" + tail)
    assert isinstance(claims[0], dict)
    assert errors(claims).keys() == {"BAD"}
    assert words in errors(claims)["BAD"] and "claim BAD, line 1" in errors(claims)["BAD"]


def test_the_other_lines_of_a_claim_with_a_bad_sv1_say_which_line_kept_it_from_being_judged():
    # an audit: each row of the claim repeated line 2's error, as if every line had it
    text = build([C("BAD", L(1, "62362"), L(2, "62370"), L(3, "95990"))])
    head, _, tail = text.partition("SV1*HC:62370")
    out = pipeline.run(head + "SV1*HC:62370" + tail.replace("*UN*1*", "*UN*1.5*", 1), output="csv")
    rows = [r.split(",", 4) for r in out.text.splitlines()[1:]]
    assert [r[1:4] for r in rows] == [["1", "62362", "error"], ["2", "62370", "error"], ["3", "95990", "error"]]
    assert rows[0][4].startswith(",claim not judged because line 2 has an error")
    assert rows[2][4].startswith(",claim not judged because line 2 has an error")
    assert "SV104 '1.5'" in rows[1][4]


def test_junk_bytes_are_no_segment_name_in_the_words_of_a_file_that_is_not_text():
    text = build([C("J", L(1, "62370"))]).encode()
    cut = text.index(b"SV1*")
    with pytest.raises(ReadError) as e:
        readers.read(text[:cut] + b"\x0f\x01\xd6" + text[cut:], kb=None)
    # the segment is named by its number alone: "(\\x0f\\x01)" read as its name
    assert re.search(r"in segment \d+ of the file, is not ASCII or UTF-8 text", str(e.value)), str(e.value)


def test_a_clm01_given_twice_is_the_later_claims_error_in_x12_words():
    text = build([C("PCN-1", L(1, "62370")), C("OK", L(1, "62370")), C("PCN-1", L(1, "62362"))])
    claims = read(text)
    assert isinstance(claims[0], dict) and isinstance(claims[1], dict)
    err = str(claims[2])
    assert err.startswith("claim PCN-1 (CLM01, loop 2300, segment ") and "has the same CLM01" in err
    assert "field claim_id" not in err and "the list" not in err  # not the words of claim JSON


def test_batch_gives_each_line_of_a_repeated_clm01_an_error_row_naming_its_line_and_code(tmp_path):
    text = build([C("PCN-1", L(1, "62370")), C("PCN-1", L(1, "62369"), L(2, "95991")), C("OK", L(1, "62362"))])
    src, out = tmp_path / "dup.837", tmp_path / "out.csv"
    src.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["batch", str(src), "-o", str(out)])
    assert res.exit_code == 2, res.output
    import csv

    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [(r["status"], r["line"], r["code"]) for r in rows] == [
        ("accepted", "1", "62370"), ("error", "1", "62369"), ("error", "2", "95991"), ("accepted", "1", "62362")]
    # the repeated claim's rows keep no claim id (batch would join them to the first claim's) but say whose
    assert rows[1]["claim_id"] == "" and "has the same CLM01" in rows[1]["error"] and "PCN-1" in rows[1]["error"]


def test_a_repeated_lx01_is_named_in_the_guides_words_not_pyx12s():
    text = build([C("A", L(1, "62370"), L(2, "62362"))]).replace("LX*2~", "LX*1~")
    with pytest.raises(ReadError) as e:
        read(text)
    assert "LX01 is 1 but this is service line 2 of the claim" in str(e.value)
    assert "Your" not in str(e.value) and "my count" not in str(e.value)


def test_a_one_day_rd8_range_is_that_day():
    text = build([C("D", L(1, "62370"))]).replace("DTP*472*D8*20250304", "DTP*472*RD8*20250304-20250304")
    assert read(text)[0]["lines"][0]["date_of_service"] == "2025-03-04"


def test_a_claim_level_dtp_472_is_refused_because_an_837p_has_none_in_loop_2300():
    text = build([C("D", L(1, "62370"))]).replace("HI*ABK:G8929~\n", "HI*ABK:G8929~\nDTP*472*D8*20250304~\n")
    text = re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + 1}*", text)
    with pytest.raises(ReadError) as e:
        read(text)
    assert "(DTP), loop 2300" in str(e.value) and "DTP*472 is not one the 837P allows" in str(e.value)


# ------------------------------------------------------------------ providers and roles
def test_an_unknown_taxonomy_is_that_claims_error_naming_the_code_and_the_loop_and_the_others_are_read():
    claims = read(build([C("A", L(1, "62370")),
                         C("B", L(1, "62370"), L(2, "95990", NPI_B, "nurse", taxonomy="390200000X"))]))
    assert isinstance(claims[0], dict)
    why = errors(claims)["B"]
    assert "390200000X" in why and "loop 2420A" in why and "PRV03" in why and "claim B, line 2" in why


def test_no_taxonomy_at_all_says_the_role_cannot_be_told_and_where_it_was_looked_for():
    [err] = read(build([C("T", L(1, "62370", taxonomy=None))]))
    assert "role cannot be told" in str(err) and "loop 2310B" in str(err)


def test_a_loop_without_taxonomy_takes_the_one_the_claim_gives_for_the_same_npi():
    text = build([C("S", L(1, "62370", NPI_A, "physician"), L(2, "95990", NPI_A, "physician", x12_2420A=True,
                                                               taxonomy=None), rendering="2310B")])
    [claim] = read(text)
    assert claim["lines"][1]["provider_role"] == "physician"


def test_a_rendering_provider_without_npi_cannot_be_identified():
    text = build([C("N", L(1, "62370"))]).replace("****XX*" + NPI_A, "")
    [err] = read(text)
    assert "performer cannot be identified" in str(err) and "no NPI" in str(err) and "2310B" in str(err)


# ------------------------------------------------------------------ invalid files
def _resegment(text: str, delta: int) -> str:
    return re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + delta}*", text)


@pytest.mark.parametrize("mutate,expected", [
    (lambda t: t.replace("SE*", "SE*9", 1), r"transaction 0001 \(ST/SE.*SE01 says the transaction has 9\d+ segments"),
    (lambda t: _resegment(t.replace("N3*1 SYNTHETIC ST~\n", ""), -1),
     r"loop 2010AA \(Billing Provider Name\), before segment 11 of the file \(N4\): the required segment N3"),
    (lambda t: t.replace("005010X222A1", "005010X223A2"), r"GS08: version '005010X223A2' is an 837 institutional"),
    (lambda t: t.replace("005010X222A1", "004010X098A1"), r"GS08: version '004010X098A1' is an 837P of the retired"),
    (lambda t: t.replace("*00501*", "*00401*"), r"ISA12: version '00401'"),
    (lambda t: t.replace("LX*2~", "XX*2~"), r"segment \d+ of the file \(XX\), loop 2400"),
    (lambda t: t.replace("D8*20250304", "D8*20250231", 1), r"element DTP03 .*20250231. is not a real date written CCYYMMDD"),
    (lambda t: t.replace("GE*1*", "GE*2*"), r"functional group 1 \(GS/GE\): GE01 says the group has 2"),
    (lambda t: t.replace("ST*837*", "ST*835*"), r"ST01: '835' is not 837"),
])
def test_a_file_pyx12_finds_invalid_is_refused_whole_naming_the_segment_and_loop(mutate, expected):
    text = mutate(ONE.read_text())
    with pytest.raises(ReadError) as e:
        read(text)
    assert re.search(expected, str(e.value)), str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("segment, loop", [
    ("HI*ABK:G8929~\n", r"loop 2300 \(Claim Information\), before segment \d+ of the file \(NM1\): the required "
                        r"segment HI"),
    ("SBR*P*18*******CI~\n", r"loop 2000B \(Subscriber Hierarchical Level\), before segment \d+ of the file "
                             r"\(NM1\): the required segment SBR"),
])
def test_a_missing_required_segment_is_said_in_the_loop_it_belongs_to_not_the_next_one(segment, loop):
    """pyx12 notices a missing HI at the next segment: the message named "loop 2310B (Rendering Provider
    Name)", or 2400 without a 2310B, sending the operator to the wrong loop (an audit)."""
    text = ONE.read_text()
    assert segment in text
    with pytest.raises(ReadError) as e:
        read(text.replace(segment, ""))
    assert re.search(loop, str(e.value)), str(e.value)
    assert "2310B" not in str(e.value)


def test_a_file_without_bht_says_bht_is_missing_not_a_pyx12_loop_name():
    """An 837P with no BHT read "loop ST_LOOP: segment NM1*41 is not one the 837P allows" (pyx12's name for
    the transaction header; an audit): BHT is named, and the header part in the guide's words."""
    text = _resegment(re.sub(r"BHT\*[^~]*~\n?", "", ONE.read_text(), count=1), -1)
    with pytest.raises(ReadError) as e:
        read(text)
    said = str(e.value)
    assert re.search(r"segment 4 of the file \(NM1\): the required segment BHT \(Beginning of Hierarchical "
                     r"Transaction\) is missing; the 837P puts it right after ST", said), said
    assert "ST_LOOP" not in said and "HEADER" not in said


def test_an_invalid_file_is_exit_2_with_one_line_and_no_pyx12_log_lines(tmp_path):
    bad = tmp_path / "bad.x12"
    bad.write_text(_resegment(ONE.read_text().replace("N3*1 SYNTHETIC ST~\n", ""), -1))
    r = run(["check", str(bad)])
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.output
    assert r.stderr.startswith(f"cptkg: {bad}: not a valid 837P") and "loop 2010AA" in r.stderr


def test_pyx12_maps_are_built_once_and_a_file_read_after_an_invalid_one_reads_as_before(monkeypatch):
    """The reader keeps pyx12's built maps (0.2 s a file otherwise); a map shared by every file must keep
    nothing of the file before: an invalid file between two reads changes neither read nor refusal."""
    import pyx12.map_if._loader as loader

    good, bad = ONE.read_text(), _resegment(ONE.read_text().replace("N3*1 SYNTHETIC ST~\n", ""), -1)
    first = read(good)
    with pytest.raises(ReadError) as refused:
        read(bad)
    builds = []
    real_build = loader.map_if
    monkeypatch.setattr(loader, "map_if", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    again = read(good)
    with pytest.raises(ReadError) as refused_again:
        read(bad)
    assert repr(again) == repr(first) and json.dumps(again, default=str) == json.dumps(first, default=str)
    assert str(refused_again.value) == str(refused.value)
    assert builds == []  # both maps came from the first read


def test_a_file_with_more_segments_than_the_cap_is_refused_before_it_is_parsed(monkeypatch):
    from cptkg import limits

    monkeypatch.setattr(limits, "MAX_X12_SEGMENTS", 10)
    with pytest.raises(ReadError, match="segments; cptkg check reads at most 10 segments"):
        readers.read(ONE)


def test_bytes_that_are_not_text_are_refused_naming_the_byte():
    with pytest.raises(ReadError, match="byte"):
        readers.read(ONE.read_bytes().replace(b"SYNTHETIC CLINIC", b"SYNTHETIC \xff CLINIC"), input_format="x12")


# ------------------------------------------------------------------ the CLI, every output
@pytest.mark.parametrize("args,check", [
    ([], lambda out: json.loads(out)[0]["claim_id"] == "PCN-1001"),
    (["--json"], lambda out: json.loads(out)[0]["lines"][0]["status"] == "rejected"),
    (["--output", "text"], lambda out: "Claim PCN-1001: REJECTED" in out),
    (["--output", "csv"], lambda out: out.splitlines()[1].startswith("PCN-1001,1,62367,rejected")),
    (["--output", "fhir"], lambda out: json.loads(out)["entry"][0]["resource"]["resourceType"] == "ClaimResponse"),
    (["--output", "html"], lambda out: "PCN-1001" in out and out.lstrip().startswith("<!DOCTYPE html>")),
    (["--explain"], lambda out: "proof" in json.dumps(json.loads(out)[0])),
    (["--input-format", "x12", "--output", "text", "--explain"], lambda out: "Denied" in out),
])
def test_cli_check_reads_837p_for_every_output(args, check):
    r = run(["check", str(ONE), *args])
    assert r.exit_code == 1, r.output
    assert check(r.stdout)


def test_cli_explain_and_decision_log_take_837p(tmp_path):
    r = run(["explain", str(ONE), "--line", "1", "--output", "text"])
    assert r.exit_code == 1 and "62367" in r.stdout
    log = tmp_path / "log.jsonl"
    r = run(["check", str(MANY), "--log", str(log)])
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["claim_id"] for e in entries] == ["PCN-2001", "PCN-2002", "PCN-2003"]
    assert all(e["patient"].startswith("sha256:") for e in entries)


def test_cli_judges_the_other_claims_when_one_has_an_unknown_taxonomy(tmp_path):
    f = tmp_path / "mixed.837"
    f.write_text(build([C("A", L(1, "62370")), C("B", L(1, "62370", taxonomy="390200000X"))]))
    r = run(["check", str(f), "--json"])
    assert r.exit_code == 2
    out = {x["claim_id"]: x for x in json.loads(r.stdout)}
    assert out["A"]["status"] == "accepted" and out["B"]["status"] == "error"
    assert "390200000X" in out["B"]["error"]


def test_history_file_goes_with_837p_input(tmp_path):
    hist = tmp_path / "history.csv"
    hist.write_text(f"patient_id,code,date_of_service,provider_id\nMBR-SYN-01,62370,2025-03-04,{NPI_A}\n")
    f = tmp_path / "dup.x12"
    f.write_text(build([C("H", L(1, "62370"), patient="MBR-SYN-01")]))
    without = run(["check", str(f), "--json"])
    with_history = run(["check", str(f), "--json", "--history", str(hist)])
    assert without.exit_code == 0
    assert with_history.exit_code == 1, with_history.output  # the same service already billed: a duplicate


# ------------------------------------------------------------------ same verdicts as claim JSON
def _cases():
    out = []
    for case in load_cases(CASES):
        given = case.get("given") or {}
        lines = given.get("lines") or []
        if "error" in (case.get("expect") or {}) or not lines:
            continue
        if any(set(ln) - {"line", "code", "date_of_service", "provider_id", "provider_role", "units", "modifiers"}
               for ln in lines):
            continue  # a route or another field an 837P line does not carry
        out.append(pytest.param(case, id=case["name"][:60]))
    # every 8th case keeps this file fast (16 of 128 cases, 5 s); all 128 agreed when this was written (38 s)
    return out[::8]


def _verdicts(results):
    return [(ln["line"], ln["status"], sorted(r["rule"] for r in ln.get("reasons", []))) for r0 in results
            for ln in r0["lines"]]


@pytest.mark.parametrize("case", _cases())
def test_an_837p_gets_the_verdicts_of_the_same_claim_in_json(case):
    from cptkg.knowledge.loader import default_kb

    kb = default_kb()
    claim = case["given"]
    [from_x12] = readers.read(build([claim]).encode(), kb=kb).claims
    assert isinstance(from_x12, dict), str(from_x12)
    if claim.get("history"):
        from_x12["history"] = claim["history"]  # what --history FILE attaches
    as_json = pipeline.judge(kb, [json.loads(json.dumps(claim))])
    as_x12 = pipeline.judge(kb, [from_x12])
    assert _verdicts(as_x12) == _verdicts(as_json)
    assert as_x12[0]["status"] == as_json[0]["status"]


@pytest.mark.parametrize("mutate,expected", [
    (lambda t: t.replace("GS*HC*", "GE*1*1~\nGS*HC*", 1), r"segment 2 \(GE\) comes inside an interchange \(ISA\) but outside"),
    (lambda t: t[:t.index("GE*")], r"the file ends before its functional group is closed \(GE\)"),
    (lambda t: t.replace("BHT*", "SE*2*0001~\nBHT*", 1), r"\(BHT\) comes inside a functional group \(GS\) but outside a transaction"),
])
def test_envelopes_that_do_not_nest_are_refused_naming_the_segment(mutate, expected):
    with pytest.raises(ReadError) as e:
        read(mutate(ONE.read_text()))
    assert re.search(expected, str(e.value)), str(e.value)


def test_a_segment_longer_than_any_837p_segment_is_refused_before_it_is_split():
    text = ONE.read_text().replace("NM1*41*2*SYNTHETIC SUBMITTER", "NM1*41*2*" + "*" * 5000)
    with pytest.raises(ReadError, match=r"segment 5 of the file \(NM1…\) is 5,0\d\d characters long"):
        read(text)


def _with_frequency(text: str, claim_id: str, code: str) -> str:
    start = text.index(f"CLM*{claim_id}*")
    seg = text[start:text.index("~", start)]
    parts = seg.split("*")
    parts[5] = parts[5].rsplit(":", 1)[0] + ":" + code  # CLM05-3, the claim frequency type code
    return text.replace(seg, "*".join(parts))


def test_a_void_claim_is_its_own_error_entry_and_a_replacement_is_judged_in_full():
    from devtools import x12_build

    base = {"patient_id": "SYNTH-M1", "lines": [{"line": 1, "code": "62367", "date_of_service": "2025-03-04",
                                                 "provider_id": "1234567893", "provider_role": "physician"}]}
    text = x12_build.build([dict(base, claim_id="ORIG-1"), dict(base, claim_id="VOID-1", patient_id="SYNTH-M2"),
                            dict(base, claim_id="REPL-1", patient_id="SYNTH-M3")])
    text = _with_frequency(_with_frequency(text, "VOID-1", "8"), "REPL-1", "7")
    out = readers.read(text.encode(), "x12")
    orig, void, repl = out.claims
    assert isinstance(orig, dict) and isinstance(repl, dict)
    assert isinstance(void, ReadError) and void.claim_id == "VOID-1"
    assert "CLM05-3 = 8" in str(void) and "voids an earlier claim" in str(void)


def test_the_explorers_upload_reads_an_837p_as_check_does():
    from cptkg.faces.explorer.checker import uploaded_claims
    from cptkg.knowledge.loader import default_kb
    from devtools import x12_build

    claim = {"claim_id": "UP-1", "patient_id": "SYNTH-M9", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "1234567893",
         "provider_role": "nurse", "modifiers": []}]}
    kb = default_kb()
    got = uploaded_claims(kb, x12_build.build([claim]).encode())
    assert got == readers.read(x12_build.build([claim]).encode(), kb=kb).claims
    assert [(c["claim_id"], c["lines"][0]["code"], c["lines"][0]["provider_role"]) for c in got] == [
        ("UP-1", "95990", "nurse")]


@pytest.mark.parametrize("at, char, words", [
    (104, "*", "the component separator (ISA16) is '*', the same as the element separator (ISA character 4)"),
    (82, "*", "the repetition separator (ISA11) is '*', the same as the element separator (ISA character 4)"),
    (104, "^", "the component separator (ISA16) is '^', the same as the repetition separator (ISA11)"),
    (82, "~", "the segment terminator (ISA character 106) is '~', the same as the repetition separator (ISA11)"),
    (104, "A", "the component separator (ISA16) is 'A'; a delimiter cannot be a letter, a digit or a space"),
    (82, " ", "the repetition separator (ISA11) is ' '; a delimiter cannot be a letter, a digit or a space"),
])
def test_an_interchange_whose_delimiters_collide_is_refused_naming_both(at, char, words):
    """Two ISA delimiters alike split every element two ways; such files were refused for a missing version,
    an ISA of too few elements or a place of service "11:B:1" too long (an attack audit)."""
    text = (DATA / "one-claim.x12").read_text(encoding="utf-8")
    assert text[3] == "*" and text[82] == "^" and text[104] == ":" and text[105] == "~"
    with pytest.raises(ReadError) as e:
        read(text[:at] + char + text[at + 1:])
    assert f"segment 1 (ISA): {words}" in str(e.value), str(e.value)


@pytest.mark.parametrize("old, new, words", [
    ("HL*2*1*22*0~", "HL*1*1*22*0~",
     "HL01 is 1 but this is hierarchical level 2 of the transaction; the 837P numbers its HL levels 1, 2, 3"),
    ("SV1*HC:95990*", "SV1*HC:\uff19\uff15\uff19\uff19\uff10*",
     "'\uff19\uff15\uff19\uff19\uff10' holds a character SV101-02 (Procedure Code) does not take: it takes letters "
     "A-Z, digits 0-9"),
    ("CLM*PCN-1001*", "CLM*PCN-1001 *", "'PCN-1001 ' ends with spaces: X12 elements carry none at the end"),
    # a hostile-files audit: "'1.' holds a character ... it takes a number (digits, one '.', ...)" named no fault
    ("SV1*HC:95990*100*UN*1*", "SV1*HC:95990*100*UN*1.*",
     "'1.' ends with a decimal point: SV104 (Service Unit Count) takes a '.' only before digits; write '1'"),
    ("DTP*472*D8*20250304~", "DTP*472*D8*20250230~", "'20250230' is not a real date written CCYYMMDD; then segment"),
])
def test_pyx12s_own_sentences_are_said_in_the_guides_terms(old, new, words):
    """pyx12 talked to itself ("My HL count 2 does not match your HL count 1", "is type AN, contains an invalid
    character") and a count said there was a second problem without saying it (an inputs audit)."""
    text = ONE.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ReadError) as got:
        read(text.replace(old, new))
    said = str(got.value)
    assert words in said, said
    assert "My HL count" not in said and "is type AN" not in said and "unnecessary" not in said


@pytest.mark.parametrize("mutate, words", [
    (lambda t: re.sub(r"(?m)^GS\*", "gs*", t, count=1), "segment 2 (gs): a segment id is written in capitals (GS)"),
    (lambda t: re.sub(r"(?m)^CLM\*", "clm*", t, count=1), "(clm): a segment id is written in capitals (CLM)"),
    (lambda t: "isa" + t[3:], "segment 1 (isa): a segment id is written in capitals (ISA)"),
    (lambda t: t.replace("SYNTHSUBMIT    ", "SYNTHSUBMIT", 1),
     "segment 1 (ISA): the ISA segment must be exactly 106 characters, its fields padded"),
])
def test_a_lowercase_segment_id_or_an_unpadded_isa_is_said_for_what_it_is(mutate, words):
    """A real-files audit: "gs" read as "segment 2 comes inside an interchange but outside a functional group",
    and an ISA with unpadded fields led with its segment terminator."""
    text = ONE.read_text(encoding="utf-8")
    changed = mutate(text)
    assert changed != text
    with pytest.raises(ReadError) as e:
        read(changed)
    assert words in str(e.value), str(e.value)


@pytest.mark.parametrize("was, now", [("SV1*HC:95990*", "SV1*HC:95990:::*"), ("SV1*HC:95990*", "SV1*HC:95990:*")])
def test_a_composite_ending_with_empty_components_is_refused_as_trailing_separators_are(was, now):
    """A security audit: SV1*HC:95990::: was read, where the guide's "Absence of Data" (B.1.1.3.10) says the
    separators of empty data at the end must be left out, and the reader refuses REF*EI*999999999*~ for it."""
    text = build([C("CLM-SYN-T", L(1, "95990"))])
    assert was in text
    with pytest.raises(ReadError, match=r"element SV101: 'HC:95990:+' ends with empty components \(a component "
                                        r"separator ':' at its end\)"):
        read(text.replace(was, now, 1))
