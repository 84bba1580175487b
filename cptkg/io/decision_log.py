"""Append-only decision log: which rules judged which claim, under which KB.

``cptkg check --log FILE`` appends one JSON line per claim, so an auditor
can answer "why was this line denied, and by which version of the rules?"
months later, without the log becoming a second copy of patient data:

* ``decision_id`` (uuid4) and ``time`` (UTC, ISO 8601);
* ``input_sha256``: SHA-256 of the claim as received, in canonical JSON
  (sorted keys, no spaces, UTF-8), so the same claim always hashes the same
  and the log proves what was judged without storing it;
* ``kb_version``: content hash of the ontology, KB and rule files (the same
  value the checker reports, see :func:`kb_version`);
* ``status`` and, per line, ``line``, ``code``, ``status`` and the ``rules``
  (reason ids) behind a rejection, plus ``warnings``;
* ``patient`` and ``providers``: salted SHA-256 of the identifiers, unless
  ``include_identifiers`` (``--log-identifiers``) asks for them in clear.

Salt: read from the environment variable ``CPTKG_LOG_SALT`` when set (keep
it in the deployment's secret store; the same salt keeps hashes comparable
across runs and machines). Otherwise a random 32-byte salt is created once
in ``<log file>.salt`` (mode 0600) beside the log, so hashes stay linkable
within one log but the log alone cannot be reversed by hashing every known
patient id. Each entry records ``salt_id`` (first 8 hex digits of the
salt's own SHA-256) so an auditor knows which salt an entry needs.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any, Iterable

SALT_ENV = "CPTKG_LOG_SALT"


def kb_version(root: Path | str) -> str:
    """Content hash of the core ontology and the family pack at ``root``.

    Uses the KB loader's own file selection and hash, so the log and the
    checker's ``kb_version`` can never disagree.
    """
    from cptkg.knowledge.loader import pack_version
    from cptkg.knowledge.pack import read_pack

    return pack_version(read_pack(root))


def canonical_json(obj: Any) -> bytes:
    """The one byte form of a JSON value that the log hashes.

    >>> canonical_json({"b": 1, "a": [1, "é"]})
    b'{"a":[1,"\\xc3\\xa9"],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _salt_for(log_path: Path) -> bytes:
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    salt_file = log_path.with_name(log_path.name + ".salt")
    try:
        return bytes.fromhex(salt_file.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    salt = secrets.token_bytes(32)
    fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(salt.hex() + "\n")
    return salt


def hash_identifier(value: str, salt: bytes) -> str:
    return "sha256:" + hashlib.sha256(salt + b"\x00" + str(value).encode("utf-8")).hexdigest()


def _get(obj: Any, name: str, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _as_input(claim: Any) -> Any:
    """The claim as received: a dict stays, a pydantic Claim is dumped."""
    if hasattr(claim, "model_dump"):
        return claim.model_dump(mode="json")
    return claim


def _rule_ids(reasons) -> list[str]:
    out = []
    for r in reasons or []:
        rid = _get(r, "rule") or _get(r, "rule_id") or _get(r, "id")
        if rid is not None and rid not in out:
            out.append(str(rid))
    return out


def decision_record(claim: Any, result: Any, kb_version: str, salt: bytes,
                    include_identifiers: bool = False, now: _dt.datetime | None = None) -> dict:
    """One log entry for one judged (or refused) claim."""
    raw = _as_input(claim)
    res = result.to_json() if hasattr(result, "to_json") else result
    patient = _get(raw, "patient_id") if isinstance(raw, dict) or hasattr(raw, "patient_id") else None
    lines = _get(raw, "lines")
    providers = sorted({str(_get(l, "provider_id")) for l in (lines if isinstance(lines, list) else [])
                        if _get(l, "provider_id") is not None})

    def ident(v):
        if v is None:
            return None
        return str(v) if include_identifiers else hash_identifier(v, salt)

    rec = {
        "decision_id": str(uuid.uuid4()),
        "time": (now or _dt.datetime.now(_dt.timezone.utc)).isoformat(timespec="milliseconds"),
        "input_sha256": hashlib.sha256(canonical_json(raw)).hexdigest(),
        "kb_version": kb_version,
        "claim_id": _get(res, "claim_id"),
        "status": _get(res, "status"),
        "lines": [{"line": _get(l, "line"), "code": _get(l, "code"), "status": _get(l, "status"),
                   "rules": _rule_ids(_get(l, "reasons")), "warnings": _rule_ids(_get(l, "warnings"))}
                  for l in (_get(res, "lines") or [])],
        "patient": ident(patient),
        "providers": [ident(p) for p in providers],
        "identifiers": "clear" if include_identifiers else "salted-sha256",
        "salt_id": None if include_identifiers else hashlib.sha256(salt).hexdigest()[:8],
    }
    if _get(res, "error") is not None:
        rec["error"] = _get(res, "error")
    return rec


def append_decisions(path: Path | str, claims: Iterable[Any], results: Iterable[Any],
                     include_identifiers: bool = False, kb_version_value: str | None = None) -> list[dict]:
    """Append one JSON line per (claim, result) pair to ``path``; return the records.

    ``claims`` are the claims as received (dicts, or parsed Claim models);
    ``results`` the checker's ClaimResults (or their JSON). The KB version
    is the result's own ``kb_version`` when it carries one, else
    ``kb_version_value``, else the hash of the repository's files.
    """
    path = Path(path)
    claims, results = list(claims), list(results)
    if len(claims) != len(results):
        raise ValueError(f"{len(claims)} claims but {len(results)} results")
    salt = b"" if include_identifiers else _salt_for(path)
    default_version = kb_version_value
    records = []
    for claim, result in zip(claims, results):
        version = _get(result, "kb_version") or default_version
        if not version:
            from cptkg.knowledge.pack import locate

            default_version = version = kb_version(locate())
        records.append(decision_record(claim, result, version, salt, include_identifiers))
    data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    # one write of whole lines in append mode: concurrent writers do not interleave within a line
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(data)
    return records
