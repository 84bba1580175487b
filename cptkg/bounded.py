"""Run one step in a forked child with a time limit and a memory limit.

Used wherever untrusted input drives an unbounded computation in a library:
SPARQL evaluation (a query doubling a string reached 4 GB), RDF parsing (a
533-byte billion-laughs RDF/XML took 66 s, a 5 MB N-Triples literal 126 s)
and every rule evaluation on clingo (one claim with 10,000 history entries
grounded for minutes; clingo cannot interrupt a grounding, so a thread that
stops waiting leaves the work running — it ended in a segmentation fault at
exit). The child sets ``RLIMIT_AS`` to what it already maps plus
``memory`` bytes, so an allocation past it fails in the child instead of
swapping the machine; past ``timeout`` seconds the child is killed and its
memory goes back to the system at once. The result (or the exception) comes
back pickled through a pipe.

The child is a bare ``os.fork``, not a ``multiprocessing.Process``: the
latter's start-up and exit flush the standard streams and run exit hooks,
and in a process with threads (the explorer's server, ``check``'s batch
pool) a lock another thread held at the fork stays locked in the child for
ever. The child here touches nothing but the function it runs and the pipe,
and leaves with ``os._exit``.
"""
from __future__ import annotations

import ctypes  # noqa: F401 - imported before any fork: a child never takes the import lock
import gc
import os
import pickle
import select
import signal
import sys
import time
from typing import Any, Callable

from cptkg.limits import CHILD_MEMORY_BYTES


class StepTimeout(RuntimeError):
    """The step did not finish within its time limit."""


class StepMemory(MemoryError):
    """The step needed more memory than its limit."""


class StepCrashed(StepMemory):
    """The step's process died of a signal (an abort or a crash in a library) without an answer."""


def can_fork() -> bool:
    """True where a step can run in a child process (POSIX); elsewhere callers run it in-process."""
    return hasattr(os, "fork") and os.environ.get("CPTKG_EVALUATION") != "thread"


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


def _is_memory(e: BaseException) -> bool:
    # C++ libraries (clingo) report a failed allocation as RuntimeError('std::bad_alloc')
    return isinstance(e, MemoryError) or "bad_alloc" in str(e)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this child when its parent ends (Linux ``PR_SET_PDEATHSIG``).

    SIGTERM or SIGHUP (``timeout``, systemd, a closed terminal) end the
    parent without its clean-up, and the child would go on to its own
    deadline (measured: 27 s later still at 93 % CPU). If the parent is
    already gone by the time this runs, the child leaves at once.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's own kill at the deadline remains
        pass
    if os.getppid() != parent:
        os._exit(1)


def _child(w: int, fn, args, memory) -> None:
    # what fails in the child reaches the user as the parent's one line: an error Python can only print
    # (a generator closed while memory ran out: "Exception ignored in ... MemoryError") stays unprinted
    sys.unraisablehook = lambda _unraisable: None
    try:
        limit_memory(memory)
        out = ("ok", fn(*args))
    except BaseException as e:  # noqa: BLE001 - sent to the parent, re-raised there
        out = ("memory", None) if _is_memory(e) else ("raise", e)
    try:
        data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", None))
    except Exception as e:  # noqa: BLE001 - an exception or result that does not pickle
        data = pickle.dumps(("error", f"{type(e).__name__}: {e}"))
    view = memoryview(data)
    while view:
        view = view[os.write(w, view):]


def run_bounded(fn: Callable[..., Any], args: tuple = (), timeout: float = 10.0,
                memory: int = CHILD_MEMORY_BYTES) -> Any:
    """``fn(*args)`` in a forked child; StepTimeout, StepMemory, or the child's own exception."""
    r, w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            # the parent's objects are the child's to read, never its garbage collector's to walk: a
            # worker that had run threads (execnet, Spark's py4j, a page's background job) left objects
            # whose traversal in the child ended in "Fatal Python error: Segmentation fault …
            # Garbage-collecting" (CI, in clingo's and pyDatalog's children); frozen, the child's
            # collections see only what the child made (gc.freeze is what the gc docs advise before fork)
            gc.freeze()
            _die_with_parent(parent)
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child too, quietly
            _child(w, fn, args, memory)
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    done = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                raise StepTimeout(f"did not finish within {timeout:g} s and was stopped")
            b = os.read(r, 1 << 20)
            if not b:
                break
            chunks.append(b)
        done = True
    finally:
        if not done:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - it ended on its own just now
                pass
        _, status = os.waitpid(pid, 0)
        os.close(r)
    if not chunks:
        how = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit code {os.WEXITSTATUS(status)}")
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
            # SIGABRT, SIGSEGV: the library crashed on its input (a Rust reader aborts on an
            # allocation the memory cap refused); SIGKILL is the system's out-of-memory killer
            raise StepCrashed(f"stopped: the step crashed ({how})")
        raise StepMemory(f"stopped: it ended without an answer ({how}: out of memory or killed)")
    try:
        status, payload = pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - cut off mid-answer (killed by the system)
        raise StepMemory("stopped: it ended without a whole answer (out of memory or killed)") from None
    if status == "memory":
        raise StepMemory(f"needed more than {memory // (1024 * 1024):,} MiB of memory and was stopped")
    if status == "raise":
        raise payload
    if status == "error":
        raise RuntimeError(payload)
    return payload
