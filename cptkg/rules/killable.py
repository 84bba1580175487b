"""Evaluate in a forked child that is killed at the time limit.

:func:`cptkg.rules.pydatalog_engine.evaluate` waits for a worker thread
with a timeout, but pyDatalog's engine is compiled (Cython) and its loops
never hand the GIL back, so the waiting thread does not wake until the
evaluation ends — a hanging or huge evaluation holds the caller for as long
as it runs (docs/conformance.md, "Findings"). A child process can be killed.

:func:`evaluate` here takes the same arguments and returns the same Model;
only the waiting differs. The child is forked (copy-on-write: the loaded KB
and program are not re-sent), evaluates, and pickles the Model back.
Measured overhead is in ``bench/killable_overhead.py``. Forking a process
that runs other threads is safe for this child only because it touches
nothing but pyDatalog and the program; callers in a threaded server that
hold locks across a check should measure before switching.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
from typing import Iterable

from .program import Program
from .pydatalog_engine import EvaluationError, EvaluationTimeout, Facts, Model, _evaluate


def _child(conn, program, facts, want, rule_bindings, static) -> None:
    try:
        model = _evaluate(program, facts, want, rule_bindings, static)
        conn.send_bytes(pickle.dumps(("ok", model), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as e:  # noqa: BLE001 - reported to the parent as text
        conn.send_bytes(pickle.dumps(("err", f"{type(e).__name__}: {e}")))
    finally:
        conn.close()
        os._exit(0)  # no atexit handlers, no flushing of the parent's buffers


def evaluate(program: Program, facts: Facts, want: Iterable[str] | None = None,
             rule_bindings: bool | set[str] = True, timeout: float = 30.0, static=None) -> Model:
    """Like pydatalog_engine.evaluate, but the time limit is enforced."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    want = list(want) if want is not None else None
    proc = ctx.Process(target=_child, args=(send, program, facts, want, rule_bindings, static), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(timeout):
            raise EvaluationTimeout(f"rule evaluation did not finish within {timeout:g} s")
        try:
            kind, value = pickle.loads(recv.recv_bytes())
        except EOFError:
            raise EvaluationError(f"rule evaluation ended without an answer (exit code {proc.exitcode})") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if kind == "err":
        raise EvaluationError(f"rule evaluation failed: {value}")
    return value
