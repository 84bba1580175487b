"""docs/interop.md cannot drift: every export format has its command there,
and the FHIR and CSV examples are what the code prints today."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cptkg import exports as exporters
from cptkg import pipeline as batch

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "interop.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


@pytest.mark.parametrize("name", list(exporters.formats()))
def test_every_export_format_has_a_command_in_the_docs(name):
    assert f"cptkg export --format {name}" in DOC


def test_fhir_example_claim_in_the_docs_is_the_test_fixture():
    claim = json.loads(_blocks("json")[0])
    assert claim == json.loads((ROOT / "tests" / "data" / "interop" / "fhir-claim.json").read_text())


def test_fhir_claim_response_in_the_docs_is_todays_output():
    shown = json.loads(_blocks("json")[1])
    out = batch.run(ROOT / "tests" / "data" / "interop" / "fhir-claim.json", output="fhir", created=shown["created"])
    assert json.loads(out.text) == shown


def test_csv_example_output_in_the_docs_is_todays_output():
    data = ROOT / "tests" / "data" / "interop"
    out = batch.run(data / "claims.csv", output="csv", history=data / "history.csv", progress=False)
    assert out.text.strip() in DOC
    assert out.summary in DOC
