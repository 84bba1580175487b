"""Non-RDF exports read back by a library other than the writer: GraphML
(written by networkx) through ElementTree and networkx, node/edge CSV
through the csv module, the rules text through the rule parser, the
catalogue through csv, the HTML through html.parser."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import networkx as nx
import pytest
from rdflib import Graph
from click.testing import CliRunner
from rdflib.compare import isomorphic

from cptkg import exports as exporters
from cptkg.exports._netx import networkx_to_rdf, term_from_attrs
from cptkg.exports._publish import published
from cptkg.faces.cli import main
from cptkg.knowledge.datasets import load_graphs as _authored
from cptkg.knowledge.loader import default_kb
from cptkg.rules.parser import RuleSyntaxError, parse_text

GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def test_graphml_is_plain_xml_with_one_edge_per_triple():
    out = exporters.export("graphml", "both")[""]
    root = ET.fromstring(out)
    edges = root.findall(f"{GRAPHML}graph/{GRAPHML}edge")
    assert len(edges) == len(published(_authored()).select("both"))


def test_graphml_read_by_networkx_rebuilds_the_rdf_graph():
    out = exporters.export("graphml", "both")[""]
    nxg = nx.read_graphml(io.BytesIO(out), force_multigraph=True)
    assert isomorphic(networkx_to_rdf(nxg), published(_authored()).select("both"))


def test_graphml_that_is_not_xml_is_refused_by_networkx():
    with pytest.raises(ET.ParseError):
        nx.read_graphml(io.BytesIO(b"<graphml><graph>"))


def test_node_edge_csv_read_by_csv_module_rebuilds_the_rdf_graph():
    files = exporters.export("csv", "both")
    assert set(files) == {"nodes.csv", "edges.csv"}
    nodes = {row["id"]: row for row in csv.DictReader(io.StringIO(files["nodes.csv"].decode()))}
    g = Graph()
    from rdflib import URIRef

    for row in csv.DictReader(io.StringIO(files["edges.csv"].decode())):
        g.add((term_from_attrs(nodes[row["source"]]), URIRef(row["predicate"]), term_from_attrs(nodes[row["target"]])))
    assert isomorphic(g, published(_authored()).select("both"))
    # and networkx loads the edge list as a graph of the same size
    edges = [(r["source"], r["target"]) for r in csv.DictReader(io.StringIO(files["edges.csv"].decode()))]
    assert nx.MultiDiGraph(edges).number_of_edges() == len(g)


def test_node_row_with_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        term_from_attrs({"kind": "vertex", "value": "x"})


def test_rules_text_parses_back_to_the_same_rules():
    text = exporters.export("datalog")[""].decode()
    back = parse_text(text, "export.dl")
    kb = default_kb()
    original = kb.check_program.rules + kb.infer_program.rules
    key = lambda r: (str(r), r.meta.id, r.meta.message, tuple(r.meta.source), r.meta.confidence,  # noqa: E731
                     tuple(r.meta.fix), r.meta.carc, r.meta.group, r.meta.rarc, tuple(sorted(r.meta.extra.items())))
    assert sorted(map(key, back)) == sorted(map(key, original))
    assert sum(1 for r in back if r.meta.carc) == sum(1 for r in original if r.meta.carc) > 0


def test_a_pack_whose_rule_files_are_the_datalog_export_loads_and_judges_as_the_pack(tmp_path):
    """The export dropped every rule's X12 reason and fix: the pack reloaded from it was refused (25 rules
    "name no reason code", an integrator's audit). Each file's part of the export, put back in its place,
    lints clean and judges the README's rejected claim as the pack does."""
    import re
    import shutil
    from pathlib import Path

    from cptkg.knowledge.loader import load_kb

    pack = tmp_path / "pack"
    shutil.copytree(default_kb().pack.root, pack)
    text = exporters.export("datalog")[""].decode()
    parts = re.split(r"^% ---- from (\S+)\n", text, flags=re.M)
    files = dict(zip(parts[1::2], parts[2::2]))
    assert set(files) == {"rules/claim.dl", "rules/infer.dl"}
    for name, body in files.items():
        (pack / name).write_text(body)
    r = CliRunner().invoke(main, ["lint", "--kb", str(pack)])
    assert r.exit_code == 0, r.output
    from cptkg.judge.check import check_claim
    from cptkg.claims.models import parse_claim

    claim = json.loads((Path(__file__).parents[1] / "examples" / "claim-rejected.json").read_text())
    got, want = (check_claim(k, parse_claim(claim, kb=k), engine="clingo").to_json()
                 for k in (load_kb(pack), default_kb()))
    assert [(l["status"], [x["carc"] for x in l["reasons"]]) for l in got["lines"]] == \
           [(l["status"], [x["carc"] for x in l["reasons"]]) for l in want["lines"]]


def test_damaged_rules_text_is_a_syntax_error_naming_the_line():
    text = exporters.export("datalog")[""].decode().replace(":-", ":=", 1)
    with pytest.raises(RuleSyntaxError, match=r"export\.dl:\d+"):
        parse_text(text, "export.dl")


def test_rules_catalogue_csv_has_a_row_per_rule_id_with_sources():
    rows = list(csv.DictReader(io.StringIO(exporters.export("rules-csv")[""].decode())))
    kb = default_kb()
    ids = {r.meta.id for r in kb.check_program.rules + kb.infer_program.rules if r.meta.id}
    assert {r["id"] for r in rows} == ids
    assert all(r["source"] for r in rows)
    qhp = next(r for r in rows if r["id"] == "role.needs-physician-or-qhp")
    assert {"62370", "95991"} <= set(qhp["codes"].split())
    # an integrator's audit: a rule over every code but the drugs listed the drugs (its negated condition's
    # group, and its source's sentence about them)
    staff = next(r for r in rows if r["id"] == "role.clinical-staff-reports")
    assert not {"J0475", "J7799"} & set(staff["codes"].split()), staff
    kd = next(r for r in rows if r["id"] == "drug.kd-modifier")
    assert {"J0475", "J7799"} <= set(kd["codes"].split())


def test_rules_catalogue_gives_each_rule_the_confidence_its_verdicts_report():
    """A unit denial resting on a medium source alone showed no confidence, while its verdicts said
    "medium" (an integrator's audit): the column gives the rule's own, else its sources' weakest."""
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(exporters.export("rules-csv")[""].decode()))}
    assert rows["units.per-line"]["confidence"] == "medium"      # no % confidence; n-mue-shape is medium
    assert rows["units.superseded"]["confidence"] == "medium"    # its own
    assert rows["exclusion.component"]["confidence"] == "high"
    assert rows["reprogramming.prior"]["confidence"] == "low"
    assert all(r["confidence"] in ("high", "medium", "low") for r in rows.values())


def test_rules_catalogue_markdown_table_has_a_row_per_rule():
    md = exporters.export("rules-md")[""].decode().splitlines()
    table = [l for l in md if l.startswith("| ") and not l.startswith("| id ")]
    rows = list(csv.DictReader(io.StringIO(exporters.export("rules-csv")[""].decode())))
    assert len(table) == len(rows)
    assert all(l.count(" | ") - l.count("\\|") >= 6 for l in table)


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.text = set(), []

    def handle_starttag(self, tag, attrs):
        self.ids |= {v for k, v in attrs if k == "id"}

    def handle_data(self, data):
        self.text.append(data)


def test_html_docs_name_every_role_class():
    pytest.importorskip("pylode")
    html = exporters.export("html", "ontology")[""].decode()
    p = _Collect()
    p.feed(html)
    text = " ".join(p.text)
    for label in ("physician assistant", "qualified health care professional", "clinical staff", "billing code"):
        assert label in text


# ------------------------------------------- shapes and rules from a broken tree
from cptkg.exports import ExportInput  # noqa: E402
from cptkg.knowledge.datasets import Graphs  # noqa: E402


def test_shacl_export_reads_back_in_pyoxigraph():
    import pyoxigraph as ox

    out = exporters.export("shacl")[""]
    n = len(list(ox.parse(out, format=ox.RdfFormat.TURTLE)))
    assert n == len(Graph().parse(data=out, format="turtle")) and n > 100


def _tree(tmp_path, shapes: str | None = None, rules: str | None = None):
    """A family pack folder with only the given shape and rule files."""
    from cptkg.knowledge.pack import FamilyPack

    for sub in ("ontology", "kb", "rules", "shapes"):
        (tmp_path / sub).mkdir()
    if shapes is not None:
        (tmp_path / "shapes" / "shapes.ttl").write_text(shapes)
    if rules is not None:
        (tmp_path / "rules" / "claim.dl").write_text(rules)
    pack = FamilyPack(root=tmp_path, name="t", code_family="family-t", label="test")
    return ExportInput(graphs=Graphs(Graph(), Graph(), pack=pack))


def test_broken_shapes_file_is_an_export_error_naming_it(tmp_path):
    data = _tree(tmp_path, shapes="@prefix sh: <http://www.w3.org/ns/shacl#> . <urn:a> sh:path")
    with pytest.raises(exporters.ExportError, match="shapes.ttl: not valid Turtle"):
        exporters.get("shacl").files(data)


def test_missing_rules_are_export_errors(tmp_path):
    data = _tree(tmp_path)
    for name in ("datalog", "rules-csv"):
        with pytest.raises(exporters.ExportError, match="no "):
            exporters.get(name).files(data)


def test_broken_rule_file_is_an_export_error_naming_file_and_line(tmp_path):
    data = _tree(tmp_path, rules="% id: a\nreject(L) :- line(L).\n\nreject(L) :- line(L) line(L).\n")
    for name in ("datalog", "rules-md"):
        with pytest.raises(exporters.ExportError, match=r"rules/claim\.dl:4"):
            exporters.get(name).files(data)


def test_html_of_a_graph_without_an_ontology_is_an_export_error():
    pytest.importorskip("pylode")
    data = ExportInput(graphs=Graphs(Graph(), Graph()), which="ontology")
    with pytest.raises(exporters.ExportError, match="HTML documentation cannot be made"):
        exporters.get("html").files(data)


def test_graphml_ids_are_unique_xml_names_and_each_node_keeps_its_rdf_term():
    """GraphML's node and edge ids are XML names, unique in the file: edges were keyed by their predicate
    (rdf:type 627 times) and nodes by N-Triples terms such as <https://…> (an integrator's audit); a tool that
    skips an edge id it has seen would drop most edges."""
    import re

    out = exporters.export("graphml", "both")[""]
    root = ET.fromstring(out)
    graph = root.find(f"{GRAPHML}graph")
    for tag in ("node", "edge"):
        ids = [e.get("id") for e in graph.findall(f"{GRAPHML}{tag}")]
        assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", i) for i in ids), tag
    nxg = nx.read_graphml(io.BytesIO(out), force_multigraph=True)
    terms = {d["term"] for _, d in nxg.nodes(data=True)}
    assert "<https://w3id.org/cptkg/kb/62370>" in terms


def test_html_docs_carry_no_script_from_a_packs_text():
    """An integrator's audit: a pack's rdfs:comment went through pyLODE's Markdown with its raw HTML, and its
    <script> and <img onerror> reached the page a team publishes. Markup in a description is taken out, a
    javascript: link loses its target, and a </script> in the ontology's description stays inside the JSON-LD."""
    import json
    import re

    from rdflib import Literal, URIRef
    from rdflib.namespace import DCTERMS, RDFS

    pytest.importorskip("pylode")
    authored = _authored()  # (the loaded KB's graphs, shared: the hostile text goes into copies)
    ontology = Graph(bind_namespaces="core")
    for prefix, ns in authored.ontology.namespaces():
        ontology.bind(prefix, ns, override=True)
    for t in authored.ontology:
        ontology.add(t)
    graphs = Graphs(ontology, authored.kb, authored.pack)
    ont = URIRef("https://w3id.org/cptkg/ontology")
    qhp = URIRef("https://w3id.org/cptkg/ontology#QualifiedHealthCareProfessional")
    graphs.ontology.add((qhp, RDFS.comment, Literal(
        "<script>alert(1)</script><img src=x onerror=alert(2)> [click](javascript:alert(3)) <iframe src=x></iframe>",
        lang="en")))
    graphs.ontology.add((ont, DCTERMS.description, Literal("</script><script>alert(4)</script>", lang="en")))
    html = exporters.export("html", "ontology", graphs)[""].decode()
    body = html[html.index("<body>"):]
    for bad in ("<script", "onerror", "javascript:", "<img", "<iframe"):
        assert bad not in body, bad
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert len(scripts) == 1  # pyLODE's own JSON-LD, whole
    assert "alert(4)" in json.dumps(json.loads(scripts[0]))
    # the page still documents the class, its description's words kept as text
    assert 'id="QualifiedHealthCareProfessional"' in body and "click" in body


def test_html_of_the_kb_graph_alone_says_it_documents_the_ontology():
    """An audit: pyLODE's own words ("can't detect a URI for an owl:Ontology, a skos:ConceptScheme or a prof:Profile")."""
    pytest.importorskip("pylode")
    with pytest.raises(exporters.ExportError, match="html documents the ontology: use --graph ontology or --graph both"):
        exporters.export("html", "kb")
