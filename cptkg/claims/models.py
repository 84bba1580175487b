"""Claim and encounter input: parsed strictly, errors in billing words.

Input that cannot be judged (a missing or mistyped field, an impossible date,
a repeated line number) is refused with one line naming the claim, the line
and the field; a code the KB does not know is not an input error but a
rejected line, judged by the rules.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import Any, Annotated

from cptkg.limits import MAX_HISTORY_PER_CLAIM, MAX_JSON_DIGITS, MAX_LINES_PER_CLAIM, claim_size_problem
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, ValidationInfo,
                      field_validator, model_validator)

MAX_TEXT = 200
SHOWN_ID = 60  # characters of a claim id or a value a message shows (every reader, check and batch)
MAX_CODE = 20
MAX_LINE = 1_000_000
MAX_UNITS = 10_000
MAX_MODIFIERS = 10      # per line
MAX_MODIFIER = 10       # characters per modifier
# Written once here for every reader of claim lines (the CSV reader, the SQL
# validation of cptkg batch), so a row is refused by all or by none.
WHOLE_NUMBER = "[0-9]{1,9}"              # ASCII digits only: no sign, no decimals
# ... but a whole number may be written with a fraction of zeros, as spreadsheets and the 837P's SV104
# ("1.000") write quantities: "2.0" units is 2 in a CSV cell as in SV104 and FHIR's quantity.value
ZERO_FRACTION = "[.]0+"
# whole numbers a claim field does not take as written, each named for what it is (an audit: "-1", "+2" and
# twenty digits were each "not a whole number"); no backslash, so Spark's SQL literals read them unchanged
NEGATIVE_NUMBER = "-[0-9]+([.]0+)?"
SIGNED_NUMBER = "[+][0-9]+([.]0+)?"
LONG_NUMBER = "[0-9]+([.]0+)?"  # digits only: more of them than WHOLE_NUMBER takes
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
MODIFIER_SEPARATORS = "[;|, \t]"        # a line's modifiers split on ';', '|', ',', spaces or tabs


def split_modifiers(text: str) -> list[str]:
    """A modifiers cell as its modifiers ("KD 59", "KD;59", "KD, 59" -> ["KD", "59"]): one way for every
    reader of a typed list (a claim CSV's cell, the explorer's line editor)."""
    return [m for m in re.split(MODIFIER_SEPARATORS + "+", text or "") if m]

# A CPT or HCPCS Level II modifier is two letters or digits (KD, 59, XS, E1; X12 837P SV101-3 to -6 are
# two characters): a cell "KD,JW" read as one modifier would lose its KD, and the rules would deny the line
# for a modifier the user sent.
MODIFIER_PATTERN = "[A-Za-z0-9]{2}"
MODIFIER_WORDS = "is not a modifier (two letters or digits, such as KD or 59)"
# How a CPT code (five digits, or four digits and F, T or U: category II/III)
# or a HCPCS Level II code (a letter A-V and four digits) is written: code-set
# syntax, the same for every family. A billed string that does not match is
# rejected by the rules (well_formed_code/1), never refused as input.
CODE_PATTERN = "[0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4}"
# ... but a history entry's code is not judged by any rule: one not written as a code matched nothing and
# was dropped without a word (a code with a zero-width space, or written in full-width digits), so an edit
# that history row triggers no longer denied the line (an inputs audit). It is refused, and its patient's
# claims are not judged.
CODE_WORDS = ("is not a CPT code (five digits, or four digits and F, T or U) or a HCPCS Level II code "
              "(a letter A-V and four digits)")


def one_line(text: str) -> str:
    """User text inside a message, with line breaks and other control
    characters shown escaped, so the message stays one line.

    >>> one_line("C1\\nfake: ok")
    'C1\\\\nfake: ok'
    """
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


# Fields that identify a person: never echoed in clear in a message (a message
# may reach stderr, a decision log or a screen). claim_id is the office's own
# reference and stays visible.
IDENTIFIER_FIELDS = frozenset({"patient_id", "provider_id"})


def masked(value: Any) -> str:
    """What a value is, without showing it: for messages about identifier fields.

    >>> masked(987654321), masked("PAT-42"), masked(None)
    ('a number (9 digits)', 'text (6 characters)', 'null')
    """
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        n = len(str(abs(value))) if abs(value) < 10 ** 4000 else "over 4,000"
        return f"a number ({n} digit{'' if n == 1 else 's'})"
    if isinstance(value, float):
        return "a number with decimals"
    if isinstance(value, str):
        return f"text ({len(value)} characters)"
    return _typename(value)


def shown(value: Any, field: str | None = None) -> str:
    """A value as a message shows it: quoted and cut at 40 characters, masked for identifier fields."""
    if field in IDENTIFIER_FIELDS:
        return masked(value)
    return repr(str(value)[:40])


class InputError(ValueError):
    """Input that cannot be judged; ``str()`` is the one-line message."""

    def __init__(self, message: str, claim_id: str | None = None):
        self.claim_id = claim_id
        # the claim's lines as given (line number and code, each as far as it could be read): a claim that
        # cannot be judged still answers for every line it sent (one CSV row each), not as one row
        self.lines: list[dict] = []
        # the index in ``lines`` of the line the error is in, when it is in one line (its other lines are
        # "not judged because line N has an error", as batch says of a claim's other rows)
        self.line_index: int | None = None
        # a claim id or field value echoed in the message may hold a newline
        super().__init__(one_line(message))


def _vocabulary_check(kind: str, optional: bool = False):
    """A pydantic validator refusing a value the loaded KB's vocabulary does not know.

    The vocabulary (roles, devices, routes, services) comes from the family
    pack's ontology (cptkg.knowledge.vocabulary), passed as validation context.
    """
    def check(v, info: ValidationInfo):
        if optional and v is None:
            return v
        vocab = (info.context or {}).get("vocabulary")
        if vocab is None:
            return v
        v = vocab.canonical(kind, v)
        why = vocab.refusal(kind, v)
        if why:
            raise ValueError(why)
        return v
    return check


# An 837P dependant's patient id (cptkg.io.readers.x12): member id, LAST, FIRST, CCYYMMDD. The reader writes
# the names in capitals; a history file that copies them as the 837P spells them ("Child/Kid") is the same
# child, so ids of this form match whatever the case of their names' ASCII letters (an audit: such a history
# matched no claim, and the line was judged without it, with no word). Written without a backslash, for Spark.
DEPENDANT_ID = "(.*)/([^/]*)/([^/]*)/([0-9]{8})"
_DEPENDANT = re.compile(DEPENDANT_ID)
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def patient_key(pid):
    """The id a claim's patient is matched to its history by: ``pid`` itself, or for an 837P dependant's id
    (:data:`DEPENDANT_ID`), the id with its names' ASCII letters in capitals (cptkg batch's SQL does the same:
    cptkg.judge.batch, patient_key_sql)."""
    if not isinstance(pid, str):
        return pid
    m = _DEPENDANT.fullmatch(pid)
    if not m:
        return pid
    return f"{m[1]}/{m[2].translate(_ASCII_UPPER)}/{m[3].translate(_ASCII_UPPER)}/{m[4]}"


def whole_text_problem(value: str, most: int) -> str:
    """Why a claim field's text is not the whole number the field takes (at least 1, at most ``most``), in the
    words cptkg batch's SQL gives (cptkg.judge.batch, whole_text_sql)."""
    shown = value[:40]
    if re.fullmatch(NEGATIVE_NUMBER, value):
        return f"must be at least 1, got {shown}"
    if re.fullmatch(SIGNED_NUMBER, value):
        return f"'{shown}' is written with a sign: write the number alone"
    if re.fullmatch(LONG_NUMBER, value):
        return f"must be at most {most}, got {shown}"
    return f"'{shown}' is not a whole number"


_DATE = re.compile(DATE_PATTERN)


def date_problem(v: str) -> str | None:
    """What keeps a text from being a date of service: ``"written"`` (not YYYY-MM-DD), ``"calendar"`` (no
    such day), or None. Each reader words it for its own field (a FHIR element, a claim field)."""
    if not _DATE.fullmatch(v):
        return "written"
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return "calendar"
    return None


def _date(v: Any) -> str:
    if v is None:
        raise ValueError("is missing")
    if not isinstance(v, str):
        raise ValueError("must be a date written YYYY-MM-DD")
    problem = date_problem(v)
    if problem == "written":
        raise ValueError(f"'{v[:40]}' is not a date written YYYY-MM-DD")
    if problem == "calendar":
        raise ValueError(f"'{v}' is not a real calendar date")
    return v


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty (it holds only spaces)")
    return v


def _modifier(v: str) -> str:
    if not re.fullmatch(MODIFIER_PATTERN, v.strip()):
        raise ValueError(f"{one_line(v[:40])!r} {MODIFIER_WORDS}")
    return v


def _whole_float(v: Any) -> Any:
    """A number written with a zero fraction (``2.0``, as spreadsheets, pandas and FHIR's decimal write whole
    numbers) is that whole number, as JSON Schema's integer reads it and the CSV, Parquet, 837P and FHIR
    readers read it; ``2.5`` stays a number with decimals and is refused."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


#: an identifier a spreadsheet turned into a number and showed in scientific notation ("1.23457E+09"): its digits
#: are gone, and two NPIs shortened alike would read as one provider (a false duplicate; a real-files audit)
SHORTENED_NUMBER = "[0-9]([.][0-9]+)?[eE][+][0-9]+"  # no backslash: the SQL dialects read it alike
SHORTENED_WORDS = ("is a number a spreadsheet shortened to scientific notation, so its digits are lost: "
                   "export the column as text")


#: characters that show as nothing (zero-width spaces and joiners, direction marks and overrides, the soft
#: hyphen, word joiners, a byte-order mark inside a value): "A" and "A" + U+200B were two claims, so an edit
#: between their lines did not apply (an attack audit). The class holds the characters themselves (no
#: backslash reaches SQL), so the SQL dialects read it alike (cptkg.judge.batch).
INVISIBLE = "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
INVISIBLE_WORDS = "holds a character that shows as nothing (a zero-width space or a direction mark): retype the value"
#: a line break, tab or other control character inside an id (the ends are stripped, as every field's are): a
#: quoted CSV cell or a JSON "\n" can carry one, and "C1" + line break + "X" was accepted as a claim, shown
#: escaped in the output ("C1\nX") and matched to no history (a review of issue 27's stop). No 837P or FHIR
#: identifier holds one. The class holds the characters themselves, not escapes, as INVISIBLE does; NUL is
#: left out (no SQL text can carry it) and tested apart, here and in batch's SQL.
CONTROL = "[\u0001-\u001f\u007f-\u009f\u2028\u2029]"
CONTROL_WORDS = "holds a line break, tab or other control character: an id is one line of text; retype the value"


def _not_shortened(v: str) -> str:
    if re.fullmatch(SHORTENED_NUMBER, v.strip()):
        raise ValueError(f"'{v.strip()[:40]}' {SHORTENED_WORDS}")
    problem = id_problem(v)
    if problem:
        raise ValueError(problem)
    return v


Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_not_blank)]
#: a claim, patient or provider id
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_not_blank),
                       AfterValidator(_not_shortened)]
Code = Annotated[StrictStr, Field(min_length=1, max_length=MAX_CODE), AfterValidator(_not_blank)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


class ClaimLine(_Strict):
    line: Annotated[StrictInt, Field(ge=1, le=MAX_LINE)]
    code: Code
    date_of_service: str
    provider_id: Identifier
    provider_role: Text
    units: Annotated[StrictInt, Field(ge=1, le=MAX_UNITS)] = 1
    modifiers: Annotated[list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_MODIFIER,
                                                         json_schema_extra={"pattern": rf"^\s*{MODIFIER_PATTERN}\s*$"}),
                                        AfterValidator(_modifier)]],
                         Field(max_length=MAX_MODIFIERS)] = []
    # the route of delivery, when the line states one (a route of the KB's vocabulary)
    route: Text | None = None

    _d = field_validator("date_of_service", mode="before")(_date)
    _whole = field_validator("line", "units", mode="before")(_whole_float)
    _r = field_validator("provider_role", mode="after")(_vocabulary_check("role"))

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, v: Any) -> Any:
        """An optional field given as null takes its default, as an empty CSV cell or a Parquet null does."""
        if isinstance(v, dict) and any(v.get(k, 0) is None for k in ("units", "modifiers")):
            return {k: x for k, x in v.items() if not (k in ("units", "modifiers") and x is None)}
        return v
    _route = field_validator("route", mode="after")(_vocabulary_check("route", optional=True))

    @field_validator("code", mode="after")
    @classmethod
    def _code(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("modifiers", mode="after")
    @classmethod
    def _mods(cls, v: list[str]) -> list[str]:
        return [m.strip().upper() for m in v]


class HistoryEntry(_Strict):
    code: Code
    date_of_service: str
    provider_id: Identifier | None = None

    _d = field_validator("date_of_service", mode="before")(_date)

    @field_validator("code", mode="after")
    @classmethod
    def _code(cls, v: str) -> str:
        code = v.strip().upper()
        if re.search(INVISIBLE, code):
            raise ValueError(INVISIBLE_WORDS)
        if not re.fullmatch(CODE_PATTERN, code):
            raise ValueError(f"{one_line(code[:40])!r} {CODE_WORDS}")
        return code


class Claim(_Strict):
    claim_id: Identifier
    patient_id: Identifier
    lines: Annotated[list[ClaimLine], Field(min_length=1, max_length=MAX_LINES_PER_CLAIM)]
    history: Annotated[list[HistoryEntry], Field(max_length=MAX_HISTORY_PER_CLAIM)] = []


class Encounter(_Strict):
    encounter_id: Text
    date_of_service: str | None = None
    performer_role: Text
    device: Text
    # None: the family pack's default route (family.yaml defaults.route)
    route: Text | None = None
    services: Annotated[list[Text], Field(min_length=1, max_length=20)]

    _role = field_validator("performer_role", mode="after")(_vocabulary_check("role"))
    _device = field_validator("device", mode="after")(_vocabulary_check("device"))
    _route = field_validator("route", mode="after")(_vocabulary_check("route"))

    @field_validator("services", mode="after")
    @classmethod
    def _services(cls, v: list[str], info: ValidationInfo) -> list[str]:
        # each service as the vocabulary spells it, as role, device and route are: "Refill" passed the check and
        # was then not found, so the documented refill was dropped and infer said it was not documented (an audit)
        check = _vocabulary_check("service")
        return [check(item, info) for item in v]

    @field_validator("date_of_service", mode="before")
    @classmethod
    def _d(cls, v):
        return None if v is None else _date(v)


def _where(kind: str, ident: str | None, raw: Any, loc: tuple) -> str:
    """Name the claim, line and field a validation error is about."""
    parts = [f"{kind} {ident}" if ident else kind]
    fields = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in ("lines", "history") and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = loc[i + 1]
            if key == "lines":
                n = None
                try:
                    n = raw["lines"][idx].get("line")
                except Exception:
                    pass
                parts.append(f"line {n}" if isinstance(n, int) and not isinstance(n, bool) else f"line #{idx + 1} in the list")
            else:
                parts.append(f"history entry {idx + 1}")
            i += 2
            continue
        if isinstance(key, str) and key not in ("function-after[_code(), constrained-str]",):
            fields.append(key)
        elif isinstance(key, int):
            fields.append(f"[{key}]")
        i += 1
    if fields:
        parts.append("field " + ".".join(str(f) for f in fields[:2]).replace(".[", "["))
    return ", ".join(parts)


def _field_of(loc: tuple) -> str | None:
    names = [k for k in loc if isinstance(k, str)]
    return names[-1] if names else None


def _explain(err: dict) -> str:
    t, msg = err.get("type", ""), err.get("msg", "")
    inp = err.get("input")
    loc = err.get("loc", ())
    if inp is None and t in ("string_type", "int_type") and loc and isinstance(loc[-1], str):
        # a field given as null is a field not given: the words of an empty CSV cell or a
        # Parquet null (cptkg batch), so one value gets one message whatever file it came in
        return "is missing"
    if _field_of(loc) in IDENTIFIER_FIELDS:
        # never the identifier itself: its kind and length only
        if t in ("int_type", "int_parsing"):
            return f"must be a whole number, got {masked(inp)}"
        if t == "string_type":
            return f"must be text, got {masked(inp)}"
        if t not in ("missing", "extra_forbidden", "string_too_short", "string_too_long", "too_short", "too_long",
                     "value_error"):
            return f"is not a valid identifier ({masked(inp)})"
    if t == "missing":
        return "is missing"
    if t == "extra_forbidden":
        return "is not a field of this format (check its spelling)"
    if t == "enum":
        allowed = err.get("ctx", {}).get("expected", "")
        return f"'{str(inp)[:40]}' is not one of {allowed}"
    if t in ("int_type", "int_parsing"):
        if isinstance(inp, bool) or inp is None:  # as JSON spells it, not Python
            return f"must be a whole number, got {'true' if inp is True else 'false' if inp is False else 'null'}"
        if isinstance(inp, (list, dict)):  # what it is, not Python's spelling of it
            return f"must be a whole number, got {_typename(inp)}"
        return f"must be a whole number, got {_typename(inp)} {str(inp)[:40]!r}"
    if t == "string_type":
        return f"must be text, got {masked(inp)}"
    if t == "list_type":
        return "must be a list"
    if t in ("model_type", "dict_type"):
        return "must be an object"
    if t == "greater_than_equal":
        return f"must be at least {err.get('ctx', {}).get('ge')}, got {inp!r}"
    if t == "less_than_equal":
        return f"must be at most {err.get('ctx', {}).get('le')}, got {inp!r}"
    if t == "too_short":
        return "must not be empty" if isinstance(inp, (list, str)) else msg
    if t == "too_long":
        if loc in (("lines",), ("history",)) and isinstance(inp, list):  # batch's words for a claim too large
            return "the claim " + (claim_size_problem(len(inp), 0, 0) if loc == ("lines",)
                                   else claim_size_problem(0, len(inp), 0) or "")
        return f"is too long (at most {err.get('ctx', {}).get('max_length')})"
    if t == "string_too_short":
        return "must not be empty"
    if t == "string_too_long":
        return f"is too long (at most {err.get('ctx', {}).get('max_length')} characters)"
    if t == "value_error":
        return msg.removeprefix("Value error, ")
    return msg


def _context(kb) -> dict:
    """Validation context: the input vocabulary of the KB the face chose."""
    from cptkg.knowledge.loader import chosen_kb

    kb = chosen_kb(kb, "checking a claim's values")
    from cptkg.knowledge.vocabulary import vocabulary

    return {"vocabulary": vocabulary(kb), "defaults": dict(kb.pack.defaults) if kb.pack else {}}


#: what the other request looks like, and what to run for it
_OTHER_KIND = {"encounter": ("a claim", "claim_id", "check it with `cptkg check`"),
               "claim": ("an encounter", "encounter_id", "infer its codes with `cptkg infer`")}


def _validate(model, raw: Any, kind: str, id_field: str, kb=None):
    ident = None
    if isinstance(raw, dict):
        v = raw.get(id_field)
        ident = v[:SHOWN_ID] if isinstance(v, str) and v.strip() else None
    if not isinstance(raw, dict):
        raise InputError(f"{kind} {'' if ident is None else ident}: must be a JSON object, got {_typename(raw)}".replace("  ", " "), ident)
    other = _OTHER_KIND.get(kind)
    if other and id_field not in raw and other[1] in raw:
        # a claim given to infer (or an encounter to check) was "field encounter_id: is missing" (an audit)
        raise InputError(f"{kind}: this is {other[0]}, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} (it has "
                         f"{other[1]} and no {id_field}): {other[2]}", None)
    broken = broken_text(raw)
    if broken:
        problem = InputError(f"{_where(kind, ident, raw, broken[0])}: {broken[1].problem()}", ident)
        if len(broken[0]) > 1 and broken[0][0] == "lines" and isinstance(broken[0][1], int):
            problem.line_index = broken[0][1]
        raise problem
    try:
        return model.model_validate(raw, context=_context(kb))
    except ValidationError as e:
        err = e.errors()[0]
        problem = InputError(f"{_where(kind, ident, raw, err['loc'])}: {_explain(err)}", ident)
        loc = err["loc"]
        if len(loc) > 1 and loc[0] == "lines" and isinstance(loc[1], int):
            problem.line_index = loc[1]
        raise problem from None


def _lines_given(raw: Any) -> list[dict]:
    """The line number and code of each line of a raw claim, as far as each can be read ("" where not)."""
    lines = raw.get("lines") if isinstance(raw, dict) else None
    out = []
    for ln in lines if isinstance(lines, list) else ():
        ln = ln if isinstance(ln, dict) else {}
        n, code = _whole_float(ln.get("line")), ln.get("code")
        out.append({"line": n if isinstance(n, int) and not isinstance(n, bool) else "",
                    "code": code.strip()[:MAX_CODE] if isinstance(code, str) else ""})
    return out


def parse_claim(raw: Any, index: int | None = None, kb=None) -> Claim:
    """Validate one claim object against ``kb``'s vocabulary (the knowledge base the face chose).

    An InputError names the claim, the line and the field, and carries the lines the claim gave.
    """
    try:
        return _parse_claim(raw, index, kb)
    except InputError as e:
        e.lines = _lines_given(raw)
        if e.line_index is not None and 0 <= e.line_index < len(e.lines) and len(e.lines) > 1:
            e.lines[e.line_index]["has_error"] = True
        raise


def _parse_claim(raw: Any, index: int | None = None, kb=None) -> Claim:
    if not isinstance(raw, dict):
        where = f"claim #{index + 1} in the list" if index is not None else "claim"
        raise InputError(f"{where}: must be a JSON object, got {_typename(raw)}")
    claim = _validate(Claim, raw, "claim", "claim_id", kb)
    seen: set[int] = set()
    for ln in claim.lines:
        if ln.line in seen:
            raise InputError(f"claim {claim.claim_id}, line {ln.line}, field line: line number {ln.line} appears more than once", claim.claim_id)
        seen.add(ln.line)
    problem = claim_size_problem(len(claim.lines), len(claim.history), same_date_pairs(claim),
                                 family_entries(claim, kb))
    if problem:  # the same limits and words as cptkg batch (cptkg.limits)
        raise InputError(f"claim {claim.claim_id}: the claim {problem}", claim.claim_id)
    return claim


def family_entries(claim: Claim, kb=None) -> int:
    """Billed entries, lines and history, of the pack's codes (all entries without a KB): what the device-history
    rules pair for each line (an implant on one line supersedes an implant on another, or in the history)."""
    entries = [*claim.lines, *claim.history]
    if kb is None:
        return len(entries)
    codes = set(kb.family_codes())
    return sum(1 for e in entries if e.code in codes)


def same_date_pairs(claim: Claim) -> int:
    """Ordered pairs of billed entries (lines and history) on the same date: what the exclusion rules join."""
    from collections import Counter

    per_date = Counter(e.date_of_service for e in [*claim.lines, *claim.history])
    return sum(n * (n - 1) for n in per_date.values())


def _typename(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "null", WrittenNumber: "a number"}.get(type(v), type(v).__name__)


def parse_encounter(raw: Any, kb=None) -> Encounter:
    """Validate an encounter against ``kb``'s vocabulary; a missing route is the pack's default."""
    if not isinstance(raw, dict):
        raise InputError(f"encounter: must be a JSON object, got {_typename(raw)}")
    if raw.get("route") is None:
        default = _context(kb)["defaults"].get("route")
        if default is not None:
            raw = {**raw, "route": default}
    return _validate(Encounter, raw, "encounter", "encounter_id", kb)


class BrokenText(str):
    """JSON text that held a lone UTF-16 surrogate (``"\\ud800"``): half of a pair, no character. Python
    keeps it, but no file or terminal can write it (a traceback printing a refusal, a batch that failed
    whole: an attack audit). The text is kept with the surrogate written as its escape, printable
    everywhere, and the claim, encounter or FHIR element holding it is refused naming the field."""

    @classmethod
    def of(cls, text: str) -> str:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            return cls("".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text))

    def problem(self) -> str:
        escape = re.search(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}", self)
        return (f"holds a broken character escape ({escape.group(0) if escape else 'a lone surrogate'}): half of a "
                f"UTF-16 surrogate pair, which is no character; correct the text")


def _unbroken(v: Any) -> Any:
    if isinstance(v, str):
        return BrokenText.of(v)
    if isinstance(v, list):
        return [_unbroken(x) for x in v]
    return v


def broken_text(raw: Any, loc: tuple = ()) -> tuple[tuple, BrokenText] | None:
    """(where, text) of the first :class:`BrokenText` key or value in a parsed JSON value, else None."""
    if isinstance(raw, BrokenText):
        return loc, raw
    if isinstance(raw, dict):
        for k, v in raw.items():
            if isinstance(k, BrokenText):
                return loc + (k,), k
            found = broken_text(v, loc + (k,))
            if found:
                return found
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            found = broken_text(v, loc + (i,))
            if found:
                return found
    return None


def _no_duplicate_keys(pairs):
    out = {}
    for k, v in pairs:
        k = BrokenText.of(k)
        if k in out:
            raise InputError(f"field '{k[:40]}' appears twice in one object")
        _refuse_huge(k, v)
        out[k] = _unbroken(v)
    return out


class _HugeNumber:
    """A number with more digits than any field takes; refused naming its field."""

    def __init__(self, digits: int):
        self.digits = digits

    def problem(self) -> str:
        return f"a number of {self.digits:,} digits is not allowed (at most {MAX_JSON_DIGITS})"


def _number(text: str):
    digits = len(text.lstrip("-"))
    return _HugeNumber(digits) if digits > MAX_JSON_DIGITS else int(text)


class WrittenNumber(float):
    """A JSON number that a float cannot hold as written: ``2.0000000000000000001`` (which a float reads as
    2.0, a whole number of units the file never gave) or ``1e400`` (infinity). It keeps the text, which
    messages show, and is never whole, so a field taking a whole number refuses it as written."""

    text: str

    def __new__(cls, text: str):
        obj = super().__new__(cls, float(text))
        obj.text = text
        return obj

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def is_integer(self) -> bool:
        return False


def _float(text: str):
    if len(text) > 4 * MAX_JSON_DIGITS:
        return _HugeNumber(len(text))
    value = float(text)
    if not math.isfinite(value) or (value.is_integer() and Decimal(text) != Decimal(int(value))):
        return WrittenNumber(text)
    return value


def _refuse_huge(key: str | None, value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, _HugeNumber):
            raise InputError(f"field '{key[:40]}': {item.problem()}" if key else item.problem())



#: the json module's sentences, as a biller reads them (it said "Invalid control character at", cut short)
_JSON_WORDS = {
    "Expecting value": "a value is missing here, or is not JSON (text is written in double quotes)",
    "Expecting ',' delimiter": "a ',' is missing between two values",
    "Expecting ':' delimiter": "a ':' is missing after a field name",
    "Expecting property name enclosed in double quotes": "a field name in double quotes is expected here (a ',' "
                                                         "just before '}' is not allowed in JSON)",
    "Unterminated string starting at": "a quoted text starts here and is never closed",
    "Invalid \\escape": "a backslash that starts no JSON escape (write \\\\ for a backslash)",
    "Extra data": "more text after the end of the JSON (two documents in one file?)",
}
_CONTROL_NAMES = {"\x00": "a NUL byte (0x00)", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}


def json_error_words(e: json.JSONDecodeError) -> str:
    """What the json module found, in words that say what to change."""
    msg = e.msg
    if msg.startswith("Invalid control character"):
        ch = e.doc[e.pos] if 0 <= e.pos < len(e.doc) else ""
        name = _CONTROL_NAMES.get(ch, f"the control character 0x{ord(ch):02x}" if ch else "a control character")
        return f"{name} inside quoted text: JSON writes it escaped (\\n, \\t, \\u0000)"
    ch = e.doc[e.pos] if isinstance(e.doc, str) and 0 <= e.pos < len(e.doc) else ""
    if ch and (ord(ch) < 32 or ord(ch) == 127) and ch not in " \t\n\r":
        # a NUL or other control character between values read "a ',' is missing" (an audit)
        name = _CONTROL_NAMES.get(ch, f"the control character 0x{ord(ch):02x}")
        return f"{name} outside quoted text, where JSON allows none: remove it"
    return _JSON_WORDS.get(msg, msg)


def load_json(text: str | bytes, what: str = "input") -> Any:
    """Parse JSON text; refuse duplicate keys, NaN, huge numbers and absurd nesting clearly."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{what}: not UTF-8 text") from None
    def _bad_constant(name):
        raise InputError(f"{what}: {name} is not allowed in JSON input")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_bad_constant,
                          parse_int=_number, parse_float=_float)
        _refuse_huge(None, data)
        data = _unbroken(data)
        return data
    except InputError as e:
        if str(e).startswith("field '"):
            raise InputError(f"{what}, {e}") from None
        if str(e).startswith("a number of"):
            raise InputError(f"{what}: {e}") from None
        raise
    except json.JSONDecodeError as e:
        if not text.strip():  # "line 1, column 1: Expecting value" said nothing to an analyst (an audit)
            raise InputError(f"{what}: the file is empty") from None
        raise InputError(f"{what}: not valid JSON (line {e.lineno}, column {e.colno}: {json_error_words(e)})") from None
    except RecursionError:
        raise InputError(f"{what}: JSON nested too deeply") from None
    except ValueError as e:  # a number Python will not convert, and the like
        raise InputError(f"{what}: not valid JSON ({' '.join(str(e).split())[:120]})") from None


def parse_claims(data: Any, kb=None) -> tuple[list[Claim | InputError], bool]:
    """Validate one claim or a list; returns (claims or per-claim errors, was_list).

    A bad claim in a list does not hide the good ones: each comes back as a
    claim or as the InputError that says why it cannot be judged.
    """
    if isinstance(data, dict):
        try:
            return [parse_claim(data, kb=kb)], False
        except InputError as e:
            return [e], False
    if isinstance(data, list):
        if not data:
            raise InputError("input: the list of claims is empty")
        out: list[Claim | InputError] = []
        ids: set[str] = set()
        for i, raw in enumerate(data):
            try:
                c = parse_claim(raw, i, kb=kb)
                if c.claim_id in ids:  # its lines are answered each, as any claim's that cannot be judged (an audit
                    # found a repeated claim's two lines come back as one row with no line number)
                    e = InputError(f"claim {c.claim_id}, field claim_id: claim_id appears more than once in the list",
                                   c.claim_id)
                    e.lines = _lines_given(raw)
                    raise e
                ids.add(c.claim_id)
                out.append(c)
            except InputError as e:
                out.append(e)
        return out, True
    raise InputError(f"input: expected a claim object or a list of claims, got {_typename(data)}")


def id_problem(v: str) -> str | None:
    """Why an id cannot name one claim, patient or provider: a character that shows as nothing, or a line
    break or other control character inside it (its ends are white space, stripped as every reader strips
    them); None when it can."""
    if re.search(INVISIBLE, v):
        return INVISIBLE_WORDS
    if "\x00" in v or re.search(CONTROL, v.strip()):
        return CONTROL_WORDS
    return None


def history_problem(raw: dict) -> str | None:
    """What is wrong with one billed-history entry, as 'field F: problem', or None.

    For readers that number history rows themselves (a history CSV): the
    message names the field as the claim validator would.
    """
    try:
        HistoryEntry.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = _field_of(err.get("loc", ()))
        return f"field {field}: {_explain(err)}" if field else _explain(err)
    return None
