"""Claim CSV: one claim line per row, claims grouped by ``claim_id``.

Columns: ``claim_id, patient_id, line, code, date_of_service, provider_id,
provider_role, units, modifiers, route`` (``units`` defaults to 1; ``modifiers``
are separated by spaces, semicolons or '|'; ``route`` is optional). Rows of one claim need not be
adjacent. An optional history file has ``patient_id, code,
date_of_service[, provider_id]`` and gives every claim of that patient its
billed history. Each row is validated on its own, so an error names the
row as well as the claim, line and field. Rows are numbered from the first
row after the header (row 1), as ``cptkg batch`` numbers them.

A bad row (or a bad history row of the claim's patient) makes its claim an
error entry, and every other claim is judged, as in ``cptkg batch`` and in a
JSON list; only a file that cannot be read at all (not UTF-8, no header, a
missing column) is refused whole.
"""
from __future__ import annotations

import csv as _csv
import io
import re
from collections import Counter

from cptkg.claims.models import (SHOWN_ID, _lines_given, WHOLE_NUMBER, ZERO_FRACTION, InputError, history_problem, id_problem,
                                 parse_claim, split_modifiers, whole_text_problem, MAX_LINE, MAX_UNITS, patient_key)
from cptkg.claims.columns import (CLAIM_OPTIONAL, CLAIM_REQUIRED, HISTORY_OPTIONAL, HISTORY_REQUIRED, misnamed,
                                  claim_columns_named, extra_modifier_columns, extra_modifier_problem, missing_words)
from cptkg.io.readers import HistoryReadError, ReadError, ReadResult
from cptkg.limits import MAX_CSV_COLUMNS, MAX_CSV_ROWS
from cptkg.spreadsheet import MORE_VALUES, column_key
from cptkg.controls import CELL_STRIP

#: reads --history FILE itself (a bad history row is named by the claim's first row)
HISTORY_FILE = True

NAME = "csv"
REQUIRED, OPTIONAL = CLAIM_REQUIRED, CLAIM_OPTIONAL
MAX_ROWS = MAX_CSV_ROWS


def _text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from cptkg.spreadsheet import not_utf8

        raise ReadError(f"{source}: {not_utf8(data)}") from None


def _header(text: str) -> list[str]:
    first = text.splitlines()[0] if text.strip() else ""
    return [column_key(h) for h in next(_csv.reader([first]), [])]


def detect(data: bytes | object) -> bool:
    if not isinstance(data, bytes):
        return False
    try:
        head = _header(data[:4096].decode("utf-8-sig", errors="replace"))
    except _csv.Error:
        return False
    # a claim CSV, or one whose header names most claim columns and lacks some: read, so the refusal names
    # the columns it lacks ("CPT Code" for code), not "not a claim file" (an audit)
    return ("claim_id" in head and "code" in head) or claim_columns_named(head) >= 4


def _rows(text: str, source: str, required: tuple[str, ...]):
    """(row number, the row's fields, a problem of the record itself or None), blank rows skipped.

    A problem of the file (no header, a missing column, too many rows, a
    quote the CSV reader cannot close) is a ReadError: nothing can be read.
    A row with more values than columns is a problem of that row only.
    """
    reader = _csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
    if reader.fieldnames is None:
        raise ReadError(f"{source}: empty file, expected a header row with {', '.join(required)}")
    if len(reader.fieldnames) > MAX_CSV_COLUMNS:
        raise ReadError(f"{source}, header: {len(reader.fieldnames):,} columns; a claim file has at most "
                        f"{MAX_CSV_COLUMNS:,} (the format needs {len(REQUIRED) + len(OPTIONAL)})")
    fields = [column_key(f or "") for f in reader.fieldnames]
    given_names = dict(zip(fields, ((f or "").strip() for f in reader.fieldnames)))  # as the file writes them
    missing = [c for c in required if c not in fields]
    if missing:
        known = CLAIM_REQUIRED + CLAIM_OPTIONAL if required == REQUIRED else HISTORY_REQUIRED + HISTORY_OPTIONAL
        raise ReadError(f"{source}, header: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                        + missing_words(missing, fields, known, given_names))
    why = misnamed(fields, CLAIM_REQUIRED + CLAIM_OPTIONAL if required == REQUIRED else HISTORY_REQUIRED + HISTORY_OPTIONAL,
                   given_names)
    if why:
        raise ReadError(f"{source}, header: {why}")
    counts = Counter(f for f in fields if f)  # one pass: the reader stays linear in the columns
    dupes = sorted(f for f, n in counts.items() if n > 1)
    if dupes:
        raise ReadError(f"{source}, header: column {dupes[0]} appears twice")
    reader.fieldnames = fields
    # The csv module refuses a value past its field limit (131,072 characters) and stops reading the file;
    # batch reads such a value and refuses its row by name ("field provider_id: is too long"). The limit is
    # raised to the text's length while this file is read (its rows read at once, then the limit restored):
    # a value longer than a field allows is refused on its row, as batch refuses it, and the others judged.
    limit = _csv.field_size_limit()
    _csv.field_size_limit(max(limit, len(text) + 1))
    try:
        rows = list(_read_rows(reader, source, text))
    finally:
        _csv.field_size_limit(limit)
    extras = extra_modifier_columns(fields, CLAIM_REQUIRED + CLAIM_OPTIONAL) if required == REQUIRED else []
    if extras:
        import re

        from cptkg.claims.models import MODIFIER_PATTERN, split_modifiers

        for n, row, _record in rows:
            have = {m.upper() for m in split_modifiers(row.get("modifiers") or "")}
            for col in extras:
                given = [m.upper() for m in split_modifiers(row.get(col) or "")]
                # values that are no modifier ("x" in a column named M1) are some other column's, not lost modifiers
                if given and all(re.fullmatch(MODIFIER_PATTERN, m) for m in given) and not set(given) <= have:
                    raise ReadError(f"{source}, row {n}: " + extra_modifier_problem(given_names.get(col, col), row[col]))
    if rows and rows[-1][2] is None:
        from cptkg.spreadsheet import UNCLOSED_QUOTE, unclosed_quote

        n, row, _record = rows[-1]
        field = unclosed_quote(list(row.items()), text[-(max(map(len, row.values()), default=0) + 64):])
        if field:
            rows[-1] = (n, row, UNCLOSED_QUOTE.format(field=field))
    yield from rows


def _read_rows(reader, source: str, text: str):
    try:
        # rows are numbered as cptkg batch numbers them (its ``row`` column):
        # row 1 is the first row after the header
        for n, row in enumerate(reader, start=1):
            if n > MAX_ROWS:
                raise ReadError(f"{source}: more than {MAX_ROWS} rows")
            extra = row.pop(None, None)
            if extra is None and all((v or "").strip(CELL_STRIP) == "" for v in row.values()):
                continue  # blank line
            record = None if extra is None else RECORD_PROBLEM
            for k, v in row.items():
                if k and v and ("\n" in v or "\r" in v):  # rows read into a value: the words of cptkg batch
                    import re

                    from cptkg.spreadsheet import OVER_LINES, SWALLOWED_ROWS

                    if re.search(SWALLOWED_ROWS, v):
                        raise ReadError(f"{source}: row {n}, field {k}: {OVER_LINES}")
            yield n, {k: (v or "").strip(CELL_STRIP) for k, v in row.items() if k}, record
    except _csv.Error as e:
        raise ReadError(f"{source}, row {max(reader.line_num - 1, 1)}: {e}") from None


#: a row with more values than columns (the words of cptkg batch)
RECORD_PROBLEM = MORE_VALUES
#: the fields of a claim row in the order cptkg batch checks them; whole numbers among them
ROW_ORDER = ("claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units")
WHOLE = ("line", "units")


def _whole(value: str) -> int | str:
    """A whole number as int ("2" or "2.0"); anything else stays the text it was (and is refused by name)."""
    m = re.fullmatch(f"({WHOLE_NUMBER})(?:{ZERO_FRACTION})?", value)
    return int(m[1]) if m else value


def _history(data: bytes) -> tuple[dict[str, list[dict]], dict[str, str], str | None]:
    """The history file: entries by patient, the first bad row's problem by patient,
    and the first problem of a row that names no patient (it could be any patient's)."""
    source = HistoryReadError.SOURCE
    try:  # the file cannot be read at all: said as the history's problem, which the face names by its file
        rows = list(_rows(_text(data, source), source, HISTORY_REQUIRED))
    except ReadError as e:
        raise HistoryReadError(str(e)[len(source):]) from None
    out: dict[str, list[dict]] = {}
    bad: dict[str, str] = {}
    unattributed: str | None = None
    for n, row, record in rows:
        where = f"history row {n}"
        entry = {"code": row["code"], "date_of_service": row["date_of_service"]}
        if row.get("provider_id"):
            entry["provider_id"] = row["provider_id"]
        problem = f"{where}: {record}" if record else next(
            (f"{where}, field {c}: is missing" for c in HISTORY_REQUIRED if not row[c]), None)
        pid = patient_key(row["patient_id"])  # matched to a claim's patient by patient_key
        # a patient id holding a line break or a character that shows as nothing names no patient a claim
        # can match: like a row naming none, it could be any patient's (it was dropped without a word)
        broken = id_problem(pid) if pid else None
        if problem is None and broken:
            problem = f"{where}, field patient_id: {broken}"
        if problem is None:
            why = history_problem(entry)
            problem = f"{where}, {why}" if why else None
        if problem is None:
            out.setdefault(pid, []).append(entry)
        elif not pid or broken:
            unattributed = unattributed or problem
        else:
            bad.setdefault(pid, problem)
    return out, bad, unattributed


def _row_problem(n: int, cid: str, row: dict, line: dict, record: str | None, kb) -> str | None:
    """What makes this row unusable, naming the row, the claim and the field; None when it is good."""
    where = f"row {n}, claim {cid[:SHOWN_ID]}"
    if record:
        return f"{where}: {record}"
    for c in ROW_ORDER:
        if c in REQUIRED and not row[c]:
            return f"{where}, field {c}: is missing"
        if c in WHOLE and isinstance(line.get(c), str):
            # units belong to their line (its number is good by now: the line is checked first)
            lined = f", line {line['line']}" if c == "units" and isinstance(line.get("line"), int) else ""
            return f"{where}{lined}, field {c}: {whole_text_problem(line[c], MAX_UNITS if c == 'units' else MAX_LINE)}"
    try:  # validate the row on its own, so the error can name the row
        parse_claim({"claim_id": cid, "patient_id": row["patient_id"], "lines": [line]}, kb=kb)
    except InputError as e:
        return f"row {n}, {e}"
    return None


def _rows_named(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", … ({len(rows):,} rows in all)" if len(rows) > limit else "")


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    """Claims of a claim CSV, in the order their ids first appear.

    A claim with a bad row comes back as a ReadError naming its first bad row
    and the field (its ``raw`` is the claim as its rows gave it); every other
    claim is judged. Rows naming no claim are one such error, naming each row.
    Only a file that cannot be read at all raises.
    """
    text = _text(data, source)
    groups: dict[str | None, dict] = {}  # claim id (None: rows naming no claim) -> its claim, first problem, rows
    seen: dict[tuple[str, int], int] = {}
    keys: list[tuple[str, int | str]] = []
    for n, row, record in _rows(text, source, REQUIRED):
        line = {
            "line": _whole(row["line"]),
            "code": row["code"],
            "date_of_service": row["date_of_service"],
            "provider_id": row["provider_id"],
            "provider_role": row["provider_role"],
            "units": _whole(row["units"]) if row.get("units") else 1,
            "modifiers": split_modifiers(row.get("modifiers", "")),
        }
        if row.get("route"):
            line["route"] = row["route"]
        cid = row["claim_id"] or None
        keys.append((cid or "", line["line"]))
        g = groups.setdefault(cid, {"claim": {"claim_id": cid or "", "patient_id": row["patient_id"], "lines": []},
                                    "problem": None, "rows": []})
        g["rows"].append(n)
        g["claim"]["lines"].append(line)
        if cid is None:
            continue
        problem = _row_problem(n, cid, row, line, record, kb)
        key = (cid, line["line"])
        if problem is None and key in seen:
            problem = (f"row {n}, claim {cid[:SHOWN_ID]}, line {line['line']}: the line number appears more than "
                       f"once in the claim (also in row {seen[key]})")
        if problem is None and g["claim"]["patient_id"] != row["patient_id"]:
            # the patient ids themselves are not shown (docs/decision-log.md)
            problem = (f"row {n}, claim {cid[:SHOWN_ID]}, field patient_id: the claim has lines for more than one "
                       f"patient (one claim is for one patient)")
        seen.setdefault(key, n)
        if g["problem"] is not None:
            # the claim is refused for its first bad row; a later row with an error of its own keeps it for
            # its error row, as batch names each bad row (check named it "not judged because of" the first)
            if problem is not None:
                g.setdefault("row_problems", {})[len(g["claim"]["lines"]) - 1] = problem
            continue
        g["problem"] = problem
        if problem is not None:
            g["bad_line"] = len(g["claim"]["lines"]) - 1  # this row's line has the error, not the others
    if not groups:
        raise ReadError(f"{source}: no claim rows after the header")
    if None in groups:
        rows = groups[None]["rows"]
        groups[None]["problem"] = (f"row {rows[0]}, field claim_id: is missing"
                                   + (f" (and in row{'s' if len(rows) > 2 else ''} {_rows_named(rows[1:])})"
                                      if len(rows) > 1 else ""))
    if history is not None:
        by_patient, bad, unattributed = _history(history)
        for cid, g in groups.items():
            claim = g["claim"]
            key = patient_key(claim["patient_id"])
            if key in by_patient:
                claim["history"] = list(by_patient[key])
            why = unattributed or bad.get(key)
            if cid is not None and g["problem"] is None and why:
                whose = "the history file" if why is unattributed else "the patient's history"
                g["problem"] = f"row {g['rows'][0]}, claim {cid[:SHOWN_ID]}: {whose} cannot be read ({why})"
    claims: list = []
    for cid, g in groups.items():
        if g["problem"] is None:
            claims.append(g["claim"])
            continue
        err = ReadError(g["problem"], cid)
        err.raw = g["claim"]  # the claim as received, for the decision log
        # its lines as given (line number and code): each error row names them, as batch's error rows do
        err.lines = _lines_given(g["claim"])
        for k, (given, row_no) in enumerate(zip(err.lines, g["rows"])):  # the file's row of each line: batch's words name rows
            given["row"] = row_no
            if k in g.get("row_problems", {}):
                given["error"] = g["row_problems"][k]
        if "bad_line" in g and len(err.lines) > 1:
            err.lines[g["bad_line"]]["has_error"] = True
        claims.append(err)
    return ReadResult(claims, was_list=True, row_keys=keys)
