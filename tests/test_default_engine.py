"""clingo is the default engine, and ``--engine pydatalog`` gives the same
output as the default on the README's examples and on the rule cases."""
import json

import pytest
from click.testing import CliRunner

from cptkg import engines
from cptkg.faces.cli import main
from cptkg.knowledge.pack import REPO_ROOT as ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def _run(args, monkeypatch):
    monkeypatch.delenv("CPTKG_ENGINE", raising=False)
    r = CliRunner().invoke(main, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, r.stdout, r.stderr


def test_the_default_engine_is_clingo(monkeypatch):
    monkeypatch.delenv("CPTKG_ENGINE", raising=False)
    from cptkg import Session

    assert engines.DEFAULT == "clingo" and Session.open(environ={}).engine_object().name == "clingo"
    assert {"clingo", "pydatalog"} <= set(engines.names())


def _commands(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    if "services" in json.dumps(data) and "lines" not in data:
        return [["infer", str(path), "--json"], ["infer", str(path), "--json", "--explain"]]
    return [["check", str(path), "--json"], ["check", str(path), "--json", "--explain"]]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_engine_pydatalog_and_the_default_print_the_same_json_for_each_example(path, monkeypatch):
    for args in _commands(path):
        default = _run(args, monkeypatch)
        ref = _run(args + ["--engine", "pydatalog"], monkeypatch)
        assert ref == default, args
        json.loads(default[1])  # stdout is JSON (a bad claim of a list is reported on stderr)


@pytest.mark.slow
def test_engine_pydatalog_and_the_default_report_the_rule_cases_alike(monkeypatch):
    default = _run(["test"], monkeypatch)
    ref = _run(["test", "--engine", "pydatalog"], monkeypatch)
    assert default[0] == ref[0] == 0
    assert default == ref
