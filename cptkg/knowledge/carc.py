"""X12 claim adjustment reason codes (CARC) in words, from the core's carc.yaml.

Why here, in the knowledge layer: the words belong to X12's code list, the same for every code
family, and every layer that shows a reason code reads them (the judge's reasons, the writers, the
FHIR terminology export); a pack names the code (``% carc:``), the core says what it means.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CARC_FILE = Path(__file__).resolve().parent / "carc.yaml"


@lru_cache(maxsize=1)
def carc_descriptions() -> dict[str, str]:
    """CARC -> its short description, from the core's knowledge/carc.yaml (each entry sourced there).

    Why a file and not the rules: the words belong to X12's code list, the same for every
    code family; a pack names the code (``% carc:``), the core says what it means.
    A missing or damaged file leaves the codes without words rather than stopping a check.
    """
    import yaml

    try:
        data = yaml.safe_load(CARC_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    codes = data.get("codes") if isinstance(data, dict) else None
    if not isinstance(codes, dict):
        return {}
    return {str(k): " ".join(str(v["description"]).split()) for k, v in codes.items()
            if isinstance(v, dict) and v.get("description")}


def carc_description(carc: str | None) -> str:
    """The CARC's short description ("" for a code no source gives words for).

    >>> carc_description("18")
    'Exact duplicate claim/service'
    >>> carc_description("9999")
    ''
    """
    return carc_descriptions().get(str(carc or "").strip(), "")
