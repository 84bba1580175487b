#!/usr/bin/env bash
# Export and interoperability suite: RDF/OWL/SHACL/graph exports read back by
# independent libraries (pyoxigraph, owlready2 + HermiT, networkx, fhir.resources),
# SPARQL query guard, claim readers and writers. Idempotent; < 5 min.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
  # HermiT (bundled with owlready2) needs a Java runtime
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

PY=${PYTHON:-python3}
if [ -z "${VIRTUAL_ENV:-}" ]; then
  VENV=${INTEROP_VENV:-.venv}
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
fi
python -m pip install -q -e '.[test]'

python -m pytest -q -p no:cacheprovider \
  tests/test_export_roundtrip.py tests/test_export_owl.py tests/test_export_other_formats.py \
  tests/test_export_cli.py tests/test_claim_shapes.py tests/test_query.py tests/test_claim_formats.py \
  tests/test_interop_docs.py \
  --doctest-modules cptkg/exporters cptkg/readers/fhir.py
