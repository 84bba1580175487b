"""Run the named given/expect cases kept beside each rule file.

A family pack's claim cases (``rules/claim.cases/<topic>.yaml``, or one file
``rules/claim.cases.yaml``) hold claims with the verdicts they must get, its
inference cases (``rules/infer.cases/`` or ``rules/infer.cases.yaml``) encounters
with the codes they must get; ``cptkg.knowledge.pack.case_files`` lists them. A
case is known by its name, unique across the files of a pack. A case may add KB facts (``kb_facts``) to exercise a rule the shipped KB never
triggers (an exclusion's effective date, say). The runner also reports which
rules no case fires: every rule must have a case.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cptkg.engines.base import EvaluationError, EvaluationTimeout
from cptkg.files import load_yaml, unreadable_words
from cptkg.judge.check import check_claim
from cptkg.claims.models import InputError, parse_claims, parse_encounter
from cptkg.judge.infer import infer_codes
from cptkg.knowledge.loader import KBLoadError, KnowledgeBase
from cptkg.knowledge.pack import PackError


@dataclass
class CaseResult:
    file: str
    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)


def _with_facts(kb: KnowledgeBase, extra: dict | None) -> KnowledgeBase:
    if not extra:
        return kb
    import copy
    k2 = copy.copy(kb)
    k2.facts = {p: set(v) for p, v in kb.facts.items()}
    # results computed from the KB's facts (the rules' static part) are not the case's
    k2.cache = {}
    for pred, rows in extra.items():
        k2.facts.setdefault(pred, set()).update(tuple(r) for r in rows)
    return k2


def with_case_edits(kb: KnowledgeBase, edits: list | None, file: str = "", name: str = "(unnamed)") -> KnowledgeBase:
    """The KB with the case's edit files loaded over it (paths relative to the case file, in rules/; a
    case of the pack names files of the pack only, else ``PackError``). The explorer's rules page judges
    its worked examples with it, as ``cptkg test`` does."""
    if not edits:
        return kb
    from cptkg.knowledge.loader import default_kb

    if Path(file).is_absolute():  # a case file outside the pack, named by its caller: paths relative to it
        return default_kb(kb.root, edits=[(Path(file).parent / e).resolve() for e in edits])
    from cptkg.knowledge.pack import case_edit_path

    # a case file of the pack names files of the pack only (absolute paths and '..' out are refused);
    # paths are relative to the rules folder, whichever topic file the case is in
    shown = kb.pack.root / file
    case_file = shown if file and shown.is_file() else kb.pack.case_file("claim")
    return default_kb(kb.root, edits=[case_edit_path(kb.pack.root, case_file, e, name) for e in edits])


def _fired(program, model) -> set[str]:
    return {program.rules[k].meta.id for k, b in model.bindings.items() if b and program.rules[k].meta.id}


def run_claim_case(kb: KnowledgeBase, case: dict, file: str, engine=None) -> CaseResult:
    """One claim case judged on ``engine`` (the face's choice: ``cptkg test --engine``; none is refused)."""
    name = case.get("name", "(unnamed)")
    res = CaseResult(file, name, True)
    try:
        claims, _ = parse_claims(case["given"], kb=kb)
    except InputError as e:
        claims = [e]
    exp = case.get("expect", {})
    if isinstance(claims[0], InputError):
        if "error" in exp and exp["error"] in str(claims[0]):
            return res
        res.ok = False
        res.problems.append(f"input error: {claims[0]}")
        return res
    if "error" in exp:
        res.ok = False
        res.problems.append(f"expected an input error containing {exp['error']!r}, got a verdict")
        return res
    try:
        kb = with_case_edits(kb, case.get("edits"), file, name)
    except (PackError, KBLoadError) as e:  # an edit file outside the pack, or one that does not load
        res.ok = False
        res.problems.append(str(e))
        return res
    r = check_claim(_with_facts(kb, case.get("kb_facts")), claims[0], all_bindings=True, engine=engine)
    res.fired = _fired(kb.check_program, r.model)
    if "status" in exp and r.status != exp["status"]:
        res.problems.append(f"claim status {r.status}, expected {exp['status']}")
    by_line = {ln.line: ln for ln in r.lines}
    for n, e in (exp.get("lines") or {}).items():
        ln = by_line.get(int(n))
        if ln is None:
            res.problems.append(f"line {n} missing from the result")
            continue
        if "status" in e and ln.status != e["status"]:
            res.problems.append(f"line {n}: {ln.status}, expected {e['status']} (reasons: {[x.rule for x in ln.reasons]})")
        got = {x.rule for x in ln.reasons}
        for rule in e.get("rules", []):
            if rule not in got:
                res.problems.append(f"line {n}: reason {rule} missing (got {sorted(got)})")
        if "only_rules" in e and got != set(e["only_rules"]):
            res.problems.append(f"line {n}: reasons {sorted(got)}, expected exactly {sorted(e['only_rules'])}")
        gotw = {x.rule for x in ln.warnings}
        for rule in e.get("warnings", []):
            if rule not in gotw:
                res.problems.append(f"line {n}: warning {rule} missing (got {sorted(gotw)})")
        for rule in e.get("no_warnings", []):
            if rule in gotw:
                res.problems.append(f"line {n}: unexpected warning {rule}")
        for text in e.get("message_contains", []):
            if not any(text in x.message for x in ln.reasons + ln.warnings):
                res.problems.append(f"line {n}: no reason or warning says {text!r}")
    if "suggestions" in exp or any("why_not" in (e or {}) for e in (exp.get("lines") or {}).values()):
        from cptkg.explanation import explain_claim

        ex = explain_claim(kb, claims[0], engine=engine).to_json()
        for n, e in (exp.get("lines") or {}).items():
            if "why_not" in (e or {}):
                got = [w for l in ex["lines"] if l["line"] == int(n) for w in l["why_not"]]
                for want in e["why_not"]:
                    if not any(w["rule"] == want.get("rule") and want.get("condition", "") in w["condition"] for w in got):
                        res.problems.append(f"line {n}: why-not {want} missing (got {[(w['rule'], w['condition']) for w in got]})")
        got_s = [(sorted(s["remove_lines"]), sorted(s["add_codes"]), s["verified"]) for s in ex["suggestions"]]
        for i, want in enumerate(exp.get("suggestions") or []):
            key = (sorted(want.get("remove_lines", [])), sorted(str(c) for c in want.get("add_codes", [])), True)
            if want.get("first") and (not got_s or got_s[0] != key):
                res.problems.append(f"first suggestion {got_s[:1]}, expected {key}")
            elif key not in got_s:
                res.problems.append(f"suggestion {key} missing (got {got_s})")
        if "suggestions" in exp and exp["suggestions"] == [] and got_s:
            res.problems.append(f"expected no suggestion, got {got_s}")
        for s in ex["suggestions"]:
            if any(m in kb.pack.never_bypass for ms in s["add_modifiers"].values() for m in ms):
                res.problems.append(f"a suggestion adds a bypass modifier: {s}")
    res.ok = not res.problems
    return res


def run_infer_case(kb: KnowledgeBase, case: dict, file: str, engine=None) -> CaseResult:
    """One inference case run on ``engine`` (the face's choice; none is refused)."""
    name = case.get("name", "(unnamed)")
    res = CaseResult(file, name, True)
    exp = case.get("expect", {})
    try:
        enc = parse_encounter(case["given"], kb=kb)
    except InputError as e:
        if "error" in exp and exp["error"] in str(e):
            return res
        return CaseResult(file, name, False, [f"input error: {e}"])
    r = infer_codes(_with_facts(kb, case.get("kb_facts")), enc, all_bindings=True, engine=engine)
    res.fired = _fired(kb.infer_program, r.model)
    got = [c for c, _ in r.codes]
    if "codes" in exp and sorted(got) != sorted(str(c) for c in exp["codes"]):
        res.problems.append(f"codes {got}, expected {exp['codes']}")
    nc = {c: {x.rule for x in rs} for c, rs in r.not_chosen}
    for code, rules in (exp.get("not_chosen") or {}).items():
        code = str(code)
        if code not in nc:
            res.problems.append(f"{code} was chosen, expected not chosen")
            continue
        for rule in rules:
            if rule not in nc[code]:
                res.problems.append(f"{code}: why-not {rule} missing (got {sorted(nc[code])})")
    if "uncovered" in exp:
        unc = sorted(s for s, _ in r.uncovered)
        if unc != sorted(exp["uncovered"]):
            res.problems.append(f"uncovered {unc}, expected {exp['uncovered']}")
    res.ok = not res.problems
    return res


def load_cases(path: "Path | list[Path]") -> list[dict]:
    """The cases of a case file, of a folder of case files (``rules/claim.cases/``, read in name order)
    or of a list of files (``cptkg.knowledge.pack.case_files``); ValueError names the file of a list
    that is no list of cases, and both files of a case name used twice."""
    return [case for _, case in case_entries(path)]


def case_entries(path: "Path | list[Path]", shown=str) -> list[tuple[Path, dict]]:
    """(file, case) for every case of ``path`` (see :func:`load_cases`); ``shown`` names a file in messages."""
    if isinstance(path, (list, tuple)):
        files = [Path(p) for p in path]
    elif Path(path).is_dir():
        files = sorted((p for p in Path(path).iterdir() if p.suffix == ".yaml" and not p.name.startswith(".")
                        and p.is_file()), key=lambda p: p.name)
    else:
        files = [Path(path)]
    out: list[tuple[Path, dict]] = []
    seen: dict[str, Path] = {}
    for f in files:
        data = load_yaml(f.read_text(encoding="utf-8")) or []
        if not isinstance(data, list):
            raise ValueError(f"{shown(f)}: a case file is a list of cases")
        for case in data:
            name = case.get("name") if isinstance(case, dict) else None
            if isinstance(name, str):
                if name in seen:
                    from cptkg.knowledge.pack import duplicate_case

                    raise ValueError(duplicate_case(name, shown(seen[name]), shown(f)))
                seen[name] = f
            out.append((f, case))
    return out


#: what a case may hold, by kind (docs/packs.md, Rule cases): a key outside these is a typo that would make
#: the case check nothing ("stauts: rejected" passed whatever the verdict), so it fails the case instead
CASE_KEYS = {"name", "given", "expect", "kb_facts", "edits"}
EXPECT_KEYS = {"claim": {"status", "lines", "suggestions", "error"},
               "infer": {"codes", "not_chosen", "uncovered", "error"}}
LINE_KEYS = {"status", "rules", "only_rules", "warnings", "no_warnings", "message_contains", "why_not"}
SUGGESTION_KEYS = {"remove_lines", "add_codes", "first"}
STATUSES = ("accepted", "rejected")


def _unknown(keys, allowed: set, where: str) -> list[str]:
    extra = sorted(str(k) for k in keys if k not in allowed)
    return [f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(extra)} "
            f"(allowed: {', '.join(sorted(allowed))})"] if extra else []


def case_problems(case, kind: str) -> list[str]:
    """What makes a case unable to check anything as written: its shape, in the words of the case file.

    A case that is not a mapping, lacks ``given`` or ``expect``, expects nothing, or spells a key or a
    status the runner does not know is a failed case naming the problem, never a crash or a pass."""
    if not isinstance(case, dict):
        return [f"a case is a mapping with name, given and expect; got {type(case).__name__} {str(case)[:60]!r}"]
    out = _unknown(case, CASE_KEYS, "case")
    if not isinstance(case.get("name"), str) or not case["name"].strip():
        out.append("name: missing (each case is known by its name)")
    if not isinstance(case.get("given"), dict):
        out.append("given: missing or not a mapping (the claim or encounter the case judges)")
    exp = case.get("expect")
    if not isinstance(exp, dict) or not exp:
        out.append("expect: missing or empty (what the rules must answer; a case expecting nothing checks nothing)")
        return out
    out += _unknown(exp, EXPECT_KEYS[kind], "expect")
    if kind == "claim":
        if "status" in exp and exp["status"] not in STATUSES:
            out.append(f"expect.status: {exp['status']!r} is not a status (accepted or rejected)")
        lines = exp.get("lines")
        if lines is not None and not isinstance(lines, dict):
            out.append("expect.lines: a mapping of line number to what the line must get")
        for n, e in (lines if isinstance(lines, dict) else {}).items():
            where = f"expect.lines.{n}"
            if not isinstance(n, int) and not (isinstance(n, str) and n.isdigit()):
                out.append(f"{where}: {n!r} is not a line number")
            if not isinstance(e, dict) or not e:
                out.append(f"{where}: a mapping of what the line must get (status, rules, only_rules, ...)")
                continue
            out += _unknown(e, LINE_KEYS, where)
            if "status" in e and e["status"] not in STATUSES:
                out.append(f"{where}.status: {e['status']!r} is not a status (accepted or rejected)")
            for key in ("rules", "only_rules", "warnings", "no_warnings", "message_contains", "why_not"):
                if key in e and not isinstance(e[key], list):
                    out.append(f"{where}.{key}: a list")
        sugg = exp.get("suggestions")
        if sugg is not None and not isinstance(sugg, list):
            out.append("expect.suggestions: a list")
        for i, sg in enumerate(sugg if isinstance(sugg, list) else [], start=1):
            if not isinstance(sg, dict):
                out.append(f"expect.suggestions, item {i}: a mapping (remove_lines, add_codes, first)")
            else:
                out += _unknown(sg, SUGGESTION_KEYS, f"expect.suggestions, item {i}")
    return out


def run_all(kb: KnowledgeBase, engine=None) -> tuple[list[CaseResult], dict[str, list[str]]]:
    """Run every case file; returns results and, per rule file, the rule ids no case fires.

    A case file that cannot be read (not YAML, not a list, a case name used twice) is one failed
    result naming it, so ``cptkg test`` reports it in one line and exits 1."""
    from cptkg.knowledge.pack import case_files

    results: list[CaseResult] = []
    fired: dict[str, set[str]] = {"claim": set(), "infer": set()}
    for kind, runner in (("claim", run_claim_case), ("infer", run_infer_case)):
        files = case_files(kb.pack, kind)
        try:
            entries = case_entries(files, kb.pack.shown)
        except (ValueError, yaml.YAMLError, UnicodeDecodeError, OSError) as e:
            shown = kb.pack.shown(kb.pack.case_file(kind))
            why = str(e) if isinstance(e, ValueError) and not isinstance(e, UnicodeDecodeError) else \
                f"{shown}: cannot be read ({unreadable_words(e)})"
            results.append(CaseResult(shown, "(case files)", False, [why]))
            continue
        for path, case in entries:
            problems = case_problems(case, kind)
            if problems:
                name = case.get("name") if isinstance(case, dict) and isinstance(case.get("name"), str) else "(unnamed)"
                results.append(CaseResult(kb.pack.shown(path), name, False, problems))
                continue
            try:
                r = runner(kb, case, kb.pack.shown(path), engine)
            except (EvaluationError, EvaluationTimeout) as e:
                # a rule of the pack that multiplies out stops the engine at its memory or time limit: the
                # case fails in one line, as check reports such a claim (it was a traceback: an audit)
                r = CaseResult(kb.pack.shown(path), case["name"], False,
                               [f"the rules could not judge the case: {' '.join(str(e).split())[:300]}"])
            results.append(r)
            fired[kind] |= r.fired
    untouched = {
        "claim": sorted(r.meta.id for r in kb.check_program.rules if r.meta.id not in fired["claim"]),
        "infer": sorted(r.meta.id for r in kb.infer_program.rules if r.meta.id not in fired["infer"]),
    }
    return results, untouched
