"""The columns of a claim file and of a history file, and the header mistake that would change verdicts.

A column cptkg does not read is left alone (a claim export carries names, charges and notes). One whose
name is a near miss of a column cptkg reads and the file lacks (``modifier`` for ``modifiers``,
``unit`` for ``units``) is refused: read as absent, its values would silently be none (no modifier, one
unit) and a line denied for a KD the user sent. Written once for ``cptkg check``'s CSV reader and
``cptkg batch``, so both refuse the same headers in the same words.
"""
from __future__ import annotations

import difflib
import re

CLAIM_REQUIRED = ("claim_id", "patient_id", "line", "code", "date_of_service", "provider_id", "provider_role")
CLAIM_OPTIONAL = ("units", "modifiers", "route")
HISTORY_REQUIRED = ("patient_id", "code", "date_of_service")
HISTORY_OPTIONAL = ("provider_id",)
#: how alike a column name must be to a column cptkg reads to be taken for a misspelling of it
NEAR = 0.8


def misnamed(header: list[str], known: tuple[str, ...]) -> str | None:
    """Why the header cannot be read as it stands (a near miss of a column it lacks), or None.

    ``header`` is the file's column names, stripped and lower-cased; ``known`` every column the file kind
    has. A name read as the column it misspells changes nothing a user could see, so it is named."""
    absent = [k for k in known if k not in header]
    for name in header:
        if not name or name in known:
            continue
        bare = re.sub(r"[\s_-]*[0-9]+$", "", name)  # modifier1, modifier_2: numbered copies of one column
        best = max(absent, key=lambda k: difflib.SequenceMatcher(None, bare, k).ratio(), default=None)
        if best is not None and difflib.SequenceMatcher(None, bare, best).ratio() >= NEAR:
            extra = (" (one column holding the line's modifiers, separated by ';', '|', ',' or spaces)"
                     if best == "modifiers" else "")
            return (f"column {name!r} is not a column cptkg reads; did you mean {best!r}{extra}? "
                    f"Rename it: read as it is, its values would be taken as not given")
    return None
