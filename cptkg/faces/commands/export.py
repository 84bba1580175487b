"""``cptkg export``: the ontology, KB, shapes and rules in other formats."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from cptkg import exports as exporters
from cptkg.knowledge.datasets import GRAPH_CHOICES


def _fail(message: str) -> None:
    click.echo(f"cptkg: {message}", err=True)
    sys.exit(2)


def _format_help() -> str:
    return "; ".join(f"{name}: {e.description}" for name, e in exporters.formats().items())


@click.command("export")
@click.option("--format", "-f", "fmt", required=True, metavar="FORMAT",
              type=click.Choice(list(exporters.formats()), case_sensitive=False),
              help="Output format. " + _format_help() + ".")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=True, path_type=Path),
              help="File to write (a folder for multi-file formats such as csv); default: standard output.")
@click.option("--graph", "which", type=click.Choice(GRAPH_CHOICES), default="both", show_default=True,
              help="Which part to export: the ontology, the KB, or both (as named graphs in nquads/trig).")
def command(fmt, output, which):
    """Export the knowledge graph as FORMAT (RDF, OWL, SHACL, rules, graph files, HTML).

    Exit 0 when written, 2 when the format cannot be made (unknown format,
    knowledge base that does not load, file that cannot be written).
    """
    exporter = exporters.get(fmt.lower())
    if not exporter.uses_graph and which != "both":
        click.echo(f"cptkg: note: --graph does not apply to {exporter.name}; exporting it whole", err=True)
    try:
        files = exporters.export(exporter.name, which)
    except exporters.ExportError as e:
        _fail(str(e))
    except Exception as e:  # the KB loader's own error type, without importing the engine here
        if type(e).__name__ == "KBLoadError":
            _fail(f"knowledge base cannot be used: {e}")
        raise
    if list(files) == [""]:
        data = files[""]
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        try:
            output.write_bytes(data)
        except OSError as e:
            _fail(f"{output}: cannot be written ({e.strerror})")
        click.echo(f"wrote {output} ({len(data)} bytes, {exporter.name})", err=True)
        return
    if output is None:
        _fail(f"format {exporter.name} writes {len(files)} files ({', '.join(files)}): give -o FOLDER")
    try:
        output.mkdir(parents=True, exist_ok=True)
        for suffix, data in files.items():
            (output / suffix).write_bytes(data)
    except OSError as e:
        _fail(f"{output}: cannot be written ({e.strerror})")
    click.echo(f"wrote {', '.join(str(output / s) for s in files)} ({exporter.name})", err=True)
