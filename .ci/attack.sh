#!/usr/bin/env bash
# Fault and attack suite (issue 16), by hand: decision-log privacy and the salt race,
# spreadsheet-safe CSV, markup escaping, input bounds (huge numbers, deep
# nesting, wide files, slow RDF parses, memory-hungry SPARQL), batches that
# cannot sink (oversized claims, a batch killed mid-write), and a fuzz run of
# every reader with hostile strings (CPTKG_FUZZ_EXAMPLES per reader, default
# 2,000); and (issue 21) time limits that stop the work, the join limit, batch's
# time limit, the bounded fix search, edit tables read with bounds, capped
# inputs, outputs that fail cleanly, hostile packs and ids in messages; and (issue 22) real files as
# their publishers and senders lay them out: CMS edit tables, FHIR from EHRs, 837P. The browser walk with hostile values is in .ci/browser.sh.
# `scripts/test.sh --full` (CI) runs these tests with everything else; this
# script runs this area alone, fast and slow tests. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh; ensure_venv test
export CPTKG_FUZZ_EXAMPLES="${CPTKG_FUZZ_EXAMPLES:-2000}"
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider -m "slow or not slow" \
  tests/test_attack_log.py tests/test_attack_spreadsheet.py tests/test_attack_markup.py \
  tests/test_attack_inputs.py tests/test_attack_batch.py tests/test_attack_fuzz_readers.py \
  tests/test_attack_bounded.py tests/test_attack_edit_tables.py tests/test_attack_outputs.py \
  tests/test_attack_inputs_bounded.py tests/test_attack_claims_and_packs.py \
  tests/test_attack_real_files.py tests/test_attack_x12_files.py tests/test_input_detection.py "$@"
