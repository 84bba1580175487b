"""``cptkg impact``: the same claims judged under two versions of the knowledge; what changes and why (issue 25).

Each side is a knowledge base as ``cptkg check`` loads one: a family pack
(``--before-kb`` / ``--after-kb``, default the pack of ``--kb``) with edit
files over it (``--before-edits`` / ``--after-edits``, as ``check --edits``).
The claim file is read once per side by the same readers (claim JSON, FHIR,
CSV, X12 837P, with ``--history`` and ``--route``), judged by the same
engine, and :mod:`cptkg.judge.impact` compares the verdicts line by line.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from cptkg.faces.options import TimeLimitSeconds
from cptkg.judge.impact import COLUMNS  # noqa: F401  (the columns of -o FILE.csv / .parquet, kept importable here)


def _check_files(option: str, files) -> None:
    from cptkg.faces.cli import edit_file_problem, fail

    for f in files or ():
        if not Path(f).expanduser().is_file():
            fail(f"{option} {f}: {edit_file_problem(f)}")


def _load(option_kb: str, kb_dir, option_edits: str, edits):
    """One side's KB; a pack or edit file that cannot be used is one line naming the option."""
    from cptkg.faces.cli import fail, get_pack
    from cptkg.knowledge.loader import KBLoadError, default_kb

    if kb_dir is not None and not Path(kb_dir).expanduser().is_dir():
        fail(f"{option_kb} {kb_dir}: no such family pack folder")
    _check_files(option_edits, edits)
    try:
        return default_kb(Path(kb_dir).expanduser() if kb_dir else get_pack(), edits=list(edits or ()))
    except KBLoadError as e:
        said = option_edits if edits else option_kb
        fail(f"{said}: knowledge base cannot be used: {e}", listing=True)


def rows(report) -> list[dict]:
    """One flat row per changed line (then per line whose warnings changed), for CSV and Parquet."""
    return report.rows()


def csv_text(report) -> str:
    return report.csv()


def parquet_bytes(report) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = rows(report)
    table = pa.table({c: pa.array([r[c] for r in data], pa.int64() if c == "line" else pa.string())
                      for c in COLUMNS})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def html_report(report, claims_file: str) -> str:
    """The auditor's work paper (:mod:`cptkg.io.impact_html`), judged now."""
    from cptkg.io.impact_html import work_paper

    return work_paper(report.to_json(), claims_file=claims_file)


def _side_words(s: dict) -> str:
    what = ", ".join(s["edit_files"]) or "no edit files"
    rel = ", ".join(r["release"] for r in s["releases"])
    return f"{s['pack']} + {what}" + (f" (release {rel})" if rel else "")


def _reason_words(r: dict) -> str:
    code = f" {r['carc']}" if r.get("carc") else ""
    return f"{r['rule']}{code}: {r['message']}"


def text_report(report, explain: bool = False) -> str:
    """The readable report: the summary first, then each changed line with both sides and the cause."""
    from cptkg.judge.impact import DIRECTIONS

    s = report.summary()
    lines = [f"Impact: {s['lines']:,} line(s) of {s['claims_judged']:,} claim(s) judged twice",
             f"  before: {_side_words(report.before)}", f"  after:  {_side_words(report.after)}",
             f"{s['changed']:,} line(s) change, in {s['claims_affected']:,} claim(s); "
             f"{s['warnings_changed']:,} line(s) only with other warnings"
             + (f"; {s['not_judged']:,} claim(s) not judged" if s["not_judged"] else "")]
    lines += [f"note: {n}" for n in report.notes]
    for d in DIRECTIONS:
        lines.append(f"  {d:<26} {s['by_direction'][d]:>6,}")
    if s["by_cause"]:
        lines.append("By edit or rule:")
        for c in s["by_cause"]:
            lines.append(f"  {c['lines']:>6,} line(s)  {c['cause']}")
    for e in report.changes:
        b, a = e["before"], e["after"]
        lines.append(f"\nclaim {e['claim_id']} line {e['line']} {e['code']} ({e['date_of_service']}): "
                     f"{b['verdict']} → {a['verdict']} ({e['direction']})")
        for which, sd in (("before", b), ("after", a)):
            lines.append(f"    {which + ':':<7} {sd['verdict']}"
                         + (f"  {', '.join(sd['rules'])}" if sd["rules"] else "")
                         + (f"  CARC {', '.join(sd['carc'])}" if sd["carc"] else ""))
        for c in e["causes"]:
            held = "now applies" if c["side"] == "after" else "no longer applies"
            lines.append(f"    because {cause_words(c)} {held}{changed_words(c)}")
        for c in e.get("still") or []:
            lines.append(f"    still denied because {cause_words(c)} applies, as it did before{changed_words(c)}")
        if explain:
            lines += _explanation_lines(e)
    if report.warning_changes:
        lines.append("\nLines whose warnings change (verdict unchanged):")
        for e in report.warning_changes:
            lines.append(f"  claim {e['claim_id']} line {e['line']} {e['code']}: "
                         f"{e['before']['verdict']} → {e['after']['verdict']}")
            for w in e["warnings_added"]:
                lines.append(f"    new warning {cause_words(w)}{changed_words(w)}")
            for w in e["warnings_removed"]:
                lines.append(f"    warning gone {cause_words(w)}{changed_words(w)}")
            if explain:
                lines += _explanation_lines(e)
    for err in report.errors:
        lines.append(f"\nnot judged ({err['side']}): {err['error']}")
    return "\n".join(lines)


def changed_words(c: dict) -> str:
    """What changed in the cause's edits between the sides, as cptkg diff says it (empty when nothing is known)."""
    said = [f"{ed['change']}" for ed in c.get("edits") or [] if ed.get("change")]
    return f": {'; '.join(dict.fromkeys(said))}" if said else ""


def cause_words(c: dict) -> str:
    what = f"rule {c['rule']} ({c['title']})"
    if c["edits"]:
        what = "; ".join(ed["text"] for ed in c["edits"]) + f" (rule {c['rule']})"
    return what


def _explanation_lines(e: dict) -> list[str]:
    out = []
    for which in ("before", "after"):
        ex = e[which].get("explanation")
        if not ex:
            continue
        out.append(f"    {which}, explained:")
        summary = ex.get("summary")
        if isinstance(summary, dict):
            for k, v in summary.items():
                if isinstance(v, str) and v:
                    out.append(f"      {k}: {v}")
                elif isinstance(v, list):
                    out += [f"      {x}" for x in v if isinstance(x, str)]
        elif isinstance(summary, str):
            out.append(f"      {summary}")
        for r in ex.get("reasons", []):
            sm = r.get("summary") or {}
            out.append(f"      {r.get('rule')}: {r.get('message')}")
            out += [f"        - {f}" for f in sm.get("facts", [])[:8]]
        if not ex.get("reasons"):
            out.append("      accepted: no denial rule applies")
    return out


@click.command("impact")
@click.argument("claim_file", metavar="CLAIMS")
@click.option("--before-edits", "before_edits", metavar="EDITS.ttl", multiple=True,
              help="Edit file judged with before (as check --edits); repeatable.")
@click.option("--after-edits", "after_edits", metavar="EDITS.ttl", multiple=True,
              help="Edit file judged with after; repeatable (give the old and the new release together to judge "
                   "each date of service by the release in force on it).")
@click.option("--before-kb", "before_kb", metavar="DIR", default=None,
              help="Family pack folder judged with before (default: the pack of --kb).")
@click.option("--after-kb", "after_kb", metavar="DIR", default=None,
              help="Family pack folder judged with after (default: the pack of --kb).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--explain", is_flag=True, help="Add each side's explanation of each changed line.")
@click.option("-o", "--output", "output_file", metavar="FILE", default=None,
              help="Also write the changed lines to FILE: .csv or .parquet (one row per line), or .json; "
                   ".html writes the auditor's work paper (-o html prints it instead of the text report).")
@click.option("--input-format", type=click.Choice(["json", "fhir", "csv", "x12"]), default=None,
              help="Claim format (default: detected from the content).")
@click.option("--history", "history_file", metavar="FILE", default=None,
              help="CSV of billed history (patient_id, code, date_of_service, provider_id), as for check.")
@click.option("--route", "route", metavar="ROUTE", default=None,
              help="The route of every line that states none, as for check.")
@click.option("--time-limit", "time_limit", type=TimeLimitSeconds(), default=None, metavar="SECONDS",
              help="Seconds one claim may take on each side before it is reported as not judged (with the batch "
                   "engine: seconds each side's whole run may take).")
@click.option("--engine", "engine_name", metavar="NAME", default=None,
              help="duckdb or spark: judge a .csv or .parquet claim-row file with the batch engine (as cptkg "
                   "batch), once per side; a .parquet file, or a .csv file over 1 MiB, uses duckdb unless another "
                   "engine is named. Any other name is the rule engine of the claim-by-claim path.")
def command(claim_file, before_edits, after_edits, before_kb, after_kb, as_json, explain, output_file, input_format,
            history_file, route, time_limit, engine_name):
    """What changes if: judge CLAIMS under two versions of the knowledge
    (two edit releases, or two family packs) and list every line whose
    verdict changes, with both verdicts, their rules and CARCs, and the edit
    (release, file, row) or rule that made the difference; lines whose
    warnings change are listed apart.

    Exit 0 when nothing changes, 1 when a line's verdict or warnings change,
    2 when an input cannot be used or a claim could not be judged.
    """
    from cptkg.faces.cli import _detect_or_fail, fail, get_engine, read_history, read_input
    from cptkg.io.readers import ReadError
    from cptkg.claims.models import InputError

    if not (before_edits or after_edits or before_kb or after_kb):
        fail("impact: give what to compare: --before-edits/--after-edits (two edit releases) or "
             "--before-kb/--after-kb (two family packs)")
    # ``-o html`` (no file name, as ``check --output html``): the work paper on standard output
    html_out = output_file is not None and output_file.lower() == "html"
    if html_out:
        if as_json:
            fail("-o html prints the work paper; --json prints JSON: choose one (or write -o FILE.html)")
        output_file = None
    suffix = Path(output_file).suffix.lower() if output_file else ""
    if output_file is not None:
        from cptkg.files import FileProblem, check_output_path

        if suffix not in (".csv", ".parquet", ".json", ".html", ".htm"):
            fail(f"-o {output_file}: write the changes as .csv, .parquet or .json, or the work paper as .html "
                 f"(-o html prints it)")
        from cptkg.files import refuse_inputs

        try:
            check_output_path(output_file, "-o")
            refuse_inputs(output_file, [claim_file, history_file, *(before_edits or ()), *(after_edits or ())], "-o",
                          "the impact report would overwrite it")
        except FileProblem as e:
            fail(str(e))
    batch_engine = _batch_engine(claim_file, engine_name, input_format)
    kbs = {"before": _load("--before-kb", before_kb, "--before-edits", before_edits),
           "after": _load("--after-kb", after_kb, "--after-edits", after_edits)}
    if batch_engine is not None:
        if explain:
            fail("--explain: explanations are given claim by claim; with the batch engine, run impact on the "
                 "changed claims alone (or name a rule engine: --engine clingo)")
        report = _at_scale(claim_file, kbs, batch_engine, history_file, route, time_limit)
        name = claim_file
        _finish(report, name, output_file, suffix, html_out, as_json, explain)
        return
    raw = read_input(claim_file)
    history = read_history(history_file, claim_file)
    fmt = input_format or _detect_or_fail(raw, claim_file)
    name = "standard input" if claim_file == "-" else claim_file
    from cptkg import impact

    try:
        report = impact(raw, before_kb=kbs["before"], after_kb=kbs["after"], history=history, route=route,
                        input_format=fmt, explain=explain, timeout=time_limit, name=name, engine=get_engine())
    except ReadError as e:
        fail(str(e).replace("input:", f"{name}:", 1))
    except InputError as e:
        fail(str(e))
    except MemoryError:
        fail(f"{name}: not enough memory to judge these claims twice; split the file")
    _finish(report, name, output_file, suffix, html_out, as_json, explain)


def _finish(report, name, output_file, suffix, html_out, as_json, explain):
    """Write -o, print the report, say each claim not judged, exit with the report's code."""
    from cptkg.faces.cli import dump, fail, out

    if output_file is not None:
        from cptkg.files import FileProblem, write_output

        if suffix in (".html", ".htm"):
            data = html_report(report, name).encode("utf-8")
        else:
            data = (csv_text(report).encode("utf-8") if suffix == ".csv" else parquet_bytes(report)
                    if suffix == ".parquet" else (dump(report.to_json()) + "\n").encode("utf-8"))
        try:
            write_output(output_file, data, "-o")
        except FileProblem as e:
            fail(str(e))
        except OSError as e:
            fail(f"-o {output_file}: cannot be written ({e.strerror or e})")
    if html_out:
        out(html_report(report, name), raw=True)
    else:
        out(dump(report.to_json()) if as_json else text_report(report, explain), raw=as_json)
    for err in report.errors:
        from cptkg.controls import one_line

        click.echo(f"cptkg: {one_line(err['error'])} ({err['side']})", err=True)
    sys.exit(report.exit_code)


def _batch_engine(claim_file: str, engine_name, input_format) -> str | None:
    """The batch engine judging this file (duckdb, spark), or None for the claim-by-claim path.

    Why automatic for large files: the claim-by-claim path judges some 2,500 lines a second per side
    (docs/engines.md), the batch engine hundreds of thousands; a Parquet file has no claim-by-claim
    reader at all. A rule engine named (clingo, pydatalog) keeps the claim-by-claim path.
    """
    from cptkg.faces.cli import fail
    from cptkg.judge.impact_batch import AUTO_BATCH_BYTES

    path = Path(claim_file).expanduser() if claim_file != "-" else None
    suffix = path.suffix.lower() if path else ""
    rows = suffix in (".csv", ".parquet", ".pq") and input_format in (None, "csv")
    if engine_name == "spark" or (engine_name == "duckdb" and rows):
        if not rows:
            fail(f"--engine {engine_name}: the batch engine reads claim rows from a .csv or .parquet file; "
                 f"{'standard input' if path is None else claim_file} is not one (or leave out --engine)")
        return engine_name
    if engine_name is not None:
        from cptkg import engines

        if engine_name not in engines.names():
            fail(f"--engine {engine_name}: not an engine of cptkg (duckdb or spark for the batch engine; "
                 f"rule engines: {', '.join(engines.names())})")
        from cptkg.faces.cli import ENGINE_KEY

        click.get_current_context().meta[ENGINE_KEY] = engine_name  # the rule engine of both sides
        return None
    if rows and path.is_file() and (suffix != ".csv" or path.stat().st_size > AUTO_BATCH_BYTES):
        return "duckdb"
    return None


def _at_scale(claim_file, kbs, engine, history_file, route, time_limit):
    """Both sides through the batch engine (:mod:`cptkg.judge.impact_batch`); problems in one line."""
    from cptkg.faces.cli import fail
    from cptkg.judge.batch import BatchInputError
    from cptkg.judge.impact_batch import batch_impact

    if history_file == "-":
        fail("--history -: with the batch engine give the history as a .csv or .parquet file")
    if route is not None:
        from cptkg.claims.models import InputError
        from cptkg.pipeline import check_route

        for kb in kbs.values():
            try:
                check_route(kb, route)
            except InputError as e:
                fail(str(e))
    try:
        return batch_impact(claim_file, kbs["before"], kbs["after"], history_file, engine=engine, route=route,
                            timeout=time_limit)
    except BatchInputError as e:
        fail(str(e))
    except MemoryError:
        fail(f"{claim_file}: not enough memory to judge these claims twice; split the file")
    except Exception as e:  # an engine that cannot start (no Java for Spark, ...), as cptkg batch says it
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        fail(f"the {engine} engine failed: {first}")
