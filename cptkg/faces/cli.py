"""cptkg: check claims, infer codes and inspect the knowledge graph.

Exit codes, as pySHACL: 0 every line accepted (or nothing wrong), 1 a line
rejected (or a check failed), 2 input or knowledge base that cannot be used.
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from cptkg.faces.options import TimeLimitSeconds, WholeNumber


def fail(message: str, code: int = 2, *, listing: bool = False) -> "NoReturn":  # noqa: F821
    """One line on standard error (control characters and line breaks in it shown escaped), then exit.

    ``listing``: the message is a list the knowledge base's loader made (the
    SHACL problems, the refused rules), one problem a line; the line breaks
    stay, every other control character is escaped."""
    from cptkg.controls import one_line, shown_text

    text = shown_text(str(message)) if listing else one_line(str(message))
    try:
        click.echo(f"cptkg: {text}", err=True)
    except OSError:  # standard error itself cannot be written: the exit code still says it
        pass
    sys.exit(code)


class StdoutFailed(Exception):
    """Standard output could not be written (a full disk, a closed pipe); ``reason`` in words."""

    def __init__(self, error: OSError):
        super().__init__(error)
        self.reason = error.strerror or str(error)


def _silence_stdout() -> None:
    """After a failed write: point standard output at the null device, so Python's final flush of what
    is still buffered does not fail again (BrokenPipeError noise on standard error, exit 120)."""
    import os

    try:
        fd = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (AttributeError, OSError, ValueError):  # not a real file (tests): nothing buffered survives
        pass


def emit(text: str | bytes, *, raw: bool = False) -> None:
    """Write ``text`` (and a line break) to standard output now; StdoutFailed when it cannot be written.

    Text has its control characters escaped line by line (cptkg.controls),
    unless ``raw``: output a writer already made safe (reports, CSV, JSON).
    Bytes are written as they are (``cptkg export``).
    """
    try:
        if not isinstance(text, bytes) and not raw:
            from cptkg.controls import shown_text

            text = shown_text(text)
        if _write_all(text):
            return
        if isinstance(text, bytes):
            stream = sys.stdout.buffer
            stream.write(text)
            stream.flush()
            return
        click.echo(text)  # writes and flushes
    except OSError as e:
        _silence_stdout()
        raise StdoutFailed(e) from None


def _write_all(text: str | bytes) -> bool:
    """Write to standard output's file descriptor until every byte is out (False: no descriptor, as under a
    test runner). A reader that closes the pipe part-way through a large write made the kernel take part of
    it and Python's buffered stream drop the rest without an error: the command exited 0 with its output
    cut short (and its decisions logged as delivered). Here the next write fails, and says so."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if isinstance(text, bytes):
        data = text
    else:
        # the stream's own encoding and error handler, as click.echo wrote: a character the terminal's
        # character set lacks is an error saying so, never a claim id or message quietly altered to "?"
        encoding = sys.stdout.encoding or "utf-8"
        try:
            data = (text + "\n").encode(encoding, getattr(sys.stdout, "errors", None) or "strict")
        except UnicodeEncodeError as e:
            shown = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(e.object[e.start:e.end]))
            raise OSError(f"its character set ({encoding}) cannot show the character {shown}; set "
                          f"PYTHONIOENCODING=utf-8, or use a UTF-8 locale") from None
    sys.stdout.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return True


def out(text: str | bytes, *, raw: bool = False) -> None:
    """:func:`emit`, exiting 2 with one line when standard output cannot be written (every command's output)."""
    try:
        emit(text, raw=raw)
    except StdoutFailed as e:
        fail(f"standard output cannot be written ({e.reason})")


def read_input(path: str, cap: int | None = None, what: str = "a claim file", hint: str | None = None) -> bytes:
    """The bytes of an input file ('-': standard input), read with a cap (cptkg.limits); one line on failure."""
    from cptkg import limits
    from cptkg.files import FileProblem, read_capped

    if cap is None:
        cap = limits.MAX_CLAIM_FILE_BYTES
        hint = "split it, or judge it with cptkg batch (which streams large files)" if hint is None else hint
    try:
        return read_capped(path, cap, what=what, hint=hint or "")
    except FileProblem as e:
        fail(str(e))


def get_pack():
    """The pack folder of this command: ``--kb``, else ``CPTKG_KB`` (read here, at the face), else the default."""
    import os

    from cptkg.session import choose_pack

    ctx = click.get_current_context(silent=True)
    return choose_pack(ctx.meta.get(KB_KEY) if ctx is not None else None, os.environ)


def get_engine() -> str:
    """The engine name of this command: ``--engine``, else ``CPTKG_ENGINE`` (read here), else the default."""
    import os

    from cptkg.session import choose_engine

    ctx = click.get_current_context(silent=True)
    try:
        return choose_engine(ctx.meta.get(ENGINE_KEY) if ctx is not None else None, os.environ)
    except ValueError as e:
        fail(str(e))


def get_session():
    """The one session of this command (pack, engine, edit files, limits), built once and passed down."""
    from cptkg.session import Session

    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(SESSION_KEY) is not None:
        return ctx.meta[SESSION_KEY]
    kb = get_kb()
    edits = tuple(ctx.meta.get(EDITS_KEY, ())) if ctx is not None else ()
    session = Session(kb=kb, engine=get_engine(), edits=edits)
    if ctx is not None:
        ctx.meta[SESSION_KEY] = session
    return session


def read_history(history_file: str | None, claim_file: str) -> bytes | None:
    """``--history FILE``: the billed-history CSV's bytes (None without it), refused in one line when it is
    standard input beside claims read from it, too large, or empty (check, explain and impact)."""
    if history_file is None:
        return None
    from cptkg import limits

    if history_file == "-" and claim_file == "-":
        fail("--history -: the claims are read from standard input already; give the history as a file")
    history = read_input(history_file, limits.MAX_CLAIM_FILE_BYTES, what="a history file (--history)",
                         hint="give only the history of the claims' patients")
    if not history.strip():
        fail(f"--history {history_file}: is empty; a history file has a header row and one row per billed service")
    return history


def get_kb():
    """The KB of this command: the pack (``--kb``) with the ``--edits`` files over it."""
    from cptkg.knowledge.loader import KBLoadError, default_kb

    ctx = click.get_current_context(silent=True)
    edits = list(ctx.meta.get(EDITS_KEY, ())) if ctx is not None else []
    try:
        kb = default_kb(get_pack(), edits=edits)
    except KBLoadError as e:
        fail(f"knowledge base cannot be used: {e}", listing=True)
    if ctx is not None and not ctx.meta.get("cptkg.edit-notices-shown"):
        from cptkg.controls import one_line

        ctx.meta["cptkg.edit-notices-shown"] = True  # once per command, however often it asks for the KB
        for notice in getattr(kb, "edit_notices", ()) or ():
            click.echo(f"cptkg: note: {one_line(notice)}", err=True)
    return kb


EDITS_KEY = "cptkg.edits"
#: the --kb folder and --engine name a command was given (click's ctx.meta, shared by a group and its
#: subcommands), and the session built from them: nothing is written into os.environ
KB_KEY = "cptkg.kb"
ENGINE_KEY = "cptkg.engine"
SESSION_KEY = "cptkg.session"
#: commands that judge claims or read edits, and so take --edits FILE
EDIT_COMMANDS = ("check", "explain", "batch", "ask")


def edit_file_problem(path) -> str:
    """Why ``path`` is no edit file, in a user's words: a folder is said to be one (it was "no such edit file" of a
    folder that exists; a payer-edit specialist's audit)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return "is a folder; give the edit file itself (cptkg edits import writes one .ttl file per table)"
    if p.exists():
        return "is not a regular file; give the edit file itself"
    return "no such edit file"


def _choose_edits(ctx, param, value):
    """``--edits FILE`` (repeatable): edit files loaded over the pack (cptkg edits import writes them)."""
    for v in value or ():
        if not Path(v).expanduser().is_file():
            fail(f"--edits {v}: {edit_file_problem(v)}")
    if value:  # given on a group (cptkg ask --edits F edit) and not again on its subcommand: the group's stand
        ctx.meta[EDITS_KEY] = tuple(dict.fromkeys(tuple(ctx.meta.get(EDITS_KEY, ())) + tuple(value)))
    return value


def dump(obj) -> str:
    """Indented JSON, every non-printable character as JSON's escape (cptkg.controls)."""
    from cptkg.controls import json_safe

    return json_safe(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False))


class _Commands(click.Group):
    """The command group: the commands of this module, and the registry's
    (kind ``command``) imported only when one is asked for.

    Why: importing every registered command at start pulled rdflib's SPARQL
    engine, networkx and every exporter into ``cptkg check`` (about 0.35 s of
    a 1 s cold start). This is click's documented lazy-loading pattern
    (``list_commands`` / ``get_command``); ``--help`` still lists them all.
    """

    def list_commands(self, ctx):
        from cptkg import registry

        return sorted(set(super().list_commands(ctx)) | set(registry.names("command")))

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StdoutFailed as e:  # a command that let it through: the same one line
            fail(f"standard output cannot be written ({e.reason})")
        except click.UsageError as e:
            # one line, as every other refusal: click's own form is a usage line, a hint line and the error
            # (a missing --format listed the fifteen formats one per line; an integrator's audit)
            where = e.ctx.command_path if e.ctx is not None else ctx.command_path
            click.echo(f"cptkg: {' '.join(e.format_message().split())} (see {where} --help)", err=True)
            sys.exit(e.exit_code)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None:
            from cptkg import registry

            if name not in registry.names("command"):
                return None
            cmd = registry.get("command", name)
            _common_options(cmd)
            self.add_command(cmd, name)
        return cmd


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cptkg")
def main():
    """Compliance knowledge graph for medical billing: check claims, infer codes
    and inspect the rules of a code family (a family pack; --kb DIR picks one).
    Not legal advice."""


def _detect(raw: bytes) -> str:
    from cptkg.io.readers import ReadError, detect

    try:
        return detect(raw)
    except ReadError:
        from cptkg.io.readers import peek_json

        if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") or peek_json(raw) is not None:
            return "json"  # JSON, or JSON that does not parse: the JSON path gives its precise message
        raise  # empty, binary or some other file: "not valid JSON" would mislead


def _detect_or_fail(raw: bytes, claim_file: str) -> str:
    """The input's format; an empty file, or one that is no claim format at all, is one line saying so."""
    from cptkg.io.readers import ReadError

    name = "standard input" if claim_file == "-" else claim_file
    if not raw.lstrip(b"\xef\xbb\xbf").strip():
        fail(f"{name}: is empty: a claim file holds claim JSON, a FHIR Claim or Bundle, an X12 837P file or "
             f"claim CSV")
    try:
        return _detect(raw)
    except ReadError as e:
        fail(str(e).replace("input:", f"{name}:", 1))


def _judge_file(claim_file: str, *, output: str | None, as_json: bool, input_format=None, history_file=None,
                explain=False, line=None, depth=None, all_proofs=False, log_file=None, log_identifiers=False,
                time_limit=None, full=False, route=None, paper=None) -> "NoReturn":  # noqa: F821
    """``check`` and ``explain``: the one pipeline (read → judge → explain → write → log), then exit.

    Default output: the readable report for claim JSON, JSON for FHIR and CSV
    input (as before the pipeline was one).
    """
    from cptkg.io.decision_log import DecisionLogError
    from cptkg.io.readers import HistoryReadError, ReadError
    from cptkg.claims.models import InputError
    from cptkg.pipeline import run

    if log_file is not None:  # appended to, an input would no longer be claims, history or an edit table
        from cptkg.files import FileProblem, refuse_inputs

        try:
            refuse_inputs(log_file, [claim_file, history_file, *get_session().edits], "--log",
                          "the decision log would be appended to it")
        except FileProblem as e:
            fail(str(e))
    raw = read_input(claim_file)
    history = read_history(history_file, claim_file)
    detected = input_format or _detect_or_fail(raw, claim_file)
    other_format = detected != "json" or output in ("fhir", "csv", "html") or history_file is not None
    if as_json:
        output = output or "json"
    output = output or ("json" if other_format else "text")
    session = get_session()
    kb = session.kb

    delivered = []

    def deliver(outcome) -> None:
        """The verdicts to standard output (the errors and summary to standard error); logged after."""
        from cptkg.controls import one_line

        delivered.append(True)
        if outcome.format == "json" and not outcome.was_list and outcome.invalid:  # the refusal is the answer
            click.echo(f"cptkg: {one_line(outcome.results[0].get('error', 'the claim cannot be judged'))}", err=True)
            if output != "text":
                # and, for a script, its error entry in the format asked for, as a claim of a list gets it (stdout
                # was empty, even of the CSV header: an integrator's audit)
                emit(outcome.text.rstrip("\n"), raw=True)
            return
        if not other_format:
            for e in outcome.errors:
                click.echo(f"cptkg: {one_line(e)}", err=True)
        emit(outcome.text.rstrip("\n"), raw=True)  # the writers made it safe
        if other_format:
            click.echo(outcome.summary, err=True)
        for note in outcome.notes:
            click.echo(f"cptkg: note: {one_line(note)}", err=True)

    try:
        outcome = run(raw, detected, output, history, kb=kb, engine=session.engine, explain=explain, line=line, depth=depth,
                      all_proofs=all_proofs, log=log_file, log_identifiers=log_identifiers, timeout=time_limit,
                      full=full, deliver=deliver, route=route, paper=paper)
    except StdoutFailed as e:
        fail(f"standard output cannot be written ({e.reason})"
             + ("; the verdicts were not delivered and are not logged" if log_file else ""))
    except HistoryReadError as e:
        fail(e.named(f"--history {history_file}"))
    except ReadError as e:
        fail(_named(str(e), claim_file))
    except InputError as e:
        fail(_named(str(e), claim_file))
    except DecisionLogError as e:
        fail(str(e) + ("; the verdicts were written but are not logged" if delivered else ""))
    except OSError as e:
        fail(f"{log_file}: cannot write the decision log ({e.strerror or e})")
    except MemoryError:
        fail(f"{'standard input' if claim_file == '-' else claim_file}: not enough memory to judge these claims; "
             f"split the file, or judge it with cptkg batch")
    if outcome.format == "json" and not outcome.was_list and outcome.invalid:
        sys.exit(2)
    sys.exit(outcome.exit_code)


def _named(message: str, claim_file: str) -> str:
    """A reader's message about its input naming the file given (standard input stays "input")."""
    from cptkg.io.readers import named_input

    return message if claim_file == "-" else named_input(message, claim_file)


_TIME_LIMIT = click.option("--time-limit", "time_limit", type=TimeLimitSeconds(), default=None,
                           metavar="SECONDS", help="Seconds one claim may take before it is reported as not "
                           "judged (default 30, at most 3,600); the other claims are still judged.")
_FULL = click.option("--full", is_flag=True, help="Text report: unfold each reason into its whole proof, step by "
                     "step down to the source sentence (implies --explain).")
_INPUT_FORMAT = click.option("--input-format", type=click.Choice(["json", "fhir", "csv", "x12"]), default=None,
                             help="Claim format (default: detected from the content): claim JSON, FHIR R4 "
                                  "Claim/Bundle, CSV rows, or an X12 837P file (005010X222A1).")
_OUTPUT = click.option("--output", "output", type=click.Choice(["text", "json", "fhir", "csv", "html"]), default=None,
                       help="text (a readable report), json (same as --json), fhir (a ClaimResponse per claim), "
                            "csv (one row per input row) or html (an auditor's work paper, printable to PDF; "
                            "with --explain it carries why-not and the verified fixes); default: text for claim "
                            "JSON, json for FHIR and CSV input.")
_HISTORY = click.option("--history", "history_file", metavar="FILE", default=None,
                        help="CSV of billed history (patient_id, code, date_of_service, provider_id), for claims "
                             "in any format: each claim gets its patient's rows after the history it carries.")
_PAPER_IDS = click.option("--paper-identifiers", "paper_identifiers", is_flag=True,
                          help="Work paper (--output html): print the patient and provider ids in clear (default: "
                               "masked, only their last 4 characters).")
_REVIEWER = click.option("--reviewer", "reviewer", metavar="NAME", default=None,
                         help="Work paper (--output html): the reviewer's name on each claim's header and sign-off.")
_ROUTE = click.option("--route", "route", metavar="ROUTE", default=None,
                      help="The route (one of the family pack's routes) of every line that "
                           "states none: 837P lines and FHIR items carry no route, and without one the route is "
                           "not checked (docs/interop.md, History and route, for every format).")
_LOG = click.option("--log", "log_file", metavar="FILE", help="Append one JSON line per claim to FILE: decision "
                    "id, time, input hash, verdicts and rule ids, KB version (docs/decision-log.md).")
_LOG_IDS = click.option("--log-identifiers", is_flag=True, help="Write patient and provider ids in clear in the "
                        "log (default: salted SHA-256).")


def _pipeline_options(f):
    """The pipeline's options, shared by check and explain: formats, history, log, time limit."""
    for option in (_TIME_LIMIT, _LOG_IDS, _LOG, _REVIEWER, _PAPER_IDS, _ROUTE, _HISTORY, _OUTPUT, _INPUT_FORMAT):
        f = option(f)
    return f


@main.command()
@click.argument("claim_file", metavar="CLAIMS")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--explain", is_flag=True, help="Explain each verdict: the deciding rule, the facts and sources it "
              "rests on, why not, and verified fixes (JSON: with the whole proof).")
@_FULL
@click.option("--depth", type=WholeNumber(0), default=None, help="Limit proof depth (with --explain).")
@click.option("--all-proofs", is_flag=True, help="Every proof of each reason, not only the shortest (with --explain).")
@_pipeline_options
def check(claim_file, as_json, explain, full, depth, all_proofs, input_format, output, history_file,
          log_file, log_identifiers, time_limit, route, paper_identifiers, reviewer):
    """Judge the claims in CLAIMS: claim JSON (one claim or a list), a FHIR R4
    Claim or Bundle, or claim CSV ('-' reads stdin).

    Exit 0 when every line is accepted, 1 when a line is rejected, 2 when a
    claim cannot be judged (the message names the claim, line and field).
    """
    _judge_file(claim_file, output=output, as_json=as_json, input_format=input_format, history_file=history_file,
                explain=explain or full, depth=depth, all_proofs=all_proofs, log_file=log_file,
                log_identifiers=log_identifiers, time_limit=time_limit, full=full, route=route,
                paper={"include_identifiers": paper_identifiers, "reviewer": reviewer})


@main.command()
@click.argument("claim_file", metavar="CLAIMS")
@click.option("--line", "line", type=WholeNumber(1, 1_000_000), default=None, help="Explain only this claim line.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_FULL
@click.option("--depth", type=WholeNumber(0), default=None, help="Limit proof depth.")
@click.option("--all-proofs", is_flag=True, help="Every proof, not only the shortest.")
@_pipeline_options
def explain(claim_file, line, as_json, full, depth, all_proofs, input_format, output, history_file, log_file,
            log_identifiers, time_limit, route, paper_identifiers, reviewer):
    """Explain the verdicts for CLAIMS in billing words: the rule that decided
    each line, the facts and source sentences it rests on, why a rejected line
    was not accepted, and verified fixes. --full prints the whole proof.

    Exit codes as for check.
    """
    _judge_file(claim_file, output=output, as_json=as_json, input_format=input_format, history_file=history_file,
                explain=True, line=line, depth=depth, all_proofs=all_proofs, log_file=log_file,
                log_identifiers=log_identifiers, time_limit=time_limit, full=full, route=route,
                paper={"include_identifiers": paper_identifiers, "reviewer": reviewer})


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def sources(as_json):
    """List every source with the rules and facts resting on it; flag sources
    no rule uses, and the recorded conflicts between sources."""
    from cptkg.knowledge.sources import source_index

    idx = source_index(get_kb())
    if as_json:
        out(dump(idx), raw=True)
        return
    for s in idx["sources"]:
        flag = "" if s["rules"] or s["facts"] else ("  [NOT USED by any rule or fact]" if s["normative"] else "")
        out(f"{s['id']}  {s['citation']}{flag}")
        out(textwrap.fill(f"“{s['quote']}”", width=100, initial_indent="    ", subsequent_indent="      ",
                          break_long_words=False, break_on_hyphens=False))
        if s["rules"]:
            out(f"    rules: {', '.join(s['rules'])}")
        if s["facts"]:
            out(f"    facts: {', '.join(s['facts'][:8])}" + (" …" if len(s["facts"]) > 8 else ""))
    for u in idx["unsourced"]:
        out(f"UNSOURCED  {u['fact']}  (no source annotates it)")
    for c in idx["conflicts"]:
        out(f"\nCONFLICT {c['id']}: {c['label']}")
        for q in c["conflicting"]:
            out(f"    “{q['quote']}” ({q['citation']})")
        out(f"    resolution: {c['resolution']}")


@main.command()
@click.argument("encounter_file", metavar="ENCOUNTER.json")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--explain", is_flag=True, help="Add the proof of each inferred code and the failed conditions of the rest.")
@click.option("--depth", type=WholeNumber(0), default=None, help="Limit proof depth (with --explain).")
def infer(encounter_file, as_json, explain, depth):
    """Infer the code(s) for the documented services in ENCOUNTER.json.

    Exit 0 when a code was inferred for every documented service, 1 when a
    service has no code of the family, 2 when the input cannot be used.
    """
    from cptkg import limits, pipeline
    from cptkg.claims.models import InputError, load_json

    raw = read_input(encounter_file, limits.MAX_ENCOUNTER_BYTES, what="an encounter file",
                     hint="an encounter documents one visit")
    session = get_session()
    try:
        done = pipeline.infer(session.kb, load_json(raw, encounter_file), engine=session.engine, explain=explain,
                              depth=depth, output="json" if as_json else pipeline.TEXT)
    except InputError as e:
        fail(str(e))
    out(done.text, raw=as_json)
    sys.exit(done.exit_code)


@main.command("test")
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def test_cmd(verbose):
    """Run the family pack's rule cases (rules/*.cases.yaml) and report untested rules.

    Exit 0 when every case passes and every rule is fired by a case, else 1 (a case the rules
    could not judge within their memory or time limit fails); 2 for a pack that cannot be loaded.
    """
    from cptkg.cases import run_all

    session = get_session()
    results, untouched = run_all(session.kb, engine=session.engine)
    failed = [r for r in results if not r.ok]
    for r in results:
        if verbose or not r.ok:
            out(f"{'PASS' if r.ok else 'FAIL'}  {r.file}: {r.name}")
            for p in r.problems:
                out(f"        {p}")
    for kind, ids in untouched.items():
        for rid in ids:
            out(f"UNTESTED  rules/{kind}.dl: rule {rid} is fired by no case")
    n_untested = sum(len(v) for v in untouched.values())
    out(f"{len(results) - len(failed)} passed, {len(failed)} failed, {n_untested} rules untested")
    sys.exit(1 if failed or n_untested else 0)


@main.command()
def lint():
    """Load ontology, KB, shapes and rules and report what is wrong or unused.

    Exit 0 when the knowledge base loads and validates, 2 when it does not.
    """
    from cptkg.knowledge.loader import KBLoadError, load_kb

    try:
        kb = load_kb(get_pack(), shacl="always")  # lint validates the shapes every time
    except KBLoadError as e:
        fail(f"knowledge base cannot be used: {e}", listing=True)
    used = {s for p in (kb.check_program, kb.infer_program) for r in p.rules for s in r.meta.source}
    from rdflib.namespace import DCTERMS
    from cptkg.knowledge.loader import local
    used |= {local(o) for o in kb.graph.objects(None, DCTERMS.source)}
    unused = sorted(s.id for s in kb.sources.values() if s.normative and s.id not in used and not s.maps_to)
    out(f"knowledge base {kb.version}: {len(kb.codes())} codes, {len(kb.check_program.rules)} claim rules, "
               f"{len(kb.infer_program.rules)} inference rules, {len(kb.sources)} sources: valid")
    if not any(r.head.pred == "reject" for r in kb.check_program.rules):
        # valid, and yet check can deny nothing: said, so a pack author does not ship it as a checker (an audit)
        out("note: no claim rule rejects a line (no rule of rules/claim.dl derives reject): check accepts every "
            "claim line of this pack")
    for s in unused:
        out(f"note: normative source {s} is cited by no rule or fact")
    for pred, row in kb.unsourced_facts():
        out(f"note: unsourced fact: {kb.describe(pred, row)} (no source annotates it)")
    for r in (r for p in (kb.check_program, kb.infer_program) for r in p.rules):
        if r.meta.id and r.meta.id not in kb.rule_titles:
            out(f"note: rule {r.meta.id} ({r.where}) has no title (no '% title:' in its metadata, nor in rules/titles.yaml); explanations show "
                       f"the start of its message instead")
    ids = {r.meta.id for p in (kb.check_program, kb.infer_program) for r in p.rules}
    for rid in sorted(set(kb.rule_titles) - ids):
        out(f"note: a title is given for {rid}, which is no rule of the pack")
    from rdflib import OWL

    from cptkg.controls import one_line

    for target in sorted({str(o) for o in kb.graph.objects(None, OWL.imports)}):
        # never fetched (docs/conformance.md): said, so an integrator expecting it loaded knows (an audit)
        out(f"note: owl:imports <{one_line(target)}> is not loaded: a family pack reads only its own files "
            f"(copy what it needs into the pack)")


def _choose_kb(ctx, param, value):
    """``--kb DIR|NAME``: the family pack the command's session loads (kept in the click context): a
    folder, or the name of a pack shipped in ``kb/`` or installed (``cptkg.packs`` entry point)."""
    if value is not None:
        from cptkg.knowledge.pack import installed_packs, locate

        if not value.strip():  # '--kb ""' loaded the default pack without a word (a security audit)
            fail("--kb: empty; give a family pack folder or the name of an installed pack")
        p = locate(value)
        if p.exists() and not p.is_dir():
            fail(f"--kb {value}: is a file, not a family pack folder (give the folder that holds family.yaml)")
        if not p.is_dir():
            known = ", ".join(installed_packs()) or "none"
            fail(f"--kb {value}: no such family pack folder or installed pack (installed packs: {known})")
        ctx.meta[KB_KEY] = str(p)
    return value


def _choose_engine(ctx, param, value):
    """``--engine NAME``: the rule engine of the command's session (kept in the click context); the
    message lists the known ones."""
    if value is not None:
        from cptkg import engines

        known = engines.names()
        if value not in known:
            fail(f"--engine {value}: not a rule engine of cptkg (one of {', '.join(known)})")
        ctx.meta[ENGINE_KEY] = value
    elif ctx.meta.get(ENGINE_KEY) is None and not ctx.resilient_parsing and not isinstance(ctx.command, click.Group):
        # CPTKG_ENGINE, read here, is checked by every command as --engine is: lint, schema, sources, diff
        # passed a stray value without a word and exit 0 (an audit); the commands that judge said exit 2
        import os

        from cptkg.session import choose_engine

        try:
            choose_engine(None, os.environ)
        except ValueError as e:
            fail(str(e))
    return value


def _common_options(cmd: click.Command, name: str | None = None) -> None:
    """Every command takes ``--kb DIR`` and ``--engine NAME`` (written once, here).

    A command group's subcommands take them too (``cptkg ask not-with CODE
    --kb DIR`` as well as ``cptkg ask --kb DIR not-with CODE``); ``name`` is
    the top-level command's, which decides whether ``--edits`` is offered.
    """
    name = name or cmd.name
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _common_options(sub, name)
    have = {o for p in cmd.params for o in getattr(p, "opts", [])}
    if "--kb" not in have:
        cmd.params.append(click.Option(["--kb", "kb_dir"], metavar="DIR", default=None, expose_value=False,
                                       is_eager=True, callback=_choose_kb,
                                       help="Family pack to load: a folder, or the name of a shipped or installed pack "
                                            "(default: CPTKG_KB, else the default pack, kb/default)."))
    if name in EDIT_COMMANDS and "--edits" not in have:
        cmd.params.append(click.Option(["--edits", "edit_files"], metavar="EDITS.ttl", multiple=True, default=(),
                                       expose_value=False, is_eager=True, callback=_choose_edits,
                                       help="Edit file (pair and unit edits, as `cptkg edits import` writes them) "
                                            "to load over the family pack; repeatable."))
    if "--engine" not in have:
        cmd.params.append(click.Option(["--engine", "engine_name"], metavar="NAME", default=None,
                                       expose_value=False, is_eager=True, callback=_choose_engine,
                                       help="Rule engine (default: CPTKG_ENGINE, else the default engine)."))


def _add_common_options() -> None:
    """``--kb``, ``--engine`` (and ``--edits``) on this module's commands; registry commands get them when loaded."""
    for cmd in list(main.commands.values()):
        _common_options(cmd)


_add_common_options()

if __name__ == "__main__":
    main()
