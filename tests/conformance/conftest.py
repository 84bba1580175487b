"""Per-group pass counts for the conformance run, printed at the end.

The ids of the conformance tests start with their suite group
(``basic/...``); the summary counts outcomes per group so the figures in
docs/conformance.md can be checked against a run.
"""
from __future__ import annotations

from collections import Counter, defaultdict

_outcomes: dict[str, Counter] = defaultdict(Counter)


def pytest_runtest_logreport(report):
    if "test_conformance.py::test_case[" not in report.nodeid:
        return
    group = report.nodeid.split("[", 1)[1].split("/", 1)[0]
    if report.when == "call":
        kind = "xfailed (excluded)" if hasattr(report, "wasxfail") and report.skipped else report.outcome
        if hasattr(report, "wasxfail") and report.passed:
            kind = "xpassed"
        _outcomes[group][kind] += 1
    elif report.when == "setup" and report.skipped:
        _outcomes[group]["skipped"] += 1


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    terminalreporter.section("datalog-conformance per group")
    for group in sorted(_outcomes):
        c = _outcomes[group]
        total = sum(c.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
        terminalreporter.write_line(f"{group:10} {c['passed']}/{total} passed  ({parts})")


def pytest_ignore_collect(collection_path, config):
    """Collect the conformance suite only when asked for.

    Building its parameters loads ~35 s of YAML, which would slow every
    fast run even though ``-m "not slow"`` deselects the cases afterwards.
    It is left out only when the mark expression deselects ``slow`` (the
    fast suite); a run that keeps the slow tests (``-m "not browser"`` in
    CI, ``-m slow``, no ``-m`` at all) or names the file collects it.
    """
    from pathlib import Path

    if collection_path.name != "test_conformance.py":
        return None
    here = {collection_path.resolve(), collection_path.parent.resolve()}
    explicit = any(Path(str(a).split("::")[0]).resolve() in here for a in config.args)
    markexpr = config.getoption("markexpr") or ""
    if explicit or "not slow" not in markexpr:
        return None
    return True
