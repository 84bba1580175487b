"""The examples in the package's docstrings are run: an example that no longer holds is a docstring that
lies about its function (two did, unnoticed: the examples sat on the docstring's first line, and nothing
ran them)."""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cptkg"
WITH_EXAMPLES = sorted(".".join(p.relative_to(PKG.parent).with_suffix("").parts)
                       for p in PKG.rglob("*.py") if ">>> " in p.read_text(encoding="utf-8"))


def test_some_modules_have_examples():
    assert len(WITH_EXAMPLES) >= 10, WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_every_docstring_example_of_the_module_holds(name):
    module = importlib.import_module(name.removesuffix(".__init__"))
    failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                    verbose=False, report=True)
    assert tried and not failed, f"{name}: {failed} of {tried} examples fail (run: python -m doctest -v)"
