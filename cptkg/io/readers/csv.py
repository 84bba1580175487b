"""Claim CSV: one claim line per row, claims grouped by ``claim_id``.

Columns: ``claim_id, patient_id, line, code, date_of_service, provider_id,
provider_role, units, modifiers, route`` (``units`` defaults to 1; ``modifiers``
are separated by spaces, semicolons or '|'; ``route`` is optional). Rows of one claim need not be
adjacent. An optional history file has ``patient_id, code,
date_of_service[, provider_id]`` and gives every claim of that patient its
billed history. Each row is validated on its own, so an error names the
row as well as the claim, line and field. Rows are numbered from the first
row after the header (row 1), as ``cptkg batch`` numbers them.
"""
from __future__ import annotations

import csv as _csv
import io
import re
from collections import Counter

from cptkg.judge.input import MODIFIER_SEPARATORS, WHOLE_NUMBER, InputError, parse_claim
from cptkg.io.readers import ReadError, ReadResult
from cptkg.limits import MAX_CSV_COLUMNS, MAX_CSV_ROWS

NAME = "csv"
REQUIRED = ("claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role")
OPTIONAL = ("units", "modifiers", "route")
HISTORY_REQUIRED = ("patient_id", "code", "date_of_service")
MAX_ROWS = MAX_CSV_ROWS


def _text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ReadError(f"{source}: not UTF-8 text (byte {e.start})") from None


def _header(text: str) -> list[str]:
    first = text.splitlines()[0] if text.strip() else ""
    return [h.strip().lower() for h in next(_csv.reader([first]), [])]


def detect(data: bytes | object) -> bool:
    if not isinstance(data, bytes):
        return False
    try:
        head = _header(data[:4096].decode("utf-8-sig", errors="replace"))
    except _csv.Error:
        return False
    return "claim_id" in head and "code" in head


def _rows(text: str, source: str, required: tuple[str, ...]):
    reader = _csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
    if reader.fieldnames is None:
        raise ReadError(f"{source}: empty file, expected a header row with {', '.join(required)}")
    if len(reader.fieldnames) > MAX_CSV_COLUMNS:
        raise ReadError(f"{source}, header: {len(reader.fieldnames):,} columns; a claim file has at most "
                        f"{MAX_CSV_COLUMNS:,} (the format needs {len(REQUIRED) + len(OPTIONAL)})")
    fields = [(f or "").strip().lower() for f in reader.fieldnames]
    missing = [c for c in required if c not in fields]
    if missing:
        raise ReadError(f"{source}, header: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    counts = Counter(f for f in fields if f)  # one pass: the reader stays linear in the columns
    dupes = sorted(f for f, n in counts.items() if n > 1)
    if dupes:
        raise ReadError(f"{source}, header: column {dupes[0]} appears twice")
    reader.fieldnames = fields
    try:
        # rows are numbered as cptkg batch numbers them (its ``row`` column):
        # row 1 is the first row after the header
        for n, row in enumerate(reader, start=1):
            if n > MAX_ROWS:
                raise ReadError(f"{source}: more than {MAX_ROWS} rows")
            if None in row:
                raise ReadError(f"{source}, row {n}: the record does not have one field per column (more values than columns)")
            if all((v or "").strip() == "" for v in row.values()):
                continue  # blank line
            yield n, {k: (v or "").strip() for k, v in row.items() if k}
    except _csv.Error as e:
        raise ReadError(f"{source}, row {max(reader.line_num - 1, 1)}: {e}") from None


def _int(value: str, where: str, field: str) -> int:
    if not re.fullmatch(WHOLE_NUMBER, value):
        raise ReadError(f"{where}, field {field}: {value!r} is not a whole number")
    return int(value)


def _history(data: bytes) -> dict[str, list[dict]]:
    source = "history file"
    out: dict[str, list[dict]] = {}
    for n, row in _rows(_text(data, source), source, HISTORY_REQUIRED):
        where = f"{source}, row {n}"
        for c in HISTORY_REQUIRED:
            if not row[c]:
                raise ReadError(f"{where}, field {c}: is missing")
        entry = {"code": row["code"], "date_of_service": row["date_of_service"]}
        if row.get("provider_id"):
            entry["provider_id"] = row["provider_id"]
        out.setdefault(row["patient_id"], []).append(entry)
    return out


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    text = _text(data, source)
    claims: dict[str, dict] = {}
    seen: dict[tuple[str, int], int] = {}
    keys: list[tuple[str, int]] = []
    for n, row in _rows(text, source, REQUIRED):
        where = f"{source}, row {n}"
        for c in REQUIRED:
            if not row[c]:
                raise ReadError(f"{where}, field {c}: is missing")
        line = {
            "line": _int(row["line"], where, "line"),
            "code": row["code"],
            "date_of_service": row["date_of_service"],
            "provider_id": row["provider_id"],
            "provider_role": row["provider_role"],
            "units": _int(row["units"], where, "units") if row.get("units") else 1,
            "modifiers": [m for m in re.split(MODIFIER_SEPARATORS + "+", row.get("modifiers", "")) if m],
        }
        if row.get("route"):
            line["route"] = row["route"]
        cid = row["claim_id"]
        try:  # validate the row on its own, so the error can name the row
            parse_claim({"claim_id": cid, "patient_id": row["patient_id"], "lines": [line]}, kb=kb)
        except InputError as e:
            raise ReadError(f"{where}: {e}") from None
        key = (cid, line["line"])
        if key in seen:
            raise ReadError(f"{where}: claim {cid} line {line['line']} already appears in row {seen[key]}")
        seen[key] = n
        keys.append(key)
        claim = claims.setdefault(cid, {"claim_id": cid, "patient_id": row["patient_id"], "lines": []})
        if claim["patient_id"] != row["patient_id"]:
            # the patient ids themselves are not shown (README, Security)
            raise ReadError(f"{where}, field patient_id: claim {cid} names a different patient than in its "
                            f"earlier rows (one claim is for one patient)")
        claim["lines"].append(line)
    if not claims:
        raise ReadError(f"{source}: no claim rows after the header")
    if history is not None:
        by_patient = _history(history)
        for claim in claims.values():
            if claim["patient_id"] in by_patient:
                claim["history"] = list(by_patient[claim["patient_id"]])
    return ReadResult(list(claims.values()), was_list=True, row_keys=keys)
