"""``cptkg batch``: judge a file of claim lines with the rules compiled to SQL."""
from __future__ import annotations

import sys

import click

from cptkg.faces.options import TimeLimitSeconds


@click.command("batch")
@click.argument("input_file", metavar="INPUT")
@click.option("-o", "--output", "output_file", required=True, metavar="OUTPUT",
              help="Verdicts file, one row per input row (.csv or .parquet).")
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
def command(input_file, output_file, history_file, engine, time_limit):
    """Judge every claim line of INPUT (.csv or .parquet) and write OUTPUT.

    INPUT has the columns claim_id, patient_id, line, code, date_of_service,
    provider_id, provider_role, units (default 1), modifiers (separated by
    ';', '|' or spaces) and route (optional). Every input row gets one output row: accepted, rejected
    (with rule ids and messages) or error (a malformed row names its row
    number and field; the other rows of its claim are not judged).

    Each claim is held to the same size limits as ``cptkg check`` (a claim
    over one is an error row; the others are judged), and the whole run to
    --time-limit.

    Exit 0 when every line is accepted, 1 when a line is rejected, 2 when a
    row could not be judged, the file cannot be read or the time limit ran out.
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cptkg.judge.batch import BatchInputError, run_batch
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
    try:
        if err.is_terminal:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=err, transient=True) as prog:
                task = prog.add_task("starting", total=None)
                summary = run_batch(input_file, output_file, history_file, engine=engine, kb=kb,
                                    progress=lambda msg: prog.update(task, description=msg), timeout=time_limit)
        else:
            summary = run_batch(input_file, output_file, history_file, engine=engine, kb=kb, timeout=time_limit)
    except (BatchInputError, KBLoadError, SQLCompileError, FileProblem) as e:
        click.echo(f"cptkg: {e}", err=True)
        sys.exit(2)
    except Exception as e:  # an engine that cannot start (no Java for Spark, ...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        click.echo(f"cptkg: the {engine} engine failed: {first}", err=True)
        sys.exit(2)
    out(summary_text(summary, output_file))
    sys.exit(summary.exit_code)


def summary_text(s, output_file) -> str:
    rate = s.lines_in / s.seconds if s.seconds else 0.0
    lines = [
        f"lines in:  {s.lines_in:,}",
        f"lines out: {s.lines_out:,}  ({output_file})",
        f"accepted:  {s.accepted:,}",
        f"rejected:  {s.rejected:,}",
        f"errors:    {s.errors:,}",
        f"engine:    {s.engine}, {s.seconds:.2f} s ({rate:,.0f} lines/s)",
    ]
    if s.rejected_by_rule:
        lines.append("rejected by rule:")
        width = max(len(r) for r in s.rejected_by_rule)
        lines += [f"  {r.ljust(width)}  {n:,}" for r, n in s.rejected_by_rule.items()]
    return "\n".join(lines)
