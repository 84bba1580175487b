"""cptkg: a logic-based compliance knowledge graph for US medical billing.

The public API: what the CLI, the Streamlit explorer, ``cptkg batch`` and
other programs call. Claims and encounters may be given in the JSON shapes
of the CLI (dicts, or lists of them) or as parsed objects; results come back
in the JSON shapes of ``cptkg check --json`` / ``cptkg infer --json``::

    import cptkg
    kb = cptkg.load_kb()                       # the default family pack (or a folder)
    s = cptkg.Session.open("pump", engine="clingo")  # or: pack, engine and edits chosen once
    cptkg.check(claim, session=s)              # every call below judges with s.kb on s.engine
    cptkg.check({"claim_id": "C1", ...})       # -> {"claim_id": "C1", "status": ..., "lines": [...]}
    cptkg.explain(claims, line=1)              # + proofs, why-not, verified fixes
    cptkg.infer({"encounter_id": "E1", ...})   # -> codes to bill, with reasons

Everything else is imported on first use (PEP 562 ``__getattr__``), so
``import cptkg`` costs nothing and ``cptkg check`` never loads Streamlit,
pandas, Spark or pySHACL.
"""
from __future__ import annotations

import importlib
import logging
import os
from typing import Any

__version__ = "0.1.0"

# rdflib logs an ill-typed literal ("x"^^xsd:integer, kept as written) with its Python traceback; with no
# handler configured, Python's last-resort handler printed that traceback on standard error to a user
# who only ran a query. A null handler on rdflib's logger keeps it unprinted (the CLI reports in words).
logging.getLogger("rdflib").addHandler(logging.NullHandler())

# name -> "module:attribute" (or "module" for a module), imported on first use
_LAZY = {
    # the one session a face builds and passes down (pack, engine, edit files, limits)
    "Session": "cptkg.session:Session",
    # knowledge
    "KBLoadError": "cptkg.knowledge.loader:KBLoadError",
    "KnowledgeBase": "cptkg.knowledge.kb:KnowledgeBase",
    "local": "cptkg.knowledge.kb:local",
    "vocabulary": "cptkg.knowledge.vocabulary:vocabulary",
    "source_index": "cptkg.knowledge.sources:source_index",
    "views": "cptkg.knowledge.views",
    "sparql": "cptkg.knowledge.sparql",
    "read_pack": "cptkg.knowledge.pack:read_pack",
    "PackError": "cptkg.knowledge.pack:PackError",
    # rule language (the explorer's rule editor and Datalog console)
    "parse_rules": "cptkg.rules.parser:parse_text",
    "RuleSyntaxError": "cptkg.rules.parser:RuleSyntaxError",
    "build_program": "cptkg.rules.program:build_program",
    "RuleLoadError": "cptkg.rules.program:RuleLoadError",
    "Atom": "cptkg.rules.ast:Atom",
    "Rule": "cptkg.rules.ast:Rule",
    "Comparison": "cptkg.rules.ast:Comparison",
    # engines
    "engines": "cptkg.engines",
    "limits": "cptkg.limits",
    "EvaluationError": "cptkg.engines.base:EvaluationError",
    "EvaluationTimeout": "cptkg.engines.base:EvaluationTimeout",
    # judging
    "InputError": "cptkg.claims.models:InputError",
    "split_modifiers": "cptkg.claims.models:split_modifiers",
    "implanted_history": "cptkg.judge.questions.synthetic:implanted_history",
    "as_billed": "cptkg.pipeline:as_billed",
    "weakest_confidence": "cptkg.knowledge.sources:weakest_confidence",
    "Claim": "cptkg.claims.models:Claim",
    "Encounter": "cptkg.claims.models:Encounter",
    "load_json": "cptkg.claims.models:load_json",
    "load_cases": "cptkg.cases:load_cases",
    "run_all_cases": "cptkg.cases:run_all",
    "run_claim_case": "cptkg.cases:run_claim_case",
    "run_infer_case": "cptkg.cases:run_infer_case",
    "with_case_edits": "cptkg.cases:with_case_edits",
    # an analyst's questions, answered by the rules (cptkg ask, the explorer's Questions page)
    "questions": "cptkg.judge.questions",
    "QuestionError": "cptkg.judge.questions:QuestionError",
    # explaining
    "apply_suggestion": "cptkg.explanation.fixes:apply_suggestion",
    # the pipeline and its formats
    "pipeline": "cptkg.pipeline",
    "exit_code": "cptkg.pipeline:exit_code",
    "readers": "cptkg.io.readers",
    "writers": "cptkg.io.writers",
    "ReadError": "cptkg.io.readers:ReadError",
    "HistoryReadError": "cptkg.io.readers:HistoryReadError",
    "exports": "cptkg.exports",
    "frame_csv": "cptkg.spreadsheet:frame_csv",
    # what changes if (issue 25): two versions of the knowledge compared
    "Impact": "cptkg.judge.impact:Impact",
    "impact_work_paper": "cptkg.io.impact_html:work_paper",
    "import_edit_table": "cptkg.knowledge.edits.cms_import:import_table",
    "EditTableError": "cptkg.knowledge.edits.cms_import:EditTableError",
    # what run_batch raises (a file it cannot judge; its time limit), as cptkg batch says them
    "BatchInputError": "cptkg.judge.batch:BatchInputError",
    "BatchTimeout": "cptkg.judge.batch:BatchTimeout",
}

__all__ = sorted(["__version__", "load_kb", "check", "explain", "infer", "impact", "diff", "run", "judge_claims",
                  "run_batch", "parse_claim", "parse_claims", "parse_encounter", "load_graphs", *_LAZY])


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'cptkg' has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = importlib.import_module(module)
    if attr:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def _what(value) -> str:
    from cptkg.claims.models import _typename

    return _typename(value)


def _arguments(*, kb=None, engine=None, session=None, timeout=None, depth=None, line=None) -> None:
    """Refuse an API argument of the wrong kind, naming it: a wrong type reached deep code as a bare
    ``TypeError`` or ``AttributeError``, and ``kb={}`` (falsy) was taken for "no pack" and judged with the
    default one (an integrator's audit)."""
    import os

    from cptkg.knowledge.kb import KnowledgeBase
    from cptkg.session import Session

    if session is not None and not isinstance(session, Session):
        raise TypeError(f"session must be a cptkg.Session (cptkg.Session.open()), got {_what(session)}")
    if kb is not None and not isinstance(kb, (KnowledgeBase, str, os.PathLike)):
        raise TypeError(f"kb must be a knowledge base (cptkg.load_kb()) or a family pack's folder or name, "
                        f"got {_what(kb)}")
    if engine is not None and not isinstance(engine, str):
        raise TypeError(f"engine must be an engine's name (text), got {_what(engine)}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout > 0):
        raise ValueError(f"timeout must be a number of seconds above 0, got {timeout!r}"[:120])
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be a whole number of 0 or more, got {depth!r}"[:120])
    if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
        raise ValueError(f"line must be a line number (a whole number of 1 or more), got {line!r}"[:120])


def _session(session=None, kb=None, engine: str | None = None):
    """The session of one API call: the one given, else one built here, at the API face (``kb``, else
    ``CPTKG_KB``, else the default pack; ``engine``, else ``CPTKG_ENGINE``, else the default engine)."""
    import os

    _arguments(kb=kb, engine=engine, session=session)
    if session is not None:
        if kb is not None or engine is not None:
            raise ValueError("give a session, or kb= and engine=, not both")
        return session
    from cptkg.session import Session

    from cptkg.knowledge.kb import KnowledgeBase

    if isinstance(kb, KnowledgeBase):
        return Session.open(engine=engine, environ=os.environ, kb=kb)
    return Session.open(kb, engine=engine, environ=os.environ)


def load_kb(pack=None, *, fresh: bool = False, edits=()):
    """The knowledge base of a family pack folder (default: ``CPTKG_KB``, else the default pack).

    Loaded and validated once per process and folder; ``fresh`` reads the
    files again. ``edits``: edit files loaded over the pack (as ``cptkg check
    --edits``). Raises ``KBLoadError`` naming the file and the problem.
    """
    import os

    from cptkg.knowledge import loader
    from cptkg.session import choose_pack

    if pack is not None and not isinstance(pack, (str, os.PathLike)):
        raise TypeError(f"pack must be a family pack's folder or name, got {_what(pack)}")
    pack = choose_pack(pack, os.environ)  # the API is a face: CPTKG_KB is read here, not below
    if edits:
        return loader.load_kb(pack, edits=list(edits)) if fresh else loader.default_kb(pack, edits=list(edits))
    return loader.load_kb(pack) if fresh else loader.default_kb(pack)


def _kb_of(kb, session):
    """The knowledge base of an API call: the session's, else ``kb`` (a loaded KB or a pack folder), else
    ``CPTKG_KB``'s, else the default pack's (chosen here, at the API face: the layers below take none)."""
    from cptkg.knowledge.kb import KnowledgeBase

    if session is not None:
        return session.kb
    return kb if isinstance(kb, KnowledgeBase) else load_kb(kb)


def parse_claim(raw, index: int | None = None, kb=None, *, session=None):
    """One claim dict validated into a ``Claim``, against the pack's vocabulary; ``InputError`` names
    the field that is wrong."""
    from cptkg.claims.models import parse_claim as parse

    return parse(raw, index, kb=_kb_of(kb, session))


def parse_claims(raw, kb=None, *, session=None):
    """Claim dicts (or one) validated together: ``(claims, was_list)``, each a ``Claim`` or the
    ``InputError`` saying what is wrong with it."""
    from cptkg.claims.models import parse_claims as parse

    return parse(raw, kb=_kb_of(kb, session))


def parse_encounter(raw, kb=None, *, session=None):
    """An encounter dict validated into an ``Encounter``; ``InputError`` names the field that is wrong."""
    from cptkg.claims.models import parse_encounter as parse

    return parse(raw, kb=_kb_of(kb, session))


def load_graphs(kb=None, *, session=None, published: bool = False):
    """The ontology and KB graphs of the pack (``Graphs``: ``select("both"|"ontology"|"kb")``).

    ``published``: the graphs as every export writes them (SKOS and OWL declarations added, blank nodes
    labelled stably), which is what ``cptkg query`` and the explorer's query page read, so that a query
    answers there as over an exported file."""
    from cptkg.knowledge.datasets import load_graphs as graphs

    out = graphs(_kb_of(kb, session))
    if published:
        from cptkg.exports._publish import published as publish

        out = publish(out)
    return out


def run(source, input_format=None, output: str = "json", history=None, kb=None, *args, engine: str | None = None,
        session=None, **kwargs):
    """:func:`cptkg.pipeline.run` (read, judge, explain, write, log) at the API face: with ``session``,
    else a session of ``kb`` and ``engine`` (each, when not given, from ``CPTKG_KB`` / ``CPTKG_ENGINE``,
    else the defaults)."""
    from cptkg import pipeline

    s = _session(session, kb, engine)
    return pipeline.run(source, input_format, output, history, s.kb, *args, engine=s.engine, **kwargs)


def judge_claims(kb=None, claims=(), *, engine: str | None = None, session=None, **kwargs) -> list[dict]:
    """:func:`cptkg.pipeline.judge` at the API face: one result dict per claim (as :func:`run`'s session)."""
    from cptkg import pipeline

    _arguments(timeout=kwargs.get("timeout"), depth=kwargs.get("depth"), line=kwargs.get("line"))
    s = _session(session, kb, engine)
    from cptkg.claims.models import Claim

    if claims is None or isinstance(claims, (dict, Claim, str, bytes)):
        # one claim (a dict's keys were judged as four claims), or no list at all
        if claims is None or isinstance(claims, (str, bytes)):
            raise TypeError(f"claims must be a list of claims (dicts or Claim objects), got {_what(claims)}")
        claims = [claims]
    return pipeline.judge(s.kb, list(claims), engine=s.engine, **kwargs)


def run_batch(input_path, output_path, history_path=None, *args, kb=None, session=None, **kwargs):
    """:func:`cptkg.judge.batch.run_batch` at the API face: the pack of ``session``, else ``kb`` (a loaded
    knowledge base, or a pack folder; else ``CPTKG_KB``, else the default pack). ``engine`` is the batch
    backend (duckdb, spark), as for ``cptkg batch``; an X12 837P, FHIR or claim JSON file is read as the
    command reads it. Returns the run's ``Summary``; raises ``BatchInputError`` (a ``ValueError``) for a
    file that cannot be judged."""
    from cptkg.batch_files import is_claim_document, run
    from cptkg.judge.batch import run_batch as batch

    if session is not None and kb is not None:
        raise ValueError("give a session, or kb=, not both")
    kb = session.kb if session is not None else _side_kb(kb, ())
    # an 837P, FHIR or claim JSON file, read as cptkg batch reads it (the API refused claim JSON: an audit)
    if (not args and isinstance(input_path, (str, os.PathLike)) and set(kwargs) <= {"engine", "progress", "timeout", "route"}
            and is_claim_document(input_path)):
        return run(input_path, output_path, history_path, kb=kb, **kwargs).summary
    return batch(input_path, output_path, history_path, *args, kb=kb, **kwargs)


def _as_list(items) -> tuple[list, bool]:
    """The claims given: a list, tuple or any other iterable of claims (a generator was taken for one claim,
    "claim #1 in the list: must be a JSON object, got generator": an integrator's audit); one claim else."""
    if isinstance(items, (list, tuple)):
        return list(items), True
    if isinstance(items, (dict, str, bytes, bytearray)) or not hasattr(items, "__iter__") or hasattr(items, "lines"):
        return [_one_claim(items)], False
    return list(items), True


def _one_claim(item):
    """One claim given alone: anything but a claim object is the claim's error, not "claim #1 in the list"
    (``check(None)`` said so of a call that gave no list: an integrator's audit)."""
    from cptkg.claims.models import Claim, InputError, parse_claim

    if isinstance(item, (dict, Claim)):
        return item
    try:
        return parse_claim(item)
    except InputError as e:
        return e


def check(claims, *, kb=None, engine: str | None = None, timeout: float | None = None, session=None):
    """Verdicts for one claim (dict or Claim) or a list; the ``cptkg check --json`` shape back.

    A claim that is not valid input or cannot be judged in time comes back as
    an error entry (``"status": "error"``) naming the claim and the field.
    ``session``: a :class:`cptkg.Session` (its pack and engine), instead of ``kb`` and ``engine``.
    """
    from cptkg.pipeline import judge

    _arguments(timeout=timeout)
    s = _session(session, kb, engine)
    items, was_list = _as_list(claims)
    out = judge(s.kb, items, engine=s.engine, timeout=timeout)
    return out if was_list else out[0]


def explain(claims, *, kb=None, line: int | None = None, depth: int | None = None, all_proofs: bool = False,
            engine: str | None = None, timeout: float | None = None, session=None):
    """Verdicts with proofs down to the source sentence, why-not and verified fixes
    (the ``cptkg check --explain --json`` shape)."""
    from cptkg.pipeline import judge

    _arguments(timeout=timeout, depth=depth, line=line)
    s = _session(session, kb, engine)
    items, was_list = _as_list(claims)
    out = judge(s.kb, items, explain=True, line=line, depth=depth, all_proofs=all_proofs,
                engine=s.engine, timeout=timeout)
    return out if was_list else out[0]


def infer(encounter, *, kb=None, explain: bool = False, depth: int | None = None, engine: str | None = None,
          session=None):
    """The code(s) to bill for an encounter's documented services (``cptkg infer --json`` shape).

    ``explain`` adds each code's proof and the failed conditions of the rest.
    Raises ``InputError`` naming the field for an encounter that is not valid.
    """
    from cptkg import pipeline

    s = _session(session, kb, engine)
    return pipeline.infer(s.kb, encounter, engine=s.engine, explain=explain, depth=depth).result


def _side_kb(kb, edits):
    """A side of a comparison: a KnowledgeBase as given, else the pack folder ``kb`` (None: the default
    pack) with the edit files ``edits`` over it, as ``cptkg check --kb --edits`` loads them."""
    from cptkg.knowledge import loader

    if isinstance(kb, loader.KnowledgeBase):
        if edits:
            raise ValueError("give edit files with a pack folder, not with a loaded knowledge base")
        return kb
    import os

    from cptkg.session import choose_pack

    if isinstance(edits, (str, os.PathLike)):
        # one edit file given as a path, not a list of them: walked as a string it was read one character at a
        # time ("/: unknown edit file type": an integrator's audit)
        edits = [edits]
    return loader.default_kb(choose_pack(kb, os.environ), edits=list(edits or ()))


def impact(claims, *, before_kb=None, after_kb=None, before_edits=(), after_edits=(), history=None,
           route: str | None = None, input_format: str | None = None, explain: bool = False,
           engine: str | None = None, timeout: float | None = None, name: str = "input", session=None):
    """What changes if: the same claims judged under two versions of the knowledge (``cptkg impact``).

    ``claims``: a claim file's content (bytes or text, any format ``check`` reads: claim JSON, FHIR, CSV,
    X12 837P; ``input_format`` or detected) or claim dicts. Each side is a loaded KnowledgeBase, or a pack
    folder (None: the default pack) with edit files (``before_edits`` / ``after_edits``). ``history``: the
    billed-history CSV's content; ``route``: the route of every line that states none; ``explain``: each
    side's explanation of each changed line. ``session``: its engine judges both sides (its KB is not
    used: the two sides are the KBs compared). Returns :class:`cptkg.judge.impact.Impact` (``to_json()``,
    ``summary()``, ``rows()``, ``csv()``); raises ``ReadError``/``InputError`` naming the file and the
    problem, ``KBLoadError`` for a side that cannot be loaded.
    """
    import copy

    from cptkg.io.readers import read
    from cptkg.judge.check import check_claims
    from cptkg.judge.impact import compare
    from cptkg.claims.models import InputError
    from cptkg.pipeline import check_route, judge, parse, state_route

    import os

    from cptkg.session import choose_engine

    if session is not None and engine is not None:
        raise ValueError("give a session, or engine=, not both")
    _arguments(session=session, engine=engine, timeout=timeout)
    if not isinstance(claims, (list, tuple, dict, str, bytes, bytearray)):
        raise TypeError(f"claims must be a claim file's content (bytes or text) or claim dicts, got {_what(claims)}")
    engine = session.engine if session is not None else choose_engine(engine, os.environ)
    kbs = {"before": _side_kb(before_kb, before_edits), "after": _side_kb(after_kb, after_edits)}
    given = claims if isinstance(claims, (list, tuple, dict)) else None
    reads, results = {}, {}
    for which, kb in kbs.items():
        if route is not None:
            check_route(kb, route)
        if given is None:
            got = read(claims, input_format, history, kb=kb).claims
        else:  # each side gets its own copy: parsing and routing may fill in a claim
            got = copy.deepcopy(list(given) if isinstance(given, (list, tuple)) else [given])
        if route is not None:
            state_route(got, route)
        reads[which] = got
        kw = {} if timeout is None else {"timeout": timeout}
        results[which] = check_claims(kb, parse(kb, got), engine=engine, **kw)
    if len(results["before"]) != len(results["after"]):
        raise InputError(f"{name}: the two packs read a different number of claims from it "
                         f"({len(results['before'])} and {len(results['after'])}); compare packs of one code family")
    report = compare(kbs["before"], results["before"], kbs["after"], results["after"])
    report.inputs = reads
    if explain:
        wanted: dict = {}
        for e in report.changes + report.warning_changes:
            wanted.setdefault(e["claim_id"], []).append(e)
        for which in ("before", "after"):
            for c in reads[which]:
                cid = c.get("claim_id") if isinstance(c, dict) else None
                if cid not in wanted:
                    continue
                ex = judge(kbs[which], [copy.deepcopy(c)], explain=True, engine=engine)[0]
                by_line = {ln["line"]: ln for ln in ex.get("lines", [])}
                for e in wanted[cid]:
                    ln = by_line.get(e["line"])
                    if ln is not None:
                        e[which]["explanation"] = {k: ln[k] for k in ("summary", "reasons", "warnings", "why_not")
                                                   if k in ln}
    return report


def diff(*, before_kb=None, after_kb=None, before_edits=(), after_edits=()) -> dict:
    """The release note of two versions of the knowledge (``cptkg diff --json``): edits, rules and facts
    added, removed and changed, each with its source. Sides as for :func:`impact`."""
    from cptkg.knowledge.diff import diff as knowledge_diff, sides

    before, after = _side_kb(before_kb, before_edits), _side_kb(after_kb, after_edits)
    return {**knowledge_diff(before, after), **sides(before, after)}
