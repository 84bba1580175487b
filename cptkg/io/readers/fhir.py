"""FHIR R4 claims: a ``Claim`` resource, or a ``Bundle`` holding Claims, as EHRs send them.

Validated with fhir.resources' R4B models (R4B keeps R4's Claim and
ClaimResponse), then mapped to the claim contract. Decisions, each because an
EHR's real Claim must mean the same as the claim JSON a biller would write:

* ``claim_id``: ``Claim.id``, else the first ``identifier.value``. The
  ClaimResponse answers a Claim that had only an identifier with
  ``request.identifier`` (:class:`FhirClaim` carries how the Claim named itself).
* References are followed wherever FHIR puts the resource: contained
  (``#pr1``), a Bundle entry by ``fullUrl`` (``urn:uuid:…`` or absolute), a
  Bundle entry by ``Type/id``; an absolute URL is only matched to a ``fullUrl``
  (another server's resource is not ours). A reference that must resolve
  (``#…``, ``urn:…``) and does not is that claim's error.
* ``patient_id``: when the Patient resource is at hand (contained or bundled),
  its business identifier: the one typed ``MB`` (member number, HL7 v2 table
  0203), else ``MR`` (medical record number), else the first with a value
  (``use`` ``old`` skipped). The member id is what an 837P carries in 2010BA
  NM109 (domain notes, "Real files"), so the same patient gets the same id
  from FHIR, X12 and claim JSON, and history matches across files. Else the
  id part of the reference (``Patient/123`` and ``https://ehr/fhir/Patient/123``
  -> ``123``), else ``patient.identifier.value``. The same rule reads
  ``Procedure.subject``.
* ``code`` of a line: the ``item.productOrService`` coding of CPT
  (``http://www.ama-assn.org/go/cpt``), else of HCPCS Level II
  (``https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets``): the code
  systems HL7 names for them (domain notes, "Real files"). ``modifiers``: one
  per ``item.modifier`` CodeableConcept, its CPT or HCPCS coding's code, else
  its first coding's (an EHR's local coding beside the CPT one is the same
  modifier); a modifier with no coding (text only) is that claim's error, not
  dropped (a dropped 59 would deny a line it bypasses); ``units``: ``item.quantity.value`` (whole numbers);
  ``date_of_service``: ``item.servicedDate`` or a ``servicedPeriod`` starting and ending on one day.
* ``route``: the extension :data:`ROUTE_EXTENSION` on ``Claim.item`` with a
  ``valueCode`` that is one of the pack's route input values. Not stated: the
  line has no ``route`` and the rules' documented assumption applies.
* performer: only care-team members an item names by ``careTeamSequence``
  count (a supervising physician no item names is ignored). Among an item's
  members the one whose ``role`` is ``primary`` (claimcareteamrole) performed
  it, else the first named that is not its ``supervisor`` (who oversees, not
  performs), else the first; an item with no ``careTeamSequence`` uses a
  one-member team, else the team's one ``primary`` member. A member that is
  an Organization (or anything but a Practitioner or PractitionerRole) is the
  claim's error, as an organisation in the 837P rendering loop is; so are two
  members of one sequence, a ``Claim.patient`` naming no Patient, and one
  ``item.modifier`` coding two different CPT/HCPCS modifiers.
* ``provider_id``: the performer's NPI (identifier system
  ``http://hl7.org/fhir/sid/us-npi`` or its OID ``urn:oid:2.16.840.1.113883.4.6``,
  both preferred in HL7 Terminology's NamingSystem "npi", or an identifier
  typed ``NPI`` in v2 table 0203) from the contained, bundled or referenced
  Practitioner (through a PractitionerRole's ``practitioner``), or the NPI in
  a logical reference's ``identifier``; else the resource's first identifier.
  A Practitioner at hand with no identifier at all is that claim's error (its
  ``#pr1`` is no identity: same-provider checks would silently go wrong). A
  relative reference to a resource that is not in the file (``Practitioner/abc``)
  gives its id part (``abc``), as before: it is the EHR's id for the provider.
* ``provider_role``, from the first of these places that holds a role code:
  ``careTeam.qualification``, ``careTeam.role``, the referenced
  PractitionerRole's ``code`` (US Core's binding) and ``specialty``, the Practitioner's
  ``qualification.code``. A code is a NUCC Health Care Provider Taxonomy code
  (``http://nucc.org/provider-taxonomy``, or its OID ``urn:oid:2.16.840.1.113883.6.101``)
  mapped by the family pack (:func:`nucc_role`), or a code of :data:`ROLE_SYSTEM`
  (the role input values). A NUCC code the pack does not map, when that place
  has no mapped code, is that claim's error naming the code and the element;
  codes of one place naming two different roles are an error too.
* history: ``Procedure`` resources in the Bundle (CPT or HCPCS ``code``,
  ``performedDateTime`` or ``performedPeriod.start``; provider from the first
  ``performer.actor`` by the rules above, left out when it cannot be told), for
  the claim whose patient is the Procedure's subject, except the Procedures that
  claim names in ``Claim.procedure[].procedureReference``: those are the
  services it bills, not earlier bills. A history file given with
  ``--history`` is attached by the caller for every format, not here.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from cptkg.claims.models import MAX_CODE, MAX_UNITS, broken_text, load_json, one_line
from cptkg.io.readers import ReadError, ReadResult, peek_json

NAME = "fhir"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
#: CPT by its URL or its OID (HL7 Terminology's CodeSystem cpt: identifier urn:oid:2.16.840.1.113883.6.12), as the
#: NPI and NUCC are read by both: an EHR mapping from CDA sends the OID (a real-files audit)
CPT_SYSTEMS = (CPT_SYSTEM, "urn:oid:2.16.840.1.113883.6.12")
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
#: the NUCC taxonomy by its URL or its OID (HL7's OID registry: 2.16.840.1.113883.6.101), as the NPI is read by both
NUCC_SYSTEMS = (NUCC_SYSTEM, "urn:oid:2.16.840.1.113883.6.101")
ROLE_SYSTEM = "https://w3id.org/cptkg/provider-role"
# HL7 Terminology's CodeSystem hcpcs-Level-II (OID 2.16.840.1.113883.6.285) has the url http://...; the domain
# notes spell it https://. Both are read as HCPCS Level II, and messages name the canonical one.
HCPCS_SYSTEM = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
HCPCS_SYSTEMS = (HCPCS_SYSTEM, "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                 "urn:oid:2.16.840.1.113883.6.285")
CARE_TEAM_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
# the NPI's other name: HL7 Terminology's NamingSystem "npi" lists the URI above and the OID
# 2.16.840.1.113883.4.6, both preferred; EHRs that map from CDA send the OID as urn:oid:
NPI_SYSTEMS = (NPI_SYSTEM, "urn:oid:2.16.840.1.113883.4.6")
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
# cptkg's own extension on Claim.item: valueCode = a route input value of the pack
ROUTE_EXTENSION = "https://w3id.org/cptkg/fhir/StructureDefinition/route"


class FhirClaim(dict):
    """A claim dict in the claim contract, unchanged, that also remembers how the FHIR Claim
    named itself and its patient: the ClaimResponse must answer an identifier with an
    identifier, and a reference it can resolve with that reference, never a made-up one."""

    request: dict | None = None  # {"reference": "Claim/<id>"} or {"identifier": {...}}
    patient: dict | None = None  # {"reference": ...} or {"identifier": {...}}


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
    from cptkg.knowledge.loader import chosen_kb

    return chosen_kb(kb, "reading a FHIR claim")


def detect(data: bytes | object) -> bool:
    obj = peek_json(data) if isinstance(data, bytes) else data
    # any resourceType: a FHIR resource cptkg does not read ("claim", "ExplanationOfBenefit") is said as such,
    # not read as claim JSON missing its claim_id (an audit)
    return isinstance(obj, dict) and "resourceType" in obj and "claim_id" not in obj


def _models():
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.claim import Claim

    return Claim, Bundle


def _path(loc) -> str:
    """An element's location as FHIRPath writes it, ``item[0].servicedDate`` (0: the first item), which
    is how FHIR validators name an element (OperationOutcome.issue.expression). Every refusal of this
    reader uses it: pydantic's ``item.0.servicedDate`` and a 1-based ``item[1]`` were both said before,
    for the same first item (tests/test_claim_formats.py pins this form)."""
    out = ""
    for p in loc:
        if p in ("__root__", "root"):
            continue
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


#: the resources a claim file names, offered when a resourceType is misspelt (a guess, never read as one)
_LIKELY_TYPES = ("Claim", "Bundle", "Patient", "Practitioner", "PractitionerRole", "Organization", "Procedure",
                 "Coverage", "Location", "Encounter", "Condition", "Observation", "Device", "ClaimResponse",
                 "ExplanationOfBenefit", "MedicationAdministration", "RelatedPerson")


def _is_resource_type(name: str) -> bool:
    import fhir.resources.R4B as r4

    try:
        return bool(r4.get_fhir_model_class(name).has_resource_base())
    except (ValueError, KeyError, ImportError, AttributeError):
        return False


def _resource_type_problem(value: Any, path: tuple = (), resource_here: bool = False) -> str | None:
    """The first resource of the file whose resourceType FHIR R4 does not define (misspelt, in another case,
    not text) or that has none where a resource belongs (a Bundle entry's ``resource``, ``contained``).

    Said before the file is validated: fhir.resources looks the name up in its own table and failed with a
    Python ``KeyError: 'R4.ClaimsType'`` (a traceback from check, "the duckdb engine failed" from batch), and
    a resource with no resourceType was read as the base Resource, so its first element was called "not an
    element FHIR R4 defines here" (an inputs audit)."""
    if isinstance(value, list):
        for i, x in enumerate(value):
            found = _resource_type_problem(x, path + (i,), resource_here)
            if found:
                return found
        return None
    if not isinstance(value, dict):
        return None
    where = f"element {_path(path)}" if path else "the file"
    if "resourceType" in value:
        given = value["resourceType"]
        if not isinstance(given, str):
            return f"{where}: resourceType must be the name of a FHIR resource (text), got {_given(given)}"
        if not _is_resource_type(given):
            import difflib

            near = [t for t in _LIKELY_TYPES if t.lower() == given.strip().lower()] or \
                difflib.get_close_matches(given, _LIKELY_TYPES, n=1, cutoff=0.75)
            return (f"{where}: resourceType {one_line(given)[:60]!r} is not a FHIR R4 resource type"
                    + (f" (did you mean {near[0]!r}?)" if near else ""))
    elif resource_here:
        return f"{where}: has no resourceType (every resource names its type, as \"resourceType\": \"Claim\")"
    for key, x in value.items():
        if isinstance(x, (dict, list)):
            holds = key == "contained" or (key == "resource" and len(path) >= 2 and path[-2] == "entry")
            found = _resource_type_problem(x, path + (key,), holds)
            if found:
                return found
    return None


def _given(value) -> str:
    """What a JSON value is, in the words of the file (not Python's type names)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value:g}" if abs(value) < 1e15 else "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "another kind of value"


# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) said as what the element
# must be: the FHIR reader's refusals are read by billing staff, who know JSON's words but not Python's
_MUST_BE = {
    "string_type": "must be text", "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "decimal_type": "must be a number", "decimal_parsing": "must be a number", "bool_type": "must be true or false",
    "bool_parsing": "must be true or false", "list_type": "must be a list ([...])",
    "dict_type": "must be an object ({...})", "model_type": "must be an object ({...})",
    "model_attributes_type": "must be an object ({...})", "model_validation_format": "must be an object ({...})",
}


def _problem(err: dict | str) -> str:
    """One validation error of fhir.resources (pydantic) in FHIR's and JSON's words: what the element must
    be and what the file gave, never Python's type names (an attack audit found "Input should be a valid
    string" and "got type <class 'bool'>" in refusals)."""
    if isinstance(err, str):
        err = {"msg": err}
    msg, kind, ctx = str(err.get("msg", "")), err.get("type", ""), err.get("ctx") or {}
    if "Date value string does not match" in msg:
        return "is not a FHIR date (YYYY-MM-DD, without a time)"
    if "DateTime value string does not match" in msg:
        return "is not a FHIR dateTime (YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss with a time zone)"
    if "valid date" in msg and "outside expected range" in msg:
        return "is not a real calendar date (no such day in that month)" if "day value" in msg else \
            "is not a real calendar date (no such month)" if "month value" in msg else "is not a real calendar date"
    if "should have zero time" in msg or ("date" in kind and isinstance(err.get("input"), (int, float))
                                          and not isinstance(err.get("input"), bool)):
        return "must be a date written YYYY-MM-DD (text), got the number " + str(err.get("input"))[:40] \
            if "input" in err else "must be a date written YYYY-MM-DD (text)"
    given = f", got {_given(err['input'])}" if "input" in err else ""
    if msg.startswith("Invalid JSON"):  # a resource given as text: the library parses text as JSON
        return "must be an object ({...})" + given
    if "Decimal value string does not match" in msg:
        if not isinstance(err.get("input"), (int, float, str)) or isinstance(err.get("input"), bool):
            return "must be a number" + given  # true, a list, an object: no decimal at all
        return "is not a decimal FHIR accepts (at most 18 digits before the point)"
    if "but got multiple" in msg and "[" in msg:  # a choice element given two ways (servicedDate and servicedPeriod)
        return "has both " + " and ".join(_listed(msg)) + "; FHIR allows one of them"
    if kind in _MUST_BE:
        return _MUST_BE[kind] + given
    if kind == "missing" or ("Value for the field" in msg and "is required" in msg):
        return "is required and is missing (or null)"
    if kind == "extra_forbidden":
        return "is not an element FHIR R4 defines here (a misspelt element name?)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
                 "less_than": "less than"}[kind]
        bound = next(iter(ctx.values()), None)
        return f"must be {words} {bound}" + (f", got {err['input']}" if isinstance(err.get("input"), (int, float))
                                             and not isinstance(err.get("input"), bool) else "")
    if kind == "string_pattern_mismatch":
        loc = err.get("loc") or ("",)
        if str(loc[-1]) == "id":
            return "is not a FHIR id (letters, digits, '-' and '.' only, up to 64 characters)"
        return "does not have the form FHIR gives this element"
    if kind in ("string_too_long", "too_long"):
        return "is longer than FHIR allows for this element"
    if kind in ("string_too_short", "too_short"):
        return "is empty; FHIR does not allow an empty value here"
    if "Expect any of field value from this list" in msg:
        return "needs one of " + " or ".join(_listed(msg))
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected")
        return "is not one of the values FHIR allows here" + (f" ({expected})" if expected else "")
    return msg.removeprefix("Value error, ")


def _listed(msg: str) -> list[str]:
    """The element names of a choice-element error of fhir.resources, which gives them only inside its
    message, as a bracketed list ("... from this list ['a', 'b']"): its error carries no context of them."""
    inside = msg.split("[", 1)[-1].split("]", 1)[0]
    return [n for n in (part.strip(" '\"") for part in inside.split(",")) if n]


def _validation_message(source: str, kind: str, err: ValidationError) -> str:
    errors = err.errors()
    first = errors[0]
    if kind == "Bundle":
        # the Bundle is refused whole for an error outside its resources' own elements (an entry that is not
        # an object, say): that error is the one to name, not the first Claim's bad date before it
        first = next((e for e in errors if not (len(e.get("loc", ())) > 3 and e["loc"][0] == "entry")), first)
    loc = _path(first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: not a valid FHIR R4 {kind}: element {loc or kind}: {_problem(first)}{more}"


def _codings(concept: dict | None) -> list[dict]:
    return [c for c in (concept or {}).get("coding") or [] if isinstance(c, dict)]


def _billed_codes(concept: dict | None) -> list[str]:
    """Every billed code of a concept, each once: its CPT codings first, then its HCPCS Level II ones."""
    out: list[str] = []
    for systems in (CPT_SYSTEMS, HCPCS_SYSTEMS):
        for c in _codings(concept):
            if c.get("system") in systems and isinstance(c.get("code"), str) and c["code"].strip():
                if c["code"].strip() not in (o.strip() for o in out):
                    out.append(c["code"])
    return out


def _code(concept: dict | None) -> str | None:
    """The billed code of a concept: its CPT coding, else its HCPCS Level II coding."""
    return next(iter(_billed_codes(concept)), None)


def _must_resolve(reference: str) -> bool:
    """A contained or Bundle-local reference means nothing outside this file."""
    return reference.startswith("#") or reference.startswith("urn:")


def _type_id(reference: str) -> tuple[str, str] | None:
    """(resource type, id) of a relative or absolute RESTful reference, or None."""
    path = reference.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    parts = path.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":  # a versioned reference: Type/id/_history/n
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-2].isalnum() and parts[-1]:
        return parts[-2], parts[-1]
    return None


class _BundleIndex(dict):
    """A Bundle's resources by ``fullUrl`` and ``Type/id``, and what each one referred to was found to hold.

    ``broken``: by ``id()`` of a resource, its first broken text (or None), so that a Practitioner
    fifty Claims name is walked once, not once a Claim (the resources live as long as the index).
    """

    def __init__(self):
        super().__init__()
        self.broken: dict[int, tuple | None] = {}


def _bundle_index(entries: list) -> dict[str, dict]:
    """A Bundle's resources by ``fullUrl`` and by ``Type/id``."""
    index = _BundleIndex()
    for e in entries:
        res = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(res, dict):
            continue
        if isinstance(e.get("fullUrl"), str):
            index.setdefault(e["fullUrl"], res)
        if isinstance(res.get("resourceType"), str) and isinstance(res.get("id"), str):
            key = f"{res['resourceType']}/{res['id']}"
            if index.get(key, res) is not res:
                # two resources of one type and id (from two servers, by their fullUrls): a relative
                # reference is resolved against the referring resource's server, never to the first seen
                index[key] = _AMBIGUOUS
            else:
                index[key] = res
    return index


#: a ``Type/id`` that two resources of a Bundle have (:func:`_bundle_index`)
_AMBIGUOUS: dict = {}


class _Ambiguous(ReadError):
    """A relative reference two entries of the Bundle answer to (said with its Claim by :func:`read`)."""


def _server_base(full_url) -> str | None:
    """The server base of a RESTful fullUrl (``https://ehr.example/fhir/Claim/1`` -> ``https://ehr.example/fhir/``)."""
    if not isinstance(full_url, str) or "://" not in full_url:
        return None
    parts = full_url.rstrip("/").split("/")
    return "/".join(parts[:-2]) + "/" if len(parts) > 4 else None


class _Refs:
    """Where the references of one resource lead: its contained resources, then the Bundle."""

    def __init__(self, contained: list | None = None, bundle: dict[str, dict] | None = None,
                 full_url: str | None = None):
        self.contained: dict[str, dict] = {}
        for r in contained or []:
            if isinstance(r, dict) and isinstance(r.get("id"), str):
                # FHIR R4 (Resource.id, contained): ids are unique within the resource; two alike (two
                # Practitioners of different NPIs, say) made '#id' name the later one, silently
                self.contained[r["id"]] = _AMBIGUOUS if r["id"] in self.contained else r
        self.bundle = bundle or {}
        self.base = _server_base(full_url)  # the referring resource's server, by its own fullUrl
        # each resource resolved is walked for broken text once: per Bundle when there is one
        shared = getattr(bundle, "broken", None)  # an empty dict is falsy: not "or {}"
        self.broken: dict[int, tuple | None] = shared if shared is not None else {}

    def resolve(self, reference: str, where: str | None = None) -> dict | None:
        found = self._resolve(reference, where)
        if not isinstance(found, dict):
            return found
        key = id(found)
        if key not in self.broken:
            self.broken[key] = broken_text(found)
        broken = self.broken[key]
        if broken:  # a Patient or Practitioner the Claim names, holding text no file can write
            raise ReadError(f"{where + ': ' if where else ''}the {found.get('resourceType') or 'resource'} "
                            f"{reference[:80]!r} names, element {_path(broken[0])}: {broken[1].problem()}")
        return found

    def _resolve(self, reference: str, where: str | None = None) -> dict | None:
        """The resource ``reference`` names, or None; ``where`` (the referring element) leads the refusal
        of a reference to a contained id two contained resources share."""
        if reference.startswith("#"):
            found = self.contained.get(reference[1:])
            if found is _AMBIGUOUS:
                raise (ReadError if where else _Ambiguous)(f"{where + ': ' if where else ''}the reference {reference[:80]!r} names a contained resource, and two contained "
                                 f"resources have the id {reference[1:80]!r}; each contained resource needs an id "
                                 f"of its own (FHIR R4, Resource.contained)")
            return found
        if reference in self.bundle and self.bundle[reference] is not _AMBIGUOUS:
            return self.bundle[reference]
        if "://" in reference or reference.startswith("urn:"):
            return None  # an absolute URL names a resource of its server: only a fullUrl matches it
        tid = _type_id(reference)
        if not tid:
            return None
        # FHIR R4 (Bundle, resolving references): a relative reference is relative to the server base of
        # the referring resource's fullUrl; the entry with that fullUrl is the one it names
        if self.base and f"{self.base}{tid[0]}/{tid[1]}" in self.bundle:
            return self.bundle[f"{self.base}{tid[0]}/{tid[1]}"]
        found = self.bundle.get(f"{tid[0]}/{tid[1]}")
        if found is _AMBIGUOUS:
            raise _Ambiguous(f"the reference {reference[:80]!r} names a {tid[0]} that two entries of the Bundle "
                            f"have (their fullUrls are on different servers), and none on the server of the "
                            f"resource that refers to it; give the reference as the entry's full URL")
        return found

    def unresolved(self, reference: str) -> str:
        if reference.startswith("#"):
            return f"{reference[:80]!r} names a resource the Claim does not contain"
        if not self.bundle:  # a Claim alone: there is no Bundle to hold it (an attack audit)
            return (f"{reference[:80]!r} names a resource of a Bundle, and the file holds this Claim alone; send the "
                    f"Claim in a Bundle with the resource, or contain it in the Claim")
        return f"{reference[:80]!r} names a resource the Bundle does not hold"


def _value(ident) -> str | None:
    v = ident.get("value") if isinstance(ident, dict) else None
    return v.strip() if isinstance(v, str) and v.strip() else None


def _ident_out(ident: dict) -> dict:
    """An identifier as a response repeats it."""
    return {k: ident[k] for k in ("type", "system", "value") if ident.get(k)}


def _identifiers(res: dict) -> list[dict]:
    return [i for i in res.get("identifier") or [] if _value(i) and i.get("use") != "old"]


def _business_identifier(res: dict) -> dict | None:
    """The patient's identifier shared across files: member number, else medical record number, else the first."""
    ids = _identifiers(res)
    for wanted in ("MB", "MR"):
        for i in ids:
            if any(c.get("system") == IDENTIFIER_TYPE_SYSTEM and c.get("code") == wanted for c in _codings(i.get("type"))):
                return i
    return ids[0] if ids else None


def _patient(ref, refs: _Refs, where: str, claim: bool = True) -> tuple[str, dict]:
    """The patient id of the claim contract, and how a response names that patient."""
    if not isinstance(ref, dict) or not (ref.get("reference") or ref.get("identifier")):
        raise ReadError(f"{where}: no reference or identifier")
    reference = ref.get("reference") if isinstance(ref.get("reference"), str) else None
    logical = ref.get("identifier") if _value(ref.get("identifier")) else None
    if reference:
        res = refs.resolve(reference, where)
        kind = res.get("resourceType") if res is not None else (_type_id(reference) or (None,))[0]
        # Claim.patient is Reference(Patient); a history Procedure's subject may be a Group (R4), which is no
        # patient of a claim, not an unreadable history (a regression hunt)
        if claim and kind is not None and kind != "Patient" and (res is not None or kind in _FHIR_TYPES):
            # Claim.patient is Reference(Patient): a Practitioner's NPI read as the patient's id matched another
            # patient's history (a hostile-files audit)
            raise ReadError(f"{where}: {reference[:80]!r} is {'an' if kind[:1] in 'AEIOU' else 'a'} {kind}, not a Patient")
        if res is not None:
            ident = _business_identifier(res)
            if ident:
                return _value(ident), {"identifier": _ident_out(ident)}
            if logical:
                return _value(logical), {"identifier": _ident_out(logical)}
            if isinstance(res.get("id"), str) and not reference.startswith("#"):
                return res["id"], {"reference": f"{res.get('resourceType', 'Patient')}/{res['id']}"}
            raise ReadError(f"{where}: the Patient {reference[:80]!r} has no identifier, so the patient "
                            f"cannot be told apart from other patients")
        tid = _type_id(reference) if not _must_resolve(reference) else None
        if tid:
            return tid[1], {"reference": reference}
        if not logical:
            raise ReadError(f"{where}: " + (refs.unresolved(reference) if _must_resolve(reference)
                                            else f"{reference[:80]!r} is not a reference to a resource"))
    if not logical:
        raise ReadError(f"{where}: the identifier has no value")
    return _value(logical), {"identifier": _ident_out(logical)}


def _is_npi(ident) -> bool:
    """An NPI by its system (the URI or the OID of HL7's NamingSystem npi) or its type (v2 table 0203 "NPI")."""
    return isinstance(ident, dict) and (ident.get("system") in NPI_SYSTEMS or any(
        c.get("system") == IDENTIFIER_TYPE_SYSTEM and c.get("code") == "NPI" for c in _codings(ident.get("type"))))


def _identity(res: dict) -> str | None:
    """A provider resource's NPI, else its first identifier."""
    ids = _identifiers(res)
    npi = next((i for i in ids if _is_npi(i)), None)
    chosen = npi or (ids[0] if ids else None)
    return _value(chosen) if chosen else None


class _Performer:
    """Who performed: the id the rules compare, and the resources that may state the role."""

    def __init__(self, pid: str, practitioner: tuple[str, dict] | None = None,
                 practitioner_role: tuple[str, dict] | None = None):
        self.pid, self.practitioner, self.practitioner_role = pid, practitioner, practitioner_role


#: resource types an unresolved reference's path may name (``Organization/x``): a path segment that is no FHIR
#: resource type ("https://mpi.example.org/MPI/12345") says nothing of what it names (a regression hunt)
_FHIR_TYPES = frozenset({"Patient", "Practitioner", "PractitionerRole", "Organization", "Group", "Device",
                         "RelatedPerson", "Location", "HealthcareService", "CareTeam", "Endpoint", "Person",
                         "Claim", "Coverage", "Procedure", "Encounter", "Substance", "Medication"})


def _not_a_practitioner(where: str, reference: str | None, kind: str) -> str:
    """Why a performer that is no Practitioner cannot be judged: as the 837P reader says of an organisation in
    its rendering provider loop (a hostile-files audit: FHIR took an Organization's NPI as the performer)."""
    what = "an organisation" if kind == "Organization" else f"{'an' if kind[:1] in 'AEIOU' else 'a'} {kind}"
    return (f"{where}: the performer cannot be identified: {str(reference)[:80]!r} is {what}, not a Practitioner "
            f"or PractitionerRole; a group's NPI and taxonomy do not tell who did the service: name the individual "
            f"who performed it")


def _performer(ref, refs: _Refs, where: str, via_role: bool = False, individual: bool = True) -> _Performer:
    if not isinstance(ref, dict) or not (ref.get("reference") or ref.get("identifier")):
        raise ReadError(f"{where}: no reference or identifier")
    reference = ref.get("reference") if isinstance(ref.get("reference"), str) else None
    logical = ref.get("identifier") if _value(ref.get("identifier")) else None
    res = refs.resolve(reference, where) if reference else None
    if res is None:
        if logical and (_is_npi(logical) or not reference or _must_resolve(reference)):
            return _Performer(_value(logical))
        if reference and _must_resolve(reference):
            raise ReadError(f"{where}: {refs.unresolved(reference)}")
        tid = _type_id(reference) if reference else None
        if individual and tid and tid[0] in _FHIR_TYPES and tid[0] not in ("Practitioner", "PractitionerRole"):
            raise ReadError(_not_a_practitioner(where, reference, tid[0]))
        if tid:
            return _Performer(tid[1])  # not in the file: the EHR's own id for the provider
        if logical:
            return _Performer(_value(logical))
        raise ReadError(f"{where}: {reference[:80]!r} is not a reference to a resource")
    kind = res.get("resourceType")
    label = (kind or "resource", res)
    if individual and kind not in ("Practitioner", "PractitionerRole"):
        raise ReadError(_not_a_practitioner(where, reference, kind or "resource"))
    if kind == "PractitionerRole" and via_role:  # a PractitionerRole's practitioner is a Practitioner
        raise ReadError(f"{where}: {reference[:80]!r} is a PractitionerRole, not the Practitioner it should name")
    if kind == "PractitionerRole":
        inner = res.get("practitioner")
        if isinstance(inner, dict) and (inner.get("reference") or inner.get("identifier")):
            found = _performer(inner, refs, f"{where} (PractitionerRole {reference[:80]}), element practitioner",
                               via_role=True)
            return _Performer(found.pid, found.practitioner, (f"PractitionerRole {reference[:80]}", res))
        pid = _identity(res)
        if pid:
            return _Performer(pid, None, (f"PractitionerRole {reference[:80]}", res))
    else:
        pid = _identity(res)
        if pid:
            return _Performer(pid, (f"{label[0]} {reference[:80]}", res) if kind == "Practitioner" else None)
    raise ReadError(f"{where}: the {kind or 'resource'} {reference[:80]!r} has no NPI (identifier system "
                    f"{NPI_SYSTEM}) and no other identifier: the performer cannot be identified")


def _role(places: list[tuple[str, list]], kb=None) -> str | None:
    """The provider role stated by the first place holding a role code (NUCC taxonomy or ROLE_SYSTEM)."""
    from cptkg.knowledge.vocabulary import vocabulary

    vocab = vocabulary(_kb(kb))
    allowed = vocab.values("role")
    for element, concepts in places:
        roles: dict[str, str] = {}
        unknown: list[str] = []
        for concept in concepts:
            for c in _codings(concept if isinstance(concept, dict) else None):
                system, code = c.get("system"), c.get("code")
                if not isinstance(code, str):
                    continue
                if system == ROLE_SYSTEM:
                    # read in any case, with spaces or hyphens for underscores, as a claim file's provider_role
                    role = vocab.canonical("role", code)
                    if role in allowed:
                        roles.setdefault(role, code)
                    else:
                        unknown.append(f"role code {code[:40]!r} ({ROLE_SYSTEM})")
                elif system in NUCC_SYSTEMS:
                    role = nucc_role(code, kb)
                    if role:
                        roles.setdefault(role, code)
                    else:
                        unknown.append(f"NUCC taxonomy code {code[:40]!r}")
        if len(roles) > 1:
            named = ", ".join(f"{code} is {role}" for role, code in roles.items())
            raise ReadError(f"{element}: the codes name different provider roles ({named}); state the one the "
                            f"service was performed in")
        if roles:
            return next(iter(roles))
        if unknown:
            raise ReadError(f"{element}: {unknown[0]} maps to no provider role of this knowledge base "
                            f"(roles: {', '.join(allowed)}); the family pack lists the taxonomy codes of each role")
    return None


def _team_role(member: dict, code: str) -> bool:
    return any(c.get("system") == CARE_TEAM_ROLE_SYSTEM and c.get("code") == code
               for c in _codings(member.get("role")))


def _is_primary(member: dict) -> bool:
    return _team_role(member, "primary")


def _performed_by(seqs: list, team: dict[int, dict]):
    """The member who performed an item: the one with role ``primary``, else the first who is not only its
    ``supervisor`` (claimcareteamrole: a supervisor oversees the service another member performs), else
    the first."""
    return next((s for s in seqs if _is_primary(team[s])),
                next((s for s in seqs if not _team_role(team[s], "supervisor")), seqs[0]))


def _modifier(concept) -> str | None:
    """One item.modifier CodeableConcept is one modifier: its CPT or HCPCS coding's code, else its first
    coding's (an EHR adds its own local coding of the same modifier beside the CPT one)."""
    codes = [c for c in _codings(concept if isinstance(concept, dict) else None)
             if isinstance(c.get("code"), str) and c["code"].strip()]
    billing = list(dict.fromkeys(c["code"].strip().upper() for c in codes
                                 if c.get("system") in (*CPT_SYSTEMS, *HCPCS_SYSTEMS)))
    if len(billing) > 1:
        # two modifiers in one element: one taken, the other (a 59 that bypasses an edit) was dropped without a
        # word (a hostile-files audit); a coding of a modifier's own system beside it is the same modifier
        raise _TwoModifiers(billing)
    chosen = next((c for c in codes if c.get("system") in (*CPT_SYSTEMS, *HCPCS_SYSTEMS)), codes[0] if codes else None)
    return chosen["code"].strip() if chosen else None


class _TwoModifiers(Exception):
    def __init__(self, codes: list[str]):
        super().__init__(", ".join(codes))
        self.codes = codes


#: the unit codes and words of a quantity that counts units of service (UCUM '1' and its annotations, X12's UN)
UNIT_WORDS = {"1", "{unit}", "{units}", "{un}", "{service}", "{services}", "un", "unit", "units", "each", "ea"}


def _not_units(quantity: dict) -> tuple[str, str] | None:
    """(element, value) of a quantity's unit that is a measure (mg, mL), not a count of units; None for none."""
    if not isinstance(quantity, dict):
        return None
    for element in ("code", "unit"):
        v = quantity.get(element)
        if isinstance(v, str) and v.strip() and v.strip().lower() not in UNIT_WORDS:
            return f"quantity.{element}", v.strip()[:40]
    return None


def _route(item: dict, where: str, kb=None) -> str | None:
    from cptkg.knowledge.vocabulary import vocabulary

    stated = [e for e in item.get("extension") or [] if isinstance(e, dict) and e.get("url") == ROUTE_EXTENSION]
    if not stated:
        return None
    element = f"{where}, element extension[{ROUTE_EXTENSION}].valueCode"
    for e in stated:
        other = next((k for k in e if k.startswith("value") and k != "valueCode"), None)
        if other is not None and "valueCode" not in e:
            # a valueString read as a missing valueCode: "valueCode: must be text naming a route" (a real-files audit)
            raise ReadError(f"{where}, element extension[{ROUTE_EXTENSION}].{other}: the route extension takes a "
                            f"valueCode (one of {', '.join(vocabulary(_kb(kb)).values('route'))}), not a {other}")
    values = {repr(e.get("valueCode")): e.get("valueCode") for e in stated}
    if len(values) > 1:
        raise ReadError(f"{element}: the item states more than one route ({', '.join(sorted(values))})")
    value = next(iter(values.values()))
    why = vocabulary(_kb(kb)).refusal("route", value)
    if why:
        raise ReadError(f"{element}: {why}")
    return value


def _request(raw: dict) -> dict | None:
    """How a ClaimResponse names the Claim: by its id, else by its business identifier."""
    if isinstance(raw.get("id"), str) and raw["id"].strip():
        return {"reference": f"Claim/{raw['id']}"}
    ident = next((i for i in raw.get("identifier") or [] if _value(i)), None)
    return {"identifier": _ident_out(ident)} if ident else None


def _claim_id(raw: dict) -> str | None:
    """A Claim resource's id, else its first identifier value (None when it has neither, or not as text)."""
    cid = raw.get("id") or next((i.get("value") for i in raw.get("identifier") or []
                                 if isinstance(i, dict) and i.get("value")), None)
    return cid if isinstance(cid, str) and cid.strip() else None


def _claims_at_fault(bundle: dict, err: ValidationError) -> dict[int, ReadError]:
    """Bundle entry -> why its Claim is not valid FHIR (its first error, with the item it is in), when every error of ``err`` is inside a Claim
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
        if n not in out:
            out[n] = ReadError(f"{where}: not a valid FHIR R4 Claim: element {_path(loc[3:])}: {_problem(e)}")
            if len(loc) > 4 and loc[3] == "item" and isinstance(loc[4], int):
                out[n].line_index = loc[4]  # the Claim's other items say they were not judged for this one's error
    return out


def _full_date(value: str, where: str) -> None:
    """A date of service in the element's own words: FHIR's date takes a year or a month alone, a claim line
    does not."""
    from cptkg.claims.models import date_problem

    problem = date_problem(value)
    if problem == "written":
        raise ReadError(f"{where}: {one_line(value[:40])!r} is not a full date (YYYY-MM-DD); a claim line needs the "
                        f"day of service, not a month or a year")
    if problem == "calendar":
        raise ReadError(f"{where}: {value!r} is not a real calendar date")


def _unit_count(written, where: str, as_written: str) -> None:
    """Refuse a count of units no line bills. ``written`` (a Decimal of the file's text) is compared as it
    is, never made an int first (int() of 1e400 has 401 digits); a count that large is quoted as written."""
    huge = abs(written) >= 10 ** 15
    if written < 1:
        raise ReadError(f"{where}: {as_written[:40] if huge else int(written)} bills no units: a line bills at "
                        f"least 1 unit")
    if written > MAX_UNITS:
        raise ReadError(f"{where}: {as_written[:40] if huge else f'{int(written):,}'} units; at most {MAX_UNITS:,} "
                        f"are judged on one line")


#: Claim.status, FHIR R4's required value set fm-status
CLAIM_STATUSES = ("active", "cancelled", "draft", "entered-in-error")
#: Claim.status values of a Claim that bills nothing (FHIR R4 fm-status), with their meaning
WITHDRAWN = {"cancelled": "withdrawn by the provider", "entered-in-error": "entered in error"}


def _items_given(raw: dict) -> list[dict]:
    """The sequence and billed code of each item of a Claim, as far as each can be read ("" where not)."""
    items = raw.get("item") if isinstance(raw, dict) else None
    out = []
    for item in items if isinstance(items, list) else ():
        item = item if isinstance(item, dict) else {}
        seq = item.get("sequence")
        try:
            code = _code(item.get("productOrService") if isinstance(item.get("productOrService"), dict) else None)
        except (TypeError, AttributeError):  # a malformed coding: the item is still listed, its code unread
            code = None
        out.append({"line": seq if isinstance(seq, int) and not isinstance(seq, bool) else "",
                    "code": code.strip()[:MAX_CODE] if isinstance(code, str) else ""})
    return out


def _modifier_extension(node, path: str = "") -> tuple[str, object] | None:
    """(where, url) of the first modifier extension in the resource (its items, care team, contained
    resources), or None."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            if key == "modifierExtension" and value:
                first = value[0] if isinstance(value, list) else value
                return here, first.get("url") if isinstance(first, dict) else first
            found = _modifier_extension(value, here)
            if found:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _modifier_extension(value, f"{path}[{i}]")
            if found:
                return found
    return None


def _claim(raw: dict, where: str, kb=None, bundle: dict[str, dict] | None = None,
           full_url: str | None = None) -> FhirClaim:
    cid = raw.get("id") or next((i.get("value") for i in raw.get("identifier") or [] if i.get("value")), None)
    if not cid:
        raise ReadError(f"{where}: the Claim has no id and no identifier value")
    where = f"{where} (Claim {cid})"
    broken = broken_text(raw)
    if broken:  # in FHIR's words (the element), before the claim model names a claim field
        raise ReadError(f"{where}, element {_path(broken[0]) or 'id'}: {broken[1].problem()}")
    if isinstance(raw.get("status"), str) and raw["status"] not in CLAIM_STATUSES:
        # a required code of a fixed list (FHIR R4 fm-status): fhir.resources reads any text, and a Claim
        # "open" was judged as if it were active (a reviewer's audit)
        raise ReadError(f"{where}, element status: {one_line(raw['status'])[:40]!r} is not a Claim status of FHIR "
                        f"R4 ({', '.join(CLAIM_STATUSES)})")
    if raw.get("status") in WITHDRAWN:
        # as an 837P void (CLM05-3 = 8): judging its items as new services would report as duplicates, or
        # accept, services it does not bill; a draft is judged (checking a claim before it goes out)
        raise ReadError(f"{where}, element status: the Claim is {raw['status']!r} ({WITHDRAWN[raw['status']]}) and "
                        f"bills nothing to judge; judge the claim that replaces it, if any")
    modified = _modifier_extension(raw)
    if modified:
        # FHIR R4 (Extensibility, modifierExtension): an application that does not know a modifier extension
        # must not process the element that carries it as if it were not there ("not performed", "test only")
        path, url = modified
        raise ReadError(f"{where}, element {path}: a modifier extension ({one_line(str(url))[:120]}) changes what "
                        f"the element means, and cptkg does not know it; the claim cannot be judged as it stands")
    refs = _Refs(raw.get("contained"), bundle, full_url)
    patient, patient_ref = _patient(raw.get("patient"), refs, f"{where}, element patient")
    # members are read only when an item names them: a member no item names is not judged
    team: dict[int, dict] = {}
    for i, m in enumerate(raw.get("careTeam") or []):
        if isinstance(m, dict):
            if m.get("sequence") in team:
                # the item's careTeamSequence would name two members, and the last one was taken without a word
                # (a hostile-files audit), as a duplicate item.sequence is refused
                raise ReadError(f"{where}, element careTeam[{i}].sequence: {m.get('sequence')} is the sequence of "
                                f"another careTeam member; give each member its own sequence")
            team[m.get("sequence")] = m
    performers: dict[int, tuple[str, str]] = {}

    def performer(seq: int) -> tuple[str, str]:
        if seq not in performers:
            m, element = team[seq], f"{where}, element careTeam[sequence={seq}]"
            found = _performer(m.get("provider"), refs, f"{element}.provider")
            places = [(f"{element}.qualification", [m.get("qualification")]), (f"{element}.role", [m.get("role")])]
            if found.practitioner_role:
                name, res = found.practitioner_role
                # US Core binds PractitionerRole.code to the NUCC taxonomy (US Core Provider Role): read first
                places.append((f"{where}, {name}, element code", list(res.get("code") or [])))
                places.append((f"{where}, {name}, element specialty", list(res.get("specialty") or [])))
            if found.practitioner:
                name, res = found.practitioner
                places.append((f"{where}, {name}, element qualification.code",
                               [q.get("code") for q in res.get("qualification") or [] if isinstance(q, dict)]))
            role = _role(places, kb)
            if role is None:
                ref = (m.get("provider") or {}).get("reference") if isinstance(m.get("provider"), dict) else None
                # a provider the file does not hold: its qualification was not there to read (the message said the
                # Practitioner was searched: a real-files audit)
                unread = (f"; the provider {one_line(str(ref))[:80]!r} is not in the file, so its qualification "
                          f"could not be read" if ref and not found.practitioner and not found.practitioner_role
                          else "")
                raise ReadError(f"{element}: no qualification or role code maps to a cptkg role (NUCC taxonomy "
                                f"{NUCC_SYSTEM} or {ROLE_SYSTEM}), on the care team or on the provider's "
                                f"Practitioner or PractitionerRole{unread}")
            performers[seq] = (found.pid, role)
        return performers[seq]

    lines = []
    items = raw.get("item") or []
    if not items:
        raise ReadError(f"{where}, element item: the Claim has no items")
    k = None
    try:
        seen_seq: set[int] = set()
        for k, item in enumerate(items):
            seq = item.get("sequence")
            iw = f"{where}, item {seq}" if isinstance(seq, int) and not isinstance(seq, bool) else f"{where}, item #{k + 1}"
            # in FHIR's own words (a FHIR author will not find the claim JSON's "field line": a real-files audit)
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise ReadError(f"{iw}, element sequence: " + ("missing" if seq is None else
                                f"{one_line(repr(seq))[:40]} is not a positive whole number (FHIR positiveInt)"))
            if seq in seen_seq:
                raise ReadError(f"{iw}, element sequence: {seq} is the sequence of another item of the Claim; "
                                f"each item needs its own")
            seen_seq.add(seq)
            value = (item.get("quantity") or {}).get("value") if isinstance(item.get("quantity"), dict) else None
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ReadError(f"{iw}, element quantity.value: {one_line(repr(value))[:40]} is not a number "
                                f"(FHIR decimal is a JSON number)")
            if item.get("detail"):  # sub-lines bill services too: judged as nothing, they would be dropped unseen
                raise ReadError(f"{iw}, element detail: the item has sub-lines (detail), which cptkg does not read; "
                                f"give each billed service as its own item")
            billed_codes = _billed_codes(item.get("productOrService"))
            code = next(iter(billed_codes), None)
            billed = {c.strip() for c in billed_codes}
            if len(billed) > 1:  # the codings of one concept say one thing; two billed codes would be judged as one
                raise ReadError(f"{iw}, element productOrService: codes {', '.join(sorted(billed))} in one item; an item "
                                f"bills one CPT or HCPCS code (give each billed service as its own item)")
            if code is None:
                raise ReadError(f"{iw}, element productOrService: no coding with the CPT system {CPT_SYSTEM} or the "
                                f"HCPCS Level II system {HCPCS_SYSTEM}")
            date = item.get("servicedDate")
            if date is None and item.get("servicedPeriod"):
                period = item["servicedPeriod"]
                start, end = (period.get("start") or "")[:10], (period.get("end") or "")[:10]
                if not start:
                    raise ReadError(f"{iw}, element servicedPeriod.start: missing; a claim line needs its date of service "
                                    f"(give servicedDate, or a period whose start and end are that day)")
                if not end:  # FHIR: a period with no end is ongoing, not one day; taking the start would guess
                    raise ReadError(f"{iw}, element servicedPeriod.end: missing, so the period starting {start} is "
                                    f"ongoing; a claim line needs one date of service (give servicedDate, or an end "
                                    f"on the same day)")
                if end < start:
                    raise ReadError(f"{iw}, element servicedPeriod: ends ({end}) before it starts ({start}); a claim line "
                                    f"needs its one date of service (give servicedDate, or a period whose start and end "
                                    f"are that day)")
                if end != start:
                    raise ReadError(f"{iw}, element servicedPeriod: spans {start} to {end}; a claim line needs one date of service")
                date = start
            if date is None:
                raise ReadError(f"{iw}, element servicedDate: missing")
            _full_date(str(date)[:10], f"{iw}, element {'servicedDate' if item.get('servicedDate') is not None else 'servicedPeriod.start'}")
            seqs = item.get("careTeamSequence") or []
            if not seqs and len(team) == 1:
                seqs = list(team)
            if not seqs and sum(map(_is_primary, team.values())) == 1:  # the team names who performed
                seqs = [next(s for s, m in team.items() if _is_primary(m))]
            if not seqs and not team:  # Claim.provider is who bills, not who performed (FHIR R4 Claim)
                raise ReadError(f"{iw}, element careTeamSequence: missing, and the Claim has no careTeam: name the "
                                "practitioner who performed the item in Claim.careTeam (with the role or "
                                "qualification) and give that member's sequence in the item's careTeamSequence")
            if not seqs:
                primaries = sum(map(_is_primary, team.values()))
                # two primaries were said to be none (a hostile-files audit)
                which = (f"{primaries} of the care team's {len(team)} members have the role primary" if primaries
                         else f"not one of the care team's {len(team)} members has the role primary")
                raise ReadError(f"{iw}, element careTeamSequence: missing, and {which}: name the member who "
                                "performed the item")
            for s in seqs:
                if s not in team:
                    # "1" (text) beside a member of sequence 1 (a number) read as no member (a hostile-files audit)
                    kind = " (written as text; a sequence is a number)" if isinstance(s, str) else ""
                    raise ReadError(f"{iw}, element careTeamSequence: {s!r}{kind} names no careTeam member"
                                    if kind else f"{iw}, element careTeamSequence: {s} names no careTeam member")
            chosen = _performed_by(seqs, team)
            provider, role = performer(chosen)
            line: dict[str, Any] = {"line": seq, "code": code, "date_of_service": str(date)[:10],
                                    "provider_id": provider, "provider_role": role}
            qty = (item.get("quantity") or {}).get("value")
            if (item.get("quantity") or {}).get("comparator") is not None:
                # Claim.item.quantity is a SimpleQuantity, which has no comparator (FHIR R4 qty-3): "< 3 units"
                # bills no known number of units
                raise ReadError(f"{iw}, element quantity.comparator: {item['quantity']['comparator']!r} makes the "
                                f"quantity a bound, not the units billed; a claim item's quantity has no comparator")
            not_units = _not_units(item.get("quantity") or {})
            if not_units:
                # 20 mg of a drug read as 20 units got a unit-edit denial the 837P reader would not give (it refuses an
                # SV103 other than UN): a quantity in a measure is not the units billed (a real-files audit)
                raise ReadError(f"{iw}, element {not_units[0]}: {not_units[1]!r} is a measure, not units of service; "
                                f"cptkg judges the units billed (as the 837P's SV103 UN): give the quantity with no unit, "
                                f"or the UCUM unit '1'")
            if qty is not None:
                # read as written (Decimal of the text): a float read 2.0000000000000000001 as 2 and 1e400 as infinity
                from decimal import Decimal

                written = Decimal(str(qty))
                if written != written.to_integral_value():
                    raise ReadError(f"{iw}, element quantity.value: {qty} is not a whole number of units")
                _unit_count(written, f"{iw}, element quantity.value", str(qty))
                line["units"] = int(written)
            mods = []
            for i, concept in enumerate(item.get("modifier") or []):
                try:
                    code = _modifier(concept)
                except _TwoModifiers as two:
                    raise ReadError(f"{iw}, element modifier[{i}]: codes {' and '.join(two.codes)} in one modifier; "
                                    f"give each modifier as its own item.modifier entry") from None
                if code is None:  # a modifier only described in words: dropping it could deny a line it bypasses
                    text = concept.get("text") if isinstance(concept, dict) else None
                    raise ReadError(f"{iw}, element modifier[{i}]: no coded modifier"
                                    + (f" (only the text {str(text)[:40]!r})" if text else "")
                                    + f"; give it as a coding of the CPT system {CPT_SYSTEM} or HCPCS {HCPCS_SYSTEM}")
                mods.append(code)
            if mods:
                line["modifiers"] = mods
            route = _route(item, iw, kb)
            if route is not None:
                line["route"] = route
            lines.append(line)
    except ReadError as e:  # the item the error is in: the Claim's other items say they were not judged for it
        # (an error of a care team member several items name is the Claim's, not this item's)
        if k is not None and e.line_index is None and f"{where}, item " in str(e):
            e.line_index = k
        raise
    out = FhirClaim(claim_id=str(cid), patient_id=patient, lines=lines)
    out.request, out.patient = _request(raw), patient_ref
    return out


#: Procedure statuses of a service that was done (FHIR R4 EventStatus): the others (preparation, in-progress,
#: not-done, on-hold, stopped, entered-in-error) are no past service; "unknown" cannot be told either way
_DONE = "completed"
_NOT_DONE = frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped", "entered-in-error"})
_CODE_LIKE = r"(?:[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})"
_BILLING_SYSTEM_HINT = re.compile(r"cpt|ama-assn|hcpcs", re.IGNORECASE)


def _history_entry(proc: dict, bundle: dict[str, dict] | None = None, where: str = "Procedure"
                   ) -> tuple[str | None, dict | None, str | None]:
    """(patient, history entry, problem) of a Bundle's Procedure.

    A Procedure that is no billed past service (another status; coded only in SNOMED CT or another system
    that is no billing code) is (None, None, None). One that bills a code but cannot be read is its
    ``problem``, with the patient when it can be told (None: it cannot be told whose it is): a Procedure
    whose subject did not resolve, dated by ``performedString`` or coded with ``https://www.ama-assn.org/go/cpt``
    was left out without a word and the claim judged as if the patient had no such service (an audit).
    """
    status = proc.get("status")
    if status in _NOT_DONE:
        return None, None, None
    code = _code(proc.get("code"))
    concept = proc.get("code") if isinstance(proc.get("code"), dict) else {}
    codings = _codings(concept)
    # a coding of a billing system written otherwise, or of none with a code written as a CPT or HCPCS code,
    # or a text alone that starts with one, is a billed code that cannot be read; a SNOMED CT coding whose
    # text holds a number ("lot 45872") is not (a regression hunt)
    looks_billed = any(_BILLING_SYSTEM_HINT.search(str(c.get("system") or "")) or (
        not c.get("system") and re.fullmatch(_CODE_LIKE, str(c.get("code") or "").strip())) for c in codings) or \
        (not codings and bool(re.match(_CODE_LIKE + r"\b", str(concept.get("text") or "").strip())))
    if not code and not looks_billed:
        return None, None, None  # a procedure of the record coded in another system: not a billed service
    refs = _Refs(proc.get("contained"), bundle)
    try:
        patient, _ = _patient(proc.get("subject"), refs, f"{where}, element subject", claim=False)
    except ReadError as e:
        return None, None, str(e)
    if status == "unknown":
        return patient, None, (f"{where}, element status: 'unknown': it cannot be told whether the service was "
                               f"done (give completed, or not-done)")
    if status != _DONE:  # "Completed", "done": no FHIR event status, so not told either way (a regression hunt)
        return patient, None, (f"{where}, element status: {one_line(str(status))[:40]!r} is not a FHIR event "
                               f"status (completed for a service done; not-done, entered-in-error and the others "
                               f"for one that was not)")
    if not code:
        return patient, None, (f"{where}, element code: no coding with the CPT system {CPT_SYSTEM} or the HCPCS "
                               f"Level II system {HCPCS_SYSTEM}")
    period = proc.get("performedPeriod") if isinstance(proc.get("performedPeriod"), dict) else {}
    date = proc.get("performedDateTime") or period.get("start")
    if not isinstance(date, str) or not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date):
        given = [k for k in ("performedString", "performedAge", "performedRange") if k in proc]
        element = "performedDateTime"
        if isinstance(date, str):
            said = f"{one_line(date)[:40]!r} is not a full date (YYYY-MM-DD)"
            element = "performedDateTime" if proc.get("performedDateTime") else "performedPeriod.start"
        elif given:
            said = f"the date is given as {given[0]}, which gives no calendar date"
        elif period:
            element, said = "performedPeriod.start", "missing"
        else:
            said = "missing"
        return patient, None, (f"{where}, element {element}: {said}; a past service needs the date it was done "
                               f"(performedDateTime, or performedPeriod.start)")
    entry = {"code": code, "date_of_service": date[:10]}
    performers = proc.get("performer") or []
    if performers and isinstance(performers[0], dict):
        try:
            # a past service's performer may be an Organization or a Device (R4 Procedure.performer.actor): its id
            # is the provider an earlier claim was billed under, compared as before (a regression hunt)
            entry["provider_id"] = _performer(performers[0].get("actor"), refs, f"{where}, element performer",
                                              individual=False).pid
        except ReadError:
            pass  # a past service whose performer cannot be told: compared as by an unknown provider
    return patient, entry, None


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    obj = load_json(data, source)
    if not isinstance(obj, dict) or obj.get("resourceType") not in ("Claim", "Bundle"):
        given = obj.get("resourceType") if isinstance(obj, dict) else None
        said = f"resourceType {one_line(str(given))[:60]!r}" if given is not None else "no resourceType"
        hint = f" (resourceType is written with a capital: {given.capitalize()!r})" if isinstance(given, str) \
            and given.lower() in ("claim", "bundle") else ""
        raise ReadError(f"{source}: {said}: cptkg reads a FHIR Claim or a Bundle of Claims{hint}")
    problem = _resource_type_problem(obj)
    if problem:
        raise ReadError(f"{source}: not a valid FHIR R4 {obj['resourceType']}: {problem}")
    if obj["resourceType"] == "Bundle":
        entries = obj.get("entry")
        kinds = [e["resource"].get("resourceType") for e in entries if isinstance(e, dict)
                 and isinstance(e.get("resource"), dict)] if isinstance(entries, list) else []
        if isinstance(entries, list) and "Claim" not in kinds:
            # said before the Bundle's resources are validated: "entry.0.resource.insurance: Field required" of
            # an ExplanationOfBenefit told nothing of what was wrong (an audit)
            held = sorted({str(k) for k in kinds if isinstance(k, str)})
            raise ReadError(f"{source}: the Bundle holds no Claim resources"
                            + (f" (it holds {', '.join(held[:5])})" if held else " (it has no entries)"))
    # ``history`` (a --history file) is attached by the caller for every format; Procedures are read here
    Claim, Bundle = _models()
    kind = obj["resourceType"]
    refused: dict[int, ReadError] = {}  # Bundle entry -> why its Claim is not a valid FHIR Claim
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
        # a Claim alone that cannot be judged refuses the file for check, as one claim of claim JSON does; the
        # refusal carries the Claim's items (``lines``) and ``claim_entry`` (the error entry a Bundle's Claim
        # would be), so batch writes an error row for each item (it wrote no file at all: a real-files audit)
        try:
            return ReadResult([_claim(obj, source, kb)], was_list=False)
        except _Ambiguous:
            raise
        except ReadError as e:
            said = str(e)
            if said.startswith(source + " ("):  # "input (Claim F06), item 1, ..." -> "Claim F06, item 1, ..."
                said = re.sub(r"^\((Claim [^)]*)\)", r"\1", said[len(source):].lstrip(), count=1)
            e.claim_entry = _claim_error(obj, said, e)
            raise
    claims, procedures, own, claim_resources = [], [], [], []
    first_entry: dict[str, int] = {}
    index = _bundle_index(obj.get("entry") or [])
    for n, entry in enumerate(obj.get("entry") or []):
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Claim":
            # a Claim that cannot be read is its own error entry; the other Claims are judged
            try:
                if n in refused:
                    raise refused[n]
                claim = _claim(res, f"Bundle entry {n}", kb, index, entry.get("fullUrl"))
            except ReadError as e:
                cid = _claim_id(res)
                said = str(e) if not isinstance(e, _Ambiguous) else \
                    f"Bundle entry {n}" + (f" (Claim {one_line(str(cid))[:60]})" if cid else "") + f": {e}"
                claim = _claim_error(res, said, e)
            cid = claim["claim_id"] if isinstance(claim, dict) else claim.claim_id
            if cid is not None and cid in first_entry:
                # two verdicts for one id would contradict each other: the later Claim is its error entry, the
                # others are judged, as a CLM01 given twice in an 837P or a claim id twice in claim JSON (it
                # stopped the whole file: a real-files audit)
                claims.append(_claim_error(res, f"Bundle entry {n} (Claim {one_line(cid[:60])}): Claim.id "
                                                f"{one_line(cid[:60])!r} already appears in entry {first_entry[cid]}; "
                                                f"each Claim in a Bundle needs its own id", claim_id=cid))
                own.append(_billed_procedures(res, index))
                claim_resources.append(res)
                continue
            first_entry[cid] = n
            claims.append(claim)
            own.append(_billed_procedures(res, index))
            claim_resources.append(res)
        elif res.get("resourceType") == "Procedure":
            procedures.append((n, res))
    if not claims:
        raise ReadError(f"{source}: the Bundle holds no Claim resources")
    by_patient: dict[str, list[tuple[int, dict]]] = {}
    # patient (None: whose, cannot be told) -> (the Procedure, its problem), in file order
    unreadable: dict[str | None, list[tuple[int, str]]] = {}
    for n, proc in procedures:
        patient, entry, problem = _history_entry(proc, index, f"Bundle entry {n} (Procedure)")
        if problem:
            unreadable.setdefault(patient, []).append((id(proc), problem))
        elif patient and entry:
            by_patient.setdefault(patient, []).append((id(proc), entry))
    for i, (claim, billed) in enumerate(zip(claims, own)):
        if not isinstance(claim, dict):
            continue
        # the Procedures a Claim names as its own are this service, not its history: one that cannot be read
        # does not stop that Claim (it did: a regression hunt), only the patient's other claims
        problem = next((p for key, p in unreadable.get(claim["patient_id"], ()) if key not in billed), None)
        nobody = next((p for key, p in unreadable.get(None, ()) if key not in billed), None)
        if problem or nobody:
            # as a --history row that cannot be read: the claims it may belong to are not judged
            said = (f"the patient's history cannot be read ({problem})" if problem
                    else f"the Bundle's history cannot be read ({nobody})")
            claims[i] = _claim_error(claim_resources[i], f"Claim {one_line(claim['claim_id'])[:60]}: {said}")
            continue
        if claim["patient_id"] in by_patient:
            # the Procedures the Claim itself names (Claim.procedure) are the services it bills now, not
            # earlier bills: as history, each would deny its own line as a duplicate
            history = [entry for key, entry in by_patient[claim["patient_id"]] if key not in billed]
            if history:
                claim["history"] = history
    return ReadResult(claims, was_list=True)


def _claim_error(res: dict, said: str, cause: ReadError | None = None, claim_id: str | None = None) -> ReadError:
    """The error entry of a Claim that cannot be judged: the Claim as received (``raw``, for the decision log),
    how a ClaimResponse names it (``request``), and its items (``lines``: each gets its error row, as a claim
    JSON's lines do), the item at fault marked when ``cause`` names one."""
    err = ReadError(said, claim_id if claim_id is not None else _claim_id(res))
    err.raw, err.request, err.lines = res, _request(res), _items_given(res)
    at = cause.line_index if cause is not None else None
    if at is not None and 0 <= at < len(err.lines) and len(err.lines) > 1:
        err.lines[at]["has_error"] = True
    return err


def _billed_procedures(claim: dict, index: dict[str, dict]) -> set[int]:
    """The Bundle's Procedure resources a Claim names in ``Claim.procedure[].procedureReference`` (as
    ``id()`` of the resource read): the services that Claim bills."""
    refs = _Refs(claim.get("contained"), index)
    out: set[int] = set()
    for p in claim.get("procedure") or []:
        ref = p.get("procedureReference") if isinstance(p, dict) else None
        ref = ref.get("reference") if isinstance(ref, dict) else None
        res = refs.resolve(ref) if isinstance(ref, str) else None
        if isinstance(res, dict):
            out.add(id(res))
    return out
