"""FHIR R4 claims: a ``Claim`` resource, or a ``Bundle`` holding Claims.

Validated with fhir.resources' R4B models (R4B keeps R4's Claim and
ClaimResponse), then mapped to the claim contract:

* ``claim_id``: ``Claim.id``, else the first ``identifier.value``;
* ``patient_id``: the id in ``patient.reference`` (``Patient/123`` -> ``123``),
  else ``patient.identifier.value``;
* one line per ``item``: ``line`` = ``item.sequence``; ``code`` = the coding
  of ``item.productOrService`` whose system is CPT
  (``http://www.ama-assn.org/go/cpt``); ``date_of_service`` =
  ``item.servicedDate`` (or a one-day ``servicedPeriod``); ``units`` =
  ``item.quantity.value``; ``modifiers`` = codes of ``item.modifier``;
* performer: the ``careTeam`` member named by ``item.careTeamSequence``
  (or the only member): ``provider_id`` from its ``provider`` reference or
  identifier, ``provider_role`` from NUCC Health Care Provider Taxonomy codes
  in ``qualification`` or ``role`` (mapped by the family pack's role classes,
  :func:`nucc_role`) or from the cptkg role code system :data:`ROLE_SYSTEM`
  whose codes are the role input values;
* history: ``Procedure`` resources in the Bundle for the claim's patient
  (CPT ``code``, ``performedDateTime`` or ``performedPeriod.start``, first
  ``performer.actor`` as provider).
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cptkg.judge.input import load_json, one_line
from cptkg.io.readers import ReadError, ReadResult, peek_json

NAME = "fhir"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
ROLE_SYSTEM = "https://w3id.org/cptkg/provider-role"


def nucc_role(code: str, kb=None) -> str | None:
    """The provider role (its input value) of a NUCC taxonomy code, or None.

    The mapping is the family pack's data: each role class lists its NUCC
    Health Care Provider Taxonomy codes (``ont:nuccTaxonomy``) and grouping
    prefixes (``ont:nuccTaxonomyPrefix``); an exact code wins over a prefix,
    a longer prefix over a shorter one.
    """
    from cptkg.knowledge.vocabulary import vocabulary

    vocab = vocabulary(_kb(kb))
    code = code.strip().upper()
    if code in vocab.taxonomy:
        return vocab.taxonomy[code]
    if len(code) != 10 or not code.endswith("X"):
        return None
    for prefix, role in vocab.taxonomy_prefixes:
        if code.startswith(prefix):
            return role
    return None


def _kb(kb):
    if kb is not None:
        return kb
    from cptkg.knowledge.loader import default_kb

    return default_kb()


def detect(data: bytes | object) -> bool:
    obj = peek_json(data) if isinstance(data, bytes) else data
    return isinstance(obj, dict) and obj.get("resourceType") in ("Claim", "Bundle")


def _models():
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.claim import Claim

    return Claim, Bundle


def _validation_message(source: str, kind: str, err: ValidationError) -> str:
    errors = err.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"] if p != "__root__")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: not a valid FHIR R4 {kind}: element {loc or kind}: {first['msg']}{more}"


def _ref_id(ref: dict | None, prefixes: tuple[str, ...]) -> str | None:
    if not ref:
        return None
    reference = ref.get("reference")
    if reference:
        for p in prefixes:
            if reference.startswith(p + "/"):
                return reference[len(p) + 1:]
        return reference
    ident = ref.get("identifier") or {}
    return ident.get("value")


def _codings(concept: dict | None) -> list[dict]:
    return list((concept or {}).get("coding") or [])


def _cpt(concept: dict | None) -> str | None:
    for c in _codings(concept):
        if c.get("system") == CPT_SYSTEM and c.get("code"):
            return c["code"]
    return None


def _role(member: dict, kb=None) -> str | None:
    from cptkg.knowledge.vocabulary import vocabulary

    roles = vocabulary(_kb(kb)).values("role")
    for concept in (member.get("qualification"), member.get("role")):
        for c in _codings(concept):
            system, code = c.get("system"), (c.get("code") or "")
            if system == ROLE_SYSTEM and code in roles:
                return code
            if system == NUCC_SYSTEM and nucc_role(code, kb):
                return nucc_role(code, kb)
    return None


def _claim_id(raw: dict) -> str | None:
    """A Claim resource's id, else its first identifier value (None when it has neither, or not as text)."""
    cid = raw.get("id") or next((i.get("value") for i in raw.get("identifier") or []
                                 if isinstance(i, dict) and i.get("value")), None)
    return cid if isinstance(cid, str) and cid.strip() else None


def _claims_at_fault(bundle: dict, err: ValidationError) -> dict[int, str]:
    """Bundle entry -> why its Claim is not valid FHIR, when every error of ``err`` is inside a Claim
    entry; empty when any error is elsewhere (then the Bundle itself cannot be read)."""
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    out: dict[int, str] = {}
    for e in err.errors():
        loc = e.get("loc", ())
        if not (len(loc) > 3 and loc[0] == "entry" and isinstance(loc[1], int) and loc[2] == "resource"
                and loc[1] < len(entries) and isinstance(entries[loc[1]], dict)
                and isinstance(entries[loc[1]].get("resource"), dict)
                and entries[loc[1]]["resource"].get("resourceType") == "Claim"):
            return {}
        n = loc[1]
        cid = _claim_id(entries[n]["resource"])
        where = f"Bundle entry {n}" + (f" (Claim {cid[:60]})" if cid else "")
        out.setdefault(n, f"{where}: not a valid FHIR R4 Claim: element {'.'.join(str(p) for p in loc[3:])}: {e['msg']}")
    return out


def _claim(raw: dict, where: str, kb=None) -> dict:
    cid = raw.get("id") or next((i.get("value") for i in raw.get("identifier") or [] if i.get("value")), None)
    if not cid:
        raise ReadError(f"{where}: the Claim has no id and no identifier value")
    where = f"{where} (Claim {cid})"
    patient = _ref_id(raw.get("patient"), ("Patient",))
    if not patient:
        raise ReadError(f"{where}, element patient: no reference or identifier")
    team: dict[int, tuple[str, str]] = {}
    for m in raw.get("careTeam") or []:
        seq = m.get("sequence")
        provider = _ref_id(m.get("provider"), ("Practitioner", "PractitionerRole", "Organization"))
        role = _role(m, kb)
        if role is None:
            raise ReadError(f"{where}, element careTeam[sequence={seq}]: no qualification or role code maps to a "
                            f"cptkg role (NUCC taxonomy {NUCC_SYSTEM} or {ROLE_SYSTEM})")
        team[seq] = (provider or "", role)
    lines = []
    items = raw.get("item") or []
    if not items:
        raise ReadError(f"{where}, element item: the Claim has no items")
    for item in items:
        seq = item.get("sequence")
        iw = f"{where}, item {seq}"
        code = _cpt(item.get("productOrService"))
        if code is None:
            raise ReadError(f"{iw}, element productOrService: no coding with the CPT system {CPT_SYSTEM}")
        date = item.get("servicedDate")
        if date is None and item.get("servicedPeriod"):
            period = item["servicedPeriod"]
            start, end = (period.get("start") or "")[:10], (period.get("end") or "")[:10]
            if start and (not end or end == start):
                date = start
            else:
                raise ReadError(f"{iw}, element servicedPeriod: spans {start} to {end}; a claim line needs one date of service")
        if date is None:
            raise ReadError(f"{iw}, element servicedDate: missing")
        seqs = item.get("careTeamSequence") or []
        if not seqs and len(team) == 1:
            seqs = list(team)
        if not seqs:
            raise ReadError(f"{iw}, element careTeamSequence: missing, and the care team has {len(team)} members")
        if seqs[0] not in team:
            raise ReadError(f"{iw}, element careTeamSequence: {seqs[0]} names no careTeam member")
        provider, role = team[seqs[0]]
        if not provider:
            raise ReadError(f"{where}, element careTeam[sequence={seqs[0]}].provider: no reference or identifier")
        line: dict[str, Any] = {"line": seq, "code": code, "date_of_service": str(date)[:10],
                                "provider_id": provider, "provider_role": role}
        qty = (item.get("quantity") or {}).get("value")
        if qty is not None:
            if float(qty) != int(float(qty)):
                raise ReadError(f"{iw}, element quantity.value: {qty} is not a whole number of units")
            line["units"] = int(float(qty))
        mods = [c.get("code") for m in item.get("modifier") or [] for c in _codings(m) if c.get("code")]
        if mods:
            line["modifiers"] = mods
        lines.append(line)
    return {"claim_id": str(cid), "patient_id": patient, "lines": lines}


def _history_entry(proc: dict) -> tuple[str | None, dict | None]:
    if proc.get("status") in ("entered-in-error", "not-done"):
        return None, None
    code = _cpt(proc.get("code"))
    date = proc.get("performedDateTime") or (proc.get("performedPeriod") or {}).get("start")
    if not code or not date:
        return None, None
    entry = {"code": code, "date_of_service": str(date)[:10]}
    performers = proc.get("performer") or []
    if performers:
        pid = _ref_id(performers[0].get("actor"), ("Practitioner", "PractitionerRole", "Organization"))
        if pid:
            entry["provider_id"] = pid
    return _ref_id(proc.get("subject"), ("Patient",)), entry


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    obj = load_json(data, source)
    if not isinstance(obj, dict) or obj.get("resourceType") not in ("Claim", "Bundle"):
        raise ReadError(f"{source}: expected a FHIR Claim or a Bundle of Claims (resourceType)")
    if history is not None:
        raise ReadError(f"{source}: with FHIR input, put the patient's history as Procedure resources in the Bundle")
    Claim, Bundle = _models()
    kind = obj["resourceType"]
    refused: dict[int, str] = {}  # Bundle entry -> why its Claim is not a valid FHIR Claim
    try:
        (Claim if kind == "Claim" else Bundle).model_validate(obj)
    except ValidationError as e:
        refused = _claims_at_fault(obj, e) if kind == "Bundle" else {}
        if not refused:
            raise ReadError(_validation_message(source, kind, e)) from None
        # the Bundle without the faulty Claims must be valid: else the file itself is at fault
        rest = dict(obj, entry=[x for i, x in enumerate(obj.get("entry") or []) if i not in refused])
        try:
            Bundle.model_validate(rest)
        except ValidationError:
            raise ReadError(_validation_message(source, kind, e)) from None
    if kind == "Claim":
        return ReadResult([_claim(obj, source, kb)], was_list=False)
    claims, procedures = [], []
    first_entry: dict[str, int] = {}
    for n, entry in enumerate(obj.get("entry") or []):
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Claim":
            # a Claim that cannot be read is its own error entry; the other Claims are judged
            try:
                if n in refused:
                    raise ReadError(refused[n])
                claim = _claim(res, f"Bundle entry {n}", kb)
            except ReadError as e:
                cid = _claim_id(res)
                err = ReadError(str(e), cid)
                err.raw = res  # the Claim as received, for the decision log
                claim = err
            cid = claim["claim_id"] if isinstance(claim, dict) else claim.claim_id
            if cid is not None and cid in first_entry:  # two verdicts for one id would contradict each other
                raise ReadError(f"{source}, Bundle entry {n}: Claim.id {one_line(cid[:60])!r} already appears in "
                                f"entry {first_entry[cid]}; each Claim in a Bundle needs its own id")
            first_entry[cid] = n
            claims.append(claim)
        elif res.get("resourceType") == "Procedure":
            procedures.append(res)
    if not claims:
        raise ReadError(f"{source}: the Bundle holds no Claim resources")
    by_patient: dict[str, list[dict]] = {}
    for proc in procedures:
        patient, entry = _history_entry(proc)
        if patient and entry:
            by_patient.setdefault(patient, []).append(entry)
    for claim in claims:
        if isinstance(claim, dict) and claim["patient_id"] in by_patient:
            claim["history"] = by_patient[claim["patient_id"]]
    return ReadResult(claims, was_list=True)
