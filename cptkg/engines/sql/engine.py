"""The compiled rules as an engine of the common interface, on DuckDB.

``cptkg batch`` runs the compiled rules over a whole file at once; this
engine runs them over one request's facts (a claim, an encounter) and reads
back every predicate and every rule's bindings, shaped as every engine
returns them. That is what lets a batch line be explained: the same facts
through the same compiled SQL give the bindings the explanation reads.

Each call gets its own in-memory DuckDB connection (no facts are shared),
and past the time limit the connection is interrupted, again every 0.25 s
until the evaluation ends (cptkg.engines.sql.deadline); it has a memory cap
of its own (cptkg.limits.EVALUATION_MEMORY_BYTES).
"""
from __future__ import annotations

from typing import Iterable

from cptkg.engines.base import Engine, EvaluationError, EvaluationMemory, EvaluationTimeout, Facts, Model, Static
from cptkg.rules.program import Program


def fact_types(facts: Facts, edb: dict[str, int], declared: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Column types of the input predicates, read from their facts."""
    from cptkg.engines.sql.compiler import INT, TEXT, SQLCompileError

    out: dict[str, list[str]] = {}
    for p, n in edb.items():
        if declared and p in declared and not facts.get(p):
            # no facts to read the types from (the static part, a claim with no
            # history): the types the ontology declares (a claim input's
            # ont:argumentTypes, a KB property's range), so that a comparison
            # with a KB integer (units against a unit edit's maximum) still types
            out[p] = [INT if t == "int" else TEXT for t in declared[p]]
            continue
        cols: list[set[str]] = [set() for _ in range(n)]
        for row in facts.get(p, ()):
            for i, v in enumerate(row):
                cols[i].add(INT if isinstance(v, int) and not isinstance(v, bool) else TEXT)
        types = []
        for i, seen in enumerate(cols):
            if len(seen) > 1:
                raise SQLCompileError(f"input predicate {p}: argument {i + 1} holds both text and integers")
            types.append(seen.pop() if seen else None)
        if any(t is not None for t in types):
            out[p] = [t or TEXT for t in types]
    return out


class DuckDBEngine(Engine):
    """Compiled SQL on an in-process DuckDB connection, one per evaluation."""

    name = "duckdb"

    def evaluate(self, program: Program, facts: Facts, want: Iterable[str] | None = None,
                 rule_bindings: bool | set[str] = True, timeout: float = 30.0,
                 static: Static | None = None) -> Model:
        import duckdb

        from cptkg.engines.sql import compiler as sc
        from cptkg.engines.sql.duckdb import DuckDBBackend

        # Static results are not needed: the compiled program computes every
        # rule in one pass, and the results are the same.
        try:
            keep = None if rule_bindings is True else (set(rule_bindings) if rule_bindings else set())
            cp = sc.compile_program(program, fact_types(facts, program.edb, program.declared_types), (), "duckdb",
                                    keep_bindings=keep, share=False)
        except sc.SQLCompileError as e:
            raise EvaluationError(f"the rules cannot be compiled to SQL: {e}") from None
        from cptkg.engines.clingo import _check_timeout
        from cptkg.engines.sql.deadline import Deadline

        _check_timeout(timeout)
        backend = DuckDBBackend(duckdb.connect(":memory:"), threads=1)
        # a memory cap of its own: past it DuckDB fails the statement (an in-memory database cannot spill)
        from cptkg.limits import EVALUATION_MEMORY_BYTES

        backend.conn.execute(f"SET memory_limit = '{EVALUATION_MEMORY_BYTES // 2 ** 20}MiB'")
        try:
            with Deadline(backend.interrupt, timeout) as dl:
                try:
                    sc.load_inputs(cp, backend, facts)
                    sc.run(cp, backend)
                    preds = list(program.idb) if want is None else [p for p in want if p in program.idb]
                    out, bindings = sc.read_model(cp, backend, preds, bindings=bool(rule_bindings))
                except duckdb.Error:
                    if dl.passed:
                        raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s") from None
                    raise
        except duckdb.OutOfMemoryException:
            raise EvaluationMemory(f"rule evaluation needed more than {EVALUATION_MEMORY_BYTES // 2 ** 20:,} MiB "
                                   f"of memory and was stopped") from None
        except duckdb.Error as e:
            raise EvaluationError(f"rule evaluation failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        finally:
            backend.conn.close()
        for k, bs in bindings.items():
            bs.sort(key=repr)
        return Model(out, bindings)


DUCKDB = DuckDBEngine()
