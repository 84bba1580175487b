"""``cptkg batch`` on the claim files billing offices and payers exchange: X12 837P, FHIR, claim JSON.

``cptkg batch`` judges claim-line rows (CSV or Parquet) with the rules
compiled to SQL. An 837P or a FHIR Bundle is not rows: its claims are read by
the same readers as ``cptkg check`` (``cptkg.io.readers``), validated by the
same parser (``pipeline.parse``: the claims check judges and the words it
refuses the others in), and written as the claim CSV rows batch reads, into a
private temporary folder removed afterwards. So batch and check judge the
same claims, and batch's verdicts stay its own contract (columns, exit codes).

Why a claim refused by the reader or the parser still gets a row: nothing
the user gave is silently dropped. It takes one row per line it gave (its
line number and code as far as the reader could read them; one row when it
gave none), in file order with the others, and
:func:`cptkg.judge.batch.run_batch` writes each as an error naming the claim
and the problem (its ``refused`` argument): rows out = the file's lines, as
``cptkg check --output csv`` writes a refused claim's ``lines_not_judged``.

History: a claim's own (FHIR Procedures of its patient, claim JSON
``history``) followed by the ``--history`` file's rows of its patient, exactly
as ``cptkg check`` attaches them (``readers.attach_history``: a bad history row
makes that patient's claims errors naming the row). Batch applies history per
patient, check per claim, so each distinct (patient, history) gets a patient
key of its own in the temporary files; the patient id is in no batch output
column nor in any rule's message (kb/pump/rules/claim.dl).

It is a layer of its own, under the faces and the public API and over the
pipeline: the readers (``cptkg.io``) and the claim parser are above the
judging layer that ``cptkg.judge.batch`` belongs to, and ``cptkg batch`` and
``cptkg.run_batch`` both judge a file through :func:`run`, so the API reads
every file the command reads (it refused claim JSON: an integrator's audit).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from cptkg import spreadsheet
from cptkg.claims.columns import CLAIM_OPTIONAL, CLAIM_REQUIRED, HISTORY_OPTIONAL, HISTORY_REQUIRED
from cptkg.judge.batch import BatchInputError

#: how far into a file the format is looked for (an ISA segment is 106 characters; JSON opens with { or [)
SNIFF_BYTES = 4096
ROW_SUFFIXES = (".parquet", ".pq")  # always rows: never sniffed (binary)
LINE_COLUMNS = list(CLAIM_REQUIRED + CLAIM_OPTIONAL)  # the rows written for batch, as its reader reads them
HISTORY_COLUMNS = list(HISTORY_REQUIRED + HISTORY_OPTIONAL)
#: characters a claim CSV cell cannot hold unchanged: batch's CSV reader reads one record per line
LINE_BREAKS = ("\n", "\r")


@dataclass
class ClaimRows:
    """A claim file rewritten as claim rows (paths inside a private temporary folder)."""

    claims: Path
    history: Path | None
    format: str  # the reader's name: x12, fhir, json
    claims_in: int  # claims in the file, refused ones included
    refused: dict[int, str] = field(default_factory=dict)  # row -> why its claim is not judged
    seconds: float = 0.0  # reading, validating and writing the rows


def is_claim_document(path) -> bool:
    """Is INPUT an 837P or a JSON claim document (FHIR, claim JSON) rather than rows?

    By content, as ``cptkg check`` detects formats: an interchange begins with
    ISA and its element separator (cptkg.io.readers.x12.detect), JSON with
    ``{`` or ``[``. A claim-row file never does: its first line is the header
    naming claim_id. Parquet files are rows by their name (and binary). A file
    that cannot be opened is left to batch's own checks, which name the problem.
    """
    from cptkg.io.readers import x12

    if Path(path).suffix.lower() in ROW_SUFFIXES:
        return False
    try:
        if not Path(path).is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    if x12.detect(head):
        return True
    if Path(path).suffix.lower() not in (".csv", ".txt"):
        # not named as rows: the claim readers say what the file is (UTF-16 text, JSON that holds no claims,
        # an unknown format) where "unknown file type '.json'" misled (an attack audit)
        return True
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip()[:1] in (b"{", b"[")


class ClaimDocumentError(BatchInputError):
    """An input or history file that cannot be read at all: one line naming it and the problem (a
    ``BatchInputError``, the one family ``cptkg.run_batch`` raises for a file it cannot judge)."""


def _history_bytes(path) -> bytes:
    """``--history FILE`` as claim CSV bytes, under the claim file cap (what ``cptkg check`` reads it with).

    A Parquet history is turned into the same CSV: text columns as they are, a
    date column as YYYY-MM-DD; any other type is refused naming the column, as
    a typed value where text belongs is never read as its text (docs/batch.md,
    "Value types").
    """
    from cptkg import limits
    from cptkg.files import FileProblem, read_capped

    if Path(path).suffix.lower() not in ROW_SUFFIXES:
        try:
            return read_capped(path, limits.MAX_CLAIM_FILE_BYTES, what="a history file",
                               hint="with an 837P or FHIR input the history is read whole; give only the "
                                    "history of the file's patients")
        except FileProblem as e:
            raise ClaimDocumentError(f"--history {e}") from None
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        if pf.metadata.num_rows > limits.MAX_CSV_ROWS:
            raise ClaimDocumentError(f"--history {path}: {pf.metadata.num_rows:,} rows; with an 837P or FHIR input "
                                     f"the history is read whole, at most {limits.MAX_CSV_ROWS:,} rows (give only "
                                     f"the history of the file's patients)")
        table = pf.read()
    except (OSError, pa.ArrowException) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        from cptkg.files import parquet_problem

        raise ClaimDocumentError(f"--history {path}: {parquet_problem(first)}") from None
    cols = []
    for name, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_date(t):
            col = col.cast(pa.string())
        elif not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
            if spreadsheet.column_key(name) in HISTORY_COLUMNS:
                raise ClaimDocumentError(f"--history {path}: column {spreadsheet.column_key(name)} holds {t}; it must hold "
                                         f"text (an id or code stored as a number loses its leading zeros)")
            continue  # a column the history does not read
        cols.append((name, col.cast(pa.string())))
    buf = io.BytesIO()
    pacsv.write_csv(pa.table({n: c for n, c in cols}), buf)
    data = buf.getvalue()
    if len(data) > limits.MAX_CLAIM_FILE_BYTES:
        raise ClaimDocumentError(f"--history {path}: over the limit of {limits.MAX_CLAIM_FILE_BYTES // 2 ** 20} MiB "
                                 f"as a history file; with an 837P or FHIR input the history is read whole (give "
                                 f"only the history of the file's patients)")
    return data


def _file_problem(e: Exception, history_path, input_path=None) -> str:
    """A reader's refusal of the whole file; a history file's is named by the path given (the reader cannot),
    and a claim file's "input: ..." by its path, as check names it."""
    from cptkg.io.readers import HistoryReadError, named_input

    if isinstance(e, HistoryReadError):
        message = e.named(f"--history {history_path}")
    else:
        message = str(e) if input_path is None else named_input(str(e), input_path)
    return " ".join(message.split())


def _unwritable(claim) -> str | None:
    """Why a valid claim cannot be written as claim rows unchanged (None: it can).

    A claim CSV cell holds no line break and loses surrounding spaces: a claim
    id ' A' would be judged as claim 'A', a provider ' P1' as 'P1'; judged so,
    batch could give another verdict than ``cptkg check``, so the claim is an
    error row instead. (A modifier is two letters or digits, never holding what
    separates modifiers in a cell: the claim model refuses any other.)
    """
    who = f"claim {_shown(claim.claim_id)}"

    def bad(value, where: str) -> str | None:
        if value is None:
            return None
        if any(b in value for b in LINE_BREAKS):
            return f"{where}: holds a line break"
        if value != value.strip():
            return f"{where}: {_shown(value)!r} begins or ends with spaces"
        return None

    problem = bad(claim.claim_id, f"{who}, field claim_id")
    for ln in claim.lines:
        where = f"{who}, line {ln.line}"
        problem = problem or bad(ln.provider_id, f"{where}, field provider_id") or bad(ln.route, f"{where}, field route")
    for i, h in enumerate(claim.history, start=1):
        problem = problem or bad(h.provider_id, f"{who}, history entry {i}, field provider_id")
    if problem is None:
        return None
    return (f"{problem}; cptkg batch judges claims as claim rows, which cannot hold that value unchanged "
            f"(correct the value, or judge the file with cptkg check)")


def _shown(text: str) -> str:
    from cptkg.claims.models import SHOWN_ID, one_line

    return one_line(str(text)[:SHOWN_ID])


def _cell(value) -> str:
    return "" if value is None else str(value)


@contextmanager
def claim_rows(input_path, history_path, kb) -> Iterator[ClaimRows]:
    """The claims of an 837P, FHIR or claim JSON file as claim rows in a private temporary folder.

    The folder (mode 0700, tempfile.mkdtemp) is removed on leaving, error or
    not. Raises :class:`ClaimDocumentError` for a file that cannot be read.
    """
    import time

    t0 = time.perf_counter()
    from cptkg import limits
    from cptkg.io import readers
    from cptkg.claims.models import InputError
    from cptkg.pipeline import parse

    size = Path(input_path).stat().st_size
    if size > limits.MAX_CLAIM_FILE_BYTES:  # read whole by its reader: the cap of cptkg check
        raise ClaimDocumentError(f"{input_path}: over the limit of {limits.MAX_CLAIM_FILE_BYTES // 2 ** 20} MiB for a "
                                 f"claim file ({size:,} bytes); split the file, or give cptkg batch claim rows "
                                 f"(CSV or Parquet), which it streams at any size")
    hist = _history_bytes(history_path) if history_path else None
    try:
        read = readers.read(Path(input_path), None, hist, kb=kb)
        fmt, parsed = read.format, parse(kb, read.claims)
    except (InputError, ValueError) as e:  # ReadError is an InputError: the file cannot be read at all
        entry = getattr(e, "claim_entry", None)
        if entry is None:
            raise ClaimDocumentError(_file_problem(e, history_path, input_path)) from None
        # a FHIR Claim alone that cannot be judged: its error row for each item, as a Bundle's Claim gets
        fmt, parsed = "fhir", [entry]
    folder = Path(tempfile.mkdtemp(prefix="cptkg-batch-in-"))
    try:
        yield _write(folder, fmt, parsed, t0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write(folder: Path, fmt: str, parsed: list, t0: float) -> ClaimRows:
    import time

    from cptkg.claims.models import InputError

    checked = []
    for c in parsed:
        why = None if isinstance(c, InputError) else _unwritable(c)
        if why:
            # its lines were read: each keeps its row with its number and code (one blank row stood for
            # a claim of any number of lines: a batch audit)
            err = InputError(why, c.claim_id)
            err.lines = [{"line": ln.line, "code": ln.code} for ln in c.lines]
            checked.append(err)
        else:
            checked.append(c)
    judged_ids = {c.claim_id for c in checked if not isinstance(c, InputError)}
    patients: dict[tuple, str] = {}  # (patient id, history) -> the patient key of the temporary files
    claims_csv = folder / "claims.csv"
    history_csv = folder / "history.csv"
    refused: dict[int, str] = {}
    row = 0
    with open(claims_csv, "w", newline="", encoding="utf-8") as fh, \
            open(history_csv, "w", newline="", encoding="utf-8") as hh:
        w, hw = spreadsheet.data_writer(fh), spreadsheet.data_writer(hh)
        w.writerow(LINE_COLUMNS)
        hw.writerow(HISTORY_COLUMNS)
        for c in checked:
            if isinstance(c, InputError):
                row += 1
                cid = c.claim_id if isinstance(c.claim_id, str) else ""
                # the id stays in its column unless a judged claim has it too (batch would not judge that
                # one either) or it cannot be a cell unchanged; the message names the claim in either case
                if cid in judged_ids or cid != cid.strip() or any(b in cid for b in LINE_BREAKS):
                    cid = ""
                # a value in the patient column: a record of blank values only is no line to the reader
                # (as to check's); the reader's refusal is the row's error whatever the row holds
                # one row per line the claim gave (its number and code as far as they could be read), as
                # check's CSV writes lines_not_judged: rows in = the file's lines, none dropped unseen
                why = " ".join(str(c).split()) or "the claim cannot be read"
                given_lines = getattr(c, "lines", None) or [{"line": "", "code": ""}]
                # the error is in one line: the claim's other lines say so, as check's CSV and a claim CSV's
                # rows do (each repeated line 1's error as its own: a security audit)
                bad = [g for g in given_lines if g.get("has_error")]
                numbers = [g.get("line") for g in given_lines]
                from cptkg.claims.models import one_line as _one_line

                named = c.claim_id if isinstance(c.claim_id, str) and c.claim_id.strip() else None
                other = (f"claim {_one_line(named)[:60]}: claim not judged because line {bad[0]['line']} has an error"
                         if named and len(bad) == 1 and bad[0].get("line") not in ("", None)
                         and numbers.count(bad[0]["line"]) == 1 else None)
                for n, given in enumerate(given_lines):
                    if n:
                        row += 1
                    shown = [_cell(given.get(k)) for k in ("line", "code")]
                    shown = ["" if any(b in v for b in LINE_BREAKS) else v for v in shown]
                    w.writerow([cid, "(claim refused)", *shown] + [""] * (len(LINE_COLUMNS) - 4))
                    refused[row] = other if other and not given.get("has_error") else why
                continue
            history = tuple((h.code, h.date_of_service, h.provider_id) for h in c.history)
            key = patients.get((c.patient_id, history))
            if key is None:
                key = patients[(c.patient_id, history)] = f"patient-{len(patients) + 1}"
                for code, dos, provider in history:
                    hw.writerow([key, code, dos, _cell(provider)])
            for ln in c.lines:
                row += 1
                w.writerow([c.claim_id, key, ln.line, ln.code, ln.date_of_service, ln.provider_id, ln.provider_role,
                            ln.units, ";".join(ln.modifiers), _cell(ln.route)])
    has_history = any(h for _, h in patients)
    if not has_history:
        os.unlink(history_csv)
    return ClaimRows(claims=claims_csv, history=history_csv if has_history else None, format=fmt,
                     claims_in=len(checked), refused=refused, seconds=time.perf_counter() - t0)


@dataclass
class Judged:
    """A judged file's summary (``cptkg.judge.batch.Summary``) and, for a claim document, how it was read."""

    summary: object
    claims_in: int | None = None
    format: str | None = None


def run(input_path, output_path, history_path=None, *, kb, engine: str = "duckdb", progress=None,
        timeout: float | None = None, route: str | None = None) -> Judged:
    """Judge every claim line of ``input_path`` into ``output_path``: claim rows (CSV, Parquet) streamed by
    the batch engine; an 837P, FHIR or claim JSON file read as check reads it, its claims as rows.
    Raises ``BatchInputError``, ``BatchTimeout`` or :class:`ClaimDocumentError` in billing words."""
    from cptkg.judge.batch import BatchInputError, BatchTimeout, history_kind, run_batch
    from cptkg.limits import BATCH_SECONDS, MIN_TIME_LIMIT_SECONDS

    if not is_claim_document(input_path):  # claim rows (CSV, Parquet): streamed, as always
        return Judged(run_batch(input_path, output_path, history_path, engine=engine, kb=kb, progress=progress,
                                timeout=timeout, route=route))
    for p in filter(None, [input_path, history_path]):
        if Path(output_path).exists() and Path(output_path).resolve() == Path(p).resolve():
            raise BatchInputError(f"-o {output_path}: is the input file {p}; the verdicts would overwrite it")
    if history_path:
        history_kind(history_path)  # the history is claim-row history (.csv or .parquet) whatever INPUT is
    if progress:
        progress("reading claims")
    with claim_rows(input_path, history_path, kb) as rows:
        limit = BATCH_SECONDS if timeout is None else timeout
        left = max(limit - rows.seconds, MIN_TIME_LIMIT_SECONDS)  # reading the file counts against the limit
        try:
            summary = run_batch(rows.claims, output_path, rows.history, engine=engine, kb=kb, progress=progress,
                                timeout=left, refused=rows.refused, route=route)
        except BatchTimeout as e:
            raise BatchTimeout(str(e).replace(f"time limit of {left:g} s", f"time limit of {limit:g} s "
                                              f"(reading the file took {rows.seconds:.1f} s of it)")) from None
    summary.seconds += rows.seconds  # the run's time includes reading the file
    return Judged(summary, rows.claims_in, rows.format)
