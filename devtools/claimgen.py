"""Generate synthetic claim-line files for batch tests, demos and benchmarks.

Claims are small (1-4 lines) and dates come from a narrow window, so that
same-date exclusions, duplicates, history on the same day or the day before,
removals, replacements and role checks all fire often; a few dates sit on
edges (leap day, year end). Nothing here is real patient data.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

import pyarrow as pa

CODES = ["62350", "62351", "62360", "62361", "62362", "62365", "62367", "62368", "62369", "62370",
         "95990", "95991", "J7799"]
COMMON = ["62367", "62368", "62369", "62370", "95990", "95991", "95991", "95990", "62362", "J7799"]
UNKNOWN = ["99213", "6236", "J0475", "J2278"]
# Codes of the SYNTHETIC edit files under tests/data/edits (generate(edits=True)):
# codes outside the KB that only an imported edit names.
EDIT_CODES = ["27447", "20610", "20610", "29881", "27446", "11042", "97597", "64999", "J0475"]
EDIT_DATES = ["2024-06-01", "2025-01-01", "2025-03-04", "2025-07-01"]
ROUTES = ["", "", "", "", "intrathecal", "epidural", "intraventricular"]
ROLES = ["physician", "physician_assistant", "nurse_practitioner", "nurse", "physical_therapist"]
DATES = ["2023-12-31", "2024-01-01", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-15"]
HISTORY_CODES = ["62360", "62361", "62362", "62362", "62365", "62367", "62369", "62370", "95990", "95991"]
HISTORY_DATES = ["2023-06-01", "2023-12-30", "2023-12-31", "2024-01-01", "2024-02-28", "2024-02-29", "2024-03-01"]
MODIFIERS = ["KD", "59", "25", "KX"]
EDIT_MODIFIERS = ["KD", "59", "25", "KX", "76", "77", "XU"]


def generate(n_lines: int, seed: int = 7, patients: int | None = None, edits: bool = False):
    """(lines, history): lists of dicts with the batch CSV columns.

    ``edits`` adds what the synthetic edit files of tests/data/edits speak
    of: their codes, dates in their windows, repeat and bypass modifiers
    and a route on some lines (a different stream of claims from the same seed).
    """
    rng = random.Random(seed)
    codes_extra = EDIT_CODES if edits else []
    dates = DATES + EDIT_DATES if edits else DATES
    modifiers = EDIT_MODIFIERS if edits else MODIFIERS
    patients = patients or max(1, n_lines // 6)
    lines: list[dict] = []
    history: list[dict] = []
    for p in range(patients):
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 3)):
                history.append({"patient_id": f"P{p}", "code": rng.choice(HISTORY_CODES + codes_extra),
                                "date_of_service": rng.choice(HISTORY_DATES + (EDIT_DATES if edits else [])),
                                "provider_id": rng.choice(["", "D1", "D2"])})
    c = 0
    while len(lines) < n_lines:
        c += 1
        patient = f"P{rng.randrange(patients)}"
        date = rng.choice(dates)
        k = min(rng.choice([1, 1, 2, 2, 2, 3, 4]), n_lines - len(lines))
        for ln in range(1, k + 1):
            r = rng.random()
            code = rng.choice(UNKNOWN) if r < 0.02 else rng.choice(COMMON) if r < 0.8 else rng.choice(CODES)
            if codes_extra and rng.random() < 0.3:
                code = rng.choice(codes_extra)
            mods = rng.sample(modifiers, rng.choice([0, 0, 0, 1, 1, 2]))
            row = {
                "claim_id": f"C{c}", "patient_id": patient, "line": ln, "code": code,
                "date_of_service": date if rng.random() < 0.85 else rng.choice(dates),
                "provider_id": rng.choice(["D1", "D2", "D3"]),
                "provider_role": rng.choice(ROLES),
                "units": rng.choice([1, 1, 1, 2] + ([3, 5] if edits else [])),
                "modifiers": rng.choice([";", "|"]).join(mods),
            }
            if edits:
                row["route"] = rng.choice(ROUTES)
            lines.append(row)
    if edits:
        # a removal billed after the device was already removed needs a history in that
        # order, which random draws rarely give: some patients with a removal line get
        # one (a separate stream, so the lines above stay what the seed gave before)
        extra = random.Random(seed + 1)
        removing = sorted({r["patient_id"] for r in lines if r["code"] == "62365"})
        sampled = extra.sample(removing, (len(removing) + 1) // 2)
        for patient in sampled:
            history += [{"patient_id": patient, "code": "62362", "date_of_service": "2023-06-01", "provider_id": ""},
                        {"patient_id": patient, "code": "62365", "date_of_service": "2023-12-30", "provider_id": "D1"}]
        # a column 1 line whose column 2 code the history holds on its date with no provider recorded (a
        # provider-scoped edit that cannot be told to apply: edit.history-no-provider-column1); a third stream
        third = random.Random(seed + 2)
        for r in lines:
            if r["code"] in ("27447", "11042") and third.random() < 0.5:
                history.append({"patient_id": r["patient_id"], "code": "20610" if r["code"] == "27447" else "97597",
                                "date_of_service": r["date_of_service"], "provider_id": ""})
        # and a removal on record with no implantation (device.already-removed-no-implant)
        for patient in sorted(set(removing) - set(sampled)):
            if third.random() < 0.5:
                history.append({"patient_id": patient, "code": "62365", "date_of_service": "2022-01-01", "provider_id": ""})
        # a fourth stream: the same-group pair 11042/97597 billed earlier by another provider
        # (edit.history-other-provider-group and its column-1 twin), and claims billing both codes on one
        # date by one provider with no modifier, which two tables in opposite directions both deny
        # (edit.both-directions, with tests/data/edits' reversed table loaded)
        fourth = random.Random(seed + 3)
        for r in lines:
            if r["code"] in ("11042", "97597") and fourth.random() < 0.3:
                history.append({"patient_id": r["patient_id"], "code": "97597" if r["code"] == "11042" else "11042",
                                "date_of_service": r["date_of_service"], "provider_id": "D9"})
        by_claim: dict[str, list[dict]] = {}
        for r in lines:
            by_claim.setdefault(r["claim_id"], []).append(r)
        both = [rows for rows in by_claim.values() if len(rows) >= 2]
        for rows in fourth.sample(both, min(len(both), max(1, len(lines) // 400))):
            first, second = rows[0], rows[1]
            first.update(code="11042", modifiers="", provider_role="physician")
            second.update(code="97597", modifiers="", provider_role="physician",
                          date_of_service=first["date_of_service"], provider_id=first["provider_id"],
                          route=first.get("route", ""))
        # a fifth stream: one unit of 20610 (at most 2 a date, indicator 2, in tests/data/edits) alone on its
        # date in its claim, with one history row of it that date: at least 2 units, within the limit, so the
        # history's unrecorded units are warned of (units.history-same-date); a second row would deny
        fifth = random.Random(seed + 4)
        per_date: dict[tuple, int] = {}
        for r in lines:
            key = (r["claim_id"], r["code"], r["date_of_service"])
            per_date[key] = per_date.get(key, 0) + int(r["units"])
        held = {(h["patient_id"], h["code"], h["date_of_service"]) for h in history}
        for r in lines:
            if (r["code"] == "20610" and per_date[(r["claim_id"], "20610", r["date_of_service"])] == 1
                    and (r["patient_id"], "20610", r["date_of_service"]) not in held and fifth.random() < 0.5):
                history.append({"patient_id": r["patient_id"], "code": "20610", "date_of_service": r["date_of_service"],
                                "provider_id": "D9"})
                held.add((r["patient_id"], "20610", r["date_of_service"]))
    return lines, history


LINE_FIELDS = ["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role",
               "units", "modifiers"]
EDIT_LINE_FIELDS = LINE_FIELDS + ["route"]
HISTORY_FIELDS = ["patient_id", "code", "date_of_service", "provider_id"]


def write(rows: list[dict], path: str | Path, fields: list[str]) -> None:
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(pa.table({f: [r[f] for r in rows] for f in fields}), path)
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def to_claims(lines: list[dict], history: list[dict]) -> list[dict]:
    """The same data in the JSON claim contract of ``cptkg check``."""
    hist: dict[str, list[dict]] = {}
    for h in history:
        e = {"code": h["code"], "date_of_service": h["date_of_service"]}
        if h.get("provider_id"):
            e["provider_id"] = h["provider_id"]
        hist.setdefault(h["patient_id"], []).append(e)
    claims: dict[str, dict] = {}
    for r in lines:
        c = claims.setdefault(r["claim_id"], {"claim_id": r["claim_id"], "patient_id": r["patient_id"],
                                               "lines": [], "history": hist.get(r["patient_id"], [])})
        mods = [m for m in str(r["modifiers"]).replace("|", ";").split(";") if m.strip()]
        line = {"line": int(r["line"]), "code": r["code"], "date_of_service": r["date_of_service"],
                "provider_id": r["provider_id"], "provider_role": r["provider_role"],
                "units": int(r["units"]), "modifiers": mods}
        if r.get("route"):
            line["route"] = r["route"]
        c["lines"].append(line)
    return list(claims.values())


def main(argv: list[str] | None = None) -> None:
    """python -m devtools.claimgen N LINES_FILE [HISTORY_FILE] [--seed S]"""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m devtools.claimgen", description="Write N synthetic claim lines "
                                 "(and the patients' history) as CSV or Parquet, for trying cptkg batch.")
    ap.add_argument("n", type=int)
    ap.add_argument("lines_file")
    ap.add_argument("history_file", nargs="?")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    lines, history = generate(a.n, a.seed)
    write(lines, a.lines_file, LINE_FIELDS)
    if a.history_file:
        write(history, a.history_file, HISTORY_FIELDS)


if __name__ == "__main__":
    main()
