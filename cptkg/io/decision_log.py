"""Append-only decision log: which rules judged which claim, under which KB.

``cptkg check --log FILE`` appends one JSON line per claim once its verdicts
were written (a failed write to standard output logs nothing), so an auditor
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


SALT_BYTES = 32


class DecisionLogError(ValueError):
    """A log or salt file that cannot be used safely; ``str()`` names the file (exit 2)."""


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _read_salt(salt_file: Path) -> bytes | None:
    """The salt in ``salt_file``; None when there is none; DecisionLogError when it is not a salt.

    Never follows a symlink (O_NOFOLLOW) and accepts only a regular file
    holding exactly 64 hex digits (and an optional newline).
    """
    try:
        fd = os.open(salt_file, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        if salt_file.is_symlink():
            raise DecisionLogError(f"{salt_file}: the salt file is a symbolic link; refusing to follow it") from None
        raise DecisionLogError(f"{salt_file}: the salt file cannot be read ({e.strerror or e})") from None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DecisionLogError(f"{salt_file}: the salt file is not a regular file")
        data = os.read(fd, 4 * SALT_BYTES)
    finally:
        os.close(fd)
    text = data.decode("ascii", errors="replace").rstrip("\n")
    if len(text) != 2 * SALT_BYTES or not all(c in "0123456789abcdefABCDEF" for c in text):
        what = "is empty" if not data else f"holds {len(data)} bytes that are not {2 * SALT_BYTES} hex digits"
        raise DecisionLogError(f"{salt_file}: the salt file {what}; restore it from a backup or move it away "
                               f"(entries hashed with another salt cannot be linked to new ones)")
    return bytes.fromhex(text)


def _create_salt(salt_file: Path) -> None:
    """Create ``salt_file`` atomically: a full, fsynced temporary file linked into place.

    ``os.link`` never replaces an existing file, so of several processes
    creating the salt at once exactly one wins and the others read its salt;
    no process ever sees an empty or half-written salt file under the final
    name. On a file system without hard links, exclusive create (O_EXCL) of
    the final name is the fallback.
    """
    salt = secrets.token_bytes(SALT_BYTES)
    content = (salt.hex() + "\n").encode("ascii")
    tmp = salt_file.with_name(f".{salt_file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")

    def write_new(path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        os.close(fd)

    write_new(tmp)
    try:
        os.link(tmp, salt_file)
    except FileExistsError:
        pass  # another process created it first: use theirs
    except OSError:
        try:
            write_new(salt_file)
        except FileExistsError:
            pass
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _salt_for(log_path: Path) -> bytes:
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    salt_file = log_path.with_name(log_path.name + ".salt")
    salt = _read_salt(salt_file)
    if salt is None:
        try:
            _create_salt(salt_file)
        except OSError as e:
            raise DecisionLogError(f"{salt_file}: the salt file cannot be created ({e.strerror or e})") from None
        salt = _read_salt(salt_file)
        if salt is None:
            raise DecisionLogError(f"{salt_file}: the salt file vanished while it was created")
    return salt


def _open_log(path: Path) -> int:
    """An append-only descriptor on the log; refuses a symlink or anything but a regular file."""
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise DecisionLogError(f"{path}: the decision log is a symbolic link; give the real file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise DecisionLogError(f"{path}: the decision log is not a regular file")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK, 0o600)
    except OSError as e:
        if path.is_symlink():
            raise DecisionLogError(f"{path}: the decision log is a symbolic link; give the real file") from None
        raise DecisionLogError(f"{path}: cannot write the decision log ({e.strerror or e})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DecisionLogError(f"{path}: the decision log is not a regular file")
    return fd


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


class OpenLog:
    """A decision log opened (and checked) and its salt read, before anything is written to it.

    ``cptkg check`` opens the log after judging and before writing the
    verdicts, so a log that cannot be used stops the command before any
    verdict is shown, and appends only once the verdicts were written (a
    decision is logged as delivered only when it was). :func:`append_decisions`
    is the one-call form.
    """

    def __init__(self, path: Path | str, include_identifiers: bool = False):
        self.path = Path(path)
        self.include_identifiers = include_identifiers
        # the log is opened (and checked) first: no salt is created for a log that cannot be written
        self.fd = _open_log(self.path)
        try:
            self.salt = b"" if include_identifiers else _salt_for(self.path)
        except OSError as e:
            self.close()
            raise DecisionLogError(f"{self.path}: cannot write the decision log ({e.strerror or e})") from None
        except BaseException:
            self.close()
            raise

    def append(self, claims: Iterable[Any], results: Iterable[Any], kb_version_value: str | None = None) -> list[dict]:
        """Append one JSON line per (claim, result) pair; return the records."""
        claims, results = list(claims), list(results)
        if len(claims) != len(results):
            raise ValueError(f"{len(claims)} claims but {len(results)} results")
        default_version = kb_version_value
        records = []
        try:
            for claim, result in zip(claims, results):
                version = _get(result, "kb_version") or default_version
                if not version:
                    from cptkg.knowledge.pack import locate

                    default_version = version = kb_version(locate())
                records.append(decision_record(claim, result, version, self.salt, self.include_identifiers))
            data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
            # one write of whole lines in append mode: concurrent writers do not interleave within a line
            view = memoryview(data.encode("utf-8"))
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as e:
            raise DecisionLogError(f"{self.path}: cannot write the decision log ({e.strerror or e})") from None
        return records

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "OpenLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def append_decisions(path: Path | str, claims: Iterable[Any], results: Iterable[Any],
                     include_identifiers: bool = False, kb_version_value: str | None = None) -> list[dict]:
    """Append one JSON line per (claim, result) pair to ``path``; return the records.

    ``claims`` are the claims as received (dicts, or parsed Claim models);
    ``results`` the checker's ClaimResults (or their JSON). The KB version
    is the result's own ``kb_version`` when it carries one, else
    ``kb_version_value``, else the hash of the repository's files.
    """
    claims, results = list(claims), list(results)
    if len(claims) != len(results):
        raise ValueError(f"{len(claims)} claims but {len(results)} results")
    with OpenLog(path, include_identifiers) as log:
        return log.append(claims, results, kb_version_value)
