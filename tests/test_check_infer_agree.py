"""Check and infer agree on every pair of the family's codes on one date.

For each pair of the pump family's codes billed on one date, for every
performer role and device where each code alone is payable: the services
the two codes require are documented as one encounter and inferred. When
inference bills one of the two codes for the union of their services,
check denies the other line and says it is included; when inference bills
both, check accepts both. (Issue 13: infer folded the initial fill into
62362 while check accepted 62362 + 95990 on the implant date.)
"""
from __future__ import annotations

import itertools

import pytest

from cptkg.judge.check import check_claim
from cptkg.judge.infer import infer_codes
from cptkg.claims.models import parse_claim, parse_encounter
from cptkg.knowledge.vocabulary import vocabulary

DATE, EARLIER = "2025-03-04", "2024-01-10"


def _implanting(kb):
    """device input value -> a family code that implants it (the history entry)."""
    vocab = vocabulary(kb)
    out = {}
    for code, dev in sorted(kb.facts.get("implants_device", ())):
        out.setdefault(vocab.value_of("device", dev), code)
    return out


def _services(kb, code):
    values = dict(kb.facts.get("input_value", ()))
    return {values[s] for c, s in kb.facts.get("requires_service", ()) if c == code and s in values}


def _applies(kb, code, device_term) -> bool:
    devices = {d for c, d in kb.facts.get("applies_to_device", ()) if c == code}
    return not devices or device_term in devices


def _claim(codes, role, history_code):
    lines = [{"line": i, "code": c, "date_of_service": DATE, "provider_id": "NPI-1", "provider_role": role}
             for i, c in enumerate(codes, start=1)]
    return {"claim_id": "AGREE", "patient_id": "P-1", "lines": lines,
            "history": [{"code": history_code, "date_of_service": EARLIER}]}


def test_every_pair_of_family_codes_check_and_infer_agree(kb):
    vocab = vocabulary(kb)
    family = kb.family_codes()
    implant = _implanting(kb)
    alone: dict = {}
    disagreements, compared = [], 0

    def accepted_alone(code, role, device):
        key = (code, role, device)
        if key not in alone:
            r = check_claim(kb, parse_claim(_claim([code], role, implant[device]), kb=kb))
            alone[key] = r.status == "accepted"
        return alone[key]

    for a, b in itertools.combinations(family, 2):
        for role in vocab.values("role"):
            for device in vocab.values("device"):
                term = vocab.term("device", device)
                if not (_applies(kb, a, term) and _applies(kb, b, term)):
                    continue
                if not (accepted_alone(a, role, device) and accepted_alone(b, role, device)):
                    continue
                services = sorted(_services(kb, a) | _services(kb, b))
                enc = parse_encounter({"encounter_id": "AGREE", "performer_role": role, "device": device,
                                       "services": services}, kb)
                inferred = {c for c, _ in infer_codes(kb, enc).codes}
                res = check_claim(kb, parse_claim(_claim([a, b], role, implant[device]), kb=kb))
                by_code = {ln.code: ln for ln in res.lines}
                where = f"{a} + {b}, {role}, {device}: infer bills {sorted(inferred)}"
                if inferred == {a, b}:
                    compared += 1
                    if res.status != "accepted":
                        disagreements.append(f"{where}, check rejects {[(l.code, [x.rule for x in l.reasons]) for l in res.lines if l.reasons]}")
                elif len(inferred) == 1 and inferred <= {a, b}:
                    compared += 1
                    keep, = inferred
                    other = b if keep == a else a
                    kept, denied = by_code[keep], by_code[other]
                    if kept.status != "accepted" or denied.status != "rejected" or not any(
                            "included" in x.message for x in denied.reasons):
                        disagreements.append(f"{where}, check gives {keep} {kept.status}, {other} {denied.status} "
                                             f"{[x.message[:80] for x in denied.reasons]}")
    assert compared > 50
    assert not disagreements, f"{len(disagreements)} of {compared} pairs disagree:\n" + "\n".join(disagreements)
