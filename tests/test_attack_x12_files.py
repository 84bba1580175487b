"""Issue 22, an auditor's real-shaped 837P files: what practice-management systems and
clearinghouses actually send (files wrapped at 80 columns, a line break as the segment
terminator with blank lines, DOS end-of-file padding, a doubled terminator) must read as the
guide's loops say, and what cannot be read must be named in one line by segment and position.

The fixtures (tests/data/x12/audit/, all values SYNTHETIC) are written in the loop order of the
005010X222A1 guide with the loops a real claim carries: 1000A PER with three numbers, 2010AA
N3 with two lines and PER, 2010AB pay-to, 2010BA N3/N4/DMG, 2010BB N3/N4/REF*G2, 2300 CLM with
CLM05 11:B:1, DTP 431/454/304, REF*G1 and REF*D9, NTE, HI ABK/ABF, 2310A referring, 2310B
rendering with PRV, 2310C facility, 2320/2330A/2330B other payer, 2400 SV1 with SV107 pointers,
DTP*472 D8 and a one-day RD8, REF*6R, NTE, 2410 LIN*N4/CTP for J0475 KD, 2420A with PRV, 2420E
ordering, 2430 SVD/CAS/DTP*573; dependant 2000C; several claims per subscriber, transaction,
group and interchange.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg.faces.cli import main
from cptkg.io import readers
from cptkg.io.readers import ReadError

AUDIT = Path(__file__).parent / "data" / "x12" / "audit"

# what the guide's loops say the all-loops claim is (SYNTHETIC values, read off the file)
CLAIM_1 = {"claim_id": "SYN-CLM-1", "patient_id": "MBR-SYN-77", "lines": [
    {"line": 1, "code": "95990", "date_of_service": "2025-03-05", "provider_id": "1245319599",  # 2310B
     "provider_role": "nurse_practitioner", "units": 1},
    {"line": 2, "code": "J0475", "date_of_service": "2025-03-05", "provider_id": "1222222220",  # 2420A, RD8 of one day
     "provider_role": "physician", "units": 2, "modifiers": ["KD"]}]}


def _read(name: str):
    return readers.read(AUDIT / name).claims


def _refusal(name: str) -> str:
    with pytest.raises(ReadError) as e:
        readers.read(AUDIT / name)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.mark.parametrize("name", ["all-loops-wrapped-80.x12", "eof-padding.x12", "double-terminator.x12"])
def test_every_layout_a_sender_uses_reads_every_claim_of_the_all_loops_file(name):
    """Wrapped at 80 columns with CRLF (X12 RFI 28: line breaks are not X12 characters), a DOS
    end-of-file mark after the last IEA, a doubled terminator: pyx12 alone refuses each (or stops
    reading and reports the IEA the file has as missing)."""
    claims = _read(name)
    assert claims[0] == CLAIM_1
    assert len(claims) == 2 and not isinstance(claims[1], dict)
    assert claims[1].claim_id == "SYN-CLM-2" and "loop 2010AA" in str(claims[1])


def test_a_newline_terminated_file_with_blank_lines_gives_every_claim_of_every_interchange():
    claims = _read("many-claims-newline-terminated-blank-lines.x12")
    assert [c["claim_id"] for c in claims] == ["A-1", "A-2", "B-1", "C-1", "D-1", "E-1", "F-1"]
    by_id = {c["claim_id"]: c for c in claims}
    assert by_id["B-1"]["patient_id"] == "MBR-B/KID/ANN/20150101"  # the 2000C dependant
    # C-1: 2420A overrides 2310B for line 1; line 2's 2420A has no PRV, its NPI's taxonomy is 2310B's
    assert [(ln["provider_id"], ln["provider_role"]) for ln in by_id["C-1"]["lines"]] == [
        ("1245319599", "nurse_practitioner"), ("1222222220", "physician")]
    assert by_id["F-1"]["patient_id"] == "MBR-F"  # the second interchange, after blank lines


def test_the_wrapped_file_gets_the_verdicts_of_the_same_claim_as_claim_json(tmp_path):
    src = tmp_path / "claim.json"
    src.write_text(json.dumps([CLAIM_1]))
    r = CliRunner()
    as_json = r.invoke(main, ["check", str(src), "--output", "csv", "--route", "intrathecal"])
    as_x12 = r.invoke(main, ["check", str(AUDIT / "all-loops-wrapped-80.x12"), "--output", "csv",
                             "--route", "intrathecal"])
    assert as_x12.exit_code == 2, as_x12.output  # SYN-CLM-2 cannot be judged: an error row, not dropped
    rows = [ln for ln in as_x12.stdout.splitlines() if ln.startswith("SYN-CLM-")]
    want = [ln for ln in as_json.stdout.splitlines() if ln.startswith("SYN-CLM-1")]
    assert want and [ln for ln in rows if ln.startswith("SYN-CLM-1,")] == want
    assert [ln for ln in rows if ln.startswith("SYN-CLM-2,")][0].split(",")[3] == "error"


@pytest.mark.parametrize("name, words", [
    ("latin1-name.x12", ["byte 710 (0xC9)", "segment 20 of the file (NM1)"]),
    ("cut-short.x12", ["transaction is closed (SE), after segment 50 (NTE)"]),
    ("trailing-separators.x12", ["segment 13 of the file (REF), loop 2010AA",
                                 "separators of empty elements at the end of a segment must be left out"]),
    ("iea-control-mismatch.x12", ["segment 70 of the file", "IEA02 (000004712)", "ISA13 (000004711)"]),
    ("second-interchange-other-separators.x12", ["segment 66 (ISA)", "other separators", "'|'"]),
    # a hostile-files audit: these were refused as a bad CLM05 and as a file cut short
    ("second-interchange-other-component-separator.x12", ["segment 31 (ISA)", "other separators",
                                                          "'>' between components"]),
    ("second-interchange-other-terminator.x12", ["segment 31 (ISA)", "other separators", "not ended by '~'"]),
])
def test_a_file_that_cannot_be_read_is_one_line_naming_the_segment_and_its_position(name, words):
    msg = _refusal(name)
    for w in words:
        assert w in msg, msg


def test_two_dependants_whose_parts_hold_a_slash_are_two_patients():
    """A hostile-files audit: child "A/B, C" of member M1 and child "B, C" of member "M1/A" were both patient
    M1/A/B/C/20150101, so one history row denied both; a '/' inside a part is written escaped."""
    from cptkg.io.readers.x12 import _Walk

    w = _Walk.__new__(_Walk)
    w.member, w.dependant = "M1", {"last": "A/B", "first": "C", "dob": "20150101"}
    one = w._patient()
    w.member, w.dependant = "M1/A", {"last": "B", "first": "C", "dob": "20150101"}
    assert one != w._patient()
    assert one == "M1/A\\/B/C/20150101" and w._patient() == "M1\\/A/B/C/20150101"
