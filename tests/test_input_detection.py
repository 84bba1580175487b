"""A file that is empty, or no claim format at all, is named as such: "not valid JSON" would
send the user looking for a JSON mistake in an 837P or a binary file."""
from __future__ import annotations

import subprocess
import sys

import pytest


def _check(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cptkg", "check", str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("content", [b"", b"   \r\n\t", b"\xef\xbb\xbf\n"])
def test_an_empty_file_is_named_empty(tmp_path, content):
    f = tmp_path / "claims.x12"
    f.write_bytes(content)
    run = _check(f)
    assert run.returncode == 2
    assert "is empty" in run.stderr and "not valid JSON" not in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary", b"%PDF-1.7 not a claim", b"GS*HC*X~ST*837~"])
def test_a_file_of_no_claim_format_says_which_formats_are_read(tmp_path, content):
    f = tmp_path / "claims.dat"
    f.write_bytes(content)
    run = _check(f)
    assert run.returncode == 2
    assert "not a claim file cptkg can read" in run.stderr and "X12 837P" in run.stderr
    assert "not valid JSON" not in run.stderr


def test_broken_json_still_gets_the_json_message_with_its_position(tmp_path):
    f = tmp_path / "claim.json"
    f.write_text('{"claim_id": "C1",\n  "lines": [')
    run = _check(f)
    assert run.returncode == 2 and "not valid JSON (line 2" in run.stderr
