"""The claim and encounter inputs are declared once, in the core ontology
(ont:inputOf, ont:argumentTypes), and everything that feeds or types them is
made from that declaration (cptkg.claims.inputs): the engines' facts for one
claim, the batch's SQL relations for a file, the SQL compiler's column types.
So the two ways of making a claim's facts must give the same rows, claim for
claim, and a declaration the code cannot make is refused before judging."""
from __future__ import annotations

import datetime as dt
import random

import pytest
from rdflib import Graph, Literal, Namespace

from cptkg.claims import inputs
from cptkg.claims.models import parse_claims
from cptkg.engines.sql.compiler import rel
from cptkg.engines.sql.duckdb import DuckDBBackend
from cptkg.knowledge.loader import KBLoadError, _input_types, default_kb

ONT = Namespace("https://w3id.org/cptkg/ontology#")


@pytest.fixture(scope="module")
def kb():
    return default_kb()


def test_every_claim_input_the_ontology_declares_is_made_and_typed(kb):
    declared = inputs.declared(kb)
    assert set(declared) == set(inputs.CLAIM_INPUTS)
    assert declared["billed"] == ["int", "text", "text"] and declared["date_units"] == ["text", "text", "int"]
    assert set(inputs.declared(kb, "encounter")) == set(inputs.ENCOUNTER_INPUTS)
    # the rules' engines read the same names
    assert kb.input_predicates["claim"] == set(declared)


def test_a_declared_input_no_code_makes_is_refused_by_name(kb):
    class Other:
        input_types = {"claim": dict(kb.input_types["claim"], line_place_of_service=["int", "text"])}
    with pytest.raises(inputs.UndeclaredInput, match="declared but not made from the claim: line_place_of_service"):
        inputs.declared(Other)
    class Fewer:
        input_types = {"claim": {k: v for k, v in kb.input_types["claim"].items() if k != "line_route"}}
    with pytest.raises(inputs.UndeclaredInput, match="made from the claim but not declared: line_route"):
        inputs.declared(Fewer)


@pytest.mark.parametrize("types, problem", [(None, "needs ont:argumentTypes"), ("int", "2 in all"),
                                             ("int number", "one of int or text")])
def test_an_input_declared_without_its_argument_types_stops_the_load(types, problem):
    g = Graph()
    p = ONT["pred-line_units"]
    g.add((p, ONT.inputOf, Literal("claim")))
    g.add((p, ONT.datalogPredicate, Literal("line_units")))
    g.add((p, ONT.arity, Literal(2)))
    if types:
        g.add((p, ONT.argumentTypes, Literal(types)))
    with pytest.raises(KBLoadError, match=problem):
        _input_types(g)


def test_the_compiler_types_claim_inputs_as_the_ontology_declares(kb):
    from cptkg.judge.batch import compile_claim_rules

    cp = compile_claim_rules(kb, "duckdb")
    for p, types in inputs.declared(kb).items():
        if p in cp.types:
            assert cp.types[p] == types, p


def _claims(n: int, seed: int):
    """Synthetic claims (made-up ids, codes of the pack and a few malformed ones) with history."""
    rnd = random.Random(seed)
    codes = ["62367", "62368", "95990", "95991", "62360", "J0475", "62369", "99213", "6236", "0232T"]
    out = []
    for i in range(n):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(60))
        lines = []
        for ln in range(1, rnd.randint(1, 5) + 1):
            line = {"line": ln, "code": rnd.choice(codes), "date_of_service": str(day + dt.timedelta(days=rnd.choice([0, 0, 1]))),
                    "provider_id": rnd.choice(["NPI-SYN-1", "NPI-SYN-2"]),
                    "provider_role": rnd.choice(["physician", "nurse", "nurse_practitioner"]),
                    "units": rnd.randint(1, 3), "modifiers": rnd.sample(["59", "KD", "76", "26"], rnd.randint(0, 2))}
            if rnd.random() < 0.5:
                line["route"] = rnd.choice(["intrathecal", "epidural"])
            lines.append(line)
        # (a history code not written as a code is refused: the claim would not be judged)
        history = [{"code": rnd.choice([c for c in codes if c != "6236"]),
                    "date_of_service": str(day - dt.timedelta(days=rnd.randint(1, 90))),
                    **({"provider_id": "NPI-SYN-3"} if rnd.random() < 0.5 else {})}
                   for _ in range(rnd.randint(0, 3))]
        out.append({"claim_id": f"SYN-{i}", "patient_id": f"P-{i}", "lines": lines, "history": history})
    return out


def _unit_claims() -> list[dict]:
    """Claims that give the unit inputs their edges: copies of a line, true repeats (76, 77) before and after,
    several providers, and lines the history holds by the same provider, by another, or with no provider."""
    def ln(n, code="20610", units=1, mods=(), prov="D1"):
        return {"line": n, "code": code, "date_of_service": "2025-03-04", "provider_id": prov,
                "provider_role": "physician", "units": units, "modifiers": list(mods)}
    hist = [{"code": "20610", "date_of_service": "2025-03-04", "provider_id": "D1"},
            {"code": "20610", "date_of_service": "2025-03-04", "provider_id": "D2"},
            {"code": "20610", "date_of_service": "2025-03-04"}]
    shapes = [[ln(1), ln(2, units=2)], [ln(1, mods=["76"]), ln(2), ln(3, units=3)], [ln(1), ln(2), ln(3, mods=["77"])],
              [ln(1, mods=["76", "KD"]), ln(2, mods=["kd"]), ln(3, prov="D2"), ln(4, prov="D2", units=4)],
              [ln(1, code="95990"), ln(2)], [ln(1, mods=["RT"]), ln(2, mods=["LT"])],
              [ln(1), ln(2, mods=["76"]), ln(3, mods=["76"], units=2)]]
    return [{"claim_id": f"U-{i}-{h}", "patient_id": "P1", "lines": lines, "history": hist[:h]}
            for i, lines in enumerate(shapes) for h in range(len(hist) + 1)]


@pytest.mark.parametrize("which", ["generated", "unit edges"])
def test_one_claims_facts_and_the_batch_sql_give_the_same_rows(kb, which):
    claims, _ = parse_claims(_claims(40, seed=7) if which == "generated" else _unit_claims(), kb=kb)
    assert all(hasattr(c, "lines") for c in claims), [str(c) for c in claims if not hasattr(c, "lines")]
    b = DuckDBBackend()
    b.execute("CREATE TEMP TABLE b_ok (claim_id BIGINT, patient_id VARCHAR, line BIGINT, code VARCHAR, dos VARCHAR, "
              "provider_id VARCHAR, role VARCHAR, units BIGINT, modifiers VARCHAR, route VARCHAR)")
    b.execute("CREATE TEMP TABLE b_claim_hist (claim_id BIGINT, e BIGINT, code VARCHAR, dos VARCHAR, provider_id VARCHAR)")
    for cid, c in enumerate(claims):
        for ln in c.lines:
            b.execute("INSERT INTO b_ok VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [cid, c.patient_id, ln.line, ln.code, ln.date_of_service, ln.provider_id, ln.provider_role,
                       ln.units, ";".join(ln.modifiers) or None, ln.route])
        for i, h in enumerate(c.history, start=1):
            b.execute("INSERT INTO b_claim_hist VALUES (?, ?, ?, ?, ?)", [cid, -i, h.code, h.date_of_service, h.provider_id])
    inputs.build_batch_inputs(kb, b, rel)
    compared = 0
    for p in inputs.declared(kb):
        columns = ", ".join(f"c{i}" for i in range(len(inputs.declared(kb)[p])))  # a column past them is another's
        rows = b.execute(f"SELECT claim_id, {columns} FROM {rel(p)}").fetchall()
        by_claim: dict[int, set] = {}
        for r in rows:
            by_claim.setdefault(r[0], set()).add(tuple(r[1:]))
        for cid, c in enumerate(claims):
            want = inputs.claim_facts(kb, c)[p]
            assert by_claim.get(cid, set()) == want, (p, c.claim_id)
            compared += len(want)
    assert compared > (500 if which == "generated" else 200)


@pytest.mark.parametrize("text, want", [
    ("KD", {"KD"}), ("kd", {"KD"}), ("Kd", {"KD"}), ("59", {"59"}),
    ("KD;59", {"KD", "59"}), ("kd|25", {"KD", "25"}), ("59 , 25", {"59", "25"}), ("KD;KD", {"KD"}), ("kd;KD", {"KD"}),
    (";;", set()), (", ", set()), ("", set()), (None, set()), ("KD;", {"KD"}), ("\tKD", {"KD"})])
def test_a_lines_modifiers_text_gives_each_modifier_once_in_capitals(kb, text, want):
    """The batch reads a single modifier without splitting the field (the usual case): every other
    spelling still gives the modifiers check's reader gives, each once."""
    b = DuckDBBackend()
    b.execute("CREATE TEMP TABLE b_ok (claim_id BIGINT, line BIGINT, modifiers VARCHAR)")
    b.execute("INSERT INTO b_ok VALUES (1, 1, ?)", [text])
    rows = b.fetch(inputs.CLAIM_INPUTS["line_modifier"].sql(b, rel, inputs.input_context(kb)))
    assert sorted(r[2] for r in rows) == sorted(want)
    assert all(r[:2] == (1, 1) for r in rows)
