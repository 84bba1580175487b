"""Judge files of claim lines at warehouse scale with the compiled rules.

The claim rules (the pack's rules/claim.dl) are compiled to SQL (cptkg.engines.sql.compiler)
and run once over every claim of the file, on DuckDB or Spark: the input
rows become the same input predicates ``cptkg.claims.inputs`` makes for
one claim, with a leading ``claim_id``, and the knowledge base is loaded once
and shared. Verdicts and reasons are read from the compiled rules'
bindings, and messages are filled in SQL from the same templates and the
same ``{X:entry}`` / ``{X:label}`` conventions as the interactive path, so a
batch verdict matches ``cptkg check`` on the same claim, reason for reason.

Validation happens in SQL too, row by row: a malformed row gets an
``error`` verdict naming its row and field, and the other rows of its claim
get an error saying the claim was not judged (judging a claim without one of
its lines could accept a line that the missing one would have excluded).
Rows in = rows out, always.
"""
from __future__ import annotations

import os
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cptkg.claims import columns, inputs
from cptkg.claims.models import (CODE_PATTERN, CODE_WORDS, CONTROL, CONTROL_WORDS, DATE_PATTERN, INVISIBLE, INVISIBLE_WORDS, MAX_CODE, MAX_LINE,
                                 MAX_MODIFIER, MAX_MODIFIERS, MAX_TEXT, MAX_UNITS, MODIFIER_PATTERN,
                                 MODIFIER_SEPARATORS, MODIFIER_WORDS, SHORTENED_NUMBER, SHORTENED_WORDS, WHOLE_NUMBER,
                                 ZERO_FRACTION, LONG_NUMBER, NEGATIVE_NUMBER, SIGNED_NUMBER, DEPENDANT_ID, ClaimLine)
from cptkg import engines
from cptkg.knowledge.vocabulary import FOLD_FROM, FOLD_TO, vocabulary
from cptkg.engines.sql import compiler as sc
from cptkg.engines.sql.compiler import INT, TEXT, CompiledProgram, rel, rule_rel
from cptkg.engines.sql.tabular import LIST_ITEM, RECORD_ERROR, UNIT_SEP
from cptkg.spreadsheet import MORE_VALUES, UNCLOSED_PREFIX, column_key

# the columns as cptkg check's CSV reader reads them (cptkg.claims.columns), written once for both
LINE_COLUMNS = list(columns.CLAIM_REQUIRED + columns.CLAIM_OPTIONAL)
REQUIRED = list(columns.CLAIM_REQUIRED)
# the fields of a service line: a problem in one names the line, as check's claim validator names it
SERVICE_LINE_FIELDS = frozenset(ClaimLine.model_fields)
HISTORY_COLUMNS = list(columns.HISTORY_REQUIRED + columns.HISTORY_OPTIONAL)
HISTORY_REQUIRED = list(columns.HISTORY_REQUIRED)

VERDICTS = ("reject", "warn")
# Issue 23 added carc, carc_description and checked at the end (every earlier column keeps its place):
# carc and carc_description as cptkg check --output csv writes them (one code per rule of ``rules``, in its
# order: ``;`` and `` | ``-separated), checked false for a line no rule of the pack covers (status accepted).
OUTPUT_COLUMNS = ["row", "claim_id", "line", "code", "status", "rules", "reasons", "warnings", "error",
                  "carc", "carc_description", "checked"]
CSV_TEXT_COLUMNS = ("claim_id", "code", "rules", "reasons", "warnings", "error", "carc", "carc_description")


GLOB_CHARS = frozenset("*?[")


class BatchInputError(ValueError):
    """A file that cannot be read as claim lines at all (not a row-level problem)."""


@dataclass
class Summary:
    lines_in: int
    lines_out: int
    accepted: int
    rejected: int
    errors: int
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    engine: str = "duckdb"
    # lines no rule of the pack covers (checked false): counted apart from ``accepted`` (issue 23), and,
    # like them, no reason for exit 1
    not_checked: int = 0
    # one line each for the analyst (cptkg.judge.notes): lines a history row repeats, lines dated before the
    # oldest loaded unit-edit release (judged by it)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 1 if self.rejected else 0


def file_kind(path: str | Path, reading: bool = False) -> str:
    if reading and str(path) == "-":
        raise BatchInputError("-: cptkg batch reads a file, not standard input (it reads the file more than once, "
                              "in parts); save the claims to a file, or give them to cptkg check -, which reads "
                              "standard input")
    if reading and Path(path).is_dir():
        raise BatchInputError(f"{path}: is a folder, not a file")
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if not suffix and name.lower() in (".csv", ".txt", ".parquet", ".pq"):
        # Python reads '.csv' as a hidden file with no extension: the name is only an extension. A file
        # of that name is read as its kind; verdicts are not written to a hidden file by mistake.
        if reading:
            if not Path(path).exists():
                raise BatchInputError(f"{path}: no such file")
            return "csv" if name.lower() in (".csv", ".txt") else "parquet"
        raise BatchInputError(f"{path}: the file name is only an extension: give it a name "
                              f"(for example verdicts{name.lower()})")
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if reading and not Path(path).exists():  # a missing input is named as missing, whatever its name
        raise BatchInputError(f"{path}: no such file")
    if not reading:
        # the verdicts are rows, one per input row: no JSON (cptkg check --output json writes claims as JSON)
        from cptkg.limits import MAX_CHECK_CLAIMS

        json_hint = (f"; for verdicts as JSON, cptkg check --output json judges up to {MAX_CHECK_CLAIMS:,} claims"
                     if suffix in (".json", ".jsonl", ".ndjson") else "")
        raise BatchInputError(f"{path}: cptkg batch writes verdicts as CSV (.csv, or .txt) or Parquet (.parquet, "
                              f".pq), not as '{suffix or '(no extension)'}'{json_hint}")
    # an X12 837P or FHIR/claim JSON file is told by its content (cptkg.batch_files), not its name
    raise BatchInputError(f"{path}: unknown file type '{suffix or '(none)'}': use .csv or .parquet (claim rows), "
                          f"or give an X12 837P, FHIR or claim JSON file")


def history_kind(path: str | Path) -> str:
    """The kind of a ``--history`` file: claim-row history, CSV or Parquet, whatever the claims are. A history
    named ``.dat`` was told "cptkg batch writes verdicts as CSV ... not as '.dat'", as if it were the output
    (an audit)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt", ".parquet", ".pq") or Path(path).name.lower() in (".csv", ".txt", ".parquet", ".pq"):
        return file_kind(path, reading=True)
    if str(path) != "-" and not Path(path).exists():
        raise BatchInputError(f"--history {path}: no such file")
    raise BatchInputError(f"--history {path}: a history is read as claim-row history, CSV (.csv, .txt) or Parquet "
                          f"(.parquet, .pq), not '{suffix or '(no extension)'}' (a CSV file: name it .csv)")


# --------------------------------------------------------------------------
# compiling the claim rules for batches
# --------------------------------------------------------------------------

def kb_types(facts: dict[str, set[tuple]], edb: dict[str, int],
             declared: dict[str, list[str]] | None = None, claim_inputs=()) -> dict[str, list[str]]:
    """Column types of the KB's input predicates, read from their facts
    (declared by the ontology's ranges when no fact says; the claim inputs'
    always as the ontology declares them, ``claim_inputs`` naming them)."""
    out: dict[str, list[str]] = {}
    for p, n in edb.items():
        if declared and p in declared and (p in claim_inputs or not facts.get(p)):
            out[p] = [INT if t == "int" else TEXT for t in declared[p]]
            continue
        cols: list[set[str]] = [set() for _ in range(n)]
        for row in facts.get(p, ()):
            for i, v in enumerate(row):
                cols[i].add(INT if isinstance(v, int) and not isinstance(v, bool) else TEXT)
        types = []
        for i, seen in enumerate(cols):
            if len(seen) > 1:
                raise sc.SQLCompileError(f"KB predicate {p}: argument {i + 1} holds both text and integers")
            types.append(seen.pop() if seen else None)
        if any(t is not None for t in types):
            out[p] = [t or TEXT for t in types]
    return out


#: Up to this many KB facts, the static rules are derived in process (clingo) for the compiler's costs.
STATIC_IN_PROCESS_FACTS = 50_000


def compile_claim_rules(kb, dialect: str, facts: dict[str, set[tuple]] | None = None) -> CompiledProgram:
    """The pack's claim rules compiled for ``dialect``, costed on ``facts`` (default: the whole KB's;
    a batch gives the KB's facts sliced to the edits naming its codes, :func:`batch_facts`)."""
    program = kb.check_program
    from cptkg.judge.runner import static_for

    whole = facts is None
    facts = kb.all_facts() if whole else facts  # the pack's and every loaded edit table's: SQL joins them whole
    stats = dict(facts)
    # The static rules' facts only cost the join orders and find keys and dead rules, so any engine proven
    # equal will do: clingo derives the pack's in 0.04 s where DuckDB's statements take 0.5 s of every
    # batch; a KB with a payer's edit tables (hundreds of thousands of facts) stays on DuckDB.
    small = sum(len(rows) for rows in facts.values()) <= STATIC_IN_PROCESS_FACTS
    engine = engines.get(engines.DEFAULT if small else "duckdb")
    if whole:
        stats.update(static_for(kb, "claim", engine).facts)
    else:
        stats.update(engine.precompute(program, facts, set(kb.input_predicates.get("claim", set()))).facts)
    claim_inputs = inputs.declared(kb)
    return sc.compile_program(program, kb_types(facts, program.edb, program.declared_types, claim_inputs),
                              set(claim_inputs), dialect, keep_bindings=VERDICTS, claim_type=INT, stats=stats,
                              keys=inputs.claim_keys(kb))


def message_sql(cp: CompiledProgram, k: int, template: str, joins: list[str] | None = None,
                line_col: str | None = None) -> str:
    """SQL filling rule k's message template from its bindings, as messages.fill does.

    A ``{X:label}`` field reads the label table through a LEFT JOIN that is
    appended to ``joins`` (the caller's FROM clause over ``cr_<k>``).
    """
    joins = [] if joins is None else joins
    d = cp.dialect
    rule = cp.program.rules[k]
    names = cp.rule_vars[k]
    vtypes = _var_types(cp, k)
    parts: list[str] = []
    for literal, name, spec, conv in string.Formatter().parse(template):
        if literal:
            parts.append(d.literal(literal))
        if name is None:
            continue
        if name not in names:
            parts.append(d.literal("?"))
            continue
        col = f"b{names.index(name)}"
        if col == line_col:
            col = "line"  # the caller's projection renamed it
        as_text = f"CAST({col} AS {d.text_type})"
        if spec == "entry" and vtypes.get(name) == INT:
            parts.append(f"CASE WHEN {col} < 0 THEN concat('history entry ', CAST(-{col} AS {d.text_type})) "
                         f"ELSE concat('line ', {as_text}) END")
        elif spec == "entry":
            parts.append(f"concat('line ', {as_text})")
        elif spec == "label":
            alias = f"lb{len(joins)}"
            joins.append(f"LEFT JOIN c_labels {alias} ON {alias}.term = {as_text}")
            parts.append(f"coalesce({alias}.label, {as_text})")
        elif spec == "edit":  # an imported edit's row, file and release (KnowledgeBase.edit_location), else its label
            alias, lab = f"lb{len(joins)}", f"lb{len(joins) + 1}"
            joins.append(f"LEFT JOIN c_edit_words {alias} ON {alias}.term = {as_text}")
            joins.append(f"LEFT JOIN c_labels {lab} ON {lab}.term = {as_text}")
            parts.append(f"coalesce({alias}.label, {lab}.label, {as_text})")
        elif not spec and not conv:
            parts.append(as_text)
        else:
            raise sc.SQLCompileError(f"{rule.where}: message field {{{name}:{spec}}} has a format the SQL backend does not know")
    if not parts:
        return "''"
    return parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"


def _var_types(cp: CompiledProgram, k: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for lit in cp.program.rules[k].positive():
        for i, a in enumerate(lit.atom.args):
            if isinstance(a, sc.Var):
                out.setdefault(a.name, cp.types[lit.atom.pred][i])
    return out


def reasons_sql(cp: CompiledProgram, kb, verdict: str, messages: bool = True,
                position: dict[int, int] | None = None) -> str | None:
    """One row per (claim, line, rule[, message]) for the rules deriving ``verdict``.

    Rows may repeat (the caller aggregates distinct values per line): a
    UNION over a million reasons would hash every message string. With
    ``messages``, each rule's bindings are first cut down to the variables
    its message shows, so a message is built once per distinct text rather
    than once per binding.

    ``position``: the number the column ``k`` gives each rule (default: its
    index in the program). The batch numbers the rules of one verdict 0, 1,
    … in program order, so that a line's set of rules fits the bits of one
    integer however many rules the pack has.
    """
    d = cp.dialect
    parts = []
    for k, rule in enumerate(cp.program.rules):
        if rule.head.pred != verdict or k not in cp.keep:
            continue
        arg = rule.head.args[0]
        names = cp.rule_vars[k]
        line = f"b{names.index(arg.name)}" if isinstance(arg, sc.Var) else d.literal(arg.value)
        rid = d.literal(rule.meta.id or rule.head.pred)
        pos = k if position is None else position[k]
        if not messages:
            parts.append(f"SELECT claim_id, {line} AS line, {pos} AS k, {rid} AS rule FROM {rule_rel(k)}")
            continue
        template = rule.meta.message or rule.head.pred
        shown = [f"b{names.index(n)}" for _, n, _, _ in string.Formatter().parse(template) if n in names]
        cols = ", ".join(dict.fromkeys(["claim_id", f"{line} AS line"] + [c for c in shown if c != line]))
        joins: list[str] = []
        msg = message_sql(cp, k, template, joins, line_col=line)
        parts.append(f"SELECT claim_id, line, {pos} AS k, {rid} AS rule, {msg} AS message "
                     f"FROM (SELECT DISTINCT {cols} FROM {rule_rel(k)}) m {' '.join(joins)}")
    return " UNION ALL ".join(parts) if parts else None


MAX_BIT_RULES = 62  # rule ids fit the bits of a BIGINT up to here; past it, lists of ids


def rule_carcs(rules) -> tuple[list[str], list[str]]:
    """Per rule position: its X12 reason as check's CSV writes it ("CO-97", "" for none) and the code's
    short description (core knowledge/carc.yaml; "" where no source gives words)."""
    from cptkg.judge.reasons import carc_description

    codes, words = [], []
    for r in rules:
        carc = r.meta.carc if r.head.pred == "reject" else None
        codes.append(f"{r.meta.group}-{carc}" if carc else "")
        words.append(carc_description(carc) if carc else "")
    return codes, words


def _head_line_sql(cp: CompiledProgram, k: int) -> str:
    """The column (or constant) of rule k's relation holding the line its verdict is about."""
    arg = cp.program.rules[k].head.args[0]
    return f"b{cp.rule_vars[k].index(arg.name)}" if isinstance(arg, sc.Var) else cp.dialect.literal(arg.value)


def _bit_set_names_sql(b, table: str, col: str, names: list[str]) -> str:
    """(mask, names): each distinct set of rule ids in ``table.col``, spelled out."""
    return (f"SELECT mask, {b.bit_set_names('mask', names, ';')} AS names "
            f"FROM (SELECT DISTINCT {col} AS mask FROM {table}) d")


def edit_words_rows(kb, facts: dict) -> list[tuple[str, str]]:
    """(edit, where it is: "row 8 of FILE, release R") for the imported edits the batch's facts hold (the
    slice naming its codes): a message's ``{X:edit}``, as cptkg check fills it."""
    if not kb.edit_tables:
        return []
    from cptkg.knowledge.kb import edit_place

    terms = {e for p in ("pair_edit", "unit_edit") for (e,) in facts.get(p, ())}
    idx = kb.edit_index()
    found = ((e, idx.locate(e)) for e in sorted(terms))
    return [(e, edit_place(*at)) for e, at in found if at is not None]


def label_rows(kb) -> list[tuple[str, str]]:
    """(term, label) for every KB term a message may name by its label."""
    terms: set[str] = set(vocabulary(kb).values("role"))
    for rows in kb.facts.values():  # an edit table's terms have no labels (its values are codes and text)
        for row in rows:
            terms.update(v for v in row if isinstance(v, str))
    out = []
    for t in sorted(terms):
        lab = kb.label(t)
        if lab != t:
            out.append((t, lab))
    return out


# --------------------------------------------------------------------------
# the batch run
# --------------------------------------------------------------------------

#: a modifiers cell of modifiers only (cptkg.claims.models.MODIFIER_PATTERN) between separators
MODIFIER_LIST = f"{MODIFIER_SEPARATORS}*(?:{MODIFIER_PATTERN}{MODIFIER_SEPARATORS}+)*(?:{MODIFIER_PATTERN})?"


def _shown_id(col: str) -> str:
    """A claim id as a message shows it: its first characters, as ``cptkg check``'s readers show it."""
    from cptkg.claims.models import SHOWN_ID

    return f"substr({col}, 1, {SHOWN_ID})"


def _validation_sql(b, vocab, kinds: dict[str, str] | None = None, route: str | None = None) -> str:
    """Row-level checks, mirroring cptkg.claims (same limits, same normalisation).

    ``kinds``: what each column's values are (:func:`value_kinds`); a column
    of numbers, true/false, lists or objects where text belongs is refused
    in the words cptkg check gives the same JSON value.

    Each field is trimmed and matched against its pattern once, in an inner
    query, and the checks read those results: the CASE below runs every
    check on nearly every row (most rows are valid), so work repeated per
    check was a second of a million-line batch. Modifiers are split only
    when the field is longer than one modifier may be: shorter, it can
    hold neither a modifier too long nor too many of them.

    ``route``: the route of every line that states none (``--route``; checked
    against the pack's routes by the caller), as check's ``state_route``.
    """
    rx = b.regex_full
    txt = b.dialect.text_type
    lit = b.dialect.literal
    role_list = ", ".join(lit(r) for r in vocab.values("role"))
    route_list = ", ".join(lit(r) for r in vocab.values("route")) or lit("")
    # the same words as the claim validator's refusal (Vocabulary.refusal)
    role_tail = vocab.refusal("role", "\x00").split("\x00", 1)[1].removeprefix("'")
    route_tail = vocab.refusal("route", "\x00").split("\x00", 1)[1].removeprefix("'")

    fields = ["claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role", "units", "modifiers",
              "route"]
    trimmed = ", ".join(f"{b.strip(f'CAST({c} AS {txt})')} AS {c}" for c in fields)

    claim = f"CASE WHEN claim_id IS NULL OR claim_id = '' THEN '' ELSE concat(', claim ', {_shown_id('claim_id')}) END"

    # a field of the service line names the line, once its number reads as one, as check's claim validator
    # does ("row 3, claim A, line 2, field units: ..."); a line field missing or not a whole number is said
    # before the line is read, without it, as check's CSV reader says it
    lined = f"CASE WHEN line_ok THEN concat(', line ', CAST(line_n AS {txt})) ELSE '' END"

    def bad(col: str, problem_sql: str, of_line: bool = False, item: str | None = None) -> str:
        """``item``: the SQL of the 0-based place in the field's list the problem is at (``modifiers[1]``)."""
        where = f", {lined}" if of_line else ""
        field = f"', field {col}: '" if item is None else f"', field {col}[', CAST({item} AS {txt}), ']: '"
        return f"concat('row ', CAST(row_no AS {txt}), {claim}{where}, {field}, {problem_sql})"

    def on_line(col: str, problem_sql: str) -> str:
        return bad(col, problem_sql, of_line=True)

    def shown(c):
        return f"concat('''', substr({c}, 1, 40), '''')"

    def whole_text_sql(c: str, most: int) -> str:
        """The words of cptkg.claims.models.whole_text_problem for a text that is no whole number the field takes."""
        return (f"CASE WHEN {rx(c, NEGATIVE_NUMBER)} THEN concat('must be at least 1, got ', substr({c}, 1, 40)) "
                f"WHEN {rx(c, SIGNED_NUMBER)} THEN concat({shown(c)}, ' is written with a sign: write the number alone') "
                f"WHEN {rx(c, LONG_NUMBER)} THEN concat('must be at most {most}, got ', substr({c}, 1, 40)) "
                f"ELSE concat({shown(c)}, ' is not a whole number') END")

    empty = lambda c: f"({c} IS NULL OR {c} = '')"  # noqa: E731
    kinds = kinds or {}
    # a line number or units written with a fraction of zeros ("2.0", as spreadsheets write them) is the
    # whole number, in the checks and in their messages, as check's reader reads it
    def canonical(c: str, kind: str) -> str:
        """A role or route written in another case or with spaces for underscores is the value it stands
        for (Vocabulary.canonical, check's reading): the folding is ``translate``, as Python's."""
        folded = vocab.folded(kind)
        if not folded:
            return c
        whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in folded.items())
        exact = ", ".join(lit(v) for v in vocab.values(kind))
        return (f"CASE WHEN {c} IN ({exact}) THEN {c} ELSE coalesce(CASE translate({c}, {lit(FOLD_FROM)}, "
                f"{lit(FOLD_TO)}) {whens} END, {c}) END")

    route_sql = f"CASE WHEN route <> '' THEN {canonical('route', 'route')} END"
    if route is not None:
        route_sql = f"coalesce({route_sql}, {lit(route)})"

    def shortened(c: str) -> str:
        """An id a spreadsheet wrote in scientific notation: the pattern is tried only on a value holding a '+'
        (nearly none), as every condition of the CASE below runs on every valid row."""
        return f"instr({c}, '+') > 0 AND {rx(c, SHORTENED_NUMBER)}"

    def invisible(c: str) -> str:
        """An id holding a character that shows as nothing: tried only on a row whose ids are not all ASCII
        (``ids_ascii``, computed once a row: measured per id, the three checks cost 0.17 s a million lines)."""
        return f"NOT ids_ascii AND {_has_invisible(b, c)}"

    def control(c: str) -> str:
        """An id holding a line break, tab or other control character: tried only on a row whose ids hold
        one (``ids_control``, computed once a row, 0.07 s a million lines)."""
        return f"ids_control AND {_has_control(b, c)}"

    octets = "strlen" if b.dialect.name == "duckdb" else "octet_length"  # the bytes of a text's UTF-8
    ids = "concat(coalesce(claim_id, ''), coalesce(patient_id, ''), coalesce(provider_id, ''))"

    unzeroed = ", ".join(
        f"CASE WHEN {rx(c, WHOLE_NUMBER + ZERO_FRACTION)} THEN regexp_replace({c}, '{ZERO_FRACTION}$', '') ELSE {c} END AS {c}"
        if c in ("line", "units") and kinds.get(c, "text") in ("text", "float") else c
        for c in ["row_no", RECORD_ERROR] + fields)

    def typed(col: str) -> list[tuple[str, str]]:
        """A value of a type the field does not take (a Parquet number where text belongs, …)."""
        why = _kind_problem(col, kinds.get(col, "text"), txt)
        if col in ("line", "units") and kinds.get(col) == "float":
            # a float column (pandas writes one for whole numbers with a blank among them): 2.0 is 2, read
            # through the zero fraction as text is; 2.5 is refused in check's words for the JSON number
            # (units name their line, as every other problem of a service line field does: an audit)
            return [(f"NOT {empty(col)} AND NOT {rx(col, WHOLE_NUMBER)}", bad(col, why, of_line=col in SERVICE_LINE_FIELDS))]
        return [(f"NOT {empty(col)}", bad(col, why, of_line=col in SERVICE_LINE_FIELDS))] if why else []

    # a modifier of a Parquet list column the text would split or lose: "<place><UNIT_SEP><problem>", else NULL
    listed = (f"CASE WHEN substr({RECORD_ERROR}, 1, {len(LIST_ITEM)}) = {lit(LIST_ITEM)} "
              f"THEN substr({RECORD_ERROR}, {len(LIST_ITEM) + 1}) END")
    checks = [
        # a record of more values than columns names its claim (check's words); a claim refused by a reader
        # (cptkg.batch_files) names it in its own words
        (f"{RECORD_ERROR} IS NOT NULL AND {listed} IS NULL", f"concat('row ', CAST(row_no AS {txt}), CASE WHEN {RECORD_ERROR} = "
                                        f"{lit(MORE_VALUES)} OR substr({RECORD_ERROR}, 1, {len(UNCLOSED_PREFIX)}) = {lit(UNCLOSED_PREFIX)} "
                                        f"THEN {claim} ELSE '' END, ': ', {RECORD_ERROR})"),
        (empty("claim_id"), bad("claim_id", "'is missing'")),
        *typed("claim_id"),
        (f"length(claim_id) > {MAX_TEXT}", bad("claim_id", f"'is too long (at most {MAX_TEXT} characters)'")),
        (shortened("claim_id"), bad("claim_id", f"concat({shown('claim_id')}, {lit(' ' + SHORTENED_WORDS)})")),
        (invisible("claim_id"), bad("claim_id", lit(INVISIBLE_WORDS))),
        (control("claim_id"), bad("claim_id", lit(CONTROL_WORDS))),
        (empty("patient_id"), bad("patient_id", "'is missing'")),
        *typed("patient_id"),
        (f"length(patient_id) > {MAX_TEXT}", bad("patient_id", f"'is too long (at most {MAX_TEXT} characters)'")),
        (shortened("patient_id"), bad("patient_id", f"concat({shown('patient_id')}, {lit(' ' + SHORTENED_WORDS)})")),
        (invisible("patient_id"), bad("patient_id", lit(INVISIBLE_WORDS))),
        (control("patient_id"), bad("patient_id", lit(CONTROL_WORDS))),
        (empty("line"), bad("line", "'is missing'")),
        *typed("line"),
        ("NOT line_ok", bad("line", whole_text_sql("line", MAX_LINE))),
        # the words of the claim validator (a Parquet integer column may hold any integer)
        ("line_n < 1", on_line("line", "concat('must be at least 1, got ', line)")),
        (f"line_n IS NULL OR line_n > {MAX_LINE}", on_line("line", f"concat('must be at most {MAX_LINE}, got ', line)")),
        (empty("code"), bad("code", "'is missing'")),
        *typed("code"),
        (f"length(code) > {MAX_CODE}", on_line("code", f"'is too long (at most {MAX_CODE} characters)'")),
        (empty("date_of_service"), bad("date_of_service", "'is missing'")),
        *typed("date_of_service"),
        *_far_date_checks(kinds, "NOT dos_ok", lambda why: on_line("date_of_service", why)),
        ("NOT dos_ok", on_line("date_of_service", f"concat({shown('date_of_service')}, ' is not a date written YYYY-MM-DD')")),
        ("try_cast(date_of_service AS DATE) IS NULL OR substr(date_of_service, 1, 4) = '0000'",
         on_line("date_of_service", f"concat({shown('date_of_service')}, ' is not a real calendar date')")),
        (empty("provider_id"), bad("provider_id", "'is missing'")),
        *typed("provider_id"),
        (f"length(provider_id) > {MAX_TEXT}", on_line("provider_id", f"'is too long (at most {MAX_TEXT} characters)'")),
        (shortened("provider_id"),
         on_line("provider_id", f"concat({shown('provider_id')}, {lit(' ' + SHORTENED_WORDS)})")),
        (invisible("provider_id"), on_line("provider_id", lit(INVISIBLE_WORDS))),
        (control("provider_id"), on_line("provider_id", lit(CONTROL_WORDS))),
        (empty("provider_role"), bad("provider_role", "'is missing'")),
        *typed("provider_role"),
        # a role in another case or spelling is folded only on the rows not written as a value (few): folded on
        # every row, the check cost a fifth of a second a million lines
        (f"provider_role NOT IN ({role_list}) AND {canonical('provider_role', 'role')} NOT IN ({role_list})",
         on_line("provider_role", f"concat({shown('provider_role')}, {lit(role_tail)})")),
        *typed("units"),
        ("NOT units_empty AND NOT units_ok", on_line("units", whole_text_sql("units", MAX_UNITS))),
        ("NOT units_empty AND units_n < 1", on_line("units", "concat('must be at least 1, got ', units)")),
        (f"NOT units_empty AND (units_n IS NULL OR units_n > {MAX_UNITS})",
         on_line("units", f"concat('must be at most {MAX_UNITS}, got ', units)")),
        *typed("modifiers"),
        (f"{listed} IS NOT NULL", bad("modifiers", f"substr({listed}, instr({listed}, {lit(UNIT_SEP)}) + 1)",
                                      of_line=True, item=f"substr({listed}, 1, instr({listed}, {lit(UNIT_SEP)}) - 1)")),
        (f"n_modifiers > {MAX_MODIFIERS}", on_line("modifiers", f"'is too long (at most {MAX_MODIFIERS})'")),
        # the first item that is no modifier is named by its place, as check's validator names it: too long
        # (it cannot match the pattern either) or not two letters or digits
        (f"length(bad_modifier) > {MAX_MODIFIER}",
         bad("modifiers", f"'is too long (at most {MAX_MODIFIER} characters)'", of_line=True, item="bad_item")),
        ("bad_modifier IS NOT NULL", bad("modifiers", f"concat({shown('bad_modifier')}, {lit(' ' + MODIFIER_WORDS)})",
                                          of_line=True, item="bad_item")),
        *typed("route"),
        (f"NOT {empty('route')} AND length(route) > {MAX_TEXT}", on_line("route", f"'is too long (at most {MAX_TEXT} characters)'")),
        (f"NOT {empty('route')} AND route NOT IN ({route_list}) AND {canonical('route', 'route')} NOT IN ({route_list})",
         on_line("route", f"concat({shown('route')}, {lit(route_tail)})")),
    ]
    case = "CASE " + " ".join(f"WHEN {c} THEN {m}" for c, m in checks) + " END"

    # The usual modifiers cell, none or modifiers of two letters or digits between separators, is told by one
    # pattern (mods_ok); any other is split, and its first item that is no modifier is named (bad_modifier).

    # A record of more values than columns shows the line number and code in their places, as check's
    # reader shows them; a claim its reader refused keeps the line number and code the reader read
    # (check's CSV shows them for its lines_not_judged), so each error row says which service line it
    # stands for.

    def whole(col: str) -> str:  # an integer column's values are whole numbers; text must be written as one
        return f"{col} IS NOT NULL" if kinds.get(col) == "int" else rx(col, WHOLE_NUMBER)

    return f"""SELECT row_no, claim_id, patient_id,
        CASE WHEN line_ok THEN line_n END AS line, upper(code) AS code, date_of_service AS dos, provider_id,
        {canonical('provider_role', 'role')} AS role,
        CASE WHEN units_empty THEN 1 WHEN units_ok THEN units_n END AS units,
        modifiers, {route_sql} AS route, {case} AS error
        FROM (SELECT *, array_position(mods, bad_modifier) - 1 AS bad_item FROM (
          SELECT *, try_cast(line AS BIGINT) AS line_n, try_cast(units AS BIGINT) AS units_n,
            {b.list_size('mods')} AS n_modifiers,
            CASE WHEN NOT mods_ok THEN {b.first_unmatched('mods', MODIFIER_PATTERN)} END AS bad_modifier FROM (
          SELECT *, CASE WHEN length(modifiers) > {MAX_MODIFIER} OR NOT mods_ok
                         THEN {b.split_nonempty('modifiers', MODIFIER_SEPARATORS)} END AS mods FROM (
          SELECT *, {whole('line')} AS line_ok, {rx('date_of_service', DATE_PATTERN)} AS dos_ok,
            {octets}({ids}) = length({ids}) AS ids_ascii, {_has_control(b, ids)} AS ids_control,
            {empty('units')} AS units_empty, {whole('units')} AS units_ok,
            ({empty('modifiers')} OR {rx('modifiers', MODIFIER_LIST)}) AS mods_ok
          FROM (SELECT {unzeroed} FROM (SELECT row_no, {RECORD_ERROR}, {trimmed} FROM raw_lines) t00) t0) t1) t2) t3) t4"""


FAR_DATE_WORDS = "is a date outside the years 0001 to 9999, which no claim can carry"


def _has_invisible(b, expr: str) -> str:
    """``expr`` holds a character that shows as nothing (:data:`cptkg.claims.models.INVISIBLE`)."""
    return b.regex_full(expr, "(?s).*" + INVISIBLE + ".*")


def _has_control(b, expr: str) -> str:
    """``expr`` holds a control character (:data:`cptkg.claims.models.CONTROL`, or NUL, which no SQL text can
    carry and ``chr(0)`` spells in both dialects)."""
    return f"(instr({expr}, chr(0)) > 0 OR {b.regex_full(expr, '(?s).*' + CONTROL + '.*')})"


def _far_date_checks(kinds: dict[str, str], not_written: str, bad) -> list[tuple[str, str]]:
    """A Parquet date column's value that is not written YYYY-MM-DD once cast to text is out of the
    calendar's four-digit years: DuckDB spells it 'infinity' or '5877642-06-23 (BC)', which the row's
    refusal quoted as if the file had said it (an attack audit)."""
    return [(not_written, bad(f"'{FAR_DATE_WORDS}'"))] if kinds.get("date_of_service") == "date" else []


def _history_validation_sql(b, kinds: dict[str, str] | None = None) -> str:
    """History rows' checks; ``kinds`` as for :func:`_validation_sql`."""
    rx = b.regex_full
    t = lambda c: b.strip(f"CAST({c} AS {b.dialect.text_type})")  # noqa: E731
    empty = lambda c: f"({c} IS NULL OR {t(c)} = '')"  # noqa: E731
    kinds = kinds or {}
    lit = b.dialect.literal

    def bad(col, problem):
        return f"concat('history row ', CAST(row_no AS {b.dialect.text_type}), ', field {col}: ', {problem})"

    def typed(col: str) -> list[tuple[str, str]]:
        why = _kind_problem(col, kinds.get(col, "text"), b.dialect.text_type, t(col))
        return [(f"NOT {empty(col)}", bad(col, why))] if why else []

    # a patient id that shows as one but holds a character that shows as nothing or a control character
    # names no patient a claim can match: the row could be any patient's (b_hist_nobody), as check reads it
    broken_patient = (f"({_has_invisible(b, t('patient_id'))} OR "
                      f"{_has_control(b, t('patient_id'))})")
    if typed("patient_id"):
        # a patient id stored as a number (123) may be 00123's, whose leading zeros it lost: the row could be any
        # patient's, so every claim is told, as check refuses such a history file whole (a hostile-files audit:
        # only patient "123" was told, and patient "00123" was judged without the row)
        broken_patient = "TRUE"
    code = f"upper({t('code')})"
    checks = [
        (f"{RECORD_ERROR} IS NOT NULL", f"concat('history row ', CAST(row_no AS {b.dialect.text_type}), ': ', {RECORD_ERROR})"),
        (empty("patient_id"), bad("patient_id", "'is missing'")),
        *typed("patient_id"),
        (_has_invisible(b, t('patient_id')), bad("patient_id", lit(INVISIBLE_WORDS))),
        (_has_control(b, t('patient_id')), bad("patient_id", lit(CONTROL_WORDS))),
        (empty("code"), bad("code", "'is missing'")),
        *typed("code"),
        (f"length({t('code')}) > {MAX_CODE}", bad("code", f"'is too long (at most {MAX_CODE} characters)'")),
        # a code no rule reads (not written as a CPT or HCPCS code) matched nothing and was dropped unsaid
        (_has_invisible(b, code), bad("code", lit(INVISIBLE_WORDS))),
        (f"NOT {rx(code, CODE_PATTERN)}",
         bad("code", f"concat({lit(chr(39))}, substr({code}, 1, 40), {lit(chr(39) + ' ' + CODE_WORDS)})")),
        (empty("date_of_service"), bad("date_of_service", "'is missing'")),
        *typed("date_of_service"),
        *_far_date_checks(kinds, f"NOT {rx(t('date_of_service'), DATE_PATTERN)}", lambda why: bad("date_of_service", why)),
        (f"NOT {rx(t('date_of_service'), DATE_PATTERN)}",
         bad("date_of_service", f"concat('''', substr({t('date_of_service')}, 1, 40), ''' is not a date written YYYY-MM-DD')")),
        # written YYYY-MM-DD but no day of the calendar: in check's words (and a claim line's date's)
        (f"try_cast({t('date_of_service')} AS DATE) IS NULL OR substr({t('date_of_service')}, 1, 4) = '0000'",
         bad("date_of_service", f"concat('''', substr({t('date_of_service')}, 1, 40), ''' is not a real calendar date')")),
        *typed("provider_id"),
        (f"instr({t('provider_id')}, '+') > 0 AND {rx(t('provider_id'), SHORTENED_NUMBER)}",
         bad("provider_id", f"concat({lit(chr(39))}, substr({t('provider_id')}, 1, 40), {lit(chr(39) + ' ' + SHORTENED_WORDS)})")),
        # a history row's provider is an id as a line's is (check's HistoryEntry refuses both)
        (_has_invisible(b, t('provider_id')), bad("provider_id", lit(INVISIBLE_WORDS))),
        (_has_control(b, t('provider_id')), bad("provider_id", lit(CONTROL_WORDS))),
    ]
    case = "CASE " + " ".join(f"WHEN {c} THEN {m}" for c, m in checks) + " END"
    return f"""SELECT row_no, {patient_key_sql(b, t('patient_id'))} AS patient_id, upper({t('code')}) AS code,
        {t('date_of_service')} AS dos, CASE WHEN {empty('provider_id')} THEN NULL ELSE {t('provider_id')} END AS provider_id,
        {case} AS error, ({empty('patient_id')} OR {broken_patient}) AS nobody FROM raw_history"""


def patient_key_sql(b, expr: str) -> str:
    """SQL: cptkg.claims.models.patient_key of ``expr`` (an 837P dependant's id with its names' ASCII letters in
    capitals; any other id as it is), in the functions DuckDB and Spark share."""
    low, up = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    anchored = f"'^{DEPENDANT_ID}$'"
    part = lambda i: f"regexp_extract({expr}, {anchored}, {i})"  # noqa: E731
    return (f"CASE WHEN instr({expr}, '/') > 0 AND {b.regex_full(expr, DEPENDANT_ID)} THEN concat({part(1)}, '/', translate({part(2)}, "
            f"'{low}', '{up}'), '/', translate({part(3)}, '{low}', '{up}'), '/', {part(4)}) ELSE {expr} END")


class BatchTimeout(BatchInputError):
    """The batch ran past its time limit; it was stopped and no verdicts file was written."""


def run_batch(input_path: str | Path, output_path: str | Path, history_path: str | Path | None = None,
              engine: str = "duckdb", kb=None, backend=None,
              progress: Callable[[str], None] | None = None, timeout: float | None = None,
              refused: dict[int, str] | None = None, route: str | None = None,
              chunk_lines: int | None = None) -> Summary:
    """Judge every row of ``input_path`` and write one verdict row per input row.

    ``chunk_lines`` (default :data:`cptkg.limits.BATCH_CHUNK_LINES`): on
    DuckDB a file of more lines is judged in parts of about that many lines,
    each part whole claims, and the verdicts are written part after part
    into the one output file (see :func:`_parts`).

    ``timeout`` (seconds; default :data:`cptkg.limits.BATCH_SECONDS`) bounds
    the whole run: past it the engine's running statement is interrupted,
    :class:`BatchTimeout` is raised, and nothing is left under the output's
    name (the verdicts are written to a temporary file renamed at the end).

    ``refused``: row number -> why the claim on that row cannot be judged, for
    rows written from a claim file whose reader refused a claim (an 837P or
    FHIR file given to ``cptkg batch``, cptkg.batch_files): the
    row is an error row with that problem, as a malformed CSV record is.
    """
    from cptkg.knowledge.loader import chosen_kb
    from cptkg.limits import BATCH_SECONDS

    timeout = BATCH_SECONDS if timeout is None else timeout
    t0 = time.perf_counter()
    user_step = progress or (lambda _msg: None)
    in_kind, out_kind = file_kind(input_path, reading=True), file_kind(output_path)
    h_kind = history_kind(history_path) if history_path else None
    for p, what in ((input_path, "claims"), (history_path, "history")):
        if not p:
            continue
        if GLOB_CHARS.intersection(str(p)):
            # DuckDB and Spark would read the name as a pattern of many files
            raise BatchInputError(f"{p}: a file name with * ? or [ is not read (cptkg batch reads one file, "
                                  f"named literally, and the engines would expand it as a pattern); rename the file")
        if not Path(p).exists():
            raise BatchInputError(f"{p}: no such file")
        if not Path(p).is_file():
            raise BatchInputError(f"{p}: is not a file")
        if Path(output_path).exists() and Path(output_path).resolve() == Path(p).resolve():
            said = "input file" if what == "claims" else "--history file"
            raise BatchInputError(f"-o {output_path}: is the {said} {p}; the verdicts would overwrite the {what}")
    from cptkg.files import check_output_path

    check_output_path(output_path, "-o")  # a folder, link, FIFO or missing folder: refused before judging
    for p, kind in ((input_path, in_kind), (history_path, h_kind)):
        if p and kind == "parquet":
            _check_parquet(p, engine if backend is None else getattr(backend.dialect, "name", engine))
    kb = chosen_kb(kb, f"cptkg batch {input_path}")
    if backend is None:
        backend = _backend(engine)
    from cptkg.engines.sql.deadline import Deadline

    with Deadline(backend.interrupt, timeout) as dl:
        def step(msg: str) -> None:
            if dl.passed:
                raise BatchTimeout("")
            user_step(msg)

        try:
            return _judge_batch(input_path, output_path, history_path, kb, backend, step, in_kind, out_kind, h_kind,
                                t0, lambda i, s, n: step(f"rules: stratum {i + 1}/{n} ({', '.join(sorted(s))})"),
                                refused, route, chunk_lines)
        except Exception:
            if dl.passed:
                raise BatchTimeout(
                    f"the batch did not finish within its time limit of {timeout:g} s and was stopped; no verdicts "
                    f"were written to {output_path} (give --time-limit more seconds, or split the input)") from None
            raise


@dataclass
class _Batch:
    """What one batch run carries from stage to stage (see :func:`_judge_batch`)."""

    b: object
    kb: object
    step: Callable[[str], None]
    input_path: object
    output_path: object
    history_path: object
    in_kind: str
    out_kind: str
    h_kind: str | None
    t0: float
    refused: dict[int, str] | None = None
    route: str | None = None
    cp: CompiledProgram | None = None
    facts: dict | None = None  # the KB facts sliced to the batch's codes (edit tables loaded), else None: all
    verdict_rules: dict[str, list[int]] = field(default_factory=dict)
    lines_total: int = 0  # the last row number (a blank CSV record is no row, and its number is taken)
    part: str = ""  # "" for a batch judged whole, else " (part 2 of 10)" in the progress messages
    tmp_out: str | None = None
    writer: object = None  # the Parquet writer of a batch written in parts
    appended: bool = False  # the output was written part after part
    counts: dict = field(default_factory=lambda: {"lines_in": 0, "lines_out": 0, "errors": 0, "rejected": 0,
                                                  "not_checked": 0, "by_rule": {}})


def _judge_batch(input_path, output_path, history_path, kb, b, step, in_kind, out_kind, h_kind, t0,
                 on_stratum, refused: dict[int, str] | None = None, route: str | None = None,
                 chunk_lines: int | None = None) -> Summary:
    """The stages of one batch, in order (``step`` raises once the time limit has passed).

    Each stage is a function of its own so that a profile, a time limit
    and a reader can tell where a batch spends its time: read, history,
    then for each part of the file (one part up to ``chunk_lines``) validate,
    claim facts, evaluate, collect, write; then the summary (issues 24 and 27).
    """
    run = _Batch(b, kb, step, input_path, output_path, history_path, in_kind, out_kind, h_kind, t0, refused, route)
    _stage_read(run)
    _stage_history(run)
    _stage_edit_slice(run)
    parts = _parts(run, chunk_lines)
    run.tmp_out = _temporary_beside(output_path)
    try:
        for i, (lo, hi) in enumerate(parts):
            run.part = f" (part {i + 1} of {len(parts)})" if len(parts) > 1 else ""
            _stage_validate(run, lo, hi)
            _stage_facts(run)
            _stage_evaluate(run, on_stratum)
            _stage_collect(run)
            _stage_write(run, len(parts))
        return _stage_finish(run)
    except BaseException:
        _close_writer(run)
        for leftover in (run.tmp_out, f"{run.tmp_out}.part"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
        raise


def _stage_read(run: _Batch) -> None:
    """Expose the claim rows and history rows as ``raw_lines`` and ``raw_history``, every column as text:
    a file is refused whole only when it has no rows or lacks a required column, so that every other
    problem can be reported on its row."""
    b, step, refused, input_path, history_path = run.b, run.step, run.refused, run.input_path, run.history_path
    in_kind, h_kind, d = run.in_kind, run.h_kind, b.dialect
    step("reading claim lines")
    cols = _read(b, input_path, "raw_input", in_kind)
    _require(input_path, cols, REQUIRED)
    (rows, last), = b.fetch("SELECT count(*), max(row_no) FROM raw_input")
    if not rows:
        raise BatchInputError(f"{input_path}: no claim rows (the file has a header or a schema but no rows)")
    _extra_modifiers(b, input_path, cols)
    # the parts are ranges of row numbers, up to the last: a blank record is skipped and keeps its number
    run.lines_total = int(last)
    sel = ", ".join(c if c in cols else f"CAST(NULL AS {d.text_type}) AS {c}" for c in LINE_COLUMNS + [RECORD_ERROR])
    if refused:
        # a claim its reader refused: the row's error is the reader's (a record error, checked first)
        b.load_rows("b_refused", ["refused_row", "refused_problem"], [INT, TEXT], sorted(refused.items()))
        sel = ", ".join(c if c in cols else f"CAST(NULL AS {d.text_type}) AS {c}" for c in LINE_COLUMNS)
        record = f"coalesce({RECORD_ERROR}, refused_problem)" if RECORD_ERROR in cols else "refused_problem"
        b.view("raw_all_lines", f"SELECT row_no, {sel}, {record} AS {RECORD_ERROR} FROM raw_input "
                                f"LEFT JOIN b_refused ON refused_row = row_no")
    else:
        b.view("raw_all_lines", f"SELECT row_no, {sel} FROM raw_input")
    if history_path:
        hcols = _read(b, history_path, "raw_history_in", h_kind)
        _require(history_path, hcols, HISTORY_REQUIRED)
        hsel = ", ".join(c if c in hcols else f"CAST(NULL AS {d.text_type}) AS {c}"
                         for c in HISTORY_COLUMNS + [RECORD_ERROR])
        b.view("raw_history", f"SELECT row_no, {hsel} FROM raw_history_in")
    else:
        b.view("raw_history", "SELECT CAST(NULL AS BIGINT) AS row_no, " + ", ".join(
            f"CAST(NULL AS {d.text_type}) AS {c}" for c in HISTORY_COLUMNS + [RECORD_ERROR]) + " WHERE 1 = 0")


def _stage_history(run: _Batch) -> None:
    """Check the history rows once for the whole batch (``b_hist``), and what every part reads of them:
    each patient's first unreadable row, a row naming no patient, the entries per patient and date (the
    claim-size limits) and the readable rows numbered per patient as history entries -1, -2, ..."""
    b, kb, history_path, h_kind = run.b, run.kb, run.history_path, run.h_kind
    run.step("checking history rows")
    b.load_rows("b_family_codes", ["code"], [TEXT], [(c,) for c in kb.family_codes()])
    b.materialize("b_hist", _history_validation_sql(b, value_kinds(history_path, h_kind) if history_path else {}))
    # each patient's first bad row, as check names it (the least text was "history row 10" before "row 2")
    b.materialize("b_hist_bad", """SELECT patient_id, error FROM (SELECT patient_id, error,
        row_number() OVER (PARTITION BY patient_id ORDER BY row_no) AS k FROM b_hist WHERE error IS NOT NULL) x
        WHERE k = 1""")
    # a history row naming no patient could be any claim's: every claim is an error naming it (as check does)
    b.materialize("b_hist_nobody", "SELECT error FROM b_hist WHERE error IS NOT NULL AND nobody "
                                   "ORDER BY row_no LIMIT 1")
    b.materialize("b_hist_dates", """SELECT patient_id, dos, count(*) AS hn,
               sum(CASE WHEN code IN (SELECT code FROM b_family_codes) THEN 1 ELSE 0 END) AS hf
           FROM b_hist WHERE error IS NULL GROUP BY patient_id, dos""")
    b.materialize("b_hist_sizes", """SELECT patient_id, sum(hn) AS h_entries, sum(hn * (hn - 1)) AS h_pairs,
           sum(hf) AS h_family FROM b_hist_dates GROUP BY patient_id""")
    # A claim's history is every history row of its patient, in file order,
    # as entries -1, -2, ... (as the CSV reader of cptkg check builds it):
    # numbered once per patient, not once per claim.
    # A row repeating an earlier row of its patient exactly (code, date, provider) is that service again, and
    # is left out after the numbering, as check's history (cptkg.claims.inputs._history) leaves it out.
    b.materialize("b_hist_ok", """SELECT patient_id, e, code, dos, provider_id FROM (
        SELECT patient_id, 0 - row_number() OVER (PARTITION BY patient_id ORDER BY row_no) AS e,
          row_number() OVER (PARTITION BY patient_id, code, dos, provider_id ORDER BY row_no) AS again,
          code, dos, provider_id FROM b_hist WHERE error IS NULL) x WHERE again = 1""")
    b.drop("b_hist")


CUT_NEAR = 100_000  # rows before each multiple of the part size where a claim of one line may start a part


def _parts(run: _Batch, chunk_lines: int | None) -> list[tuple[int, int]]:
    """The row ranges [first, past) the batch is judged in: the whole file, or on DuckDB, a file of more
    than ``chunk_lines`` rows cut where no claim spans the cut.

    Every rule joins within one claim (and its patient's history, read by
    every part), so a part of whole claims gets the verdicts the whole file
    would: time grows with the number of lines, and memory stays that of one
    part (a million-line batch is near DuckDB's memory cap; ten million at
    once spilled 30 GB to disk). A cut is made at the last row, up to each
    multiple of ``chunk_lines`` rows, where a claim starts and no earlier
    claim has a line at or past it; a file whose claims' lines are
    interleaved throughout has no such row and is judged whole. Rows with no
    claim id are errors of their own and never hold a cut back. No cut is
    made in the last stretch, so the last part is not a sliver. A claim of
    one line is a candidate only in the last :data:`CUT_NEAR` rows of a
    stretch (claims of several lines everywhere).
    """
    from cptkg.limits import BATCH_CHUNK_LINES

    b, n = run.b, run.lines_total
    size = BATCH_CHUNK_LINES if chunk_lines is None else chunk_lines
    if size < 1:
        raise BatchInputError(f"chunk lines must be at least 1, got {size}")
    if n <= size or getattr(b.dialect, "name", "") != "duckdb":
        return [(1, n + 1)]
    run.step("finding where the file can be cut between claims")
    txt = b.dialect.text_type
    # Claims are grouped by a hash of their id: two ids of one hash are taken as one claim, which can only
    # take a cut away, never make a wrong one. The window reads the claims of several lines (only they
    # reach past their first row) and the claims starting near the end of each stretch (where cuts are
    # taken), not every claim: 1.32 s to 0.99 s for ten million lines.
    near = min(size, CUT_NEAR)
    cuts = [r for (r,) in b.fetch(f"""WITH c AS (
            SELECT min(row_no) AS first, max(row_no) AS last FROM
              (SELECT row_no, {b.strip(f'CAST(claim_id AS {txt})')} AS id FROM raw_all_lines) x
            WHERE id IS NOT NULL AND id <> '' GROUP BY hash(id)),
        w AS (SELECT first, max(last) OVER (ORDER BY first ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
              FROM c WHERE last > first OR (first - 2) % {int(size)} >= {int(size - near)})
        SELECT max(first) FROM w WHERE (reach IS NULL OR reach < first) AND first > 1
          AND (first - 2) // {int(size)} < {(n - 1) // size}
        GROUP BY (first - 2) // {int(size)} ORDER BY 1""")]
    bounds = [1] + [c for c in cuts if c > 1] + [n + 1]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def _stage_validate(run: _Batch, lo: int = 1, hi: int | None = None) -> None:
    """Check the rows ``lo`` to ``hi`` - 1 (one part of the file, whole claims) and their claims in SQL
    (``b_rows``: one row per input row, ``verdict_error`` set when the row cannot be judged), in the words
    ``cptkg check`` uses, so that rows in = rows out and a claim is judged only when all its rows are."""
    b, kb, step, input_path = run.b, run.kb, run.step, run.input_path
    in_kind, route, refused, d = run.in_kind, run.route, run.refused, b.dialect
    hi = run.lines_total + 1 if hi is None else hi
    step("checking rows" + run.part)
    if lo == 1 and hi > run.lines_total:
        b.view("raw_lines", "SELECT * FROM raw_all_lines")
    else:
        b.view("raw_lines", f"SELECT * FROM raw_all_lines WHERE row_no >= {int(lo)} AND row_no < {int(hi)}")
    txt = d.text_type
    # Row checks, then claim-level problems (repeated line numbers, lines of
    # several patients, a malformed history row of the claim's patient), then
    # a claim with any bad row is not judged at all. As check's CSV reader
    # says them: a line number given again is the error of each row after
    # the first that gives it, and another patient the error of each row
    # whose patient is not the claim's first row's. Claims get an integer
    # id for the joins of the rules: the number of their first row (unique,
    # and found in the same pass as the patient check, where numbering the
    # claims would take a single-threaded window). A history row naming no patient stops every claim ("the
    # history file cannot be read"), as check says it, before a patient's own bad row (a batch audit).
    b.materialize("b_rows", f"""WITH r0 AS ({_validation_sql(b, vocabulary(kb), value_kinds(input_path, in_kind), route)}),
    ids0 AS (SELECT claim_id, min(patient_id) AS pmin, max(patient_id) AS pmax, min(row_no) AS cid, count(*) AS n FROM r0
           WHERE claim_id IS NOT NULL GROUP BY claim_id),
    ids AS (SELECT *, {patient_key_sql(b, 'pmin')} AS pkey FROM ids0),
    dup AS (SELECT claim_id, line, min(row_no) AS first_row FROM r0 WHERE claim_id IS NOT NULL AND line IS NOT NULL
            GROUP BY claim_id, line HAVING count(*) > 1),
    firsts AS (SELECT i.claim_id, coalesce(r.patient_id, '') AS p1 FROM ids i JOIN r0 r ON r.row_no = i.cid
               WHERE i.pmin <> i.pmax),
    {_claim_size_sql(txt)}
    r2 AS (SELECT r.row_no, r.claim_id, r.patient_id, r.line, r.code, r.dos, r.provider_id,
        r.role, r.units, r.modifiers, r.route, ids.cid,
        CASE WHEN r.error IS NOT NULL THEN r.error
             WHEN dup.line IS NOT NULL AND r.row_no > dup.first_row THEN concat('row ', CAST(r.row_no AS {txt}), ', claim ', {_shown_id('r.claim_id')}, ', line ', CAST(r.line AS {txt}), ': the line number appears more than once in the claim (also in row ', CAST(dup.first_row AS {txt}), ')')
             WHEN coalesce(r.patient_id, '') <> f.p1 THEN concat('row ', CAST(r.row_no AS {txt}), ', claim ', {_shown_id('r.claim_id')}, ', field patient_id: the claim has lines for more than one patient (one claim is for one patient)')
             WHEN cs.problem IS NOT NULL THEN concat('row ', CAST(r.row_no AS {txt}), ', claim ', {_shown_id('r.claim_id')}, ': the claim ', cs.problem)
             WHEN nb.error IS NOT NULL THEN concat('row ', CAST(r.row_no AS {txt}), ', claim ', {_shown_id('r.claim_id')}, ': the history file cannot be read (', nb.error, ')')
             WHEN h.error IS NOT NULL THEN concat('row ', CAST(r.row_no AS {txt}), ', claim ', {_shown_id('r.claim_id')}, ': the patient''s history cannot be read (', h.error, ')')
        END AS error
        FROM r0 r LEFT JOIN ids ON ids.claim_id = r.claim_id
        LEFT JOIN dup ON dup.claim_id = r.claim_id AND dup.line = r.line
        LEFT JOIN firsts f ON f.claim_id = r.claim_id
        LEFT JOIN cs ON cs.claim_id = r.claim_id
        LEFT JOIN b_hist_bad h ON h.patient_id = {patient_key_sql(b, 'r.patient_id')}
        LEFT JOIN b_hist_nobody nb ON 1 = 1),
    fb AS (SELECT claim_id, min(row_no) AS first_bad FROM r2 WHERE error IS NOT NULL AND claim_id IS NOT NULL GROUP BY claim_id)
    SELECT r.*, CASE WHEN r.error IS NOT NULL THEN r.error
             WHEN fb.first_bad IS NOT NULL THEN concat('row ', CAST(r.row_no AS {txt}), ', claim ', {_shown_id('r.claim_id')}, ': claim not judged because row ', CAST(fb.first_bad AS {txt}), ' has an error')
        END AS verdict_error
    FROM r2 r LEFT JOIN fb ON fb.claim_id = r.claim_id""")
    b.view("b_ok", "SELECT cid AS claim_id, patient_id, line, code, dos, provider_id, role, units, modifiers, route "
                          "FROM b_rows WHERE verdict_error IS NULL")
    # What is no longer read is dropped at once: DuckDB spills to disk past
    # its memory limit, and a million-line batch is near it.
    b.drop("raw_lines")
    if hi > run.lines_total:  # the last part: the file is read
        for tmp in ("raw_all_lines", "raw_input", "raw_history", "raw_history_in", "b_hist_bad", "b_hist_nobody",
                    "b_hist_dates", "b_hist_sizes") + (("b_refused",) if refused else ()):
            b.drop(tmp)


def batch_facts(kb, codes) -> dict[str, set[tuple]]:
    """The KB facts a batch billing ``codes`` (its lines' and its patients' history's) needs: with edit
    tables loaded, the pack's facts and the facts of the edits naming one of those codes.

    Every claim rule reaches an edit through a code it names (:mod:`cptkg.knowledge.edits.index`,
    the slice ``cptkg check`` takes per claim), so the batch judges as with the whole table. A payer's
    PTP release is millions of rows; loaded whole, a two-line batch over a three-million-row table
    took 134 s and 9 GB and then stopped at its time limit.
    """
    if not kb.edit_tables:
        return kb.all_facts()
    idx = kb.edit_index()
    out = dict(idx.shared)
    out.update(idx.facts_for(codes))
    return out


def _stage_edit_slice(run: _Batch) -> None:
    """With edit tables loaded: the codes the whole file bills (every part's claims and their patients'
    history, as validation will read them), and the KB facts sliced to the edits naming them."""
    b, kb = run.b, run.kb
    if not kb.edit_tables:
        return
    run.step("choosing the edits that name the batch's codes")
    txt = b.dialect.text_type
    codes = {c for (c,) in b.fetch(f"""SELECT DISTINCT upper({b.strip(f'CAST(code AS {txt})')}) FROM raw_all_lines
                                      UNION SELECT DISTINCT code FROM b_hist_ok""") if c}
    run.facts = batch_facts(kb, codes)


def _stage_facts(run: _Batch) -> None:
    """Compile the pack's claim rules and build their input relations from the checked rows (the claim
    inputs as ``cptkg.claims.inputs`` declares them, the claims' history, the knowledge base's facts):
    the same facts ``cptkg check`` gives the rules for one claim, keyed by claim."""
    b, kb, step, d = run.b, run.kb, run.step, run.b.dialect
    step("building claim facts")
    facts = run.facts if run.facts is not None else kb.all_facts()
    cp = run.cp = run.cp or compile_claim_rules(kb, d.name, run.facts)
    b.materialize(sc.CLAIMS, "SELECT DISTINCT claim_id FROM b_ok")
    b.materialize("b_claim_hist", f"""SELECT c.claim_id, h.e, h.code, h.dos, h.provider_id
        FROM (SELECT DISTINCT claim_id, patient_id FROM b_ok) c JOIN b_hist_ok h
          ON h.patient_id = {patient_key_sql(b, 'c.patient_id')}""")
    inputs.build_batch_inputs(kb, b, rel)
    claim_inputs = inputs.declared(kb)
    for p, n in cp.program.edb.items():
        if p in claim_inputs:
            continue
        types = cp.types[p]
        rows = facts.get(p, set())
        if n == 0:
            rows = {(1,) for _ in rows}
        b.load_rows(rel(p), cp.columns(p), types, rows)
    b.load_rows("c_labels", ["term", "label"], [TEXT, TEXT], label_rows(kb))
    b.load_rows("c_edit_words", ["term", "label"], [TEXT, TEXT], edit_words_rows(kb, facts))


def _stage_evaluate(run: _Batch, on_stratum) -> None:
    """Run the compiled strata once over every claim; the verdict rules' bindings (``cr_<k>``) stay
    for the verdicts and their messages, every other relation is dropped after its last reader."""
    cp, b = run.cp, run.b
    n_strata = len(cp.program.strata)
    sc.run(cp, b, drop_after_use=True, read_after=(), on_stratum=lambda i, s: on_stratum(i, s, n_strata))


def _stage_collect(run: _Batch) -> None:
    """Gather each line's rule ids, filled messages, X12 reasons and warnings from the verdict rules'
    bindings, and define the output (``b_out``: one row per input row)."""
    b, kb, step, cp, d = run.b, run.kb, run.step, run.cp, run.b.dialect
    txt = d.text_type
    step("collecting verdicts")
    no_rows = (f"SELECT CAST(NULL AS BIGINT) AS claim_id, CAST(NULL AS BIGINT) AS line, CAST(NULL AS BIGINT) AS k, "
               f"CAST(NULL AS {txt}) AS rule, CAST(NULL AS {txt}) AS message WHERE 1 = 0")
    verdict_rules = run.verdict_rules = {v: sorted(k for k in cp.keep if cp.program.rules[k].head.pred == v)
                                         for v in VERDICTS}
    # The rules of each verdict numbered 0, 1, ... in program order (column k): a pack of more than 62 rules
    # (the pump pack has over 90) still has few enough of each verdict for the bits of one integer.
    position = {k: i for v in VERDICTS for i, k in enumerate(verdict_rules[v])}
    rules_of = {v: [cp.program.rules[k] for k in verdict_rules[v]] for v in VERDICTS}
    rule_ids = [r.meta.id or r.head.pred for r in rules_of["reject"]]
    warn_ids = [r.meta.id or r.head.pred for r in rules_of["warn"]]
    b.materialize("b_reasons", reasons_sql(cp, kb, "reject", position=position) or no_rows)
    for k in verdict_rules["reject"]:
        b.drop(rule_rel(k))
    b.view("b_warns", reasons_sql(cp, kb, "warn", messages=False, position=position)
           or no_rows.replace(f", CAST(NULL AS {txt}) AS message", ""))
    # Per line: rule ids in rule order, messages in rule then text order,
    # each once. Most rejected lines have one reason, which needs no
    # aggregation: gathering strings into lists is the costly step, so only
    # lines with several reasons take it. Rule ids are gathered as the bits
    # of one integer (the verdict's rule number k is bit k), a cheap aggregate, and spelled out
    # once per distinct set of rules (a few hundred), not once per line.
    b.materialize("b_reason_n", "SELECT claim_id, line, count(*) AS n FROM b_reasons GROUP BY claim_id, line")
    bits = max(len(rule_ids), len(warn_ids)) <= MAX_BIT_RULES
    # each rule's X12 reason (group-code, e.g. CO-97) and its words, by rule number, as check shows them
    carcs, carc_words = rule_carcs(rules_of["reject"])
    b.load_rows("b_rule_carc", ["k", "carc", "carc_description"], [INT, TEXT, TEXT],
                [(k, c, w) for k, (c, w) in enumerate(zip(carcs, carc_words)) if c])
    multi_rules = b.bit_set_agg("r.k") if bits else b.int_list_join("r.k", rule_ids, ";")
    multi_carcs = "" if bits else (f", {b.int_list_join('r.k', carcs, ';')} AS carc, "
                                   f"{b.int_list_join('r.k', carc_words, ' | ')} AS carc_description")
    b.view("b_multi_reasons", f"""SELECT r.claim_id, r.line, {multi_rules} AS rules,
            {b.ordered_distinct_join('r.k', 'r.message', ' | ')} AS reasons{multi_carcs}
        FROM b_reasons r JOIN b_reason_n n ON n.claim_id = r.claim_id AND n.line = r.line WHERE n.n > 1
        GROUP BY r.claim_id, r.line""")
    if bits:
        # The sets of rules, from passes over integers only (the text of the
        # reasons is aggregated once, in the output query).
        b.materialize("b_reason_sets", f"""SELECT mask, {b.bit_set_names('mask', rule_ids, ';')} AS names,
            {b.bit_set_names('mask', carcs, ';')} AS carc, {b.bit_set_names('mask', carc_words, ' | ')} AS carc_description
            FROM (SELECT DISTINCT mask FROM (SELECT {b.bit_set_agg('k')} AS mask FROM b_reasons
                  GROUP BY claim_id, line) x) d""")
        b.materialize("b_warn_bits", f"SELECT claim_id, line, {b.bit_set_agg('k')} AS mask FROM b_warns GROUP BY claim_id, line")
        multi = """SELECT m.claim_id, m.line, s.names AS rules, m.reasons, s.carc, s.carc_description
            FROM b_multi_reasons m JOIN b_reason_sets s ON s.mask = m.rules"""
        warns = f"""SELECT w.claim_id, w.line, s.names AS warnings FROM b_warn_bits w
            JOIN ({_bit_set_names_sql(b, 'b_warn_bits', 'mask', warn_ids)}) s ON s.mask = w.mask"""
    else:
        multi = "SELECT claim_id, line, rules, reasons, carc, carc_description FROM b_multi_reasons"
        warns = f"""SELECT claim_id, line, {b.int_list_join('k', warn_ids, ';')} AS warnings
            FROM b_warns GROUP BY claim_id, line"""
    b.view("b_line_reasons", f"""SELECT r.claim_id, r.line, r.rule AS rules, r.message AS reasons,
            c.carc, c.carc_description
        FROM b_reasons r JOIN b_reason_n n ON n.claim_id = r.claim_id AND n.line = r.line
        LEFT JOIN b_rule_carc c ON c.k = r.k WHERE n.n = 1
        UNION ALL {multi}""")
    b.view("b_line_warns", warns)
    # lines carrying a warning that means no rule of the pack covers them (cptkg.judge.check.unchecked_rules);
    # such a line not rejected is "not checked", as check says
    from cptkg.judge.check import unchecked_rules

    marks = unchecked_rules(kb)
    unchecked_sql = " UNION ".join(
        f"SELECT DISTINCT claim_id, {_head_line_sql(cp, k)} AS line FROM {rule_rel(k)}"
        for k in verdict_rules["warn"] if (cp.program.rules[k].meta.id or cp.program.rules[k].head.pred) in marks)
    b.materialize("b_unchecked", unchecked_sql or
                  "SELECT CAST(NULL AS BIGINT) AS claim_id, CAST(NULL AS BIGINT) AS line WHERE 1 = 0")
    b.view("b_out", f"""SELECT r.row_no AS {d.ident('row')}, r.claim_id, r.line, r.code,
        CASE WHEN r.verdict_error IS NOT NULL THEN 'error' WHEN lr.rules IS NOT NULL THEN 'rejected' ELSE 'accepted' END AS status,
        CASE WHEN r.verdict_error IS NULL THEN lr.rules END AS rules,
        CASE WHEN r.verdict_error IS NULL THEN lr.reasons END AS reasons,
        CASE WHEN r.verdict_error IS NULL THEN lw.warnings END AS warnings,
        r.verdict_error AS error,
        CASE WHEN r.verdict_error IS NULL THEN lr.carc END AS carc,
        CASE WHEN r.verdict_error IS NULL THEN lr.carc_description END AS carc_description,
        CASE WHEN r.verdict_error IS NOT NULL THEN CAST(NULL AS BOOLEAN)
             WHEN lr.rules IS NULL AND u.line IS NOT NULL THEN false ELSE true END AS checked
        FROM b_rows r
        LEFT JOIN b_line_reasons lr ON lr.claim_id = r.cid AND lr.line = r.line AND r.verdict_error IS NULL
        LEFT JOIN b_line_warns lw ON lw.claim_id = r.cid AND lw.line = r.line AND r.verdict_error IS NULL
        LEFT JOIN b_unchecked u ON u.claim_id = r.cid AND u.line = r.line AND r.verdict_error IS NULL""")


def _stage_write(run: _Batch, n_parts: int = 1) -> None:
    """Write this part's ``b_out`` in input order to the temporary output (renamed into place by
    :func:`_stage_finish`), count its verdicts, and drop what it built.

    A batch judged whole is written by the engine straight from the query
    (no copy of a million verdicts kept). A batch in parts appends each part
    (whole claims, whose rows come after every row of the parts before):
    Parquet through one writer fed the part's rows in batches, CSV part by
    part, each part's header left out after the first.
    """
    b, step, d, out_kind = run.b, run.step, run.b.dialect, run.out_kind
    verdict_rules, counts = run.verdict_rules, run.counts
    step("writing verdicts" + run.part)
    out_cols = "*"
    if out_kind == "csv":
        # spreadsheet-safe cells in CSV (cptkg.spreadsheet); Parquet keeps the raw values
        from cptkg.spreadsheet import safe_sql

        out_cols = ", ".join(f"{safe_sql(c, b.regex_full)} AS {c}" if c in CSV_TEXT_COLUMNS else d.ident(c)
                             for c in OUTPUT_COLUMNS)
    elif n_parts == 1:
        # Every column optional (it may be empty), whatever this file's rows hold: DuckDB's writer marks a
        # column with no nulls in the query's statistics as required, so two files of one batch layout had
        # two schemas (and a batch in parts, written through Arrow, a third).
        out_cols = ", ".join(f"CASE WHEN status IS NULL THEN NULL ELSE {d.ident(c)} END AS {d.ident(c)}"
                             for c in OUTPUT_COLUMNS)
    query = f"SELECT {out_cols} FROM b_out ORDER BY {d.ident('row')}"
    if n_parts == 1:
        lines_out = b.write_query(query, run.tmp_out, out_kind)
        if out_kind == "csv":  # control characters shown escaped, as every writer shows them
            from cptkg.spreadsheet import escape_csv_file

            escape_csv_file(run.tmp_out, lines_out)
    elif out_kind == "parquet":
        lines_out = _append_parquet(run, query)
    else:
        lines_out = _append_csv(run, query)
    run.appended = run.appended or n_parts > 1
    # the summary is counted from the reasons; lines out is what the writer reports it wrote
    (lines_in, errors), = b.fetch("SELECT count(*), count(verdict_error) FROM b_rows")
    by_rule = b.fetch("SELECT rule, count(*) FROM (SELECT DISTINCT claim_id, line, rule FROM b_reasons) x GROUP BY rule")
    (rejected,), = b.fetch("SELECT count(*) FROM (SELECT DISTINCT claim_id, line FROM b_reasons) x")
    (not_checked,), = b.fetch("SELECT count(*) FROM b_unchecked u WHERE NOT EXISTS "
                              "(SELECT 1 FROM b_reasons x WHERE x.claim_id = u.claim_id AND x.line = u.line)")
    first = getattr(run.kb, "first_unit_release", None)
    early = 0
    if first:
        from cptkg.judge.assumptions import unit_edit_codes

        b.load_rows("b_unit_codes", ["code"], [TEXT], [(c,) for c in sorted(unit_edit_codes(run.kb))])
        early = b.fetch(f"SELECT count(*) FROM b_rows WHERE verdict_error IS NULL AND dos < {d.literal(first[0])} "
                        f"AND code IN (SELECT code FROM b_unit_codes)")[0][0]
        b.drop("b_unit_codes")
    # lines a row of their patient's history repeats (cptkg.judge.notes): counted as check counts them
    # (a SEMI JOIN, which DuckDB and Spark both read: the EXISTS with its OR took 0.37 s of a million lines, this 0.11)
    (overlap,), = b.fetch("""SELECT count(*) FROM b_rows o SEMI JOIN b_claim_hist h
        ON h.claim_id = o.cid AND h.code = o.code AND h.dos = o.dos
          AND (h.provider_id IS NULL OR h.provider_id = o.provider_id) WHERE o.verdict_error IS NULL""")
    for key, v in (("lines_in", lines_in), ("lines_out", lines_out), ("errors", errors), ("rejected", rejected),
                   ("not_checked", not_checked), ("early", early), ("overlap", overlap)):
        counts[key] = counts.get(key, 0) + v
    for rule, k in by_rule:
        counts["by_rule"][rule] = counts["by_rule"].get(rule, 0) + k
    for name in ["b_out", "b_line_reasons", "b_line_warns", "b_warn_bits", "b_reason_sets", "b_multi_reasons",
                 "b_reason_n", "b_warns", "b_reasons", "b_unchecked", "b_rule_carc", "b_ok", "b_rows",
                 "b_claim_hist", sc.CLAIMS, "c_labels"] + [rule_rel(k) for k in verdict_rules["warn"]]:
        try:
            b.drop(name)
        except Exception:  # noqa: BLE001 - the part is written; an interrupt here loses nothing
            pass


def _append_parquet(run: _Batch, query: str) -> int:
    """Append the query's rows to the batch's one Parquet writer (opened on the first part)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    for batch in run.b.stream_query(query):
        if run.writer is None:
            run.writer = pq.ParquetWriter(run.tmp_out, batch.schema)
        elif batch.schema != run.writer.schema:
            batch = pa.Table.from_batches([batch]).cast(run.writer.schema)
        run.writer.write(batch)
        n += batch.num_rows
    return n


def _append_csv(run: _Batch, query: str) -> int:
    """Write the part to a CSV beside the output and append it, its header line only for the first part.
    The whole file is escaped once, when every part is in (:func:`_stage_finish`): escaping rewrites a
    file through Python's CSV writer, whose quoting differs from the engine's (a ``#``, an empty text),
    so a part escaped on its own would make the file differ from the file of a batch judged whole."""
    import shutil

    part = f"{run.tmp_out}.part"
    n = run.b.write_query(query, part, "csv")
    first = not os.path.exists(run.tmp_out)
    with open(part, "rb") as src, open(run.tmp_out, "ab") as dst:
        if not first:
            src.readline()  # the header: one line (the column names hold no line break)
        shutil.copyfileobj(src, dst, 1 << 22)
    os.unlink(part)
    return n


def _close_writer(run: _Batch) -> None:
    if run.writer is not None:
        try:
            run.writer.close()
        finally:
            run.writer = None


def _stage_finish(run: _Batch) -> Summary:
    """Close the output, rename it into place, drop what the parts shared, and sum up the parts' counts."""
    b, counts = run.b, run.counts
    _close_writer(run)
    if run.out_kind == "csv" and run.appended:  # a batch written in parts: escaped whole, as one judged whole
        from cptkg.spreadsheet import escape_csv_file

        escape_csv_file(run.tmp_out, counts["lines_out"])
    run.step("writing verdicts")  # the last point at which the time limit stops the run
    from cptkg.files import replace_output
    from cptkg.judge import notes

    replace_output(run.tmp_out, run.output_path, "-o")  # never over a link, folder, device or FIFO
    for name in ("b_hist_ok", "b_family_codes"):
        try:
            b.drop(name)
        except Exception:  # noqa: BLE001 - the verdicts are written; an interrupt here loses nothing
            pass
    lines_in, errors, rejected, not_checked = counts["lines_in"], counts["errors"], counts["rejected"], counts["not_checked"]
    return Summary(lines_in=lines_in, lines_out=counts["lines_out"], accepted=lines_in - errors - rejected - not_checked,
                   rejected=rejected, errors=errors, not_checked=not_checked,
                   rejected_by_rule=dict(sorted(counts["by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))),
                   seconds=time.perf_counter() - run.t0, engine=run.b.dialect.name,
                   notes=notes.for_run(run.kb, counts.get("early", 0), counts.get("overlap", 0)))


def _temporary_beside(path) -> str:
    """A fresh name in the target's folder (same file system, so the final rename is atomic)."""
    import secrets

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise BatchInputError(f"-o {path}: the folder {folder} does not exist")
    # the suffix stays, so the engines pick the same writer
    return str(folder / f".{target.stem}.cptkg-partial-{os.getpid()}-{secrets.token_hex(4)}{target.suffix}")


def _check_parquet(path, engine: str) -> None:
    """A Parquet file's schema, before the engine reads it: duplicate or nested columns, no rows."""
    from collections import Counter

    import pyarrow as pa
    import pyarrow.parquet as pq

    from cptkg.limits import MAX_CSV_COLUMNS

    try:
        f = pq.ParquetFile(path)
        schema = f.schema_arrow
    except (OSError, pa.ArrowException) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        from cptkg.files import parquet_problem

        raise BatchInputError(f"{path}: {parquet_problem(first)}") from None
    if len(schema.names) > MAX_CSV_COLUMNS:
        raise BatchInputError(f"{path}: {len(schema.names):,} columns; a claim file has at most {MAX_CSV_COLUMNS:,}")
    names = [column_key(n) for n in schema.names]
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        raise BatchInputError(f"{path}: column {dupes[0]} appears twice")
    if f.metadata.num_rows == 0:
        raise BatchInputError(f"{path}: no claim rows (the file has a schema but no rows)")
    for name, fld in zip(names, schema):
        t = fld.type
        nested = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t) or pa.types.is_map(t)
        if not nested or name not in LINE_COLUMNS + HISTORY_COLUMNS:
            continue
        if engine == "duckdb":
            # a list of modifiers is read as the modifiers (DuckDBBackend joins it); a list or an
            # object in any other field is refused row by row, in the words of cptkg check (value_kinds)
            continue
        raise BatchInputError(f"{path}: column {name} holds {t}; it must hold text"
                              + (" (a list of modifiers is read by the duckdb engine only)" if name == "modifiers" else ""))


def _value_kind(t) -> str:
    """What a Parquet column's values are, as the validator names them (see value_kinds)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t) or \
            getattr(pa.types, "is_string_view", lambda _t: False)(t):
        return "text"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale == 0):
        return "int"  # a decimal of no fraction digits is a whole number ("must be a whole number" of 38 nines)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "time"
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return "clock"  # a time of day or a length of time, no date (it was called "a date and time": an audit)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list:" + _value_kind(t.value_type)
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "object"
    return "other"


def value_kinds(path, kind: str) -> dict[str, str]:
    """Column -> what its values are (text, int, float, bool, date, time, binary, list:<kind>, object).

    CSV holds text only ({}: every column text), and so does a Parquet text
    column: it is read as CSV cells are ("7" is line 7). A Parquet column of
    another type is judged as cptkg check judges a JSON value of that type in
    the same field: a number, true/false, a list or an object where text
    belongs is refused in the same words ("must be text, got a number (9
    digits)"), never read as its text; a number with decimals or true/false
    where a whole number belongs likewise. A Parquet date is a date of service.
    """
    if kind != "parquet":
        return {}
    import pyarrow.parquet as pq

    schema = pq.ParquetFile(path).schema_arrow
    return {column_key(n): _value_kind(f.type) for n, f in zip(schema.names, schema)}


#: how a value of each kind is named, as cptkg.claims.models.masked names a JSON value
_KIND_WORDS = {"bool": "true/false", "float": "a number with decimals", "date": "a date", "time": "a date and time",
               "clock": "a time of day or a length of time, with no date",
               "binary": "binary data", "object": "an object", "other": "a value that is not text"}


def _text_kind_problem(col: str, kind: str, txt: str, modifiers: bool = False) -> str | None:
    """SQL: why a value of ``kind`` cannot be the text field ``col`` (None: it can)."""
    if kind == "text":
        return None
    if kind in ("int", "list:int"):
        first = col if kind == "int" else f"split_part({col}, ';', 1)"  # a list: its first item, as check names it
        n = f"length(replace({first}, '-', ''))"
        return (f"concat('must be text, got a number (', CAST({n} AS {txt}), "
                f"CASE WHEN {n} = 1 THEN ' digit)' ELSE ' digits)' END)")
    if kind.startswith("list:"):
        inner = kind[5:]
        if modifiers:  # a list of modifiers (DuckDB): each must be text, as in a JSON list
            return None if inner == "text" else f"'must be text, got {_KIND_WORDS.get(inner, _KIND_WORDS['other'])}'"
        return "'must be text, got a list'"
    return f"'must be text, got {_KIND_WORDS.get(kind, _KIND_WORDS['other'])}'"


def _kind_problem(col: str, kind: str, txt: str, expr: str | None = None) -> str | None:
    """SQL: why a value of ``kind`` cannot be field ``col`` (``expr``: the column's text), or None."""
    expr = expr or col
    if col in ("line", "units"):
        return _whole_kind_problem(expr, kind)
    if col == "date_of_service":  # as the claim validator refuses a date that is not text
        if kind == "time":  # a timestamp column (pandas writes dates so): what it is, and what to write
            return ("'must be a date written YYYY-MM-DD, got a date and time (a timestamp column): "
                    "write the column as dates'")
        if kind == "clock":
            return "'must be a date written YYYY-MM-DD, got a time of day or a length of time (no date)'"
        return None if kind in ("text", "date") else "'must be a date written YYYY-MM-DD'"
    return _text_kind_problem(expr, kind, txt, col == "modifiers")


def _whole_kind_problem(col: str, kind: str) -> str | None:
    """SQL: why a value of ``kind`` cannot be the whole-number field ``col`` (None: text or integer)."""
    if kind in ("text", "int"):
        return None
    if kind == "float":
        return f"concat('must be a whole number, got a number ''', substr({col}, 1, 40), '''')"
    if kind == "bool":
        return f"concat('must be a whole number, got ', {col})"
    word = "a list" if kind.startswith("list:") else _KIND_WORDS.get(kind, _KIND_WORDS["other"])
    return f"'must be a whole number, got {word}'"


def claim_size_always_within() -> int:
    """The largest number of entries (a claim's lines plus its patient's history entries) with which a
    claim cannot pass any size limit of :func:`cptkg.limits.claim_size_problem`, whatever its dates and codes.

    With n lines and h history entries, n + h <= s: lines <= s, history <= s, same-date ordered pairs
    <= s(s - 1) and family combinations <= n (n + h)^2 <= s^3.
    """
    from cptkg.limits import (MAX_HISTORY_COMBINATIONS as J, MAX_HISTORY_PER_CLAIM as H, MAX_LINES_PER_CLAIM as L,
                              MAX_SAME_DATE_PAIRS as P)

    s = 0
    while s + 1 <= min(L, H) and (s + 1) * s <= P and (s + 1) ** 3 <= J:
        s += 1
    return s


def _claim_size_sql(txt: str) -> str:
    """CTEs ending in ``cs``: claims too large for the engine (cptkg.limits), the problem in billing words.

    Ordered pairs of billed entries (lines and the patient's history) on the
    same date are what the exclusion rules join: per claim, the history's own
    pairs plus, on each date of the claim's lines, the pairs the lines add.
    """
    from cptkg.limits import (MAX_HISTORY_COMBINATIONS as J, MAX_HISTORY_PER_CLAIM as H, MAX_LINES_PER_CLAIM as L,
                              MAX_SAME_DATE_PAIRS as P)

    n = lambda v: f"CAST({v} AS {txt})"  # noqa: E731
    safe = claim_size_always_within()
    # Only a claim whose lines and patient's history number more than ``safe`` can pass a limit: the
    # counts per date (a second pass over every row, 0.35 s of a million-line batch) are made for those.
    return f"""hd AS (SELECT * FROM b_hist_dates),
    hp AS (SELECT * FROM b_hist_sizes),
    big AS (SELECT ids.claim_id FROM ids LEFT JOIN hp ON hp.patient_id = ids.pkey
            WHERE ids.n + coalesce(hp.h_entries, 0) > {safe}),
    ld AS (SELECT claim_id, dos, count(*) AS ln,
               sum(CASE WHEN code IN (SELECT code FROM b_family_codes) THEN 1 ELSE 0 END) AS lf
           FROM r0 WHERE claim_id IN (SELECT claim_id FROM big) GROUP BY claim_id, dos),
    cl AS (SELECT ld.claim_id, min(ids.pkey) AS patient_id, sum(ld.ln) AS n_lines, sum(ld.lf) AS l_family,
               sum((ld.ln + coalesce(hd.hn, 0)) * (ld.ln + coalesce(hd.hn, 0) - 1)
                   - coalesce(hd.hn, 0) * (coalesce(hd.hn, 0) - 1)) AS line_pairs
           FROM ld JOIN ids ON ids.claim_id = ld.claim_id LEFT JOIN hd ON hd.patient_id = ids.pkey AND hd.dos = ld.dos
           GROUP BY ld.claim_id),
    cs AS (SELECT cl.claim_id, CASE
             WHEN cl.n_lines > {L} THEN concat('has ', {n('cl.n_lines')}, ' lines; at most {L:,} lines are judged in one claim (split the claim)')
             WHEN coalesce(hp.h_entries, 0) > {H} THEN concat('has ', {n('hp.h_entries')}, ' history entries for its patient; at most {H:,} are considered (give only the history that can matter)')
             WHEN cl.line_pairs + coalesce(hp.h_pairs, 0) > {P} THEN concat('bills ', {n('cl.line_pairs + coalesce(hp.h_pairs, 0)')}, ' pairs of services on the same date; at most {P:,} are judged in one claim (split the claim by date)')
             WHEN CAST(cl.n_lines AS DOUBLE) * (cl.l_family + coalesce(hp.h_family, 0)) * (cl.l_family + coalesce(hp.h_family, 0)) > {J}
               THEN concat('has ', {n('cl.n_lines')}, CASE WHEN cl.n_lines = 1 THEN ' line' ELSE ' lines' END, ' and ',
                    {n('cl.l_family + coalesce(hp.h_family, 0)')},
                    CASE WHEN cl.l_family + coalesce(hp.h_family, 0) = 1 THEN ' entry' ELSE ' entries' END,
                    ' of the code family (its lines and its patient''s history), which the device-history rules join as ',
                    {n('CAST(cl.n_lines AS BIGINT) * (cl.l_family + coalesce(hp.h_family, 0)) * (cl.l_family + coalesce(hp.h_family, 0))')},
                    ' combinations; at most {J:,} are judged in one claim (give only the history that can matter, or split the claim)')
           END AS problem
           FROM cl LEFT JOIN hp ON hp.patient_id = cl.patient_id),"""

def _read(b, path, name: str, kind: str) -> list[str]:
    """Load a file; one that cannot be read at all is an input error, not an engine failure."""
    import pyarrow as pa

    if hasattr(b, "modifier_words"):  # a list of modifiers an engine reads: its items checked as check does
        b.modifier_words = (MODIFIER_SEPARATORS, MODIFIER_WORDS)
    try:
        return b.read_table(path, name, kind)
    except (ValueError, OSError, pa.ArrowException, UnicodeDecodeError) as e:
        if kind == "csv":
            from cptkg.spreadsheet import not_utf8

            why = not_utf8(path)  # the byte, row and field, not the codec's words
            if why:
                raise BatchInputError(f"{path}: {why}") from None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if first.startswith(str(path)):
            raise BatchInputError(first) from None
        raise BatchInputError(f"{path}: cannot be read as {kind}: {first}") from None


def _require(path, cols: list[str], required: list[str]) -> None:
    from cptkg.claims.columns import misnamed, missing_words

    missing = [c for c in required if c not in cols]
    known = tuple(LINE_COLUMNS) if required == REQUIRED else tuple(HISTORY_COLUMNS)
    if missing:
        read = [c for c in cols if c not in ("row_no", RECORD_ERROR)]
        raise BatchInputError(f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(required)})"
                              + missing_words(missing, read, known, _given_names(path)))
    why = misnamed([c for c in cols if c not in ("row_no", RECORD_ERROR)], known)
    if why:  # said again with the file's own names ("Mod 1", read as mod_1)
        why = misnamed([c for c in cols if c not in ("row_no", RECORD_ERROR)], known, _given_names(path))
        raise BatchInputError(f"{path}, header: {why}")


def _extra_modifiers(b, path, cols: list[str]) -> None:
    """Refuse the file at the first row whose second modifier column ("Modifier 1" beside 'modifiers') holds a
    modifier 'modifiers' does not: unread, it would be taken as not given (as cptkg check's CSV reader
    refuses it, :func:`cptkg.claims.columns.extra_modifier_problem`). Each column's modifiers, separated as a
    modifiers cell is, must stand together in the row's 'modifiers' (one modifier per column in an export)."""
    from cptkg.claims.columns import extra_modifier_columns, extra_modifier_problem
    from cptkg.claims.models import MODIFIER_PATTERN, MODIFIER_SEPARATORS

    extras = extra_modifier_columns([c for c in cols if c not in ("row_no", RECORD_ERROR)], tuple(LINE_COLUMNS))
    if not extras:
        return
    txt, lit = b.dialect.text_type, b.dialect.literal
    norm = lambda e: (f"regexp_replace(upper({b.strip(f'CAST({e} AS {txt})')}), "  # noqa: E731
                      f"{lit(MODIFIER_SEPARATORS + '+')}, ';')")
    given = _given_names(path)
    for col in extras:
        found = b.fetch(f"""SELECT row_no, CAST({col} AS {txt}) FROM raw_input
            WHERE {col} IS NOT NULL AND {b.regex_full(norm(col), f'{MODIFIER_PATTERN}(;{MODIFIER_PATTERN})*')}
              AND NOT concat(';', coalesce({norm('modifiers')}, ''), ';') LIKE concat('%;', {norm(col)}, ';%')
            ORDER BY row_no LIMIT 1""")
        if found:
            row, value = found[0]
            raise BatchInputError(f"{path}, row {row}: " + extra_modifier_problem(given.get(col, col), str(value)))


def _given_names(path) -> dict[str, str]:
    """The header as the file writes it, by the names it is read as (for messages only; {} when unreadable)."""
    from cptkg.spreadsheet import column_key

    try:
        if str(path).lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
        else:
            import csv

            with open(path, encoding="utf-8-sig", newline="") as fh:
                names = next(csv.reader(fh), [])
    except Exception:  # noqa: BLE001 - only the words of a message depend on it
        return {}
    return {column_key(n): n.strip() for n in names}


def _backend(engine: str):
    if engine == "duckdb":
        import os
        import tempfile

        from cptkg.engines.sql.duckdb import DuckDBBackend

        be = DuckDBBackend()
        # Bounded memory: past the limit DuckDB spills to a temporary folder
        # instead of growing (1 M lines peak at about 1.4 GiB this way).
        from cptkg.limits import DUCKDB_MEMORY

        limit = os.environ.get("CPTKG_DUCKDB_MEMORY", DUCKDB_MEMORY)
        be.conn.execute("SET memory_limit = ?", [limit])
        spill = tempfile.mkdtemp(prefix="cptkg-duckdb-")  # this run's own spill folder, removed at exit
        import atexit
        import shutil

        atexit.register(shutil.rmtree, spill, True)
        be.conn.execute("SET temp_directory = ?", [spill])
        be.conn.execute("SET preserve_insertion_order = false")  # output is sorted by row explicitly
        # No automatic checkpoints of the in-memory database: each one
        # compressed every table written since the last (dictionary, FSST,
        # bit-packing), tables that the rules read once or twice and drop.
        # Measured on 1M lines: the checkpoints cost 0.3-0.5 s, at whichever
        # statement crossed the threshold; memory stays bounded by the limit
        # above (past it, DuckDB spills the uncompressed blocks to disk).
        be.conn.execute("SET checkpoint_threshold = '1TB'")
        return be
    if engine == "spark":
        from cptkg.engines.sql.spark import SparkBackend

        return SparkBackend()
    raise BatchInputError(f"unknown engine '{engine}': use duckdb or spark")
