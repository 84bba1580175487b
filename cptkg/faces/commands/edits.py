"""``cptkg edits``: payer edit tables (CMS NCCI PTP and MUE) into edit RDF.

``cptkg edits import ptp FILE... -o EDITS.ttl`` and ``cptkg edits import mue
FILE... -o EDITS.ttl``: one file, several part files of one table, or the
quarterly .zip as downloaded, read as one table; ``--release 2026Q2`` records
the release (else the file names are read for it). Exit 0 when every row was
imported, 2 when a file cannot be used (not an edit table, a bad row, file
names that disagree about the release, an output that cannot be written);
then nothing is written and every bad row (up to --max-errors) is listed with
its file, row number and column.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from cptkg.faces.options import WholeNumber


def _fail(message: str, lines: list[str] = ()) -> "NoReturn":  # noqa: F821
    from cptkg.controls import one_line  # a file name may hold control characters (a terminal would run them)

    for line in lines:
        click.echo(f"cptkg: {one_line(str(line))}", err=True)
    click.echo(f"cptkg: {one_line(str(message))}", err=True)
    sys.exit(2)


@click.group("edits")
def command():
    """Payer edit tables: import CMS NCCI PTP (pair) and MUE (unit) tables as edits."""


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _release(ctx, param, value):
    if value is None:
        return None
    from cptkg.knowledge.edits.cms_import import parse_release

    try:
        return parse_release(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@command.command("import")
@click.argument("kind", type=click.Choice(["ptp", "mue"], case_sensitive=False), metavar="ptp|mue")
@click.argument("file", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE...")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), metavar="EDITS.ttl",
              help="Turtle file to write (replaced whole, only when every row is good; a symbolic link, folder, "
                   "device or FIFO is refused).")
@click.option("--imported", default=None, callback=_date, metavar="YYYY-MM-DD",
              help="Import date written in the source's citation (default: today; give it for reproducible output).")
@click.option("--release", default=None, callback=_release, metavar="YYYYQn",
              help="The quarterly release the table is (2026Q2, 2026-Q2, or its first day 2026-04-01), recorded on "
                   "every edit's source; default: the release the file names state, if they state one.")
@click.option("--max-errors", default=50, show_default=True, type=WholeNumber(1),
              help="Bad rows listed at most (all are counted).")
def import_command(kind, file, output, imported, release, max_errors):
    """Import a CMS edit table: FILE is tab-delimited text as published, CSV, Excel .xlsx or the release .zip.

    Several FILEs (a table's part files) and the table files in a .zip are
    read as one table; a zip's readme, PDF and other documents are listed as
    not read.

    ptp: the practitioner NCCI procedure-to-procedure table (column 1 / column 2
    pairs, effective and deletion dates, modifier indicator, rationale), written
    as ont:PairEdit with the NCCI scope (same patient, date and provider).

    mue: the practitioner MUE table (code, maximum units, adjudication
    indicator, rationale), written as ont:UnitEdit.

    The preamble before the header row and the header's continuation and
    legend lines under it are skipped; a blank deletion date is read as not
    deleted; every data row is checked and one bad row fails the import
    (exit 2, nothing written).
    """
    from cptkg.faces.cli import fail
    from cptkg.knowledge.edits.cms_import import EditTableError, import_table
    from cptkg.files import FileProblem, check_output_path

    if str(output) == "-":
        fail("-o -: an edit file is written to a file (it is loaded with --edits FILE); give its name")
    try:  # before reading the table: never a link, folder, device or FIFO (edit_tables renames into place)
        check_output_path(output, "-o")
    except FileProblem as e:
        fail(str(e))
    try:
        result = import_table(kind.lower(), list(file), output, imported=imported, max_errors=max_errors,
                              release=release)
    except EditTableError as e:
        _fail(str(e), e.problems)
    from cptkg.controls import one_line

    for notice in result.notices:
        click.echo(f"cptkg: note: {one_line(str(notice))}", err=True)
    click.echo(one_line(result.summary()), err=True)
