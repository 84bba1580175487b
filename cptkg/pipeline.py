"""Judge the claims of any input format and render the results in any output format.

The one call ``cptkg check --input-format/--output/--history`` needs:
read (format detected from the content unless given), validate each claim
with ``cptkg.claims.parse_claims``, judge it with ``cptkg.check``, write
json, fhir or csv. A progress bar shows on a terminal (stderr) for batches;
the summary line is returned for the caller to print.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cptkg.io import readers
from cptkg.io import writers


@dataclass
class BatchOutcome:
    text: str  # the rendered output
    results: list[dict]
    summary: str
    exit_code: int  # 0 all accepted, 1 a line rejected, 2 a claim not judged
    format: str


def _progress(total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty() and total > 1
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("checking claims"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)
    return progress


def run(source: bytes | str | Path, input_format: str | None = None, output: str = "json",
        history: bytes | str | Path | None = None, kb=None, progress: bool | None = None,
        created: str | None = None) -> BatchOutcome:
    """Read, judge and render; raises :class:`cptkg.readers.ReadError` for a malformed file."""
    from cptkg.judge.check import check_claim, exit_code
    from cptkg.judge.input import InputError, parse_claims
    from cptkg.knowledge.loader import default_kb

    read = readers.read(source, input_format, history)
    kb = kb or default_kb()
    bar = _progress(len(read.claims), progress)
    results_obj = []
    task = bar.add_task("check", total=len(read.claims)) if bar else None
    if bar:
        bar.start()
    try:
        for raw in read.claims:
            parsed, _ = parse_claims(raw)
            item = parsed[0]
            if isinstance(item, InputError):
                from cptkg.judge.check import ClaimResult

                results_obj.append(ClaimResult(item.claim_id or str(raw.get("claim_id", "")) if isinstance(raw, dict) else "",
                                               "error", error=str(item), kb_version=kb.version))
            else:
                results_obj.append(check_claim(kb, item))
            if bar:
                bar.advance(task)
    finally:
        if bar:
            bar.stop()
    results = [r.to_json() for r in results_obj]
    text = writers.write(results, output, claims=read.claims, row_keys=read.row_keys, was_list=read.was_list,
                         created=created)
    return BatchOutcome(text, results, writers.summary(results), exit_code(results_obj), read.format)
