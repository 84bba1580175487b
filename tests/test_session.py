"""One session from the face down (issue 24, point 2): the pack and the engine are chosen once, by a
face (CLI, explorer, API), and handed down; no environment variable carries them between layers, and a
layer below the faces reached without an engine refuses instead of taking a default."""
import ast
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import cptkg
from cptkg import engines
from cptkg.knowledge.pack import REPO_ROOT

PKG = REPO_ROOT / "cptkg"
CLAIM = json.loads((REPO_ROOT / "examples" / "claim-pair.json").read_text(encoding="utf-8"))
VARIABLES = {"CPTKG_KB", "CPTKG_ENGINE"}


def _code_strings(path: Path):
    """String constants of a module that are not docstrings (a docstring may name the variable)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            yield n.value


def test_only_the_session_and_the_faces_name_the_pack_and_engine_variables():
    below = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel == "session.py" or rel.startswith("faces/"):
            continue
        if rel == "__init__.py":  # the public API is a face, and reads them through cptkg.session only
            continue
        if any(v in s for s in _code_strings(path) for v in VARIABLES):
            below.append(rel)
    assert below == []


def test_the_api_face_reads_the_variables_through_the_session_only():
    names = set(_code_strings(PKG / "__init__.py"))
    assert not names & VARIABLES


@pytest.mark.below_the_faces
def test_asking_for_no_engine_below_the_faces_is_refused():
    with pytest.raises(engines.NoEngineChosen, match="no engine chosen"):
        engines.get(None)


@pytest.mark.below_the_faces
def test_judging_below_the_faces_without_an_engine_fails_instead_of_taking_the_default():
    from cptkg.judge.check import check_claims
    from cptkg.claims.models import parse_claims

    kb = cptkg.load_kb()
    parsed, _ = parse_claims([CLAIM], kb=kb)
    with pytest.raises(TypeError, match="no engine chosen"):
        check_claims(kb, parsed)
    with pytest.raises(TypeError, match="no knowledge base chosen"):
        cptkg.pipeline.run(json.dumps(CLAIM).encode(), "json", "json", engine="clingo")
    # given the engine, the same call judges
    assert check_claims(kb, parsed, engine="clingo")[0].status in {"accepted", "rejected"}


@pytest.mark.below_the_faces
@pytest.mark.parametrize("call", ["parse_claims", "parse_encounter", "read_x12", "read_fhir",
                                  "read_csv", "load_graphs", "run_batch", "export"])
def test_no_layer_below_the_faces_falls_back_to_the_default_pack(call, tmp_path):
    """Each place that once took the default pack when none was given now refuses by name: a reader
    that checked an uploaded claim against the default pack's vocabulary while the face judged it
    with another pack's would accept values the judging pack does not know."""
    from cptkg.claims.models import parse_claims, parse_encounter
    from cptkg.exports import export
    from cptkg.io import readers
    from cptkg.judge.batch import run_batch
    from cptkg.knowledge.datasets import load_graphs
    from cptkg.knowledge.loader import NoKnowledgeBase

    root = Path(__file__).resolve().parents[1]
    csv = tmp_path / "claims.csv"
    csv.write_text("claim_id,patient_id,line,code,date_of_service,provider_id,provider_role\n"
                   "C1,P1,1,62367,2026-01-05,NPI-SYN,physician\n")
    calls = {
        "parse_claims": lambda: parse_claims([CLAIM]),
        "parse_encounter": lambda: parse_encounter(json.loads((root / "examples/encounter.json").read_text())),
        "read_x12": lambda: readers.read((root / "tests/data/x12/dependant-patient.x12").read_bytes(), "x12"),
        "read_fhir": lambda: readers.read((root / "tests/data/interop/fhir-claim.json").read_bytes(), "fhir"),
        "read_csv": lambda: readers.read(csv.read_bytes(), "csv"),
        "load_graphs": lambda: load_graphs(),
        "run_batch": lambda: run_batch(csv, tmp_path / "out.csv"),
        "export": lambda: export("turtle"),
    }
    with pytest.raises(NoKnowledgeBase, match="no knowledge base chosen"):
        calls[call]()


def test_a_session_opened_by_a_face_reads_the_variables_from_the_mapping_it_is_given():
    s = cptkg.Session.open(environ={"CPTKG_ENGINE": "pydatalog"})
    assert s.engine == "pydatalog"
    assert cptkg.Session.open(engine="clingo", environ={"CPTKG_ENGINE": "pydatalog"}).engine == "clingo"
    assert cptkg.Session.open(environ={}).engine == engines.DEFAULT
    assert s.kb is cptkg.load_kb()


def test_the_api_judges_with_the_session_it_is_given(monkeypatch):
    monkeypatch.setenv("CPTKG_ENGINE", "no-such-engine")  # a session given: the variable is not read
    s = cptkg.Session.open(engine="clingo", environ={})
    assert cptkg.check(CLAIM, session=s)["status"] == cptkg.check(CLAIM, engine="clingo")["status"]
    with pytest.raises(ValueError):
        cptkg.check(CLAIM, session=s, engine="clingo")


@pytest.fixture
def stub_engine():
    """A registered engine that records what it was asked to evaluate (wraps clingo): the CLI's --engine
    choice must reach it with os.environ untouched."""
    from cptkg import registry

    real = engines.get("clingo")
    calls = []

    class Stub:
        name = "stub-session"
        batches = False

        def __getattr__(self, attr):
            return getattr(real, attr)

        def precompute(self, *a, **kw):
            return real.precompute(*a, **kw)

        def evaluate(self, *a, **kw):
            calls.append(os.environ.get("CPTKG_ENGINE"))
            return real.evaluate(*a, **kw)

    import sys
    import types

    mod = types.ModuleType("_stub_session_engine")
    mod.ENGINE = Stub()
    sys.modules[mod.__name__] = mod
    registry.register("engine", "stub-session", "_stub_session_engine:ENGINE")
    yield calls
    registry._plugins["engine"].pop("stub-session", None)
    registry._loaded.pop(("engine", "stub-session"), None)
    sys.modules.pop(mod.__name__, None)


def test_the_cli_engine_choice_reaches_the_engine_without_touching_the_environment(stub_engine, tmp_path,
                                                                                    monkeypatch):
    from cptkg.faces.cli import main

    monkeypatch.delenv("CPTKG_ENGINE", raising=False)
    monkeypatch.delenv("CPTKG_KB", raising=False)
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM), encoding="utf-8")
    before = dict(os.environ)
    r = CliRunner().invoke(main, ["check", str(claim), "--json", "--engine", "stub-session",
                                  "--kb", str(cptkg.load_kb().pack.root)])
    assert r.exit_code in (0, 1) and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
    assert stub_engine and set(stub_engine) == {None}  # called, and the variable was never set
    assert dict(os.environ) == before


def test_the_cli_still_honours_the_engine_variable_read_at_the_face(stub_engine, tmp_path, monkeypatch):
    from cptkg.faces.cli import main

    monkeypatch.setenv("CPTKG_ENGINE", "stub-session")
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM), encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(claim), "--json"])
    assert r.exit_code in (0, 1) and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
    assert stub_engine


@pytest.mark.parametrize("command", [["check", "CLAIM"], ["explain", "CLAIM"], ["ask", "who-may-perform", "62370"],
                                     ["test"], ["lint"], ["schema"], ["sources"]])
@pytest.mark.parametrize("value", ["bogus", " clingo"])
def test_an_engine_variable_naming_no_engine_is_one_line_and_exit_2_not_a_traceback(tmp_path, monkeypatch, command,
                                                                                       value):
    """CPTKG_ENGINE=bogus gave a 46-line traceback and exit 1, which a script reads as "a line was rejected"
    (an integrator's audit); --engine bogus was already one line and exit 2."""
    from cptkg.faces.cli import main

    monkeypatch.setenv("CPTKG_ENGINE", value)
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM), encoding="utf-8")
    r = CliRunner().invoke(main, [str(claim) if a == "CLAIM" else a for a in command])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert " ".join(r.output.split()) == (f"cptkg: {value!r} (from CPTKG_ENGINE) is not a rule engine of cptkg "
                                          f"(one of clingo, pydatalog, duckdb)")


def test_a_session_opened_with_no_engine_of_that_name_is_refused_when_opened():
    with pytest.raises(ValueError, match="'bogus' is not a rule engine of cptkg"):
        cptkg.Session.open(engine="bogus")
