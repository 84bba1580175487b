"""How many examples a property test draws.

The counts written in the tests are what every deterministic run draws (the
fast suite and CI). ``bash scripts/test.sh --explore`` sets
``CPTKG_FUZZ_SCALE`` (default there: 10) with the ``explore`` Hypothesis
profile, so the same properties draw that many times more examples, from new
random seeds.
"""
from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("CPTKG_FUZZ_SCALE", "1")))


def examples(n: int) -> int:
    """``n`` examples, times the exploration scale.

    >>> examples(40) == 40 * SCALE
    True
    """
    return n * SCALE
