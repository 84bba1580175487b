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
#: the names billing-system exports and the CMS-1500 layout give the columns cptkg reads under other words
#: (item 24D's modifiers, numbered per position; 24G "days or units"; the rendering NPI of 24J), as
#: :func:`column_key` writes them, without a trailing position number. Each is the column it names: read as
#: an unknown column, its values would be taken as not given (a KD sent and a line denied for lacking it).
OTHER_NAMES = {
    "modifiers": ("mod", "mods", "modifier_code", "modifier_codes", "cpt_modifier", "cpt_modifiers",
                  "hcpcs_modifier", "hcpcs_modifiers", "procedure_modifier", "procedure_modifiers",
                  "proc_modifier", "line_modifier", "line_modifiers", "cpt_mod", "mod_code"),
    "units": ("qty", "quantity", "units_billed", "billed_units", "service_units", "units_of_service",
              "days_or_units", "days/units", "days_units", "unit_count", "service_unit_count", "billed_quantity",
              "quantity_billed", "svc_units"),
    "provider_id": ("npi", "rendering_npi", "provider_npi", "rendering_provider_npi", "rendering_provider",
                    "performing_npi", "performing_provider", "provider"),
    # a required column under an export's name: the file cannot be read without it, and the refusal says
    # which of its columns to rename ("CPT Code" was "not a claim file cptkg can read" from check: an audit)
    "code": ("cpt", "cpt_code", "hcpcs", "hcpcs_code", "cpt_hcpcs", "cpt_hcpcs_code", "cpt/hcpcs", "procedure_code",
             "proc_code", "procedure", "service_code", "billing_code"),
    "date_of_service": ("dos", "service_date", "date_of_svc", "svc_date", "dos_from", "from_date", "from_dos",
                        "service_from_date", "date_of_service_from"),
    "claim_id": ("claim", "claim_number", "claim_no", "claim_num", "pcn", "patient_control_number", "clm01"),
    "patient_id": ("patient", "member_id", "subscriber_id", "patient_number", "mrn", "member"),
    "line": ("line_number", "line_no", "line_num", "line_item", "service_line", "ln", "lx", "sequence"),
    "provider_role": ("role", "provider_type", "rendering_role", "performer_role"),
}
#: a column numbered as one of the four modifier positions (``M1`` .. ``M4``) is taken for a modifier column
_MODIFIER_POSITION = re.compile(r"m[\s_-]*[1-4]")


def misnamed(header: list[str], known: tuple[str, ...], given: dict[str, str] | None = None) -> str | None:
    """Why the header cannot be read as it stands (a near miss of a column it lacks), or None.

    ``header`` is the file's column names, stripped and lower-cased; ``known`` every column the file kind
    has. A name read as the column it misspells changes nothing a user could see, so it is named, as the
    file writes it when ``given`` maps the read name to the file's ("Mod 1", not "mod_1")."""
    absent = [k for k in known if k not in header]
    extras = set(extra_modifier_columns(header, known))  # beside 'modifiers': their rows are checked instead
    for name in header:
        if not name or name in known or name in extras:
            continue
        bare = re.sub(r"[\s_-]*[0-9]+$", "", name)  # modifier1, modifier_2: numbered copies of one column
        best = next((k for k in absent if bare in OTHER_NAMES.get(k, ())
                     or (k == "modifiers" and _MODIFIER_POSITION.fullmatch(name))), None)
        if best is None:
            best = max(absent, key=lambda k: difflib.SequenceMatcher(None, bare, k).ratio(), default=None)
            if best is not None and difflib.SequenceMatcher(None, bare, best).ratio() < NEAR:
                best = None
        if best is not None:
            extra = {"modifiers": " (one column holding the line's modifiers, separated by ';', '|', ',' or spaces)",
                     "units": " (the line's units, a whole number; 1 when left empty)"}.get(best, "")
            return (f"column {(given or {}).get(name, name)!r} is not a column cptkg reads; did you mean {best!r}{extra}? "
                    f"Rename it: read as it is, its values would be taken as not given")
    return None


def _unnumbered(name: str) -> str:
    """A column name without a trailing number or ``#`` (``Line #``, ``Mod 1``), as exports number them."""
    return re.sub(r"[\s_-]*[0-9#]+$", "", name)


def claim_columns_named(header: list[str]) -> int:
    """How many required claim columns a header names, by their names or an export's (:data:`OTHER_NAMES`):
    a file naming most of them is a claim CSV with its header to mend, not some other file."""
    bare = {_unnumbered(h) for h in header}
    return sum(1 for k in CLAIM_REQUIRED if k in header or bare & set(OTHER_NAMES.get(k, ())))


def missing_words(missing: list[str], header: list[str], known: tuple[str, ...],
                  given: dict[str, str] | None = None) -> str:
    """What to do about required columns the header lacks: the file's column that names one under another
    name, to rename; else the separator or ``sep=`` line that hides them (:func:`unseparated`); else ""."""
    renames: list[str] = []
    left = list(missing)
    for name in header:
        if not name or name in known:
            continue
        bare = _unnumbered(name)
        named = next((k for k in left if bare in OTHER_NAMES.get(k, ())), None) or next(
            (k for k in left if difflib.SequenceMatcher(None, bare, k).ratio() >= NEAR), None)
        if named:
            left.remove(named)
            renames.append(f"{(given or {}).get(name, name)!r} to {named!r}")
    if renames:
        return f": rename the file's column{'s' if len(renames) > 1 else ''} {', '.join(renames)}"
    if "claim_id" in missing and "line" in missing and set(HISTORY_REQUIRED) <= set(header):
        return (": the file has the columns of a history file (patient_id, code, date_of_service); give it "
                "with --history, beside a file of the claims to judge")
    hint = unseparated(list((given or {}).values()) or header)
    return f": {hint}" if hint else ""


def unseparated(header: list[str]) -> str | None:
    """Why a header that lacks required columns may still hold them, or None: Excel's ``sep=`` first line,
    or a file separated by semicolons or tabs (a European spreadsheet's CSV), which read with commas is one
    column. Said beside the missing columns, so the user is told what to change, not only what is absent."""
    first = header[0].strip().lower() if header else ""
    if first.startswith("sep="):
        return ("line 1 is Excel's 'sep=' line, not the header: remove that line so the column names come "
                "first")
    save = "save the file as CSV with commas (in Excel: CSV UTF-8, comma delimited)"
    if any(";" in name for name in header):
        return f"the header is separated by semicolons, not commas: {save}"
    # tabs, or tabs already read as the word breaks of one column name (column_key)
    if any("\t" in name for name in header) or (
            len(header) == 1 and sum(k in header[0] for k in CLAIM_REQUIRED + HISTORY_REQUIRED) >= 2):
        return f"the header is separated by tabs or spaces, not commas: {save}"
    return None


def extra_modifier_columns(header: list[str], known: tuple[str, ...]) -> list[str]:
    """The columns beside 'modifiers' that hold modifiers too ("Modifier 1" .. "Modifier 4", "Mod1", "M2" of an
    export carrying both the combined column and one per position): cptkg reads 'modifiers' only, so each row's
    values there must already be in it (:func:`extra_modifier_problem`)."""
    if "modifiers" not in known or "modifiers" not in header:
        return []
    out = []
    for name in header:
        if not name or name in known:
            continue
        bare = re.sub(r"[\s_-]*[0-9]+$", "", name)
        if bare in ("modifier", "modifiers") + OTHER_NAMES["modifiers"] or _MODIFIER_POSITION.fullmatch(name):
            out.append(name)
    return out


def extra_modifier_problem(shown: str, value: str) -> str:
    """Why a row's value in a second modifier column cannot be left unread: a modifier 'modifiers' does not hold
    (a hostile-files audit: "Modifier 1" = 76 beside an empty 'modifiers' was dropped, and a true repeat denied;
    a regression hunt: a column repeating 'modifiers', or empty, loses nothing and is read)."""
    return (f"column {shown!r} holds {value[:40]!r}, which the column 'modifiers' does not, and cptkg reads one "
            f"modifier column: put every modifier of the line in 'modifiers' (separated by ';', '|', ',' or "
            f"spaces): read as it is, {shown!r} would be taken as not given")
