"""Control characters in output: one rule for every writer.

A value from a claim, an encounter, a query's data or the knowledge base may
hold characters that are not text: NUL, ESC (terminal escapes), CR, line
breaks inside a value, C1 controls, bidirectional overrides (U+202E), line and
paragraph separators. No writer lets one through raw:

* text, CSV and HTML show it escaped, as the text report always has
  (:func:`cptkg.claims.models.one_line`: ``\\x00``, ``\\x1b``, ``\\r``, ``\\n``,
  ``\\u202e``), so a value stays on its line and its cell and a terminal or a
  spreadsheet never obeys it;
* JSON (and FHIR, which is JSON) writes it with JSON's own escape
  (``\\u0000``, ``\\u202e``), so a JSON reader gets the value back unchanged.

"Not text" is what Python's ``str.isprintable`` refuses (Unicode categories
Cc, Cf, Cs, Co, Cn, Zl, Zp and the spaces other than U+0020). Parquet output
keeps the raw value: it is typed data, not text.
"""
from __future__ import annotations

import re

#: what Python's ``str.strip()`` takes off (every character ``str.isspace`` calls white space), as check's
#: readers strip a field; the batch engines strip the same set (``strip`` of cptkg.engines.sql's backends)
PYTHON_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
#: what a claim file's cell is stripped of, by check's CSV reader and the batch engines alike: the white
#: space Python's ``str.strip`` takes, and the byte-order mark U+FEFF, which a file concatenated from
#: several exports carries at the start of a row (it made claim id "\ufeffC1", an id that matches nothing)
CELL_STRIP = PYTHON_WHITESPACE + "\ufeff"

# anything but printable ASCII and the line break: the only places a character may be non-printable
_NOT_PLAIN = re.compile(r"[^\n\x20-\x7e]+")


def one_line(text: str) -> str:
    """Text with each non-printable character shown as its escape, so it stays on one line.

    The rule of :func:`cptkg.claims.models.one_line` (the text report's, and every
    error message's), kept here too so a writer or an error message does not
    import the claim models (pydantic) to show a value.

    >>> one_line("C1\\nfake: ok\\x00")
    'C1\\\\nfake: ok\\\\x00'
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def clip(text: str, most: int) -> str:
    """``text`` cut to at most about ``most`` characters at a word boundary, marked with an ellipsis when cut:
    a quote cut mid-word ("for intrathecal or epidural drug infu") reads as the source's own words.

    >>> clip("Removal of subcutaneous reservoir or pump", 30)
    'Removal of subcutaneous …'
    """
    if len(text) <= most:
        return text
    cut = text[:most + 1].rsplit(" ", 1)[0] if " " in text[:most + 1] else text[:most]
    return cut.rstrip(" ,;:") + " …"


def shown(value) -> str:
    """One value as text, control characters escaped (``None`` is empty)."""
    return one_line("" if value is None else str(value))


def shown_text(text: str) -> str:
    """A multi-line text (a report, a table) with every line's control characters escaped; line breaks stay."""
    if not _NOT_PLAIN.search(text) or text.replace("\n", "").isprintable():  # C speed: 0.2 s for 72 MB
        return text
    return "\n".join(line if line.isprintable() else one_line(line) for line in text.split("\n"))


def _json_escape(ch: str) -> str:
    n = ord(ch)
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def _json_run(m: re.Match) -> str:
    run = m.group()
    return run if run.isprintable() else "".join(ch if ch.isprintable() else _json_escape(ch) for ch in run)


def _turtle_escape(ch: str) -> str:
    n = ord(ch)
    return f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}"


def _turtle_run(m: re.Match) -> str:
    run = m.group()
    return run if run.isprintable() else "".join(ch if ch.isprintable() else _turtle_escape(ch) for ch in run)


def turtle_safe(document: str) -> str:
    """Turtle (or N-Triples) text with every non-printable character as Turtle's ``\\uXXXX``/``\\UXXXXXXXX``.

    rdflib's serializer escapes line breaks and quotes in a literal but leaves
    NUL, ESC and the other controls raw; outside literals and IRIs Turtle text
    holds none, and inside them the escape means the same character."""
    if not _NOT_PLAIN.search(document) or document.replace("\n", "").isprintable():
        return document
    return _NOT_PLAIN.sub(_turtle_run, document)


def json_safe(document: str) -> str:
    """A JSON document (as ``json.dumps`` writes it) with every non-printable character as ``\\uXXXX``.

    ``json.dumps`` escapes the C0 controls but, with ``ensure_ascii=False``,
    leaves DEL, the C1 controls, U+2028 and the bidi overrides raw. Outside
    strings a JSON document holds only printable ASCII and line breaks, so
    every other non-printable character is inside a string, where the escape
    means the same character: the parsed value is unchanged.
    """
    if not _NOT_PLAIN.search(document) or document.replace("\n", "").isprintable():  # 0.2 s for 72 MB
        return document
    return _NOT_PLAIN.sub(_json_run, document)


__all__ = ["json_safe", "one_line", "shown", "shown_text", "turtle_safe"]
