"""Two exports of the same KB are the same bytes, in every format (issue 26).

Each export runs in its own Python process with a different string-hash seed,
because that is what made them differ: rdflib keeps triples in sets, and the
owl:Axiom blank nodes got fresh random labels each run. One comparison goes
through `cptkg export -o` itself; the rest export every format and --graph
choice in one child process per seed, which keeps the test to two startups.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from rdflib import BNode, Graph, Literal
from rdflib.namespace import OWL, RDF, RDFS

from cptkg import exports as exporters
from cptkg.exports._publish import published, stable_bnode_labels
from cptkg.knowledge.datasets import load_graphs

_CHILD = r"""
import hashlib, json, sys
from cptkg import exports
from cptkg.knowledge.datasets import load_graphs
from cptkg.knowledge.loader import default_kb
graphs = load_graphs(default_kb())
out = {}
for name, e in exports.formats().items():
    for which in (("both", "ontology", "kb") if e.uses_graph else ("both",)):
        try:
            files = exports.export(name, which, graphs=graphs)
        except exports.ExportError as e:  # html of the KB alone: no ontology to document, the same each run
            files = {"error": str(e).encode()}
        for suffix, data in files.items():
            out[f"{name}/{which}/{suffix}"] = hashlib.sha256(data).hexdigest()
json.dump(out, sys.stdout)
"""


def _child(seed: str, code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def digests():
    runs = []
    # seeds 0 and 1: rdflib wrote TriG's two named graphs in opposite orders under them (seeds 1 and 2
    # happen to agree, which hid it)
    for seed in ("0", "1"):
        res = _child(seed, _CHILD)
        assert res.returncode == 0, res.stderr[-2000:]
        runs.append(json.loads(res.stdout))
    return runs


def test_every_format_and_graph_choice_is_byte_identical_between_runs(digests):
    first, second = digests
    assert set(first) == set(second)
    assert {k.split("/")[0] for k in first} == set(exporters.formats())
    differ = sorted(k for k in first if first[k] != second[k])
    assert differ == []


def test_export_command_writes_the_same_csv_and_graphml_files_twice(tmp_path):
    code = "from cptkg.faces.cli import main; main()"
    for seed, folder in (("3", "a"), ("4", "b")):
        for fmt, target in (("csv", "graph"), ("graphml", "kg.graphml"), ("ntriples", "kg.nt")):
            res = _child(seed, code, "export", "--format", fmt, "-o", str(tmp_path / folder / target))
            assert res.returncode == 0, res.stderr
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert len(a) == 4 and a == b


def test_axiom_blank_nodes_are_named_by_what_they_annotate():
    g = published(load_graphs()).select("both")
    axioms = sorted(g.subjects(RDF.type, OWL.Axiom))
    assert len(axioms) >= 70 and all(isinstance(a, BNode) and str(a).startswith("ax") for a in axioms)
    src, prop, target = (g.value(axioms[0], p) for p in (OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget))
    key = " ".join(t.n3() for t in (src, prop, target))
    assert str(axioms[0]) == "ax" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _axiom(g: Graph, note) -> BNode:
    """A synthetic axiom on the triple owl:Thing rdf:type owl:Class, annotated with rdfs:comment ``note``."""
    node = BNode()
    g.add((node, RDF.type, OWL.Axiom))
    g.add((node, OWL.annotatedSource, OWL.Thing))
    g.add((node, OWL.annotatedProperty, RDF.type))
    g.add((node, OWL.annotatedTarget, OWL.Class))
    g.add((node, RDFS.comment, Literal(note)))
    return node


def test_changing_an_axiom_annotation_keeps_its_label():
    g = Graph()
    a = _axiom(g, "first source")
    before = stable_bnode_labels(g)[a]
    g.set((a, RDFS.comment, Literal("another source")))
    assert stable_bnode_labels(g)[a] == before


def test_two_axioms_of_one_triple_keep_two_labels():
    g = Graph()
    a, b = _axiom(g, "one"), _axiom(g, "two")
    labels = stable_bnode_labels(g)
    assert labels[a] != labels[b] and all(str(x).startswith("ax") for x in labels.values())
