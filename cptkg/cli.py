"""cptkg: check claims, infer codes and inspect the knowledge graph.

Exit codes, as pySHACL: 0 every line accepted (or nothing wrong), 1 a line
rejected (or a check failed), 2 input or knowledge base that cannot be used.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import click

from . import commands as _commands_pkg


def fail(message: str, code: int = 2) -> "NoReturn":  # noqa: F821
    click.echo(f"cptkg: {message}", err=True)
    sys.exit(code)


def read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    if not p.exists():
        fail(f"{path}: no such file")
    if p.is_dir():
        fail(f"{path}: is a folder, not a file")
    try:
        return p.read_bytes()
    except OSError as e:
        fail(f"{path}: cannot be read ({e.strerror})")


def get_kb():
    from .kb import KBLoadError, default_kb

    try:
        return default_kb()
    except KBLoadError as e:
        fail(f"knowledge base cannot be used: {e}")


def dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cptkg")
def main():
    """Compliance knowledge graph for intrathecal/epidural reservoir and pump
    billing (CPT 62360–62370, 95990, 95991). Not legal advice."""


@main.command()
@click.argument("claim_file", metavar="CLAIM.json")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def check(claim_file, as_json):
    """Judge the claim(s) in CLAIM.json (one claim or a list; '-' reads stdin).

    Exit 0 when every line is accepted, 1 when a line is rejected, 2 when the
    input cannot be judged (the message names the claim, line and field).
    """
    from .check import check_claims, exit_code
    from .claims import InputError, load_json, parse_claims
    from .report import claim_report

    raw = read_input(claim_file)
    try:
        data = load_json(raw, claim_file)
        claims, was_list = parse_claims(data)
    except InputError as e:
        fail(str(e))
    if not was_list and isinstance(claims[0], InputError):
        fail(str(claims[0]))
    kb = get_kb()
    results = check_claims(kb, claims)
    for r in results:
        if r.error is not None:
            click.echo(f"cptkg: {r.error}", err=True)
    if as_json:
        payload = [r.to_json() for r in results]
        click.echo(dump(payload if was_list else payload[0]))
    else:
        click.echo("\n\n".join(claim_report(r) for r in results))
    sys.exit(exit_code(results))


@main.command()
@click.argument("encounter_file", metavar="ENCOUNTER.json")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def infer(encounter_file, as_json):
    """Infer the code(s) for the documented services in ENCOUNTER.json.

    Exit 0 when a code was inferred for every documented service, 1 when a
    service has no code of the family, 2 when the input cannot be used.
    """
    from .claims import InputError, load_json, parse_encounter
    from .infer import infer_codes
    from .report import infer_report

    raw = read_input(encounter_file)
    try:
        enc = parse_encounter(load_json(raw, encounter_file))
    except InputError as e:
        fail(str(e))
    res = infer_codes(get_kb(), enc)
    click.echo(dump(res.to_json()) if as_json else infer_report(res))
    sys.exit(0 if res.codes and not res.uncovered else 1)


@main.command("test")
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def test_cmd(verbose):
    """Run the rule cases in kb/rules/*.cases.yaml and report untested rules.

    Exit 0 when every case passes and every rule is fired by a case, else 1.
    """
    from .cases import run_all

    results, untouched = run_all(get_kb())
    failed = [r for r in results if not r.ok]
    for r in results:
        if verbose or not r.ok:
            click.echo(f"{'PASS' if r.ok else 'FAIL'}  {r.file}: {r.name}")
            for p in r.problems:
                click.echo(f"        {p}")
    for kind, ids in untouched.items():
        for rid in ids:
            click.echo(f"UNTESTED  kb/rules/{kind}.dl: rule {rid} is fired by no case")
    n_untested = sum(len(v) for v in untouched.values())
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed, {n_untested} rules untested")
    sys.exit(1 if failed or n_untested else 0)


@main.command()
def lint():
    """Load ontology, KB, shapes and rules and report what is wrong or unused.

    Exit 0 when the knowledge base loads and validates, 2 when it does not.
    """
    kb = get_kb()
    used = {s for p in (kb.check_program, kb.infer_program) for r in p.rules for s in r.meta.source}
    from rdflib.namespace import DCTERMS
    from .kb import local
    used |= {local(o) for o in kb.graph.objects(None, DCTERMS.source)}
    unused = sorted(s.id for s in kb.sources.values() if s.normative and s.id not in used and not s.maps_to)
    click.echo(f"knowledge base {kb.version}: {len(kb.codes())} codes, {len(kb.check_program.rules)} claim rules, "
               f"{len(kb.infer_program.rules)} inference rules, {len(kb.sources)} sources: valid")
    for s in unused:
        click.echo(f"note: normative source {s} is cited by no rule or fact")


def _discover() -> None:
    """Add every ``command`` found in cptkg/commands/*.py to the group."""
    for mod in pkgutil.iter_modules(_commands_pkg.__path__):
        m = importlib.import_module(f"{_commands_pkg.__name__}.{mod.name}")
        cmd = getattr(m, "command", None)
        if isinstance(cmd, click.Command):
            main.add_command(cmd)


_discover()

if __name__ == "__main__":
    main()
