#!/usr/bin/env bash
# Export and interoperability suite, by hand: RDF/OWL/SHACL/graph exports read back by
# independent libraries (pyoxigraph, owlready2 + HermiT, networkx, fhir.resources),
# SPARQL query guard, claim readers and writers. The tests are part of the fast
# suite; what they need beyond pip is a Java runtime for HermiT (.ci/provision.sh),
# without which the HermiT tests skip. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/provision.sh
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider tests/test_export_owl.py tests/test_export_roundtrip.py \
  tests/test_export_other_formats.py tests/test_export_cli.py tests/test_interop_docs.py tests/test_query.py \
  tests/test_claim_formats.py "$@"
