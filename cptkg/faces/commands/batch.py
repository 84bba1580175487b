"""``cptkg batch``: judge a file of claim lines with the rules compiled to SQL."""
from __future__ import annotations

import sys

import click

from cptkg.faces.options import TimeLimitSeconds


@click.command("batch")
@click.argument("input_file", metavar="INPUT")
@click.option("-o", "--output", "output_file", required=True, metavar="OUTPUT",
              help="Verdicts file, one row per input row: .csv (or .txt, written as CSV) or .parquet.")
@click.option("--history", "history_file", metavar="FILE",
              help="Earlier billed services (patient_id, code, date_of_service, provider_id); "
                   "they apply to every claim of the patient.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="duckdb runs in-process; spark runs on Spark SQL (local mode, or the cluster "
                   "named by CPTKG_SPARK_MASTER).")
@click.option("--time-limit", "time_limit", type=TimeLimitSeconds(maximum=86400.0), default=None,
              metavar="SECONDS",
              help="Stop the whole batch after this many seconds (default 3600); a stopped batch writes nothing "
                   "under OUTPUT's name.")
@click.option("--route", "route", metavar="ROUTE", default=None,
              help="The route (one of the family pack's routes) of every line that states none, "
                   "as for cptkg check: 837P lines and FHIR items carry no route, and without one it is not checked.")
def command(input_file, output_file, history_file, engine, time_limit, route):
    """Judge every claim line of INPUT (.csv, .parquet, X12 837P or FHIR) and write OUTPUT.

    INPUT has the columns claim_id, patient_id, line, code, date_of_service,
    provider_id, provider_role, units (default 1), modifiers (two letters or digits each, separated by
    ';', '|', ',' or spaces) and route (optional). Every input row gets one output row: accepted, rejected
    (with rule ids, messages and each rejection's CARC with its description) or error (a malformed row
    names its row number and field; the other rows of its claim are not judged). A line no rule of
    the pack covers is accepted with checked false, and counted as "not checked".

    An X12 837P file, a FHIR Claim or Bundle, or claim JSON (told from the
    content, whatever the file is named) is read as cptkg check reads it (at
    most 64 MiB): each claim line is a row, in file order, and a claim that
    cannot be judged has an error row naming the claim and the problem for each line it gave (one
    row when none can be read).

    Each claim is held to the same size limits as ``cptkg check`` (a claim
    over one is an error row; the others are judged), and the whole run to
    --time-limit.

    Exit 0 when every line is accepted (or not checked), 1 when a line is rejected, 2 when a
    row could not be judged, the file cannot be read or the time limit ran out.
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cptkg.batch_files import ClaimDocumentError
    from cptkg.batch_files import run as run_file
    from cptkg.judge.batch import BatchInputError
    from cptkg.knowledge.loader import KBLoadError
    from cptkg.engines.sql.compiler import SQLCompileError

    from cptkg.faces.cli import fail, get_kb, out
    from cptkg.files import FileProblem, check_output_path

    try:  # before judging: never a link, folder, device or FIFO (checked again at the rename)
        check_output_path(output_file, "-o")
    except FileProblem as e:
        fail(str(e))
    err = Console(stderr=True)
    kb = get_kb()
    if route is not None:
        from cptkg.claims.models import InputError
        from cptkg.pipeline import check_route

        try:
            check_route(kb, route)
        except InputError as e:
            fail(str(e))

    def judge(progress=None):
        nonlocal read_as
        judged = run_file(input_file, output_file, history_file, kb=kb, engine=engine, progress=progress,
                          timeout=time_limit, route=route)
        if judged.format is not None:
            read_as = (f"claims in: {judged.claims_in:,} ({FORMAT_WORDS.get(judged.format, judged.format)}; each "
                       f"claim line is a row, a claim that cannot be judged an error row per line)")
        return judged.summary

    read_as = None

    try:
        if err.is_terminal:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=err, transient=True) as prog:
                task = prog.add_task("starting", total=None)
                summary = judge(progress=lambda msg: prog.update(task, description=msg))
        else:
            summary = judge()
    except (BatchInputError, KBLoadError, SQLCompileError, FileProblem, ClaimDocumentError) as e:
        from cptkg.controls import one_line  # a file name may hold control characters (a terminal would run them)

        click.echo(f"cptkg: {one_line(str(e))}", err=True)
        sys.exit(2)
    except Exception as e:  # an engine that cannot start (no Java for Spark, ...)
        from cptkg.controls import one_line

        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        click.echo(f"cptkg: the {engine} engine failed: {one_line(first)}", err=True)
        sys.exit(2)
    text = summary_text(summary, output_file)
    if read_as is not None:
        text = f"{read_as}\n{text}"
    out(text)
    sys.exit(summary.exit_code)


#: how the summary names a claim file that is not claim rows (reader names: cptkg.registry)
FORMAT_WORDS = {"x12": "X12 837P", "fhir": "FHIR", "json": "claim JSON"}


def summary_text(s, output_file) -> str:
    rate = s.lines_in / s.seconds if s.seconds else 0.0
    lines = [
        f"lines in:  {s.lines_in:,}",
        f"lines out: {s.lines_out:,}  ({output_file})",
        f"accepted:  {s.accepted:,}",
        # issue 23: lines no rule of the pack covers are counted apart, never as accepted
        f"not checked: {getattr(s, 'not_checked', 0):,}  (outside the knowledge base)",
        f"rejected:  {s.rejected:,}",
        f"errors:    {s.errors:,}",
        f"engine:    {s.engine}, {s.seconds:.2f} s ({rate:,.0f} lines/s)",
    ]
    if s.rejected_by_rule:
        lines.append("rejected by rule:")
        width = max(len(r) for r in s.rejected_by_rule)
        lines += [f"  {r.ljust(width)}  {n:,}" for r, n in s.rejected_by_rule.items()]
    lines += [f"note: {n}" for n in getattr(s, "notes", ())]
    return "\n".join(lines)
