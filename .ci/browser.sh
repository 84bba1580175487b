#!/usr/bin/env bash
# Real-browser test of the explorer (tests/test_browser.py, test_browser_hostile.py):
# Playwright drives Debian's Chromium; no browser is downloaded (never
# `playwright install`). Provisions Chromium with apt when it is missing
# (.ci/provision.sh). `scripts/test.sh --full` (CI) ends with this walk. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/provision.sh
.venv/bin/python -m pytest -q -p no:cacheprovider -m browser tests "$@"  # every test marked browser (tests/test_browser*.py)
