"""Build X12 837P (005010X222A1) files from claim dicts, for tests and demos.

Every value that is not a claim's own (names, addresses, tax id, payer,
charges, diagnosis, envelope ids) is SYNTHETIC. The loop structure follows
the 837P implementation guide as encoded in pyx12's map
``837.5010.X222.A1.xml`` (required segments of each loop; 2310B only when the
rendering provider differs from the billing provider: X12 RFI 345 quoting the
guide's 2310B NM1 note, and payer notes such as Sunflower Health Plan's
"CMS 1500 Reminder: Billing Rendering Provider", 2026):

    ISA GS ST BHT | 1000A NM1*41 PER | 1000B NM1*40
    2000A HL*n**20*1 PRV*BI*PXC | 2010AA NM1*85 N3 N4 REF*EI
      2000B HL*n*p*22*c SBR | 2010BA NM1*IL | 2010BB NM1*PR
        [2000C HL*n*p*23*0 PAT | 2010CA NM1*QC N3 N4 DMG]
          2300 CLM HI | [2310B NM1*82 PRV*PE*PXC]
            2400 LX SV1 DTP*472 | [2420A NM1*82 PRV*PE*PXC]
    SE GE IEA (counts computed)

A claim is the claim JSON dict (claim_id, patient_id, lines with code,
date_of_service, provider_id, provider_role, units, modifiers); a line may
also carry ``taxonomy`` (else one is picked for its role from
:data:`ROLE_TAXONOMY`), and a claim may carry ``x12`` options:
``rendering`` ("auto", "2310B", "2420A" or "billing"), ``patient`` (a dict
with last, first, dob: the patient is a dependant, loop 2000C, under the
subscriber ``patient_id``), ``billing_npi``/``billing_taxonomy``.

>>> text = build([{"claim_id": "C-1", "patient_id": "M1", "lines": [{"line": 1, "code": "62367",
...     "date_of_service": "2025-03-04", "provider_id": "1234567893", "provider_role": "nurse"}]}])
>>> text.startswith("ISA*00*") and "SV1*HC:62367*" in text and text.rstrip().endswith("IEA*1*000000001~")
True
"""
from __future__ import annotations

# one NUCC taxonomy per role (the pack's mapping, kb/pump/ontology/pump.ttl, reads them back)
ROLE_TAXONOMY = {
    "physician": "208VP0014X",          # Interventional Pain Medicine (a 20xx physician code)
    "nurse": "163W00000X",              # Registered Nurse
    "nurse_practitioner": "363L00000X",
    "physician_assistant": "363A00000X",
    "physical_therapist": "225100000X",
}
BILLING_NPI = "1999999984"              # SYNTHETIC group NPI
BILLING_TAXONOMY = "193200000X"         # Multi-Specialty group (SYNTHETIC choice; not a performer)
SEP, COMP, REP, TERM = "*", ":", "^", "~"


def _d8(date: str) -> str:
    return date.replace("-", "")


def _seg(*elements) -> str:
    out = [str(e) for e in elements]
    while out and out[-1] == "":
        out.pop()
    return SEP.join(out) + TERM


def _rendering_mode(claim: dict) -> str:
    mode = (claim.get("x12") or {}).get("rendering", "auto")
    if mode != "auto":
        return mode
    # one performer (NPI and taxonomy) for every line: claim level; else each line names its own
    providers = {(ln["provider_id"], _taxonomy(ln)) for ln in claim["lines"]}
    return "2310B" if len(providers) == 1 else "2420A"


def _taxonomy(line: dict) -> str | None:
    if "taxonomy" in line:
        return line["taxonomy"]
    return ROLE_TAXONOMY.get(line.get("provider_role", ""), None)


def _provider(npi: str | None, taxonomy: str | None, last: str = "SYNTHETIC", first: str = "PROVIDER") -> list[str]:
    nm1 = _seg("NM1", "82", "1", last, first, "", "", "", "XX" if npi else "", npi or "")
    return [nm1] + ([_seg("PRV", "PE", "PXC", taxonomy)] if taxonomy else [])


def claim_segments(claim: dict) -> list[str]:
    """Loop 2300 and its 2310B/2400/2420A loops for one claim."""
    opts = claim.get("x12") or {}
    mode = _rendering_mode(claim)
    lines = claim["lines"]
    total = sum(int(opts.get("charge", 100)) for _ in lines)
    segs = [_seg("CLM", claim["claim_id"], total, "", "", COMP.join(["11", "B", "1"]), "Y", "A", "Y", "Y"),
            _seg("HI", "ABK" + COMP + opts.get("diagnosis", "G8929"))]  # SYNTHETIC diagnosis (ICD-10-CM G89.29)
    if mode == "2310B":
        first = lines[0]
        segs += _provider(first["provider_id"], _taxonomy(first))
    for ln in lines:
        mods = ln.get("modifiers") or []
        if isinstance(mods, str):
            mods = mods.split()
        proc = COMP.join(["HC", ln["code"], *mods])
        date = ln["date_of_service"]
        segs += [_seg("LX", ln["line"]),
                 _seg("SV1", proc, opts.get("charge", 100), "UN", ln.get("units", 1), "", "", "1"),
                 _seg("DTP", "472", "D8", _d8(date)) if isinstance(date, str) else _seg("DTP", "472", *date)]
        if mode == "2420A" or ln.get("x12_2420A"):
            segs += _provider(ln["provider_id"], _taxonomy(ln))
    return segs


def _subscriber(claims: list[dict], hl: int, parent: int) -> tuple[list[str], int]:
    """2000B (and 2000C when the patient is a dependant) with their claims; the next HL number."""
    first = claims[0]
    dependant = (first.get("x12") or {}).get("patient")
    segs = [_seg("HL", hl, parent, "22", "1" if dependant else "0"),
            _seg("SBR", "P", "" if dependant else "18", "", "", "", "", "", "", "CI"),
            _seg("NM1", "IL", "1", "SUBSCRIBER", "SYNTHETIC", "", "", "", "MI", first["patient_id"]),
            _seg("NM1", "PR", "2", "SYNTHETIC PAYER", "", "", "", "", "PI", "PAYER01")]
    sub_hl, hl = hl, hl + 1
    if dependant:
        segs += [_seg("HL", hl, sub_hl, "23", "0"), _seg("PAT", "19"),
                 _seg("NM1", "QC", "1", dependant["last"], dependant.get("first", "")),
                 _seg("N3", "1 SYNTHETIC WAY"), _seg("N4", "ANYTOWN", "CA", "900010000"),
                 _seg("DMG", "D8", dependant.get("dob", "20150101"), dependant.get("sex", "U"))]
        hl += 1
    for claim in claims:
        segs += claim_segments(claim)
    return segs, hl


def transaction(claims: list[dict], control: str = "0001") -> list[str]:
    """One ST/SE transaction: one billing provider, one subscriber loop per claim."""
    first = dict((claims[0].get("x12") or {}) if claims else {})
    if claims and _rendering_mode(claims[0]) == "billing":  # the performer is the billing provider
        line = claims[0]["lines"][0]
        first.setdefault("billing_npi", line["provider_id"])
        first.setdefault("billing_taxonomy", _taxonomy(line))
    body = [_seg("ST", "837", control, "005010X222A1"),
            _seg("BHT", "0019", "00", "SYN" + control, "20250101", "1200", "CH"),
            _seg("NM1", "41", "2", "SYNTHETIC SUBMITTER", "", "", "", "", "46", "SUBMIT01"),
            _seg("PER", "IC", "SYNTHETIC CONTACT", "TE", "5555550100"),
            _seg("NM1", "40", "2", "SYNTHETIC RECEIVER", "", "", "", "", "46", "RECEIV01"),
            _seg("HL", "1", "", "20", "1")]
    if first.get("billing_taxonomy", BILLING_TAXONOMY):
        body.append(_seg("PRV", "BI", "PXC", first.get("billing_taxonomy", BILLING_TAXONOMY)))
    billing_name = ("1", "SYNTHETIC", "PERFORMER") if "billing_npi" in first else ("2", "SYNTHETIC CLINIC", "")
    body += [_seg("NM1", "85", *billing_name, "", "", "", "XX", first.get("billing_npi", BILLING_NPI)),
             _seg("N3", "1 SYNTHETIC ST"), _seg("N4", "ANYTOWN", "CA", "900010000"), _seg("REF", "EI", "999999999")]
    hl = 2
    for claim in claims:
        segs, hl = _subscriber([claim], hl, 1)
        body += segs
    body.append(_seg("SE", len(body) + 1, control))
    return body


def interchange(transactions: list[list[str]], control: int = 1) -> list[str]:
    """ISA/GS around transactions, with GE and IEA counts."""
    ctl = f"{control:09d}"
    isa = ("ISA*00*" + " " * 10 + "*00*" + " " * 10 + "*ZZ*" + "SYNTHSUBMIT".ljust(15) + "*ZZ*"
           + "SYNTHRECEIVE".ljust(15) + "*250101*1200*" + REP + "*00501*" + ctl + "*0*T*" + COMP + TERM)
    segs = [isa, _seg("GS", "HC", "SYNTHSUBMIT", "SYNTHRECEIVE", "20250101", "1200", control, "X", "005010X222A1")]
    for t in transactions:
        segs += t
    segs += [_seg("GE", len(transactions), control), _seg("IEA", "1", ctl)]
    return segs


def build(claims: list[dict], *, per_transaction: int | None = None, per_interchange: int | None = None) -> str:
    """An 837P file holding ``claims``: one transaction, or ``per_transaction`` claims a transaction
    and ``per_interchange`` transactions an interchange. One segment a line."""
    per_transaction = per_transaction or max(len(claims), 1)
    groups = [claims[i:i + per_transaction] for i in range(0, len(claims), per_transaction)]
    transactions = [transaction(g, f"{n + 1:04d}") for n, g in enumerate(groups)]
    per_interchange = per_interchange or max(len(transactions), 1)
    segs: list[str] = []
    for n, i in enumerate(range(0, len(transactions), per_interchange)):
        segs += interchange(transactions[i:i + per_interchange], n + 1)
    return "\n".join(segs) + "\n"


__all__ = ["BILLING_NPI", "BILLING_TAXONOMY", "ROLE_TAXONOMY", "build", "claim_segments", "interchange",
           "transaction"]
