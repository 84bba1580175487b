"""Edit files (``--edits``): payer edit tables as RDF, usable at the size payers publish them.

A quarterly practitioner PTP table has hundreds of thousands of rows; as
``cptkg edits import`` writes it, 500,000 pair edits are 5 million triples
and 160 MB of Turtle. Measured on this project's 2-core machine: rdflib's
Turtle parser reads about 17,000 triples a second (five minutes for such a
file), and even pyoxigraph's Rust parser, once each of the 5 million triples
is handed to Python, takes over half a minute. So an edit file is kept as
an **edit table**: one row per edit, one column per property (the RDF in
columnar form), held in Arrow and cached as Parquet under the file's SHA-256:

- ``cptkg edits import`` writes the table beside the Turtle it writes (from
  the rows it has just checked), so an imported table is usable at once;
- any other edit file is parsed once (pyoxigraph for Turtle and N-Triples:
  no fetching, no imports; JSON-LD and RDF/XML through the guarded rdflib
  parser of :mod:`cptkg.knowledge.rdf_safe`) and its table cached;
- the cache is data, never a pickle: a Parquet file named and stamped with
  the edit file's SHA-256 and this module's table version, written
  atomically, safe to delete; a file that does not match is ignored.

Every load checks every edit against the edit model's constraints
(``shp:PairEdit`` / ``shp:UnitEdit`` of the core ``shapes.ttl``) with Arrow's
vectorised kernels (:func:`table_problems`): pySHACL cannot check five
million triples in seconds, so the same constraints are written once more
here, and ``tests/test_edit_files.py`` keeps the two in agreement. A file
with a bad edit is refused whole, naming the file, the edit (its table row)
and the constraint. The triples of the file about anything but an edit (the
table's ``ont:Source``) join the KB graph and its SHACL check.

Bounds (cptkg.limits; issue 21): the file's size; every IRI and literal at
most MAX_EDIT_TEXT_CHARS (a longer one is refused as it is read, before it
reaches rdflib or a message); integers in ASCII digits (``str.isdigit`` also
takes "²" and other scripts' digits) and in the ranges the rule engines hold;
dates as YYYY-MM-DD in ASCII digits; at most MAX_EDIT_OTHER_TRIPLES triples
about other things than edits. ``cptkg edits import`` holds what it writes to
:func:`table_problems` before keeping it, so an imported file always loads.

Releases (issue 22): a table's ``ont:Source`` (one per file read: each part
file of a quarterly zip has its own) may state the release it belongs to,
``ont:release "2026Q2"`` (a short label) and ``ont:releaseDate`` (the first day
the release is in force, an xsd:date); both or neither, at most one of each.
:func:`table_sources` checks them and :class:`ImportedEdits` carries, per
edit, its release, the file its source names and its row; how several
releases loaded together are combined is :mod:`cptkg.knowledge.edits.releases`.
A file that states no release loads exactly as before.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDFS, SKOS, XSD

from cptkg import limits
from cptkg.knowledge.namespace import ONT
from cptkg.limits import MAX_EDIT_FILE_BYTES  # the largest edit file read (module attribute: tests lower it)
#: problems listed before the rest are counted
MAX_PROBLEMS = 20
#: bump when the table layout or its checks change: older cached tables are then ignored
TABLE_VERSION = "edit-table-1"

ONT_NS = str(ONT._NS)
PAIR, UNIT = "PairEdit", "UnitEdit"
_TYPE, _SOURCE = str(RDF.type), str(DCTERMS.source)
_INTEGER_TYPES = {str(XSD[t]) for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger",
                                         "positiveInteger", "negativeInteger", "nonPositiveInteger",
                                         "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte")}
_STRING = ("", str(XSD.string))
#: the edit model's properties, by local name, and what their values are
IRI_PROPS = {"column1", "column2", "editKind", "editScope"}
INT_PROPS = {"sourceRow", "maxUnits"}
DATE_PROPS = {"effectiveDate", "deletionDate"}
STRING_PROPS = {"column1Code", "column2Code", "modifierIndicator", "rationale", "editCode", "adjudicationIndicator"}
EDIT_PROPS = IRI_PROPS | INT_PROPS | DATE_PROPS | STRING_PROPS
CODE_PATTERN = r"^[0-9A-Z]{5}$"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # ASCII digits: \d takes any script's
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")  # xsd:integer's lexical form, ASCII digits

#: an edit table source's release (issue 22): its label and the first day it is in force
RELEASE, RELEASE_DATE = ONT_NS + "release", ONT_NS + "releaseDate"
#: the longest release label read ("2026Q2", "v32.1"): a label, not a text
MAX_RELEASE_CHARS = 40

#: FORMATS: file suffix -> RDF format of an edit file
FORMATS = {".ttl": "turtle", ".nt": "nt", ".jsonld": "json-ld", ".rdf": "xml", ".owl": "xml"}


class EditFileError(ValueError):
    """An edit file that cannot be used; the message names the edit and the constraint."""


def int_range(name: str) -> tuple[int, int, str]:
    """(least, most, what) an integer property holds: 32-bit, as clingo's and DuckDB's integers."""
    if name == "maxUnits":
        return 0, limits.MAX_MUE_UNITS, "a number of units"
    return 1, limits.MAX_SOURCE_ROW, "a row number"


def _shown(value: str, width: int = 40) -> str:
    """A value for a message: quoted, and cut (its length said) when long."""
    return repr(value) if len(value) <= width else f"{value[:width]!r}... ({len(value):,} characters)"


def _term_value(value) -> str:
    """A value as a message shows it: an IRI of the KB's namespaces by its local name."""
    return constant(value) if isinstance(value, str) and "://" in value else str(value)


def _term_name(iri: str) -> str:
    for ns, prefix in ((ONT_NS, "ont:"), ("http://www.w3.org/2000/01/rdf-schema#", "rdfs:"),
                       (str(DCTERMS), "dct:"), ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdf:")):
        if iri.startswith(ns):
            return prefix + iri[len(ns):]
    return _shown(iri, 60)


def term_problem(value: str) -> str | None:
    """Why an IRI or literal is too long for an edit file (MAX_EDIT_TEXT_CHARS); None when it is not."""
    if len(value) <= limits.MAX_EDIT_TEXT_CHARS:
        return None
    return (f"is {len(value):,} characters long (it starts {value[:20]!r}); a value or name in an edit file is at "
            f"most {limits.MAX_EDIT_TEXT_CHARS:,} characters")


@dataclass
class EditTable:
    """An edit file's edits, one row per edit (see the module docstring)."""

    #: "@id", "@type" (PairEdit/UnitEdit), "@sources" (list of IRIs) and one column per property
    columns: dict[str, list]
    #: the file's triples about anything but an edit, as N-Triples (its ont:Source)
    other_triples: str = ""
    #: problems met while reading triples (a property given twice, a wrong datatype), by row index
    read_problems: dict[int, list[str]] = field(default_factory=dict)
    #: the same columns as Arrow arrays, when the table was read from its cache
    arrow: object = None

    def __len__(self) -> int:
        return len(self.columns.get("@id", []))


def cache_file(sha256: str) -> Path:
    from cptkg.knowledge.kb_cache import cache_dir

    return cache_dir() / f"{TABLE_VERSION}-{sha256}.parquet"


def write_cache(table: EditTable, sha256: str) -> Path | None:
    """Write ``table`` as the cached table of the edit file whose SHA-256 is ``sha256``.

    Atomic (a temporary file renamed); a failure costs the next load a parse, nothing else.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = cache_file(sha256)
    arrays, names = [], []
    for name, values in table.columns.items():
        if name == "@sources":
            arrays.append(pa.array(values, type=pa.list_(pa.string())))
        elif name in INT_PROPS:
            arrays.append(pa.array(values, type=pa.int64()))
        else:
            arrays.append(pa.array(values, type=pa.string()))
        names.append(name)
    meta = {b"cptkg": json.dumps({"version": TABLE_VERSION, "sha256": sha256}).encode(),
            b"cptkg_other_triples": table.other_triples.encode("utf-8")}
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".edit-table-", suffix=".tmp", dir=target.parent)
        os.close(fd)
        pq.write_table(pa.table(arrays, names=names).replace_schema_metadata(meta), tmp)
        os.replace(tmp, target)
        return target
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return None


def _read_cache(sha256: str) -> EditTable | None:
    """The cached table for ``sha256``, or None (absent, unreadable, or another file's)."""
    target = cache_file(sha256)
    if not target.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        t = pq.read_table(target)
        meta = t.schema.metadata or {}
        stamp = json.loads(meta.get(b"cptkg", b"{}"))
        if stamp != {"version": TABLE_VERSION, "sha256": sha256}:
            return None
        if not {"@id", "@type", "@sources"} <= set(t.column_names):
            return None
        cols = {name: (t.column(name).to_pylist() if t.column(name).null_count < t.num_rows else [None] * t.num_rows)
                for name in t.column_names}
        return EditTable(cols, meta.get(b"cptkg_other_triples", b"").decode("utf-8"), arrow=t)
    except Exception:  # noqa: BLE001 - a damaged cache is a cache miss, never an error
        return None


def _iso(value) -> str | None:
    return None if value is None else str(value)


# ------------------------------------------------------------------ parsing

def _triples(data: bytes, fmt: str):
    """(subject, predicate, object) with each term as (kind, value, datatype, language)."""
    if fmt in ("turtle", "nt"):
        import pyoxigraph as ox

        named, blank = ox.NamedNode, ox.BlankNode
        try:
            for s, p, o, _ in ox.parse(data, format=ox.RdfFormat.TURTLE if fmt == "turtle" else ox.RdfFormat.N_TRIPLES,
                                       base_iri="urn:cptkg:untrusted:"):
                st = ("iri" if type(s) is named else "bnode", s.value, "", "")
                if type(o) is named:
                    ot = ("iri", o.value, "", "")
                elif type(o) is blank:
                    ot = ("bnode", o.value, "", "")
                else:
                    ot = ("literal", o.value, o.datatype.value, o.language or "")
                yield st, p.value, ot
        except SyntaxError as e:
            # said as what the file is not, for every face (the explorer's What changed rewrote "not valid turtle")
            shown = "Turtle" if fmt == "turtle" else "N-Triples"
            raise EditFileError(f"not an edit file cptkg wrote ({shown}): {_parser_words(str(e))}") from None
        except MemoryError as e:  # pyoxigraph's "Reached the buffer maximal size of 16777216"
            if "buffer" not in str(e):
                raise
            raise EditFileError(f"has a value or name longer than the Turtle parser's 16 MiB buffer; a value or name "
                                f"in an edit file is at most {limits.MAX_EDIT_TEXT_CHARS:,} characters") from None
        return
    from rdflib import BNode

    from cptkg.knowledge.rdf_safe import RdfInputError, parse_rdf

    try:
        g = parse_rdf(data, fmt)
    except RdfInputError as e:
        raise EditFileError(str(e)) from None

    def term(t):
        if isinstance(t, Literal):
            return ("literal", str(t), str(t.datatype or XSD.string), t.language or "")
        return ("bnode" if isinstance(t, BNode) else "iri", str(t), "", "")

    for s, p, o in g:
        yield term(s), str(p), term(o)


def _nt(term) -> str:
    kind, value, datatype, lang = term
    if kind == "iri":
        return f"<{value}>"
    if kind == "bnode":
        return f"_:{value}"
    text = Literal(value).n3()  # escaped lexical form
    if lang:
        return f"{text}@{lang}"
    if datatype and datatype not in _STRING:
        return f"{text}^^<{datatype}>"
    return text


def parse_table(data: bytes, fmt: str) -> EditTable:
    """The edit table of an edit file's content (the slow path: every triple passes through Python)."""
    by_subject: dict[tuple, list] = {}
    most = limits.MAX_EDIT_TEXT_CHARS
    for s, p, o in _triples(data, fmt):
        if len(s[1]) > most or len(p) > most or len(o[1]) > most or len(o[2]) > most or len(o[3]) > most:
            _refuse_long(s, p, o)
        by_subject.setdefault(s, []).append((p, o))
    ids, types, sources = [], [], []
    columns: dict[str, list] = {}
    other: list[str] = []
    problems: dict[int, list[str]] = {}
    pair_iri, unit_iri = ONT_NS + PAIR, ONT_NS + UNIT
    for s, pos in by_subject.items():
        kinds = {o[1] for p, o in pos if p == _TYPE and o[0] == "iri" and o[1] in (pair_iri, unit_iri)}
        if not kinds:
            other.extend(f"{_nt(s)} <{p}> {_nt(o)} ." for p, o in pos)
            continue
        i = len(ids)
        why = problems.setdefault(i, [])
        if s[0] != "iri":
            why.append("an edit must be named by an IRI, not a blank node")
        if len(kinds) > 1:
            why.append("an edit is a pair edit or a unit edit, not both")
        ids.append(s[1])
        types.append(PAIR if pair_iri in kinds else UNIT)
        cited = []
        seen: dict[str, int] = {}
        for p, o in pos:
            if p == _TYPE:
                if o[1] not in (pair_iri, unit_iri):
                    other.append(f"{_nt(s)} <{p}> {_nt(o)} .")
                continue
            if p == _SOURCE:
                if o[0] != "iri":
                    why.append("its dct:source is not an ont:Source of the file or the knowledge base")
                cited.append(o[1])
                continue
            name = p[len(ONT_NS):] if p.startswith(ONT_NS) else None
            near = difflib.get_close_matches(name, EDIT_PROPS, n=1, cutoff=0.85) \
                if name is not None and name not in EDIT_PROPS else None
            if near:
                # ont:colum2Code read "names column 1 and column 2 ... not both" (an audit): name the property
                why.append(f"has {_shown('ont:' + name)}, which is not a property of an edit: ont:{near[0]}?")
                continue
            if name not in EDIT_PROPS:
                other.append(f"{_nt(s)} <{p}> {_nt(o)} .")  # a label, say: not part of the edit model
                continue
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                why.append(f"has ont:{name} more than once")
                continue
            col = columns.get(name)
            if col is None:  # (not setdefault: its default list would be built for every triple)
                col = columns[name] = []
            if len(col) < i:
                col.extend([None] * (i - len(col)))
            col.append(_value(name, o, why))
        sources.append(cited)
    if len(other) > limits.MAX_EDIT_OTHER_TRIPLES:
        raise EditFileError(f"has {len(other):,} triples about other things than edits; at most "
                            f"{limits.MAX_EDIT_OTHER_TRIPLES:,} are read (they join the knowledge base's graph and "
                            "its checks: a label on every edit?)")
    n = len(ids)
    for col in columns.values():
        col.extend([None] * (n - len(col)))
    for name in EDIT_PROPS:
        columns.setdefault(name, [None] * n)
    table = EditTable({"@id": ids, "@type": types, "@sources": sources, **columns}, "\n".join(other),
                      {i: w for i, w in problems.items() if w})
    return table


def _refuse_long(s, p, o) -> None:
    """An IRI or literal past MAX_EDIT_TEXT_CHARS, refused as it is read: its subject, property and length."""
    for what, text in (("its subject's IRI", s[1]), ("a property IRI", p), (_term_name(p), o[1]),
                       (f"the datatype of its {_term_name(p)}", o[2]), (f"the language of its {_term_name(p)}", o[3])):
        why = term_problem(text)
        if why:
            subject = "a blank node" if s[0] == "bnode" else s[1] if len(s[1]) <= 100 else _shown(s[1], 60)
            raise EditFileError(f"{subject}: {what} {why}")


def _value(name: str, o, why: list[str]):
    kind, value, datatype, lang = o
    if name in IRI_PROPS:
        if kind != "iri":
            why.append(f"ont:{name} must name a term of the knowledge base")
            return None
        return value
    if kind != "literal":
        why.append(f"ont:{name} must be a value, not a term")
        return None
    if name in INT_PROPS:
        if datatype not in _INTEGER_TYPES or not _INTEGER.match(value):
            why.append(f"ont:{name} {_shown(value)} is not a whole number (xsd:integer, digits 0-9)")
            return None
        if len(value.lstrip("+-").lstrip("0")) > 18:  # past int64 (Arrow's column), far past the range
            least, most, what = int_range(name)
            why.append(f"ont:{name} {_shown(value)} is not {what} from {least} to {most:,}")
            return None
        return int(value)
    if name in DATE_PROPS:
        if datatype != str(XSD.date) or not _DATE.match(value):
            why.append(f"ont:{name} {_shown(value)} is not an xsd:date (YYYY-MM-DD, digits 0-9)")
            return None
        return value
    if datatype not in _STRING or lang:
        why.append(f"ont:{name} must be a plain string")
        return None
    return value


# ------------------------------------------------------------------ checking

def table_problems(table: EditTable, groups: set[str], kinds: set[str], scopes: set[str],
                   sources: set[str]) -> list[tuple[int, str]]:
    """(row index, what is wrong) for every edit that breaks the edit model (shapes.ttl).

    ``groups``, ``kinds``, ``scopes`` and ``sources`` are the IRIs the KB and
    the file know as ont:CodeGroup, ont:EditKind, ont:EditScope and ont:Source.
    Vectorised with Arrow: a quarterly table is checked in about a second.
    """
    import datetime

    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(table)
    if not n:
        return []
    if table.arrow is not None:
        arr = {k: table.arrow.column(k).combine_chunks() for k in table.arrow.column_names}
    else:
        arr = {k: pa.array(v, type=pa.list_(pa.string()) if k == "@sources" else
                           (pa.int64() if k in INT_PROPS else pa.string())) for k, v in table.columns.items()}
    for name in EDIT_PROPS:
        if name not in arr:
            arr[name] = pa.nulls(n, pa.int64() if name in INT_PROPS else pa.string())
    is_pair = pc.equal(arr["@type"], PAIR)
    is_unit = pc.invert(is_pair)
    out: list[tuple[int, str]] = [(i, w) for i, ws in table.read_problems.items() for w in ws]

    def flag(mask, message, shown=None):
        """Each row of ``mask``: ``message``, and the value of the ``shown`` property when it has one."""
        rows = pc.indices_nonzero(pc.fill_null(mask, False))
        if shown is None:
            out.extend((i, message) for i in rows.to_pylist())
            return
        for i, v in zip(rows.to_pylist(), pc.take(arr[shown], rows).to_pylist()):
            out.append((i, message if v is None else f"{message}: {_shown(_term_value(v))}"))

    def present(name):
        return pc.is_valid(arr[name])

    def code_bad(name):
        return pc.and_(present(name), pc.invert(pc.match_substring_regex(arr[name], CODE_PATTERN)))

    def not_in(name, allowed):
        return pc.and_(present(name), pc.invert(pc.is_in(arr[name], value_set=pa.array(sorted(allowed), pa.string()))))

    for n_col, (code, group) in ((1, ("column1Code", "column1")), (2, ("column2Code", "column2"))):
        flag(pc.and_(is_pair, pc.equal(present(code), present(group))),
             "a pair edit names column 1 and column 2, each by code (ont:column1Code/ont:column2Code) "
             "or by code group (ont:column1/ont:column2), not both")
        flag(pc.and_(is_pair, code_bad(code)), f"a column {n_col} code is one five-character code", code)
        flag(pc.and_(is_pair, not_in(group, groups)),
             f"column {n_col} names a code group the knowledge base does not have", group)
    flag(pc.and_(is_pair, pc.equal(arr["column1Code"], arr["column2Code"])),
         "column 2 names the column 1 code too: an edit pairs two different codes", "column2Code")
    flag(pc.and_(is_pair, pc.equal(arr["column1"], arr["column2"])),
         "column 2 names the column 1 code group too: an edit pairs two different codes", "column2")
    flag(pc.and_(is_pair, pc.invert(present("editKind"))),
         "a pair edit has one kind (ont:ComponentEdit, ont:MutuallyExclusiveEdit or ont:NoSingleCodeEdit)")
    flag(pc.and_(is_pair, not_in("editKind", kinds)),
         "a pair edit has one kind (ont:ComponentEdit, ont:MutuallyExclusiveEdit or ont:NoSingleCodeEdit)", "editKind")
    flag(pc.and_(is_pair, pc.invert(pc.fill_null(pc.is_in(arr["modifierIndicator"], value_set=pa.array(["0", "1", "9"])), False))),
         'a pair edit has one modifier indicator: "0", "1" or "9"', "modifierIndicator")
    flag(pc.and_(is_pair, pc.invert(pc.fill_null(pc.is_in(arr["editScope"], value_set=pa.array(sorted(scopes), pa.string())), False))),
         "a pair edit has one provider scope (ont:AnyProvider, ont:SameProvider or ont:SameGroup)", "editScope")
    flag(pc.and_(is_unit, pc.or_(pc.invert(present("editCode")), code_bad("editCode"))),
         "a unit edit names one five-character code (ont:editCode)", "editCode")
    missing_units = pc.and_(is_unit, pc.invert(present("maxUnits")))
    unreadable = sorted(i for i, ws in table.read_problems.items() if any(w.startswith("ont:maxUnits ") for w in ws))
    if unreadable:  # a value that could not be read is named by its read problem, not called missing
        missing_units = pc.and_(missing_units, pc.invert(pc.is_in(pa.array(range(n)), value_set=pa.array(unreadable))))
    flag(missing_units, "a unit edit has one maximum number of units (ont:maxUnits, a whole number)")
    for name in INT_PROPS:  # the ranges the rule engines' integers hold; each value named
        least, most, what = int_range(name)
        out_of_range = pc.fill_null(pc.or_(pc.less(arr[name], least), pc.greater(arr[name], most)), False)
        for i in pc.indices_nonzero(out_of_range).to_pylist():
            out.append((i, f"ont:{name} {arr[name][i].as_py()} is not {what} from {least} to {most:,}"))
    for name in STRING_PROPS:  # a cached table is held to the bound the parse holds a file to
        long = pc.fill_null(pc.greater(pc.utf8_length(arr[name]), limits.MAX_EDIT_TEXT_CHARS), False)
        for i in pc.indices_nonzero(long).to_pylist():
            out.append((i, f"ont:{name} is {len(arr[name][i].as_py()):,} characters long; a value in an edit file "
                           f"is at most {limits.MAX_EDIT_TEXT_CHARS:,} characters"))
    flag(pc.and_(is_unit, pc.invert(pc.fill_null(pc.is_in(arr["adjudicationIndicator"], value_set=pa.array(["1", "2", "3"])), False))),
         'a unit edit has one adjudication indicator: "1" (per line), "2" or "3" (per date of service)',
         "adjudicationIndicator")
    for name in DATE_PROPS:  # calendar dates written YYYY-MM-DD: the distinct values, checked once each
        form, calendar = set(), set()  # (fromisoformat alone also takes 20250101 and 2025-W01-1)
        for d in pc.unique(arr[name]).to_pylist():
            if d is None:
                continue
            if not _DATE.match(d):
                form.add(d)
                continue
            try:
                datetime.date.fromisoformat(d)
            except ValueError:
                calendar.add(d)
        for bad, why in ((form, "is not a date written YYYY-MM-DD in digits 0-9"),
                         (calendar, "is not a calendar date")):
            if bad:
                flag(pc.is_in(arr[name], value_set=pa.array(sorted(bad), pa.string())), f"ont:{name} {why}", name)
    # an edit cannot end before it starts: edits import refuses such a row, and a file edited by hand loaded it, the
    # edit then never applying, in silence (a payer-edit specialist's audit); ISO dates compare as text
    both = pc.and_(present("effectiveDate"), present("deletionDate"))
    if "effectiveDate" in arr and "deletionDate" in arr:
        flag(pc.and_(both, pc.less(arr["deletionDate"], arr["effectiveDate"])),
             "its deletion date (ont:deletionDate) is before its effective date (ont:effectiveDate): an edit cannot "
             "end before it starts", "deletionDate")
    # the rules join each same-date pair of a claim with every edit of that pair: 20,000 edits of one
    # pair (on different dates) took batch out of memory with a claim inside every claim limit
    pairs = pa.table({"c1": arr["column1Code"], "c2": arr["column2Code"], "i": pa.array(range(n), pa.int64())})
    pairs = pairs.filter(pc.fill_null(pc.and_(is_pair, pc.and_(present("column1Code"), present("column2Code"))), False))
    if pairs.num_rows > limits.MAX_EDITS_PER_PAIR:
        counts = pairs.group_by(["c1", "c2"]).aggregate([("i", "count")])
        many = counts.filter(pc.greater(counts["i_count"], limits.MAX_EDITS_PER_PAIR))
        for c1, c2, k in zip(*(many[c].to_pylist() for c in ("c1", "c2", "i_count"))):
            rows = pairs.filter(pc.and_(pc.equal(pairs["c1"], c1), pc.equal(pairs["c2"], c2)))["i"].to_pylist()
            out.append((sorted(rows)[limits.MAX_EDITS_PER_PAIR],  # the first edit past the limit names it
                        f"column 1 {_shown(c1)} and column 2 {_shown(c2)} are named by {k:,} pair edits; at most "
                        f"{limits.MAX_EDITS_PER_PAIR:,} edits of one pair are read (one per period it was in force)"))
    flag(pc.equal(pc.list_value_length(arr["@sources"]), 0), "an edit must cite its source (dct:source)")
    flat = pc.list_flatten(arr["@sources"])
    unknown = set(pc.unique(flat).to_pylist()) - sources
    if unknown:
        parents = pc.list_parent_indices(arr["@sources"])
        rows = pc.filter(parents, pc.is_in(flat, value_set=pa.array(sorted(unknown), pa.string())))
        for i in sorted(set(rows.to_pylist())):
            out.append((i, "its dct:source is not an ont:Source of the file or the knowledge base"))
    return sorted(set(out))


def _describe(table: EditTable, problems: list[tuple[int, str]]) -> str:
    by_row: dict[int, list[str]] = {}
    for i, why in problems:
        by_row.setdefault(i, []).append(why)
    shown = []
    rows = table.columns.get("sourceRow") or [None] * len(table)
    for i in sorted(by_row)[:MAX_PROBLEMS]:
        name = str(table.columns["@id"][i]).rsplit("/", 1)[-1]
        row = rows[i]
        shown.append(f"edit {name}" + (f" (table row {row})" if row is not None else "") + ": "
                     + "; ".join(dict.fromkeys(by_row[i])))
    more = len(by_row) - len(shown)
    return (f"{len(by_row)} of {len(table)} edits break the edit model" + (f" (and {more} more)" if more > 0 else "")
            + ": " + " | ".join(shown))


# ------------------------------------------------------------------ loading

def constant(iri: str) -> str:
    """The rule constant of an IRI (as the loader's ``local``): the local name in the KB's namespaces."""
    from cptkg.knowledge.namespace import KB, SRC

    for ns in (str(KB), ONT_NS, str(SRC)):
        if iri.startswith(ns):
            return iri[len(ns):]
    return iri


@dataclass(frozen=True)
class TableSource:
    """One file an edit table was read from (its ``ont:Source``), and the release it states, if any."""

    #: the source's rule constant (what an edit's ``sources`` entry names)
    id: str
    #: the file, as the source's rdfs:label names it ("ARCHIVE.zip › part2.txt"), else its citation
    file: str
    release: str | None = None
    #: the first day the release is in force, YYYY-MM-DD
    release_date: str | None = None


def _release_label_problem(value: str) -> str | None:
    """Why a release label cannot be used ("" is not a label; a label is one short printable line)."""
    if not value.strip():
        return "is empty"
    if len(value) > MAX_RELEASE_CHARS:
        return f"is {len(value):,} characters long; a release is named in at most {MAX_RELEASE_CHARS} characters"
    if not value.isprintable():
        return "holds a line break or another character that does not print"
    return None


def table_sources(graph: Graph) -> dict[str, TableSource]:
    """The ``ont:Source`` nodes of an edit file's own triples, with their releases, checked.

    A release is named for people (``ont:release``, a plain string) and
    ordered by its first day in force (``ont:releaseDate``): one without the
    other cannot take part in "the newest release wins", so both or neither.
    A release stated on anything but a source is refused rather than ignored:
    whoever wrote it expects it to count.
    """
    import datetime

    from rdflib import RDFS

    release, release_date = URIRef(RELEASE), URIRef(RELEASE_DATE)
    sources = set(graph.subjects(RDF.type, ONT.Source))
    for prop, name in ((release, "ont:release"), (release_date, "ont:releaseDate")):
        for s in set(graph.subjects(prop, None)) - sources:
            raise EditFileError(f"{_shown(str(s), 60)} states {name}, but it is not an ont:Source of the file: "
                                "a release belongs to the table's source")
    out: dict[str, TableSource] = {}
    for s in sorted(sources, key=str):
        label = graph.value(s, RDFS.label) or graph.value(s, ONT.citation) or constant(str(s))
        file = " ".join(str(label).split())
        where = f"the table source {_shown(file, 60)}"
        labels, dates = list(graph.objects(s, release)), list(graph.objects(s, release_date))
        if len(labels) > 1 or len(dates) > 1:
            raise EditFileError(f"{where} states {'ont:release' if len(labels) > 1 else 'ont:releaseDate'} more "
                                "than once; a table belongs to one release")
        if bool(labels) != bool(dates):
            raise EditFileError(f"{where} states " + (
                f"release {_shown(str(labels[0]))} but no release date (ont:releaseDate, the first day it is in "
                "force): without it which release is newer cannot be told" if labels else
                f"a release date {_shown(str(dates[0]))} but no release (ont:release, a label such as \"2026Q2\")"))
        if not labels:
            out[constant(str(s))] = TableSource(constant(str(s)), file)
            continue
        lab, day = labels[0], dates[0]
        if not isinstance(lab, Literal) or lab.language or str(lab.datatype or XSD.string) != str(XSD.string):
            raise EditFileError(f"{where}: its release (ont:release) must be a plain string such as \"2026Q2\"")
        why = _release_label_problem(str(lab))
        if why:
            raise EditFileError(f"{where}: its release {_shown(str(lab))} {why}")
        ok = isinstance(day, Literal) and str(day.datatype) == str(XSD.date) and _DATE.match(str(day))
        if ok:
            try:
                datetime.date.fromisoformat(str(day))
            except ValueError:
                ok = False
        if not ok:
            raise EditFileError(f"{where}: the release date of release {_shown(str(lab))} "
                                f"({_shown(str(day))}) is not a calendar date written YYYY-MM-DD (ont:releaseDate, "
                                "an xsd:date: the first day the release is in force)")
        out[constant(str(s))] = TableSource(constant(str(s)), file, str(lab), str(day))
    return out


def _parser_words(message: str) -> str:
    """pyoxigraph's syntax error with the place said plainly: "Parser error at line 1 between columns 1 and 8:
    garbage is not a valid subject" is "line 1, columns 1 to 8: garbage is not a valid subject" (the
    parser's own heading left out; an auditor read it as a program's error)."""
    import re

    text = " ".join(message.split())
    text = re.sub(r"^Parser error at line (\d+) between columns (\d+) and (\d+): ", r"line \1, columns \2 to \3: ", text)
    text = re.sub(r"^Parser error at line (\d+) column (\d+): ", r"line \1, column \2: ", text)
    text = re.sub(r"^Parser error between line (\d+) column (\d+) and line (\d+) column (\d+): ",
                  r"line \1, column \2 to line \3, column \4: ", text)
    text = re.sub(r" \(line \d+\)$", "", text) if text.startswith("line ") else text
    return text[:300]


@dataclass
class ImportedEdits:
    """An edit file's edits as the rules see them: one row per edit, one list per predicate.

    Not turned into one fact per value: a quarterly table would be five
    million Python tuples. :mod:`cptkg.knowledge.edits.index` hands the rule
    engine the facts of the edits a claim's codes name, and
    :meth:`facts` materialises them all for whoever needs the whole table
    (``cptkg batch``).
    """

    path: Path
    ids: list[str]
    types: list[str]
    #: predicate -> value per row (None: the edit has no such value)
    columns: dict[str, list]
    #: per row, the source ids the edit cites
    sources: list[tuple]
    #: the file's triples about anything but an edit, for the KB graph
    graph: Graph
    from_cache: bool = False
    #: the file's sources (one per file read), by rule constant, with their releases
    table_sources: dict[str, TableSource] = field(default_factory=dict)
    #: edit-model property local name ("sourceRow") -> the predicate its column is under
    predicate_of: dict[str, str] = field(default_factory=dict)
    #: the one all-None column returned for every property no row has
    _absent: tuple = field(default=(), repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> list:
        """The values of the edit-model property ``name`` ("column1Code"), None where absent.

        A property no row has (a PTP table without deletion dates) is one
        shared, immutable column of Nones: callers read a value per row,
        and a new list per call made reading a three-million-row table
        quadratic (issue 27's audit: ``check`` never finished).
        """
        values = self.columns.get(self.predicate_of.get(name, ""))
        if values is not None:
            return values
        if len(self._absent) != len(self.ids):
            self._absent = (None,) * len(self.ids)
        return self._absent

    def source_of(self, i: int) -> TableSource | None:
        """The file source of the edit in row ``i`` (the first the edit cites; None: it cites only the pack's)."""
        for s in self.sources[i]:
            found = self.table_sources.get(s)
            if found is not None:
                return found
        return None

    def release_of(self, i: int) -> tuple[str, str] | None:
        """(release, its first day in force) of the edit in row ``i``; None for a table without a release."""
        for s in self.sources[i]:
            found = self.table_sources.get(s)
            if found is not None and found.release:
                return found.release, found.release_date
        return None

    def key_of(self, i: int) -> tuple:
        """What makes two rows "the same edit" across releases: the (column 1, column 2) pair, or the code limited."""
        if self.types[i] == PAIR:
            return (PAIR, self.column("column1Code")[i] or self.column("column1")[i],
                    self.column("column2Code")[i] or self.column("column2")[i])
        return (UNIT, self.column("editCode")[i])

    def describe(self, i: int) -> str:
        """The edit in row ``i`` as an analyst names it and can find it again in the file CMS published:
        "NCCI PTP edit 62362/62367, release 2026Q2 (2026-04-01), row 17 of ARCHIVE.zip › part2.txt"."""
        key = self.key_of(i)
        what = f"NCCI PTP edit {key[1]}/{key[2]}" if key[0] == PAIR else f"MUE {key[1]}"
        rel = self.release_of(i)
        if rel:
            what += f", release {rel[0]} ({rel[1]})"
        row, src = self.column("sourceRow")[i], self.source_of(i)
        file = src.file if src is not None else self.path.name
        return what + (f", row {row} of {file}" if row is not None else f", in {file}")

    def edit_record(self, i: int) -> dict:
        """The edit in row ``i`` for JSON: what decided, its release, file and row."""
        rel = self.release_of(i)
        src = self.source_of(i)
        return {"edit": self.ids[i], "kind": "pair" if self.types[i] == PAIR else "unit",
                "release": rel[0] if rel else None, "release_date": rel[1] if rel else None,
                "file": src.file if src is not None else self.path.name, "edit_file": self.path.name,
                "row": self.column("sourceRow")[i], "text": self.describe(i),
                # the dates it is in force between, as the rules read them (a newer release's window included)
                "effective": _iso(self.column("effectiveDate")[i]), "deleted": _iso(self.column("deletionDate")[i])}

    def select(self, rows: list[int], columns: dict[str, list] | None = None) -> "ImportedEdits":
        """The same table with only ``rows`` (in order); ``columns`` replaces its columns when given."""
        cols = columns if columns is not None else {p: [v[i] for i in rows] for p, v in self.columns.items()}
        return ImportedEdits(self.path, [self.ids[i] for i in rows], [self.types[i] for i in rows], cols,
                             [self.sources[i] for i in rows], self.graph, self.from_cache, self.table_sources,
                             self.predicate_of)

    @property
    def pair_edits(self) -> int:
        return self.types.count(PAIR)

    @property
    def unit_edits(self) -> int:
        return len(self.types) - self.pair_edits

    def row_facts(self, i: int):
        """(predicate, row) of every fact about the edit in row ``i``."""
        e = self.ids[i]
        t = self.types[i]
        yield ("pair_edit" if t == PAIR else "unit_edit"), (e,)
        yield "instance_of", (e, t)
        for pred, values in self.columns.items():
            v = values[i]
            if v is not None:
                yield pred, (e, v)

    def facts(self) -> dict[str, set[tuple]]:
        """Every fact of the table (costly for a quarterly table: for the whole-table consumers)."""
        out: dict[str, set[tuple]] = {
            "pair_edit": {(e,) for e, t in zip(self.ids, self.types) if t == PAIR},
            "unit_edit": {(e,) for e, t in zip(self.ids, self.types) if t == UNIT},
            "instance_of": set(zip(self.ids, self.types)),
        }
        for pred, values in self.columns.items():
            rows = {(e, v) for e, v in zip(self.ids, values) if v is not None}
            if rows:
                out[pred] = rows
        return out


#: what an edit file may say of one of its edits besides the edit model: names and notes for people
_EDIT_NOTES = frozenset({str(RDFS.label), str(RDFS.comment), str(SKOS.prefLabel), str(SKOS.note),
                         str(DCTERMS.description), str(DCTERMS.title)})


def _only_own_terms(graph: Graph, edit_ids: set[str], kb_graph: Graph, earlier: dict[str, str] | None = None) -> None:
    """Refuse a triple of an edit file that says something of the family pack's knowledge.

    An edit file joins the knowledge base, and its triples about other things than edits join the KB's
    graph. A file that also said ``kb:62360 ont:appliesToRoute ont:Intraventricular`` turned a denial into an
    acceptance with no word, and ``cptkg diff`` credited the billing guide with it (an integrator's audit):
    ``--edits`` is documented as pair and unit edits. So the file may describe its edits (names and notes
    only: another type or an ontology property on an edit would be a fact the rules read) and the
    ``ont:Source`` nodes it declares itself, which the pack does not describe; anything else is refused,
    naming the triple.
    """
    sources = {s for s in graph.subjects(RDF.type, ONT.Source) if isinstance(s, URIRef)}
    for s, p, o in graph:
        if str(s) in edit_ids:
            if str(p) in _EDIT_NOTES:
                continue
            why = "says more of an edit than its names and notes"
        elif s in sources and (s, None, None) not in kb_graph:
            continue
        elif s in sources and str(s) in (earlier or {}):
            # a second file of the same imported table (a copy with a line changed): not the pack's source
            raise EditFileError(f"declares the source {_shown(_term_value(str(s)), 60)}, which {earlier[str(s)]} "
                                f"declares too: two files of one imported table (a copy?); give one of them")
        elif s in sources:
            why = "describes a source of the family pack"
        else:
            why = "is about neither an edit of the file nor a source it declares"
        subject = _shown(_term_value(str(s)), 60)
        value = _shown(_term_value(str(o)) if isinstance(o, URIRef) else str(o), 60)
        raise EditFileError(f"its triple of {subject}, {_term_name(str(p))} {value}, "
                            f"{why}: an edit file holds pair and unit edits and their sources, and changes nothing "
                            "else the knowledge base says (a fact about a code, a performer or a device belongs in "
                            "the family pack)")


def _not_the_packs_edits(ids: list[str], kb_graph: Graph, earlier: "EarlierFiles") -> None:
    """Refuse an edit named as an edit of the family pack, or of an edit file loaded before this one.

    Its rows joined the pack's edit of that name: an edit file giving ``kb:edit-refill-includes-analysis``
    a deletion date of 2000-01-02 switched the pack's edit off, and one giving it the columns reversed denied
    95990 under the guide's citation (an audit). An edit file adds edits; it changes none it did not bring.
    """
    pack = {str(s) for s in kb_graph.subjects() if isinstance(s, URIRef)}
    for iri in dict.fromkeys(ids):
        if iri in earlier.edits:
            raise EditFileError(f"its edit {_shown(_term_value(iri), 60)} is an edit of {earlier.edits[iri]} too: "
                                f"one edit is given by one file; give the two files' edits names of their own")
        if iri in pack:
            node = URIRef(iri)
            what = ("one of the family pack's own edits" if any((node, RDF.type, c) in kb_graph for c in
                                                                (ONT.PairEdit, ONT.UnitEdit))
                    else "a term of the family pack")
            raise EditFileError(f"its edit {_shown(_term_value(iri), 60)} has the name of {what}: an edit file adds "
                                f"edits and cannot change or delete what the pack says; give the edit a name of its "
                                f"own (cptkg edits import names them)")


@dataclass
class EarlierFiles:
    """What the edit files loaded before this one hold, by the name of the file that holds it: their contents
    (SHA-256) and the sources they declare (IRI). A copy of a loaded file, or a second file of one imported
    table, is refused naming the first file; both read "describes a source of the family pack" (an audit)."""

    digests: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    edits: dict[str, str] = field(default_factory=dict)  # edit IRI -> the file that gives it

    def add(self, path: Path, digest: str, graph: Graph, edit_ids=()) -> None:
        self.digests.setdefault(digest, str(path))
        for iri in edit_ids:
            self.edits.setdefault(iri, path.name)
        for src in graph.subjects(RDF.type, ONT.Source):
            self.sources.setdefault(str(src), path.name)


def read_edit_file(path: Path, properties: dict[str, URIRef], kb_graph: Graph,
                   earlier: EarlierFiles | None = None) -> ImportedEdits:
    """Read and check the edit file at ``path``.

    ``properties``: Datalog predicate -> RDF property (the KB's mapping);
    ``kb_graph``: the pack's graph, where the code groups, edit kinds, scopes
    and sources an edit names are looked up; ``earlier``: what the edit files loaded before this one hold
    (the file read is added to it).
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise EditFileError(f"unknown edit file type '{path.suffix or '(none)'}': use "
                            + ", ".join(sorted(FORMATS)) + " (the output of cptkg edits import is .ttl)")
    try:
        with open(path, "rb") as f:  # read no further than the limit (a FIFO or a device has no size to check)
            size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_EDIT_FILE_BYTES + 1) if size <= MAX_EDIT_FILE_BYTES else b""
        if size > MAX_EDIT_FILE_BYTES or len(data) > MAX_EDIT_FILE_BYTES:
            said = f"{size:,} bytes" if size > MAX_EDIT_FILE_BYTES else "what it gives"
            raise EditFileError(f"{said} is over the limit of {MAX_EDIT_FILE_BYTES:,} bytes for an edit file")
    except FileNotFoundError:
        raise EditFileError("no such edit file") from None
    except OSError as e:
        raise EditFileError(f"cannot read the edit file ({e.strerror})") from None
    from cptkg.files import holds_binary

    if holds_binary(data):  # a parser's "'\x13' is not allowed at the beginning of a prefix name" (an explorer audit)
        raise EditFileError("holds binary data, not Turtle text: an edit file is the Turtle file an imported edit "
                            "table becomes (cptkg edits import)")
    sha = hashlib.sha256(data).hexdigest()
    earlier = earlier if earlier is not None else EarlierFiles()
    if sha in earlier.digests:
        raise EditFileError(f"the same edit file as {earlier.digests[sha]} (the two files are identical): give it once")
    table = _read_cache(sha)
    from_cache = table is not None
    if table is None:
        table = parse_table(data, fmt)
    del data
    if not len(table):  # judged with no edits at all, a claim would pass the edits the user meant to apply
        raise EditFileError("holds no pair edit or unit edit: nothing to apply; an "
                            "edit file is the output of cptkg edits import")
    graph = Graph()
    if table.other_triples:
        try:
            graph.parse(data=table.other_triples, format="nt")
        except Exception as e:  # noqa: BLE001 - rdflib raises parser-specific types
            raise EditFileError(f"its triples about other things than edits cannot be read ({e})") from None

    def iris(cls) -> set[str]:
        return {str(s) for g in (kb_graph, graph) for s in g.subjects(RDF.type, cls)}

    problems = table_problems(table, iris(ONT.CodeGroup), iris(ONT.EditKind), iris(ONT.EditScope), iris(ONT.Source))
    if problems:
        raise EditFileError(_describe(table, problems))
    own_sources = table_sources(graph)
    _only_own_terms(graph, set(table.columns["@id"]), kb_graph, earlier.sources)
    _not_the_packs_edits(table.columns["@id"], kb_graph, earlier)
    if not from_cache:
        write_cache(table, sha)
    cols = table.columns
    memo: dict[str, str] = {}

    def const(v):
        c = memo.get(v)
        if c is None:
            c = memo[v] = constant(v)
        return c

    columns: dict[str, list] = {}
    predicate_of: dict[str, str] = {}
    for pred, uri in properties.items():
        name = str(uri)[len(ONT_NS):] if str(uri).startswith(ONT_NS) else None
        if name in EDIT_PROPS:
            predicate_of[name] = pred
        values = cols.get(name) if name in EDIT_PROPS else None
        if values is None or all(v is None for v in values):
            continue
        columns[pred] = [None if v is None else const(v) for v in values] if name in IRI_PROPS else values
    shared_sources: dict[tuple, tuple] = {}
    sources = []
    for i, srcs in enumerate(cols["@sources"]):
        key = tuple(srcs)
        got = shared_sources.get(key)
        if got is None:
            got = shared_sources[key] = tuple(sorted(const(x) for x in srcs))
            stated = {(own_sources[x].release, own_sources[x].release_date) for x in got
                      if x in own_sources and own_sources[x].release}
            if len(stated) > 1:  # (checked once per distinct list of sources, not per edit)
                row = (cols.get("sourceRow") or [None] * len(srcs))[i]
                raise EditFileError(f"edit {str(cols['@id'][i]).rsplit('/', 1)[-1]}"
                                    + (f" (table row {row})" if row is not None else "")
                                    + " cites sources of different releases ("
                                    + ", ".join(sorted(r for r, _ in stated)) + "); an edit belongs to one release")
        sources.append(got)
    from cptkg.knowledge.namespace import KB, SRC

    ids = cols["@id"]
    if any(i.startswith(ns) for i in ids for ns in (str(KB), ONT_NS, str(SRC))):
        ids = [constant(i) for i in ids]  # edits named in the KB's own namespaces (rare: tables have their own)
    earlier.add(path, sha, graph, table.columns["@id"])
    return ImportedEdits(path, list(ids), list(cols["@type"]), columns, sources, graph, from_cache, own_sources,
                         predicate_of)
