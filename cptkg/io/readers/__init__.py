"""Claim readers, one module per input format, registered by name.

Each format module (named in ``cptkg.registry``, kind ``reader``) defines ``NAME``, ``detect(data) -> bool`` (is this
content mine?) and ``read(data, source, history=None) -> ReadResult``. The
result is plain claim dicts in the JSON contract of ``cptkg check`` (the
engine's ``cptkg.claims.parse_claims`` validates them), so every format is
judged by the same code. Errors are :class:`ReadError`: one line naming the
file and the row or element.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from cptkg.claims.models import InputError



class ReadError(InputError):
    """A claim file that cannot be read; the message names the row or element."""


class HistoryReadError(ReadError):
    """The history file (``--history``, the explorer's second upload) cannot be read at all.

    Its own type, so that a face names the file the user gave by what the error is about, not by
    reading its text: ``problem`` is the message without the reader's "history file" (which file the
    reader cannot know), and :meth:`named` puts the face's name for it there.
    """

    SOURCE = "history file"

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(f"{self.SOURCE}{problem}")

    def named(self, name: str) -> str:
        return f"{name}{self.problem}"


@dataclass
class ReadResult:
    # the claims, in input order: a claim dict, or (CSV rows, a Claim of a FHIR
    # Bundle) the ReadError that says why that claim cannot be judged; its
    # ``raw`` is the claim as received (None when it could not be built)
    claims: list[dict | InputError]
    was_list: bool = True
    format: str = ""
    # (claim_id, line) of each input row, in input order (CSV), so that the
    # output can have one row per input row in the same order
    row_keys: list[tuple[str, int]] | None = None


_peeked = threading.local()  # while detect() runs: (the bytes, what they parsed to)


def peek_json(data: bytes):
    """The parsed JSON, or None: format detection must never raise.

    Within :func:`detect`, every JSON format's detector asks for the same
    bytes in turn; they are parsed once (10,000 claims: 0.27 s a parse). The
    detectors only read the result.
    """
    import json

    seen = getattr(_peeked, "last", None)
    if seen is not None and seen[0] is data:
        return seen[1]
    try:
        got = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        got = None
    if seen is not None:
        _peeked.last = (data, got)
    return got


def _module(name: str) -> ModuleType:
    from cptkg import registry

    return registry.get("reader", name)


#: the words for content no reader claims, and the formats the readers do read
NOT_CLAIMS = "not a claim file cptkg can read"
EXPECTED = "expected claim JSON, a FHIR Claim or Bundle, claim CSV, or an X12 837P file"


def format_names() -> list[str]:
    """Reader names, in detection order (most specific first)."""
    from cptkg import registry

    return registry.names("reader")


def formats() -> dict[str, ModuleType]:
    return {name: _module(name) for name in format_names()}


def detect(data: bytes) -> str:
    """The name of the format whose reader claims this content."""
    _peeked.last = (None, None)
    try:
        for name, mod in formats().items():
            if mod.detect(data):
                return name
        from cptkg.io.readers.json import fhir_list_problem

        fhir = fhir_list_problem(peek_json(data))
        if fhir:
            raise ReadError(f"input: {fhir}")
        if peek_json(data) == []:
            return "json"  # an empty list of claims: the JSON reader says it is empty (batch called it no claim file)
        if data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") and peek_json(data) is None:
            return "json"  # JSON that does not parse: the JSON reader says why (nested too deeply, line and column)
    finally:
        _peeked.last = None  # the parsed input is not kept past detection
    from cptkg.spreadsheet import wide_text

    wide = wide_text(data[:4])
    if wide:  # UTF-16 text (a spreadsheet's "Unicode Text") reads as no format at all
        raise ReadError(f"input: {wide}")
    from cptkg.claims.columns import CLAIM_OPTIONAL, CLAIM_REQUIRED, HISTORY_REQUIRED, unseparated

    try:  # a claim CSV whose header a spreadsheet wrote with semicolons, or under Excel's "sep=" line
        first = data[:4096].decode("utf-8-sig").splitlines()[0]
    except (UnicodeDecodeError, IndexError):
        first = ""
    # a header naming claim columns (two of them, or a claim id), not any text that happens to hold a semicolon
    low = first.lower()
    named = sum(k in low for k in {"claim", *CLAIM_REQUIRED, *HISTORY_REQUIRED})
    hint = unseparated(first.split(",")) if named >= 2 or "claim" in low or low.startswith("sep=") else None
    if hint:
        raise ReadError(f"input: not a claim CSV as it stands: {hint}")
    if data[:4] == b"PAR1":  # a Parquet file: read by the batch engine only (an auditor was not told where)
        raise ReadError("input: a Parquet file: cptkg batch (and impact) read claim rows from Parquet (cptkg batch "
                        "FILE.parquet -o OUT); check and explain read claim JSON, FHIR, claim CSV or an X12 837P file")
    if data[:4] == b"PK\x03\x04" and b"xl/" in data[:65536]:  # an Excel workbook (.xlsx): what an office brings
        raise ReadError("input: an Excel workbook (.xlsx): cptkg reads claim rows as CSV, not from a workbook; in "
                        f"Excel, File > Save As > CSV UTF-8 (comma delimited), then give that file (its columns: "
                        f"{', '.join(CLAIM_REQUIRED)}, and optionally {', '.join(CLAIM_OPTIONAL)})")
    from cptkg.files import holds_binary

    if holds_binary(data):  # an image, a zip, random bytes: said as such, whatever the file's name
        raise ReadError(f"input: {NOT_CLAIMS}: it holds binary data, not text ({EXPECTED})")
    raise ReadError(f"input: {NOT_CLAIMS} ({EXPECTED})")


def _bytes(source: bytes | str | Path) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, "input"
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and len(source) < 4096
                                   and Path(source).is_file()):
        path = Path(source)
        from cptkg import limits
        from cptkg.files import FileProblem, read_capped

        try:  # at most the cap plus one byte, whatever the file is (cptkg.limits)
            return read_capped(path, limits.MAX_CLAIM_FILE_BYTES, what="a claim file"), str(path)
        except FileProblem as e:
            raise ReadError(str(e)) from None
    return source.encode("utf-8"), "input"


def read(source: bytes | str | Path, input_format: str | None = None,
         history: bytes | str | Path | None = None, kb=None) -> ReadResult:
    """Read claims from a path, text or bytes; the format from the content unless given.

    ``kb`` supplies the family pack's vocabulary a format maps onto (FHIR
    provider taxonomies, say); None means the default KB.
    """
    data, name = _bytes(source)
    hist = _bytes(history)[0] if history is not None else None
    try:
        fmt = input_format or detect(data)
    except ReadError as e:
        raise ReadError(str(e).replace("input:", f"{name}:", 1)) from None
    if fmt not in format_names():
        raise ReadError(f"--input-format must be one of {', '.join(format_names())}, not {fmt!r}")
    module = _module(fmt)
    own_history = getattr(module, "HISTORY_FILE", False)
    try:
        result = module.read(data, name, history=hist if own_history else None, kb=kb)
    except ReadError:
        raise
    except InputError as e:  # e.g. load_json's refusals: every reader error is a ReadError
        raise ReadError(str(e)) from None
    if hist is not None and not own_history:
        attach_history(result.claims, hist)
    result.format = fmt
    return result


def named_input(message: str, path) -> str:
    """A reader's message about its input ("input: ...", "input (Claim F2), ...") naming the file given: what
    check and batch both say of a claim file they cannot read."""
    import re

    if re.match(r"input[:, (]", message):
        return f"{path}{message[len('input'):]}"
    return message


def attach_history(claims: list, history: bytes) -> None:
    """Add a history file's rows to the claims of their patients, in place (``--history FILE``).

    One history file, one layout (the claim CSV's: patient_id, code,
    date_of_service, provider_id) for every claim format, as docs/interop.md
    promises: claim JSON, FHIR and X12 claims get the rows of their patient
    after the history they carry themselves (a claim's own ``history``, a
    Bundle's Procedures). A bad history row of a patient makes that patient's
    claims error entries naming the row (judged without it, a duplicate
    would pass); a bad row naming no patient could be anyone's, so it makes
    every claim one. A claim reader already refused stays as it was.
    """
    from cptkg.claims.models import patient_key
    from cptkg.io.readers.csv import _history

    by_patient, bad, unattributed = _history(history)  # keyed by patient_key
    for i, claim in enumerate(claims):
        if not isinstance(claim, dict):
            continue
        pid = patient_key(claim.get("patient_id"))
        cid = claim.get("claim_id")
        why = unattributed or (bad.get(pid) if isinstance(pid, str) else None)
        if why:
            whose = "the history file" if why is unattributed else "the patient's history"
            shown = f"claim {cid[:60]}: " if isinstance(cid, str) and cid else ""
            err = ReadError(f"{shown}{whose} cannot be read ({why})", cid if isinstance(cid, str) else None)
            err.raw = claim
            err.request = getattr(claim, "request", None)  # a FHIR Claim's own reference or identifier
            # the lines it gave, each answered with the error (an 837P's 18 lines came back as 17 rows: an audit)
            from cptkg.claims.models import _lines_given

            err.lines = _lines_given(claim)
            claims[i] = err
            continue
        rows = by_patient.get(pid) if isinstance(pid, str) else None
        if not rows:
            continue
        own = claim.get("history")
        if own is None:
            claim["history"] = [dict(r) for r in rows]
        elif isinstance(own, list):
            claim["history"] = own + [dict(r) for r in rows]
        # any other 'history' is the claim's own mistake: the claim parser names it


def read_claims(source: bytes | str | Path, input_format: str | None = None,
                history: bytes | str | Path | None = None, kb=None) -> list[dict]:
    """Claim dicts (issue-2 JSON contract) from any supported format."""
    return read(source, input_format, history, kb).claims
