"""The house in layers (docs/architecture.md): each package imports only the
layers below it, so an engine never reaches a face, the knowledge layer never
runs an engine, and the package graph has no cycle. The explorer speaks to
the rest through the public API only, and only the engines import pyDatalog.
No Python string of the core names a code, device, route or family of a pack."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "cptkg"

# layer -> the layers it may import (``api`` is cptkg/__init__.py, the public API)
ALLOWED = {
    "rules": set(),
    "registry": set(),
    "knowledge": {"rules"},
    # the claim contract: models, the published schema, the claim inputs as the ontology declares them
    "claims": {"knowledge"},
    "engines": {"rules", "registry"},
    "judge": {"claims", "rules", "knowledge", "engines", "registry"},
    "explanation": {"claims", "rules", "knowledge", "engines", "judge"},
    "io": {"claims", "rules", "knowledge", "judge", "registry"},
    "cases": {"claims", "rules", "knowledge", "engines", "judge", "explanation"},
    "pipeline": {"claims", "rules", "knowledge", "engines", "judge", "explanation", "io", "registry"},
    "exports": {"rules", "knowledge", "registry"},
    # the one session a face builds (cptkg/session.py): the only reader of CPTKG_KB / CPTKG_ENGINE
    "session": {"knowledge", "engines", "registry"},
    # a claim document (837P, FHIR, claim JSON) judged by the batch engine: read as check reads it, then batch
    "batch_files": {"claims", "rules", "knowledge", "engines", "judge", "io", "pipeline", "registry"},
    "api": {"claims", "rules", "knowledge", "engines", "judge", "explanation", "io", "cases", "pipeline", "exports", "registry",
            "session", "batch_files"},
    "faces": {"claims", "rules", "knowledge", "engines", "judge", "explanation", "io", "cases", "pipeline", "exports", "registry",
              "api", "session", "batch_files"},
    "__main__": {"faces"},
    "spreadsheet": set(),
    "limits": set(),
    "bounded": set(),
    "files": set(),
    "controls": set(),
}
# utilities with no layer import, usable from any layer: CSV cell safety, the limits,
# the bounded child process, capped reads and safe output files, control characters
LEAVES = {"spreadsheet", "limits", "bounded", "files", "controls"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return "api" if len(parts) == 1 else parts[1]


def _imports(path: Path):
    """Every cptkg module ``path`` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cptkg":
                for a in node.names:
                    sub = PKG / a.name
                    yield f"cptkg.{a.name}" if sub.is_dir() or sub.with_suffix(".py").is_file() else "cptkg"
            else:
                yield node.module


FILES = sorted(PKG.rglob("*.py"))


def _edges():
    for path in FILES:
        src = _layer(_module(path))
        for name in _imports(path):
            if name == "cptkg" or name.startswith("cptkg."):
                dst = _layer(name)
                if dst != src:
                    yield path, src, dst


def test_every_package_imports_only_the_layers_below_it():
    bad = [f"{p.relative_to(ROOT)}: {s} imports {d}" for p, s, d in _edges() if d not in ALLOWED.get(s, set()) | LEAVES]
    assert not bad, "\n".join(bad)


def test_the_package_graph_has_no_cycle():
    g = nx.DiGraph((s, d) for _, s, d in _edges())
    assert nx.is_directed_acyclic_graph(g), list(nx.simple_cycles(g))


def test_every_layer_of_the_tree_is_a_known_layer():
    layers = {_layer(_module(p)) for p in FILES}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)


FACE_HELPERS = ("cptkg.faces.explorer", "cptkg.faces.markup")  # the explorer's own modules and the faces' escaping


def test_the_explorer_and_app_import_only_the_public_api_and_their_own_modules():
    import cptkg

    paths = [ROOT / "app.py", *sorted((PKG / "faces" / "explorer").glob("*.py"))]
    bad = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                bad += [f"{path.name}: import {a.name}" for a in node.names
                        if a.name.startswith("cptkg.") and not a.name.startswith(FACE_HELPERS)]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cptkg"):
                if node.module == "cptkg":
                    bad += [f"{path.name}: cptkg.{a.name} is not in the API" for a in node.names
                            if a.name not in cptkg.__all__]
                elif not node.module.startswith(FACE_HELPERS):
                    bad.append(f"{path.name}: from {node.module} import ...")
    assert not bad, "\n".join(bad)


def test_only_the_engines_import_pydatalog():
    bad = [str(p.relative_to(ROOT)) for p in [*FILES, ROOT / "app.py", *sorted((ROOT / "devtools").glob("*.py"))]
           if "engines" not in p.relative_to(ROOT).parts
           and any(n.split(".")[0] == "pyDatalog" for n in _imports(p))]
    assert not bad, bad


def _strings(tree: ast.AST):
    """String constants that are not docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node


def _pack_terms(pack: Path) -> set[str]:
    """Codes, input values (devices, routes, services, roles) and the family id of a pack, from its data."""
    import re

    terms = {"family-" + pack.name}
    for ttl in [*(pack / "kb").glob("*.ttl"), *(pack / "ontology").glob("*.ttl")]:
        text = ttl.read_text(encoding="utf-8")
        terms |= set(re.findall(r'skos:notation "([^"]+)"', text))
        terms |= set(re.findall(r'ont:inputValue "([^"]+)"', text))
    return terms


PACK_TERMS = sorted(_pack_terms(ROOT / "kb" / "pump") | _pack_terms(ROOT / "tests" / "families" / "stimfix"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PKG)) for p in FILES])
def test_no_string_of_the_core_names_a_code_device_route_or_family_of_a_pack(path):
    import re

    words = re.compile(r"(?<![\w-])(" + "|".join(re.escape(t) for t in PACK_TERMS) + r")(?![\w-])")
    found = [(n.lineno, m.group(1)) for n in _strings(ast.parse(path.read_text(encoding="utf-8")))
             for m in [words.search(n.value)] if m]
    assert not found, f"{path.relative_to(ROOT)}: {found}"


def test_no_subpackage_shares_a_name_with_an_api_function():
    """A subpackage named as an API function (the explainer was ``cptkg.explain``)
    replaces the function on the package when it is imported: the package
    is ``cptkg.explanation`` so that ``cptkg.explain`` is only ever the function."""
    import cptkg

    subpackages = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()} | \
                  {p.stem for p in PKG.glob("*.py")}
    import types

    functions = {n for n in cptkg.__all__ if not isinstance(getattr(cptkg, n), types.ModuleType)}
    assert not subpackages & functions, subpackages & functions


def test_the_api_explain_is_still_the_function_after_the_explainer_is_imported():
    """Regression: importing the explainer subpackage (then cptkg.explain) replaced the API
    function cptkg.explain on the package, so a second call in one process failed."""
    import json
    import subprocess
    import sys

    code = ("import json, cptkg\n"
            "c = json.load(open('examples/claim-pair.json'))\n"
            "a = cptkg.explain(c)\n"
            "import cptkg.explanation\n"
            "b = cptkg.explain(c)\n"
            "print(a['status'], b['status'], callable(cptkg.explain))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.split() == ["rejected", "rejected", "True"], r.stderr
