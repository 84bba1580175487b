"""The limits every input path is held to, stated once (docs/security.md).

``cptkg check`` (cptkg.pipeline, cptkg.claims.models), ``cptkg batch``
(cptkg.judge.batch), the readers, ``cptkg query`` and the explorer import
their bounds from here, so a claim refused by one is refused by all, with
the same words.
"""
from __future__ import annotations

# -- one claim: what the rule engine is asked to judge at once
MAX_LINES_PER_CLAIM = 1000          # lines of one claim (cptkg.claims.models.Claim)
MAX_HISTORY_PER_CLAIM = 10_000      # billed history entries that apply to one claim
# same-date pairs of billed entries (lines and history) one claim makes the
# exclusion rules consider: n entries on one date make n*(n-1) ordered pairs
MAX_SAME_DATE_PAIRS = 10_000        # about 100 entries on one date; a real claim has a handful
# the device-history rules (a later implant supersedes an earlier one, a refill between two
# reprogrammings) join each line with pairs of the patient's history entries that bill one of
# the pack's codes: lines x entries^2. Measured (1 line, n implants in history): n = 1,000
# checks in 0.2 s and explains in 10.6 s (370 MiB + a 439 MiB evaluation); n = 2,000 explains
# past the 1 GiB evaluation cap; n = 10,000 grounded for minutes. 1 million allows 1 line with
# 1,000 such entries, 10 lines with 316, 100 with 100 (20 years of refills every month: 240).
MAX_HISTORY_COMBINATIONS = 1_000_000

# -- files
# the bytes the files of a family pack's folders hold together (cptkg.knowledge.pack.check_pack_files,
# from their sizes, before any is parsed). Reading and checking a pack costs about 0.25 ms a triple
# (rdflib's parser, the SHACL check): a 52 MB Turtle file ran lint past 300 s and 7.9 GB (an audit).
# The pump pack is 0.35 MB; 8 MiB is over twenty times that, a pack loaded in about a minute.
MAX_PACK_BYTES = 8 * 1024 * 1024
MAX_CSV_COLUMNS = 1000              # columns of a claim or history CSV (the format has 9)
MAX_CSV_ROWS = 1_000_000            # rows of a claim CSV for cptkg check
MAX_JSON_DIGITS = 18                # digits of a number in claim JSON (line numbers and units are far below)
# segments of an X12 837P file (cptkg.io.readers.x12), counted before pyx12 validates it: pyx12 walks
# about 8,000 segments a second here (10,000 two-line claims, 140,000 segments: 18 s), so 250,000 is about
# half a minute, some 18,000 claims; a practice's daily 837P batch is far smaller
MAX_X12_SEGMENTS = 250_000
# characters of one segment: the longest an 837P allows is HI, about 2,090 with every element at its maximum
# length (pyx12's map and data element dictionary); a segment of megabytes would be split into millions of elements
MAX_X12_SEGMENT_CHARS = 4096

# -- RDF and SPARQL (cptkg query, --data, the explorer's console)
MAX_RDF_BYTES = 20 * 1024 * 1024    # --data files
RDF_PARSE_SECONDS = 20.0
QUERY_SECONDS = 10.0
CHILD_MEMORY_BYTES = 1024 * 1024 * 1024  # address space a query or parse may add (RLIMIT_AS)

# -- rule evaluation on clingo (cptkg.engines.clingo): each runs in a forked child killed at its time limit
EVALUATION_MEMORY_BYTES = 2 * 1024 * 1024 * 1024  # address space one evaluation may add (RLIMIT_AS in the child)

# -- cptkg ask (and the explorer's Questions): every claim one question judges, together
ASK_SECONDS = 30.0

# -- cptkg batch: the whole run (--time-limit); past it the engine is interrupted and nothing is written
BATCH_SECONDS = 3600.0              # 1 M lines take about a minute on 2 cores (bench/batch_bench.py)

# -- every file a command reads is read with a cap (at most the cap plus one byte:
# -- standard input, FIFOs and devices included; cptkg.files.read_capped)
# 1,000,000 rows (MAX_CSV_ROWS) of devtools/claimgen's claim CSV are 57 MB; larger files are cptkg batch's,
# which streams them. Reading and parsing 92 MB of claim JSON peaks at 0.5 GB; judging keeps every result
# (20,000 claims, 6.8 MB, with --json: 0.96 GB peak), and running out of memory there is one line, exit 2
MAX_CLAIM_FILE_BYTES = 64 * 1024 * 1024     # check and explain: CLAIMS (a file or '-') and --history
# claims one check or explain run judges: it keeps every claim's result until it writes them (about 15 KB a
# claim; 100,000 one-line claims from a 4.3 MB CSV peaked at 1.5 GB, and a file near the byte cap would have
# needed some 20 GB: an attack audit). A larger file is cptkg batch's, which streams it.
MAX_CHECK_CLAIMS = 20_000
MAX_ENCOUNTER_BYTES = 1024 * 1024           # infer: one encounter documents one visit (examples/encounter.json: 220 bytes)
MAX_QUERY_FILE_BYTES = 4 * 100_000          # query --file: 100,000 characters (MAX_QUERY_CHARS) of UTF-8

# -- option values
# --time-limit (seconds one claim may take; default 30) and every other time limit: finite, positive,
# at most an hour (past it, a claim is not slow but stuck; and float('inf') or 1e10 overflowed the engines' timers)
MIN_TIME_LIMIT_SECONDS = 0.001
MAX_TIME_LIMIT_SECONDS = 3600.0

# -- cptkg batch on DuckDB
DUCKDB_MEMORY = "1200MB"            # SET memory_limit (CPTKG_DUCKDB_MEMORY overrides); past it DuckDB spills to disk
BATCH_CHUNK_LINES = 1_000_000       # cptkg batch on DuckDB judges a larger file in parts of whole claims of about
                                    # this many lines: time grows with the lines, memory stays that of one part

# -- pair edits of one code pair (edit files and the importer): the claim rules join each same-date
# pair of services with every edit of that pair; a pair is in force over a few periods, not thousands
MAX_EDITS_PER_PAIR = 100

# -- edit tables (cptkg edits import) and edit files (--edits); cptkg.knowledge.edits (cms_import, files).
# The importer holds what it writes to the loader's rules, so both read these.
# a file to import: CMS splits a practitioner PTP table in parts under Excel's 1,048,576 rows; a
# 500,000-row part is 32 MB as text, 17 MB as .xlsx
MAX_EDIT_TABLE_BYTES = 256 * 1024 * 1024
# lines of a text table and cells of one of its lines: each line costs a Python step (256 MB of
# blank lines took minutes), each cell a list slot (32 MB of tabs on one line: 5 s, 607 MB)
MAX_EDIT_TABLE_LINES = 2_000_000
MAX_EDIT_TABLE_COLUMNS = 1_000      # CMS tables have 4 to 7
# a cell of an edit table and a value (literal) or name (IRI) of an edit file: CMS rationales are
# under 100 characters, codes 5, dates 8; rdflib takes minutes over a literal of megabytes
MAX_EDIT_TEXT_CHARS = 1_000
# ont:maxUnits: a published MUE is at most a few thousand units; nine digits keeps it (and the
# claim's units it is compared with) inside the 32-bit integers of clingo and DuckDB's INTEGER
MAX_MUE_UNITS = 999_999_999
MAX_SOURCE_ROW = 2_147_483_647      # ont:sourceRow, a row number (32-bit, as above)
# an edit file's triples about other things than edits (the table's ont:Source: 4 triples when
# imported) join the KB graph through rdflib and its SHACL check: 10,000 take about a second
MAX_EDIT_OTHER_TRIPLES = 10_000
MAX_EDIT_FILE_BYTES = 2 * 1024 ** 3  # an --edits file (a 500,000-row PTP table as Turtle is about 160 MB)
# .xlsx (a zip of XML parts), checked before python-calamine reads it: calamine fills every cell
# of the used range, so cells at A1 and XFD1048576 asked it for 549 GB (abort); it reserves
# what the shared-strings part claims to hold, so a 1.7 KB file claiming 10^14 strings aborted
MAX_XLSX_PARTS = 1_000              # zip members (an Excel workbook has about a dozen)
MAX_XLSX_UNPACKED_BYTES = 1024 ** 3  # all parts unpacked (a 500,000-row sheet is 203 MB of XML)
MAX_SHEET_CELLS = 10_000_000        # rows x columns of the first sheet's used range (1,048,576 x 7 = 7.3 M)
MAX_SHARED_STRINGS = 2_000_000      # distinct texts of the workbook (a PTP table has some thousands)
MAX_EXCEL_CELL_CHARS = 32_767       # Excel's own limit on a cell's text: a longer one was not written by Excel
# calamine reads the workbook in a forked child (cptkg.bounded): what no check above foresaw
# (a zip that unpacks differently for Rust, another part of the format) stops there. A
# 500,000-row sheet (3.5 M cells) takes 4.5 s there and needs 300-400 MiB of address space
XLSX_READ_SECONDS = 120.0
XLSX_READ_MEMORY_BYTES = 2 * 1024 ** 3  # address space the read may add (RLIMIT_AS in the child)
# a quarterly release as downloaded (.zip, issue 22), held to the bounds of a workbook before any
# member is unpacked: CMS zips hold a table in a few part files beside a readme or a PDF
MAX_RELEASE_ZIP_MEMBERS = 1_000
# all the tables of one import (the members of its zips, as their headers declare them, and the
# files given), unpacked: four 500,000-row PTP parts as text are about 130 MB
MAX_EDIT_IMPORT_BYTES = 1024 ** 3


def claim_size_problem(lines: int, history: int, same_date_pairs: int, family_entries: int = 0) -> str | None:
    """Why a claim is too large for the engine, in billing words; None when it is not.

    ``family_entries``: the billed entries, the claim's lines and its
    patient's history, that bill one of the pack's codes (what the
    device-history rules join in pairs, for each line).
    """
    if lines > MAX_LINES_PER_CLAIM:
        return f"has {lines} lines; at most {MAX_LINES_PER_CLAIM:,} lines are judged in one claim (split the claim)"
    if history > MAX_HISTORY_PER_CLAIM:
        return (f"has {history} history entries for its patient; at most {MAX_HISTORY_PER_CLAIM:,} are "
                f"considered (give only the history that can matter)")
    if same_date_pairs > MAX_SAME_DATE_PAIRS:
        return (f"bills {same_date_pairs} pairs of services on the same date; at most {MAX_SAME_DATE_PAIRS:,} "
                f"are judged in one claim (split the claim by date)")
    if lines * family_entries * family_entries > MAX_HISTORY_COMBINATIONS:
        return (f"has {_n(lines, 'line')} and {_n(family_entries, 'entry', 'entries')} of the code family (its "
                f"lines and its patient's history), which the device-history rules join as "
                f"{lines * family_entries * family_entries} combinations; at most {MAX_HISTORY_COMBINATIONS:,} are "
                f"judged in one claim (give only the history that can matter, or split the claim)")
    return None


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"

# the rules that hold for every claim (they read no claim: exclusion pairs, code inclusion) are evaluated once
# per pack and engine, with the first request; they get that request's time limit, but at least this many
# seconds: a tiny --time-limit would otherwise stop them cold and blame the pack (and a pack rule that
# multiplies out ran 64 s under --time-limit 1 when they had 60 s: an audit)
MIN_STATIC_SECONDS = 10.0
