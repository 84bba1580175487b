#!/usr/bin/env bash
# Set up everything on a fresh machine (Python 3.11 + pip) and run the tests.
#   bash scripts/test.sh           fast suite (a few minutes)
#   bash scripts/test.sh --full    everything CI runs, slow suites included
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
if [ "${1:-}" = "--full" ]; then full=1; shift; fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"
if [ "$full" = 1 ]; then
  for extra in .ci/*.sh; do
    [ -e "$extra" ] || continue
    echo "== $extra"
    bash "$extra"
  done
  python -m pytest -q -m "not slow and not browser" "$@"  # slow and browser suites ran in .ci/*.sh
else
  python -m pytest -q -m "not slow and not browser" "$@"
fi
