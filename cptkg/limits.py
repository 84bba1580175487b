"""The limits every input path is held to, stated once (README, Security).

``cptkg check`` (cptkg.pipeline, cptkg.judge.input), ``cptkg batch``
(cptkg.judge.batch), the readers, ``cptkg query`` and the explorer import
their bounds from here, so a claim refused by one is refused by all, with
the same words.
"""
from __future__ import annotations

# -- one claim: what the rule engine is asked to judge at once
MAX_LINES_PER_CLAIM = 1000          # lines of one claim (cptkg.judge.input.Claim)
MAX_HISTORY_PER_CLAIM = 10_000      # billed history entries that apply to one claim
# same-date pairs of billed entries (lines and history) one claim makes the
# exclusion rules consider: n entries on one date make n*(n-1) ordered pairs
MAX_SAME_DATE_PAIRS = 10_000        # about 100 entries on one date; a real claim has a handful

# -- files
MAX_CSV_COLUMNS = 1000              # columns of a claim or history CSV (the format has 9)
MAX_CSV_ROWS = 1_000_000            # rows of a claim CSV for cptkg check
MAX_JSON_DIGITS = 18                # digits of a number in claim JSON (line numbers and units are far below)

# -- RDF and SPARQL (cptkg query, --data, the explorer's console)
MAX_RDF_BYTES = 20 * 1024 * 1024    # --data files
RDF_PARSE_SECONDS = 20.0
QUERY_SECONDS = 10.0
CHILD_MEMORY_BYTES = 1024 * 1024 * 1024  # address space a query or parse may add (RLIMIT_AS)

# -- cptkg batch on DuckDB
DUCKDB_MEMORY = "1200MB"            # SET memory_limit (CPTKG_DUCKDB_MEMORY overrides); past it DuckDB spills to disk


def claim_size_problem(lines: int, history: int, same_date_pairs: int) -> str | None:
    """Why a claim is too large for the engine, in billing words; None when it is not."""
    if lines > MAX_LINES_PER_CLAIM:
        return f"has {lines} lines; at most {MAX_LINES_PER_CLAIM:,} lines are judged in one claim (split the claim)"
    if history > MAX_HISTORY_PER_CLAIM:
        return (f"has {history} history entries for its patient; at most {MAX_HISTORY_PER_CLAIM:,} are "
                f"considered (give only the history that can matter)")
    if same_date_pairs > MAX_SAME_DATE_PAIRS:
        return (f"bills {same_date_pairs} pairs of services on the same date; at most {MAX_SAME_DATE_PAIRS:,} "
                f"are judged in one claim (split the claim by date)")
    return None
