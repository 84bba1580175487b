"""Run `datalog-conformance` cases through cptkg's own rule layer.

The suite's programs are written in the dialects they were harvested from
(Soufflé and crepe: every bare identifier in an argument is a variable,
predicates are often capitalised; Nemo and hand-written cases: textbook
Datalog with capitalised variables), with arithmetic in places. Our rule
language stays as it is: this adapter *translates* each program into our
syntax text, then hands it to the same pipeline the billing rules go
through — ``parse_text`` (our lark grammar), ``build_program`` (safety,
arity, declared predicates, stratification) and the pyDatalog backend's
``evaluate``. No separate toy evaluator is involved.

Translation, and nothing more:

* every predicate ``Name`` becomes ``p_Name`` (a valid lowercase name; the
  prefix is stripped again in the model, so ``RSG`` and ``rsg`` stay apart);
* in the Soufflé/crepe dialect every identifier argument ``x`` becomes the
  variable ``V_x``; in the textbook dialect capitalised identifiers stay
  variables and lowercase ones become quoted string constants;
* arithmetic over constants (``1-2-3``) is folded by a small recursive
  descent evaluator over integers (never Python's ``eval``); arithmetic over
  variables is outside our rule subset and raises :class:`OutsideSubset`;
* predicates that have only facts are declared as input (EDB) predicates
  with their arity and their facts passed as data; facts of predicates that
  rules also derive are written as ground clauses and parsed; predicates
  named in rule bodies but given neither facts nor rules are declared as
  empty inputs (the harvested cases dropped Soufflé's ``.decl`` lines).

Our errors are mapped onto the suite's error vocabulary by
:data:`ERROR_CODES` (see docs/conformance.md).
"""
from __future__ import annotations

import multiprocessing as mp
import re
from dataclasses import dataclass
from typing import Any

from cptkg.rules.parser import RuleSyntaxError, parse_text
from cptkg.rules.program import RuleLoadError, build_program
from cptkg import engines
from cptkg.engines import EvaluationTimeout

try:  # the suite's own model class, when the suite is installed
    from datalog_conformance import Model as SuiteModel
except ImportError:  # pragma: no cover - the adapter also works standalone
    SuiteModel = None

PRED_PREFIX = "p_"
VAR_PREFIX = "V_"
#: Case sources whose syntax treats every bare identifier argument as a variable.
IDENTIFIER_VARIABLE_SOURCES = ("souffle/", "crepe/")


class OutsideSubset(ValueError):
    """The case uses a feature our rule language deliberately lacks."""

    code = "outside_subset"


class TranslationError(ValueError):
    """The case's rule text could not be read by the adapter itself."""

    code = "translation_error"


class SafetyViolationError(RuleLoadError):
    """A RuleLoadError whose first problem is a safety violation."""


class ArityMismatchError(RuleLoadError):
    pass


class CyclicNegationError(RuleLoadError):
    pass


class UndeclaredPredicateError(RuleLoadError):
    pass


class RuleTextError(RuleSyntaxError):
    pass


#: Our RuleLoadError problem texts -> (the suite's error code, exception class).
#: The suite's vocabulary differs by origin (crepe says ``unbound_variable``
#: and ``safety_violations``, the hand-written review cases name the class
#: ``SafetyViolationError``); every safety problem is raised as a
#: SafetyViolationError whose ``code`` names the kind.
ERROR_CODES: list[tuple[re.Pattern, str, type]] = [
    (re.compile(r"unsafe rule: variable"), "unbound_variable", SafetyViolationError),
    (re.compile(r"'_' may not appear in the head"), "safety_violations", SafetyViolationError),
    (re.compile(r"unsafe negation"), "unsafe_negation", SafetyViolationError),
    (re.compile(r"unsafe comparison"), "unsafe_comparison", SafetyViolationError),
    (re.compile(r"facts must be ground"), "non_ground_fact", SafetyViolationError),
    (re.compile(r"argument\(s\) here but"), "arity_mismatch", ArityMismatchError),
    (re.compile(r"not stratified"), "cyclic_negation", CyclicNegationError),
    (re.compile(r"undeclared predicate"), "undeclared_predicate", UndeclaredPredicateError),
]


def classify(error: RuleLoadError) -> RuleLoadError:
    """Re-raise-able copy of ``error`` typed and coded by its first problem."""
    for pattern, code, cls in ERROR_CODES:
        if error.problems and pattern.search(error.problems[0]):
            out = cls(error.problems)
            out.code = code
            return out
    error.code = "rule_load_error"
    return error


# ---------------------------------------------------------------- tokenizer
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<number>\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:-|!=|<=|>=|=|<|>|\(|\)|,|\.|\+|-|\*|/|%|!)
""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise TranslationError(f"cannot read {text[pos:pos + 20]!r} in rule {text!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


@dataclass
class _Expr:
    """An argument: a constant, a variable, or arithmetic (kept for errors)."""

    kind: str  # "const" | "var" | "arith"
    value: Any


class _RuleReader:
    """Recursive descent over one rule of the suite's surface syntax."""

    def __init__(self, text: str, ident_vars: bool):
        self.text, self.toks, self.i, self.ident_vars = text, _tokens(text), 0, ident_vars

    def peek(self, k: int = 0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self, value: str | None = None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise TranslationError(f"expected {value!r}, found {tok[1]!r} in rule {self.text!r}")
        self.i += 1
        return tok

    def rule(self):
        head = self.atom()
        body = []
        if self.peek()[1] == ":-":
            self.take(":-")
            body.append(self.item())
            while self.peek()[1] == ",":
                self.take(",")
                body.append(self.item())
        if self.peek()[1] == ".":
            self.take(".")
        if self.peek()[0] != "eof":
            raise TranslationError(f"unexpected {self.peek()[1]!r} in rule {self.text!r}")
        return head, body

    def atom(self):
        kind, name = self.take()
        if kind != "ident":
            raise TranslationError(f"expected a predicate, found {name!r} in rule {self.text!r}")
        self.take("(")
        args = []
        if self.peek()[1] != ")":
            args.append(self.expr())
            while self.peek()[1] == ",":
                self.take(",")
                args.append(self.expr())
        self.take(")")
        return ("atom", name, args)

    def item(self):
        kind, value = self.peek()
        if value in ("not", "!") and (kind == "op" or self.peek(1)[0] == "ident"):
            self.take()
            return ("not", self.atom())
        if kind == "ident" and self.peek(1)[1] == "(":
            return self.atom()
        if value == "(" and self._parenthesised_comparison():
            self.take("(")
            c = self.comparison()
            self.take(")")
            return c
        return self.comparison()

    def _parenthesised_comparison(self) -> bool:
        depth, j = 0, self.i
        while j < len(self.toks):
            v = self.toks[j][1]
            if v == "(":
                depth += 1
            elif v == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and v in ("=", "!=", "<", "<=", ">", ">="):
                return True
            j += 1
        return False

    def comparison(self):
        left = self.expr()
        op = self.take()[1]
        if op not in ("=", "!=", "<", "<=", ">", ">="):
            raise TranslationError(f"expected a comparison, found {op!r} in rule {self.text!r}")
        return ("cmp", op, left, self.expr())

    # expressions: integers fold; anything touching a variable stays "arith"
    def expr(self) -> _Expr:
        left = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            left = _arith(op, left, self.term())
        return left

    def term(self) -> _Expr:
        left = self.factor()
        while self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            left = _arith(op, left, self.factor())
        return left

    def factor(self) -> _Expr:
        kind, value = self.take()
        if kind == "number":
            return _Expr("const", int(value))
        if kind == "string":
            return _Expr("const", re.sub(r"\\(.)", r"\1", value[1:-1]))
        if value == "-":
            return _arith("-", _Expr("const", 0), self.factor())
        if value == "(":
            e = self.expr()
            self.take(")")
            return e
        if kind == "ident":
            if self.peek()[1] == "(":
                raise OutsideSubset(f"functor or aggregate {value}(...) in rule {self.text!r}")
            if value == "_":
                return _Expr("var", "_")
            if self.ident_vars or value[0].isupper():
                return _Expr("var", value)
            return _Expr("const", value)
        raise TranslationError(f"unexpected {value!r} in rule {self.text!r}")


def _arith(op: str, a: _Expr, b: _Expr) -> _Expr:
    if a.kind == "const" and b.kind == "const" and isinstance(a.value, int) and isinstance(b.value, int):
        x, y = a.value, b.value
        if op in ("/", "%") and y == 0:
            raise OutsideSubset("division by zero in a constant expression")
        val = {"+": x + y, "-": x - y, "*": x * y,
               "/": int(x / y), "%": x - int(x / y) * y}[op]  # C-style, as Soufflé
        return _Expr("const", val)
    return _Expr("arith", (op, a, b))


# ---------------------------------------------------------------- emitter
def _const_text(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise OutsideSubset(f"value {v!r} of type {type(v).__name__}: our facts hold strings and integers only")
    if isinstance(v, int):
        return str(v)
    if "\n" in v or "\r" in v:
        raise OutsideSubset(f"string constant with a line break: {v!r}")
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _term_text(e: _Expr, rule_text: str) -> str:
    if e.kind == "const":
        return _const_text(e.value)
    if e.kind == "var":
        return "_" if e.value == "_" else VAR_PREFIX + e.value
    raise OutsideSubset(f"arithmetic over variables in rule {rule_text!r}: our rule language has no arithmetic")


def _atom_text(atom, rule_text: str) -> str:
    _, name, args = atom
    return f"{PRED_PREFIX}{name}(" + ", ".join(_term_text(a, rule_text) for a in args) + ")"


def _var_names(atom) -> list[str]:
    return [a.value for a in atom[2] if a.kind == "var" and a.value != "_"]


def translate_rule(text: str, ident_vars: bool, existential_negation: bool = False,
                   aux_prefix: str = "neg_aux") -> tuple[list[str], dict[str, int], set[str]]:
    """One suite rule -> (our clause texts, arity of each predicate, body predicates).

    With ``existential_negation`` (Nemo's reading), a variable that occurs in a
    negated atom but in no positive one is existentially quantified inside the
    negation: ``not s3(X, P, P)`` means "no s3(X, v, v) for any v". Our
    language spells that with an auxiliary predicate, ``aux(X) :- s3(X, P, P)``
    and ``not aux(X)``, which keeps every rule safe. Without it such a rule
    stays unsafe and build_program rejects it (the textbook reading).
    """
    head, body = _RuleReader(text, ident_vars).rule()
    arities: dict[str, int] = {}
    seen_arity: list[tuple[str, int]] = []
    body_preds: set[str] = set()
    parts, extra = [], []
    bound = {v for item in body if item[0] == "atom" for v in _var_names(item)}
    for item in body:
        if item[0] == "atom":
            parts.append(_atom_text(item, text))
            body_preds.add(item[1])
            seen_arity.append((item[1], len(item[2])))
        elif item[0] == "not":
            atom = item[1]
            body_preds.add(atom[1])
            seen_arity.append((atom[1], len(atom[2])))
            free = [v for v in _var_names(atom) if v not in bound]
            if existential_negation and free:
                keep = list(dict.fromkeys(v for v in _var_names(atom) if v in bound))
                aux = f"{aux_prefix}_{len(extra)}"
                args = ", ".join(VAR_PREFIX + v for v in keep)
                extra.append(f"{aux}({args}) :- {_atom_text(atom, text)}.")
                parts.append(f"not {aux}({args})")
            else:
                parts.append("not " + _atom_text(atom, text))
        else:
            _, op, left, right = item
            parts.append(f"{_term_text(left, text)} {op} {_term_text(right, text)}")
    seen_arity.append((head[1], len(head[2])))
    for p, n in seen_arity:
        arities.setdefault(p, n)
    clause = _atom_text(head, text) + (" :- " + ", ".join(parts) if parts else "") + "."
    return [clause] + extra, arities, body_preds


@dataclass
class Translation:
    text: str                       # our rule-language text (rules and mixed facts)
    edb: dict[str, int]             # mangled input predicate -> arity
    facts: dict[str, set[tuple]]    # mangled input predicate -> rows
    outputs: dict[str, str]         # mangled -> suite predicate name


def translate(program, ident_vars: bool, existential_negation: bool = False) -> Translation:
    """The suite's Program -> our rule text plus declared inputs and their facts."""
    clauses, heads, body_preds, arity = [], set(), set(), {}
    for k, r in enumerate(program.rules):
        texts, ar, bp = translate_rule(r, ident_vars, existential_negation, f"neg_aux{k}")
        clauses.extend(texts)
        head_pred = _RuleReader(r, ident_vars).atom()[1]
        heads.add(head_pred)
        body_preds |= bp
        for p, n in ar.items():
            arity.setdefault(p, n)
    edb: dict[str, int] = {}
    facts: dict[str, set[tuple]] = {}
    outputs: dict[str, str] = {}
    for pred, rows in program.facts.items():
        outputs[PRED_PREFIX + pred] = pred
        if pred in heads:
            # rules derive it too: its facts become ground clauses of our language
            clauses.extend(f"{PRED_PREFIX}{pred}(" + ", ".join(_const_text(v) for v in row) + ")."
                           for row in rows)
            continue
        widths = {len(row) for row in rows} or {arity.get(pred, 0)}
        n = len(rows[0]) if rows else arity.get(pred, 0)
        if len(widths) > 1:
            # different widths: write them as clauses so build_program reports the arity conflict
            clauses.extend(f"{PRED_PREFIX}{pred}(" + ", ".join(_const_text(v) for v in row) + ")."
                           for row in rows)
            continue
        for row in rows:
            for v in row:
                _const_text(v)  # type check
        edb[PRED_PREFIX + pred] = n
        facts[PRED_PREFIX + pred] = {tuple(row) for row in rows}
    for pred in body_preds - heads - set(program.facts):
        edb[PRED_PREFIX + pred] = arity[pred]  # declared, empty (Soufflé .decl without facts)
        facts.setdefault(PRED_PREFIX + pred, set())
    for pred in heads:
        outputs[PRED_PREFIX + pred] = pred
    return Translation("\n".join(clauses) + "\n", edb, facts, outputs)


def run_translation(tr: Translation, timeout: float, engine: str = "pydatalog") -> dict[str, set[tuple]]:
    """Parse, check and evaluate a translated program with cptkg's own rule layer."""
    try:
        clauses = parse_text(tr.text, "<conformance>")
    except RuleSyntaxError as e:
        raise RuleTextError(e.file, e.line, str(e).split(": ", 1)[-1]) from None
    try:
        program = build_program(clauses, tr.edb)
    except RuleLoadError as e:
        raise classify(e) from None
    model = engines.get(engine).evaluate(program, tr.facts, rule_bindings=False, timeout=timeout)
    out: dict[str, set[tuple]] = {}
    for mangled, name in tr.outputs.items():
        rows = set(tr.facts.get(mangled, set())) | set(model.facts.get(mangled, set()))
        out[name] = rows
    return out


def _child(conn, tr: Translation, timeout: float, engine: str) -> None:
    try:
        conn.send(("ok", run_translation(tr, timeout, engine)))
    except BaseException as e:  # sent back to the parent as a picklable value
        conn.send(("err", type(e).__name__, getattr(e, "problems", None), str(e), getattr(e, "code", None)))
    finally:
        conn.close()


_ERROR_TYPES = {c.__name__: c for c in (SafetyViolationError, ArityMismatchError, CyclicNegationError,
                                        UndeclaredPredicateError, RuleLoadError, OutsideSubset,
                                        TranslationError, EvaluationTimeout)}


class CptkgEvaluator:
    """``datalog-conformance`` evaluator backed by cptkg's rule layer.

    ``dialect`` is ``"textbook"`` (capitalised identifiers are variables),
    ``"nemo"`` (textbook, plus variables only in a negated atom are
    existential there) or ``"identifiers"`` (Soufflé/crepe: every bare
    identifier argument is a variable); :func:`dialect_for_source` picks it
    from a case's ``source``.
    ``isolate`` runs each evaluation in a forked child process that is killed
    at ``timeout``: pyDatalog has no cancellation, and a Python thread that
    hangs in a non-terminating closure cannot be stopped from outside.
    """

    def __init__(self, dialect: str = "textbook", timeout: float = 20.0, isolate: bool = True,
                 engine: str = "pydatalog"):
        self.dialect, self.timeout, self.isolate, self.engine = dialect, timeout, isolate, engine

    def evaluate(self, program):
        tr = translate(program, ident_vars=self.dialect == "identifiers",
                       existential_negation=self.dialect == "nemo")
        facts = self._run_isolated(tr) if self.isolate else run_translation(tr, self.timeout, self.engine)
        return SuiteModel(facts=facts) if SuiteModel is not None else facts

    def _run_isolated(self, tr: Translation) -> dict[str, set[tuple]]:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(child, tr, self.timeout + 5, self.engine), daemon=True)
        proc.start()
        child.close()
        try:
            if not parent.poll(self.timeout):
                raise EvaluationTimeout(f"rule evaluation did not finish within {self.timeout:g} s")
            msg = parent.recv()
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            parent.close()
        if msg[0] == "ok":
            return msg[1]
        _, name, problems, text, code = msg
        cls = _ERROR_TYPES.get(name)
        if name in ("RuleTextError", "RuleSyntaxError"):
            err = RuleTextError("<conformance>", 0, text)
        elif cls is not None and issubclass(cls, RuleLoadError):
            err = cls(problems or [text])
        elif cls is not None:
            err = cls(text)
        else:
            err = RuntimeError(f"{name}: {text}")
        if code:
            err.code = code
        raise err


def dialect_for_source(source: str) -> str:
    """The reading of a case's rule text, from the system it was harvested from."""
    if source.startswith(IDENTIFIER_VARIABLE_SOURCES):
        return "identifiers"
    if source.startswith("nemo/"):
        return "nemo"
    return "textbook"
