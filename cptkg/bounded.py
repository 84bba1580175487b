"""Run one step in a forked child with a time limit and a memory limit.

Used where untrusted text drives an unbounded computation in a library:
SPARQL evaluation (a query doubling a string reached 4 GB) and RDF parsing
(a 533-byte billion-laughs RDF/XML took 66 s, a 5 MB N-Triples literal
126 s). The child sets ``RLIMIT_AS`` to what it already maps plus
``memory`` bytes, so an allocation past it fails with MemoryError in the
child instead of swapping the machine; past ``timeout`` seconds the child
is killed. The result (or the exception) comes back pickled.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable

from cptkg.limits import CHILD_MEMORY_BYTES


class StepTimeout(RuntimeError):
    """The step did not finish within its time limit."""


class StepMemory(MemoryError):
    """The step needed more memory than its limit."""


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def limit_memory(extra: int) -> None:
    """Cap this process's address space at what it maps now plus ``extra`` bytes."""
    try:
        import resource
    except ImportError:  # not on this platform: the time limit still holds
        return
    cap = _mapped_bytes() + extra
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _child(conn, fn, args, memory):
    try:
        limit_memory(memory)
        out = ("ok", fn(*args))
    except MemoryError:
        out = ("memory", None)
    except BaseException as e:  # noqa: BLE001 - sent to the parent, re-raised there
        out = ("raise", e)
    try:
        conn.send(out)
    except MemoryError:
        conn.send(("memory", None))
    except Exception as e:  # noqa: BLE001 - an exception or result that does not pickle
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def run_bounded(fn: Callable[..., Any], args: tuple = (), timeout: float = 10.0,
                memory: int = CHILD_MEMORY_BYTES) -> Any:
    """``fn(*args)`` in a forked child; StepTimeout, StepMemory, or the child's own exception."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, memory), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise StepTimeout(f"did not finish within {timeout:g} s and was stopped")
        status, payload = parent.recv()
    except EOFError:
        raise StepMemory("stopped: it ended without an answer (out of memory or killed)") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if status == "memory":
        raise StepMemory(f"needed more than {memory // (1024 * 1024):,} MiB of memory and was stopped")
    if status == "raise":
        raise payload
    if status == "error":
        raise RuntimeError(payload)
    return payload
