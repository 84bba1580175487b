"""A claim as RDF, and its validation against the claim SHACL shapes.

The claim is taken as it arrives (a JSON-like dict, not yet validated), so
that the shapes in ``ontology/claim-shapes.ttl`` see missing and mistyped
fields as well as the code and role questions the rules decide. Values are
written as they are: a string date becomes an ``xsd:date`` literal (an
impossible date is an ill-typed literal the shapes report), a role text
becomes the ontology role class whose ``ont:inputValue`` it is.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, XSD

from cptkg.knowledge.datasets import load_graphs
from cptkg.knowledge.namespace import KB, ONT

CLM = Namespace("https://w3id.org/cptkg/claim#")
CLAIM_DATA = Namespace("https://w3id.org/cptkg/claim/")
SH = Namespace("http://www.w3.org/ns/shacl#")
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def _role_classes(ontology: Graph) -> dict[str, URIRef]:
    """Role text -> role class, from the ontology's ont:inputValue annotations."""
    out = {}
    for cls, value in ontology.subject_objects(ONT.inputValue):
        if (cls, RDF.type, OWL.Class) in ontology:
            out[str(value)] = cls
    return out


def _literal(value: Any, datatype: URIRef | None = None) -> Literal:
    if datatype is not None:
        return Literal(str(value), datatype=datatype)
    if isinstance(value, bool):
        return Literal(str(value).lower())  # not a number: the shapes report it
    if isinstance(value, int):
        return Literal(value)
    return Literal(value if isinstance(value, str) else repr(value))


def _date(value: Any) -> Literal:
    """An xsd:date literal; an impossible date stays ill-typed for the shapes to report."""
    logger = logging.getLogger("rdflib.term")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # rdflib logs a traceback for ill-typed literals
    try:
        lit = Literal(str(value), datatype=XSD.date)
    finally:
        logger.setLevel(level)
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        # not even the lexical shape of a date: make it a string, which sh:datatype rejects
        return Literal(str(value))
    return lit


def _claim_node(ident: Any) -> URIRef | BNode:
    """``…/claim/<id>`` when the id is IRI-safe, else a blank node."""
    if isinstance(ident, (str, int)) and not isinstance(ident, bool) and _SAFE.match(str(ident)):
        return CLAIM_DATA[str(ident)]
    return BNode()


def claim_graph(claim: dict, roles: dict[str, URIRef] | None = None) -> Graph:
    """RDF for one claim dict in the issue-2 JSON shape."""
    roles = roles if roles is not None else _role_classes(load_graphs().ontology)
    g = Graph()
    g.bind("clm", CLM)
    if not isinstance(claim, dict):
        claim = {}
    cid = claim.get("claim_id")
    c = _claim_node(cid)
    g.add((c, RDF.type, CLM.Claim))
    if cid is not None:
        g.add((c, CLM.claimId, _literal(cid)))
    if claim.get("patient_id") is not None:
        g.add((c, CLM.patientId, _literal(claim["patient_id"])))
    lines = claim.get("lines")
    for i, line in enumerate(lines if isinstance(lines, list) else []):
        node = URIRef(f"{c}/line/{i + 1}") if isinstance(c, URIRef) else BNode()
        g.add((c, CLM.line, node))
        g.add((node, RDF.type, CLM.ClaimLine))
        line = line if isinstance(line, dict) else {}
        if "line" in line:
            g.add((node, CLM.lineNumber, _literal(line["line"])))
        code = line.get("code")
        if code is not None:
            g.add((node, CLM.codeText, _literal(code)))
            text = str(code).strip().upper()
            if _SAFE.match(text):
                g.add((node, CLM.code, KB[text]))
        if "date_of_service" in line:
            g.add((node, CLM.dateOfService, _date(line["date_of_service"])))
        if line.get("provider_id") is not None:
            g.add((node, CLM.providerId, _literal(line["provider_id"])))
        role = line.get("provider_role")
        if role is not None:
            g.add((node, CLM.roleText, _literal(role)))
            if isinstance(role, str) and role in roles:
                g.add((node, CLM.performerRole, roles[role]))
        g.add((node, CLM.units, _literal(line.get("units", 1))))
        mods = line.get("modifiers", [])
        for m in mods if isinstance(mods, list) else [mods]:
            g.add((node, CLM.modifier, _literal(m)))
    history = claim.get("history")
    for entry in history if isinstance(history, list) else []:
        node = BNode()
        entry = entry if isinstance(entry, dict) else {}
        g.add((c, CLM.history, node))
        g.add((node, RDF.type, CLM.HistoryEntry))
        if entry.get("code") is not None:
            g.add((node, CLM.codeText, _literal(entry["code"])))
        if "date_of_service" in entry:
            g.add((node, CLM.dateOfService, _date(entry["date_of_service"])))
        if entry.get("provider_id") is not None:
            g.add((node, CLM.providerId, _literal(entry["provider_id"])))
    return g


@dataclass(frozen=True)
class Violation:
    line: int | None  # claim line number, None for claim-level problems
    path: str | None
    message: str
    shape: str


@lru_cache(maxsize=1)
def claim_shapes() -> Graph:
    g = Graph()
    for path in load_graphs().pack.claim_shape_files():
        g.parse(data=path.read_text(encoding="utf-8"), format="turtle")
    return g


def validate_claim(claim: dict) -> tuple[bool, list[Violation]]:
    """Validate a claim dict's RDF against the claim shapes, with the KB in view."""
    from pyshacl import validate

    graphs = load_graphs()
    data = claim_graph(claim, _role_classes(graphs.ontology))
    # The KB goes into the data graph itself: pySHACL's ont_graph mixes in
    # class axioms only, and the shapes need the code individuals too.
    merged = Graph()
    merged += graphs.select("both")
    merged += data
    conforms, report, _ = validate(
        merged, shacl_graph=claim_shapes(), inference="none", advanced=True, allow_warnings=False,
    )
    violations = []
    for res in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(res, SH.focusNode)
        number = data.value(focus, CLM.lineNumber) if focus is not None else None
        path = report.value(res, SH.resultPath)
        violations.append(Violation(
            line=number.toPython() if isinstance(number, Literal) and isinstance(number.toPython(), int) else None,
            path=str(path) if path is not None else None,
            message=str(report.value(res, SH.resultMessage) or ""),
            shape=str(report.value(res, SH.sourceShape) or ""),
        ))
    return bool(conforms), sorted(violations, key=lambda v: (v.line or 0, v.message))
