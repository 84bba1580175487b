"""``cptkg export``: the ontology, KB, shapes and rules in other formats."""
from __future__ import annotations

import os
from pathlib import Path

import click

from cptkg import exports as exporters
from cptkg.knowledge.datasets import GRAPH_CHOICES


def _fail(message: str) -> None:
    from cptkg.faces.cli import fail

    fail(message)


def _format_help() -> str:
    # "needs -o FOLDER" is the CLI's words, said here only: the explorer offers each file to download
    return "; ".join(f"{name}: {e.description}{' (needs -o FOLDER)' if e.several_files else ''}"
                     for name, e in exporters.formats().items())


@click.command("export")
@click.option("--format", "-f", "fmt", required=True, metavar="FORMAT",
              type=click.Choice(list(exporters.formats()), case_sensitive=False),
              help="Output format. " + _format_help() + ".")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=True, path_type=Path),
              help="File to write (a folder for multi-file formats such as csv); default (or '-'): standard "
                   "output. Written beside and renamed into place; a symbolic link, device or FIFO is refused.")
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
        from cptkg.faces.cli import get_session
        from cptkg.knowledge.datasets import load_graphs

        files = exporters.export(exporter.name, which, graphs=load_graphs(get_session().kb))
    except exporters.ExportError as e:
        _fail(str(e))
    except Exception as e:  # the KB loader's own error type, without importing the engine here
        if type(e).__name__ == "KBLoadError":
            from cptkg.faces.cli import fail

            fail(f"knowledge base cannot be used: {e}", listing=True)
        raise
    from cptkg.faces.cli import out
    from cptkg.controls import shown
    from cptkg.files import FileProblem, check_output_path, write_output

    if output is not None and str(output) == "-":
        output = None  # '-o -': standard output, as without -o
    if list(files) == [""]:
        data = files[""]
        if output is None:
            out(data)
            return
        try:
            write_output(output, data, "-o")
        except FileProblem as e:
            _fail(str(e))
        click.echo(f"wrote {shown(output)} ({len(data)} bytes, {exporter.name})", err=True)
        return
    if output is None:
        _fail(f"format {exporter.name} writes {len(files)} files ({', '.join(files)}): give -o FOLDER")
    try:
        if os.path.lexists(output):  # a new folder is made, with its parents
            check_output_path(output, "-o", folder_ok=True)
        if output.exists() and not output.is_dir():
            _fail(f"-o {output}: format {exporter.name} writes {len(files)} files ({', '.join(files)}); "
                  f"give a folder, not a file")
        output.mkdir(parents=True, exist_ok=True)
        for suffix, data in files.items():
            write_output(output / suffix, data, "-o")
    except FileProblem as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"-o {output}: cannot be written ({e.strerror or e})")
    click.echo(f"wrote {', '.join(shown(output / s) for s in files)} ({exporter.name})", err=True)
    # files of the kind this export writes that it did not write now (a ValueSet of a group since removed):
    # a terminology server loading the folder would load them too, so they are named, not deleted
    kinds = {Path(s).suffix for s in files}
    try:
        stale = sorted(p.name for p in output.iterdir() if p.is_file() and p.suffix in kinds and p.name not in files)
    except OSError:
        stale = []
    if stale:
        click.echo(f"note: {shown(output)} also holds {len(stale)} file(s) this export did not write "
                   f"({', '.join(stale[:5])}{', …' if len(stale) > 5 else ''}); from an earlier export? "
                   f"Delete them before loading the folder", err=True)
