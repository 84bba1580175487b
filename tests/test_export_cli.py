"""``cptkg export`` as a user runs it: files written, stdout, exit 2 with
one line for what cannot be done."""
from __future__ import annotations

import networkx as nx
import pyoxigraph as ox
from click.testing import CliRunner

from cptkg.faces.cli import main


def run(*args):
    return CliRunner().invoke(main, ["export", *args])


def test_export_turtle_to_stdout_is_read_by_pyoxigraph():
    res = run("--format", "turtle", "--graph", "ontology")
    assert res.exit_code == 0
    assert len(list(ox.parse(res.stdout_bytes, format=ox.RdfFormat.TURTLE))) > 100


def test_export_trig_to_file(tmp_path):
    out = tmp_path / "kg.trig"
    res = run("-f", "trig", "-o", str(out))
    assert res.exit_code == 0 and out.stat().st_size > 0
    graphs = {q.graph_name.value for q in ox.parse(path=str(out), format=ox.RdfFormat.TRIG)}
    assert graphs == {"https://w3id.org/cptkg/graph/ontology", "https://w3id.org/cptkg/graph/kb"}


def test_export_csv_needs_a_folder_and_writes_two_files(tmp_path):
    res = run("-f", "csv")
    assert res.exit_code == 2 and "-o FOLDER" in res.output
    res = run("-f", "csv", "-o", str(tmp_path / "graph"))
    assert res.exit_code == 0
    assert {p.name for p in (tmp_path / "graph").iterdir()} == {"nodes.csv", "edges.csv"}


def test_export_graphml_file_loads_in_networkx(tmp_path):
    out = tmp_path / "kg.graphml"
    assert run("-f", "graphml", "-o", str(out)).exit_code == 0
    assert nx.read_graphml(out).number_of_nodes() > 100


def test_unknown_format_and_graph_are_usage_errors():
    assert run("-f", "xlsx").exit_code == 2
    assert run("-f", "turtle", "--graph", "all").exit_code == 2


def test_unwritable_output_is_one_line(tmp_path):
    res = run("-f", "turtle", "-o", str(tmp_path / "missing" / "dir" / "kg.ttl"))
    assert res.exit_code == 2 and "cannot be written" in res.output and "Traceback" not in res.output


def test_export_and_query_are_commands_of_cptkg():
    res = CliRunner().invoke(main, ["--help"])
    assert "export" in res.output and "query" in res.output
