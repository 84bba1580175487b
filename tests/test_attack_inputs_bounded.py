"""Issue 21, finding 7: every input is read with a cap, standard input and special files included.

A reader reads at most its cap plus one byte (cptkg.files.read_capped), so a
device that never ends (/dev/zero), a FIFO, standard input or a symbolic link to
any of them is refused in one line naming the file and the limit; a size check
before the read (which a link or a FIFO passes with size 0) is not enough.

In-process tests feed a FIFO from a thread with a few megabytes and lower the cap
(cptkg.limits is read at call time), so a reader without a cap reads a finite
amount and the test fails instead of exhausting memory. The few subprocess tests
read the real /dev/zero under an address-space limit and a timeout.
"""
from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cptkg import limits
from cptkg.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
CAP = 256 * 1024  # the cap the in-process tests set
FEED = 3 * CAP    # what the FIFO offers: more than the cap, finite


def one_line(r, code=2):
    assert r.exit_code == code, (r.exit_code, r.output)
    err = r.stderr.strip()
    assert err and len(err.splitlines()) == 1 and "Traceback" not in r.output, r.output
    return err


@contextlib.contextmanager
def fifo_fed(path: Path, nbytes: int = FEED, byte: bytes = b"\0"):
    """A FIFO at ``path`` that a thread feeds ``nbytes`` bytes (then end of file)."""
    os.mkfifo(path)
    chunk = byte * 65536

    def feed():
        try:
            fd = os.open(path, os.O_WRONLY)  # waits for the reader
        except OSError:
            return
        try:
            sent = 0
            while sent < nbytes:
                sent += os.write(fd, chunk[:min(len(chunk), nbytes - sent)])
        except BrokenPipeError:
            pass  # the reader stopped at its cap
        finally:
            os.close(fd)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        yield path
    finally:
        if t.is_alive():  # nobody opened it for reading: release the writer
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass
        t.join(10)


@pytest.fixture
def small_caps(monkeypatch):
    for name in ("MAX_CLAIM_FILE_BYTES", "MAX_ENCOUNTER_BYTES", "MAX_QUERY_FILE_BYTES", "MAX_RDF_BYTES"):
        monkeypatch.setattr(limits, name, CAP, raising=False)


def assert_names_the_limit(err: str, name: str):
    assert name in err, err
    assert f"{CAP:,} bytes" in err, err


@pytest.mark.parametrize("command", ["check", "explain"])
def test_a_claim_fifo_is_read_only_up_to_the_cap(tmp_path, small_caps, command):
    with fifo_fed(tmp_path / "claims.json") as fifo:
        err = one_line(CliRunner().invoke(main, [command, str(fifo)]))
    assert_names_the_limit(err, "claims.json")


def test_a_symlink_to_a_claim_fifo_is_read_only_up_to_the_cap(tmp_path, small_caps):
    with fifo_fed(tmp_path / "fifo") as fifo:
        (tmp_path / "link.json").symlink_to(fifo)
        err = one_line(CliRunner().invoke(main, ["check", str(tmp_path / "link.json")]))
    assert_names_the_limit(err, "link.json")


def test_claims_on_standard_input_are_read_only_up_to_the_cap(small_caps):
    err = one_line(CliRunner().invoke(main, ["check", "-"], input=b"\0" * FEED))
    assert "standard input" in err and f"{CAP:,} bytes" in err, err


def test_a_file_just_under_the_cap_is_still_read(tmp_path, small_caps):
    claim = {"claim_id": "C1", "patient_id": "P1", "lines": [
        {"line": 1, "code": "62367", "date_of_service": "2025-03-04", "provider_id": "D", "provider_role": "physician"}]}
    text = json.dumps(claim)
    text += " " * (CAP - len(text))  # exactly the cap
    (tmp_path / "c.json").write_text(text)
    r = CliRunner().invoke(main, ["check", str(tmp_path / "c.json"), "--json"])
    assert r.exit_code in (0, 1), r.output
    assert json.loads(r.stdout)["claim_id"] == "C1"


def test_a_history_fifo_is_read_only_up_to_the_cap(tmp_path, small_caps):
    with fifo_fed(tmp_path / "history.csv", byte=b"a") as fifo:
        err = one_line(CliRunner().invoke(main, ["check", str(ROOT / "examples/claims.csv"), "--history", str(fifo)]))
    assert_names_the_limit(err, "history.csv")


def test_a_history_that_is_a_device_is_read_as_its_content_not_as_its_name(tmp_path):
    # before: a path that is not a regular file was taken as CSV text ("/dev/null" became the history's header)
    r = CliRunner().invoke(main, ["check", str(ROOT / "examples/claims.csv"), "--history", "/dev/null"])
    err = one_line(r)
    assert "/dev/null" in err and "empty" in err, err


def test_an_encounter_fifo_is_read_only_up_to_the_cap(tmp_path, small_caps):
    with fifo_fed(tmp_path / "enc.json") as fifo:
        err = one_line(CliRunner().invoke(main, ["infer", str(fifo)]))
    assert_names_the_limit(err, "enc.json")


def test_query_data_through_a_symlink_is_read_only_up_to_the_cap(tmp_path, small_caps):
    with fifo_fed(tmp_path / "fifo", byte=b"#") as fifo:
        (tmp_path / "link.ttl").symlink_to(fifo)
        err = one_line(CliRunner().invoke(main, ["query", "ASK {}", "--data", str(tmp_path / "link.ttl")]))
    assert_names_the_limit(err, "link.ttl")


def test_a_query_file_fifo_and_a_query_on_standard_input_are_read_only_up_to_the_cap(tmp_path, small_caps):
    with fifo_fed(tmp_path / "q.rq", byte=b"#") as fifo:
        err = one_line(CliRunner().invoke(main, ["query", "--file", str(fifo)]))
    assert_names_the_limit(err, "q.rq")
    err = one_line(CliRunner().invoke(main, ["query", "--file", "-"], input=b"#" * FEED))
    assert "standard input" in err and f"{CAP:,} bytes" in err, err


def test_batch_refuses_a_device_or_a_symlink_to_one_as_input(tmp_path):
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    err = one_line(CliRunner().invoke(main, ["batch", str(tmp_path / "zero.csv"), "-o", str(tmp_path / "v.csv")]))
    assert "zero.csv" in err
    assert not (tmp_path / "v.csv").exists()


def test_a_folder_or_a_missing_file_is_one_line_in_every_reader(tmp_path):
    for args in (["check", str(tmp_path)], ["infer", str(tmp_path)], ["check", str(tmp_path / "nope.json")],
                 ["query", "--file", str(tmp_path / "nope.rq")]):
        one_line(CliRunner().invoke(main, args))


def test_the_caps_are_stated_once_in_limits():
    assert limits.MAX_CLAIM_FILE_BYTES >= 57_400_275  # 1,000,000 CSV rows of devtools/claimgen (MAX_CSV_ROWS)
    assert limits.MAX_ENCOUNTER_BYTES >= 1024 * 1024
    assert limits.MAX_QUERY_FILE_BYTES >= 4 * 100_000  # MAX_QUERY_CHARS of UTF-8


# -- the real attack: /dev/zero, under an address-space limit and a timeout (a reader without a cap
# -- fails with MemoryError within a second or two instead of exhausting the machine)
def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))


@pytest.mark.parametrize("args, stdin", [
    (["check", "/dev/zero"], None),
    (["check", "-"], "/dev/zero"),
    (["query", "ASK {}", "--data", "{tmp}/zero.ttl"], None),
], ids=["check-dev-zero", "check-stdin-dev-zero", "query-data-symlink-to-dev-zero"])
def test_dev_zero_is_refused_at_the_cap_in_one_line(tmp_path, args, stdin):
    (tmp_path / "zero.ttl").symlink_to("/dev/zero")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with open(stdin or os.devnull, "rb") as inp:
        p = subprocess.run([sys.executable, "-m", "cptkg", *args], stdin=inp, capture_output=True, text=True,
                           timeout=60, cwd=ROOT, preexec_fn=_limited)
    err = p.stderr.strip()
    assert p.returncode == 2, err[-2000:]
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err[-2000:]
    assert "bytes" in err and "limit" in err, err


@pytest.mark.parametrize("args", [
    ["check", "{fifo}"], ["check", "{claims}", "--history", "{fifo}"], ["infer", "{fifo}"],
    ["query", "--file", "{fifo}"], ["edits", "import", "ptp", "{fifo}", "-o", "{out}", "--imported", "2025-01-01"],
])
def test_a_fifo_nobody_writes_to_is_one_line_after_a_wait_not_a_hang(tmp_path, monkeypatch, args):
    """open() of a FIFO with no writer waited for ever (check, infer, --history, query --file, edits import)."""
    import os as _os
    import time as _time

    import cptkg.files

    from click.testing import CliRunner

    from cptkg.faces.cli import main

    monkeypatch.setattr(cptkg.files, "FIFO_WAIT_SECONDS", 0.3)
    fifo = tmp_path / "in.fifo"
    _os.mkfifo(fifo)
    claims = Path(__file__).resolve().parents[1] / "examples" / "claims.csv"
    argv = [a.format(fifo=fifo, claims=claims, out=tmp_path / "out.ttl") for a in args]
    t = _time.monotonic()
    r = CliRunner().invoke(main, argv)
    assert _time.monotonic() - t < 10
    assert r.exit_code == 2, r.output
    assert "is a pipe nothing was written to within 0.3 s" in r.output
    assert "Traceback" not in r.output


def test_check_refuses_more_claims_than_it_keeps_in_memory_and_points_at_batch(tmp_path):
    """100,000 one-line claims (a 4.3 MB CSV) peaked at 1.5 GB in check, which keeps every result until it writes
    them; a file near the byte cap would have needed some 20 GB (an attack audit). Past MAX_CHECK_CLAIMS, one line,
    exit 2, naming batch."""
    from click.testing import CliRunner

    from cptkg import limits
    from cptkg.faces.cli import main

    n = limits.MAX_CHECK_CLAIMS + 1
    rows = "".join(f"C{i},P{i},1,95990,2025-03-04,N1,physician,1,\n" for i in range(n))
    path = tmp_path / "many.csv"
    path.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role,units,modifiers\n" + rows,
                    encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(path), "--output", "csv"])
    assert r.exit_code == 2 and r.stdout == ""
    assert f"{n:,} claims: cptkg check and explain judge at most {limits.MAX_CHECK_CLAIMS:,} claims a run" in r.stderr
    assert "cptkg batch" in r.stderr


def test_public_api_check_and_explain_refuse_more_claims_than_a_run_keeps(monkeypatch):
    """The cap held in the CLI and the explorer's Batch page only; ``cptkg.check`` (the integrators' door)
    judged any number of claims, keeping every result. Lowered here so the test judges none."""
    import pytest

    import cptkg
    from cptkg import limits

    monkeypatch.setattr(limits, "MAX_CHECK_CLAIMS", 3)
    claim = {"claim_id": "C1", "patient_id": "P1", "lines": [
        {"line": 1, "code": "95990", "date_of_service": "2025-03-04", "provider_id": "N1", "provider_role": "physician",
         "units": 1}]}
    for door in (cptkg.check, cptkg.explain):
        with pytest.raises(cptkg.InputError, match=r"input: 4 claims: cptkg check and explain judge at most 3 "):
            door([dict(claim, claim_id=f"C{i}") for i in range(4)])
    assert [r["status"] for r in cptkg.check([dict(claim, claim_id=f"C{i}") for i in range(3)])] == ["accepted"] * 3
