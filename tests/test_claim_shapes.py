"""The claim SHACL shapes give the verdicts the rules give, for what shapes
can express (known code, who may perform a code, required and typed fields),
and the KB conforms to its own shapes when validated by pySHACL."""
from __future__ import annotations

import pytest
from pyshacl import validate
from rdflib import Graph

from cptkg.judge.check import check_claims
from devtools.claim_rdf import CLM, claim_graph, validate_claim
from cptkg.claims.models import InputError, parse_claims
from cptkg.knowledge.datasets import load_graphs
from cptkg.knowledge.pack import CORE_ONTOLOGY
from cptkg.knowledge.loader import default_kb

ROLES = ["physician", "physician_assistant", "nurse_practitioner", "nurse", "physical_therapist"]
SHAPE_RULES = {"code.invalid", "role.needs-physician-or-qhp", "role.pt-scope", "role.not-listed"}


def _grid_claim(codes):
    lines, n = [], 0
    for code in codes:
        for role in ROLES:
            n += 1
            lines.append({"line": n, "code": code, "date_of_service": f"2024-0{1 + n % 9}-{10 + n % 18}",
                          "provider_id": f"PR{n}", "provider_role": role})
    return {"claim_id": "GRID", "patient_id": "P1", "lines": lines}


def test_code_and_role_shapes_agree_with_the_rules_on_every_code_and_role():
    kb = default_kb()
    claim = _grid_claim(kb.codes() + ["9999X"])
    claims, _ = parse_claims(claim)
    result = check_claims(kb, claims)[0].to_json()
    by_rules = {ln["line"] for ln in result["lines"] if {r["rule"] for r in ln["reasons"]} & SHAPE_RULES}
    conforms, violations = validate_claim(claim)
    by_shapes = {v.line for v in violations}
    assert by_rules, "the grid must contain lines the rules reject for role or code"
    assert by_shapes == by_rules
    assert not conforms


def test_physician_assistant_may_bill_62370_and_95991_a_nurse_may_not():
    claim = {"claim_id": "C", "patient_id": "P", "lines": [
        {"line": 1, "code": "62370", "date_of_service": "2024-03-01", "provider_id": "A", "provider_role": "physician_assistant"},
        {"line": 2, "code": "95991", "date_of_service": "2024-03-02", "provider_id": "A", "provider_role": "nurse_practitioner"},
        {"line": 3, "code": "62370", "date_of_service": "2024-03-03", "provider_id": "B", "provider_role": "nurse"},
        {"line": 4, "code": "95991", "date_of_service": "2024-03-04", "provider_id": "B", "provider_role": "nurse"},
    ]}
    _, violations = validate_claim(claim)
    assert {v.line for v in violations} == {3, 4}


BAD_FIELDS = [
    ("missing claim_id", lambda c: c.pop("claim_id")),
    ("empty patient_id", lambda c: c.update(patient_id="")),
    ("no lines", lambda c: c.update(lines=[])),
    ("impossible date", lambda c: c["lines"][0].update(date_of_service="2024-02-30")),
    ("not a date", lambda c: c["lines"][0].update(date_of_service="March 3")),
    ("unknown role", lambda c: c["lines"][0].update(provider_role="surgeon")),
    ("zero units", lambda c: c["lines"][0].update(units=0)),
    ("text units", lambda c: c["lines"][0].update(units="2")),
    ("missing provider", lambda c: c["lines"][0].pop("provider_id")),
    ("duplicate line number", lambda c: c["lines"].append(dict(c["lines"][0]))),
    ("history without date", lambda c: c.update(history=[{"code": "62362"}])),
]


def _good():
    return {"claim_id": "C", "patient_id": "P", "lines": [
        {"line": 1, "code": "62362", "date_of_service": "2024-03-01", "provider_id": "A", "provider_role": "physician", "units": 1}],
        "history": [{"code": "62350", "date_of_service": "2023-01-01"}]}


def test_good_claim_conforms_and_parses():
    conforms, violations = validate_claim(_good())
    assert conforms, violations
    parse_claims(_good())


@pytest.mark.parametrize("name,damage", BAD_FIELDS, ids=[b[0] for b in BAD_FIELDS])
def test_input_the_parser_refuses_violates_the_shapes(name, damage):
    claim = _good()
    damage(claim)
    conforms, violations = validate_claim(claim)
    assert not conforms and violations
    claims, _ = parse_claims(claim)
    assert isinstance(claims[0], InputError), f"{name}: the parser accepted what the shapes refuse"


def test_claim_graph_is_rdf_pyoxigraph_reads():
    import pyoxigraph as ox

    g = claim_graph(_good())
    quads = list(ox.parse(g.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES))
    assert len(quads) == len(g)
    assert (None, CLM.codeText, None) in g


def test_kb_conforms_to_its_shapes_and_a_broken_kb_does_not():
    shapes = Graph().parse(CORE_ONTOLOGY / "shapes.ttl")
    data = load_graphs().select("both")
    conforms, _, text = validate(data, shacl_graph=shapes, inference="none", advanced=True)
    assert conforms, text
    broken = Graph()
    broken += data
    from rdflib import URIRef
    from rdflib.namespace import RDF
    broken.add((URIRef("https://w3id.org/cptkg/kb/00000"), RDF.type, URIRef("https://w3id.org/cptkg/ontology#BillingCode")))
    conforms, _, _ = validate(broken, shacl_graph=shapes, inference="none", advanced=True)
    assert not conforms


def test_shacl_export_holds_both_shape_files():
    pack = load_graphs().pack
    shape_files = [p for p in pack.shape_files() + pack.claim_shape_files() if p.exists()]
    from cptkg import exports as exporters

    out = exporters.export("shacl")[""]
    g = Graph().parse(data=out, format="turtle")
    want = Graph()
    for p in shape_files:
        want.parse(p)
    assert len(g) == len(want) and len(shape_files) >= 2
