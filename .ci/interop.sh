#!/usr/bin/env bash
# Export and interoperability suite: RDF/OWL/SHACL/graph exports read back by
# independent libraries (pyoxigraph, owlready2 + HermiT, networkx, fhir.resources),
# SPARQL query guard, claim readers and writers. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
  # HermiT (bundled with owlready2) needs a Java runtime
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

# The interop tests themselves are part of the fast suite (scripts/test.sh);
# this script only provides what they need beyond pip: a Java runtime, so the
# HermiT tests run instead of skipping.
java -version 2>&1 | head -1
