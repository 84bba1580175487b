"""What cptkg may recompute, kept between runs: the SHACL pass markers and the KB cache.

Why apart from the loader: both are files a user may delete at any time and
that must never change a verdict, so their rules sit in one place. Every
file is data (JSON), never a pickle; written atomically (a reader never sees
half a file); named by a SHA-256 of everything it was made from, so a file
that does not match is ignored; and a damaged or foreign file is a cache
miss, never an error. The edit tables' Parquet cache
(:mod:`cptkg.knowledge.edits.files`) lives in the same folder,
:func:`cache_dir`.

- a SHACL pass is remembered as ``shacl-pass-<key>.json``, the key a SHA-256
  of every ontology, KB and shape file, the pySHACL version and the
  validation settings (:func:`shacl_key`);
- a loaded pack (no edit files) is kept as ``kb-cache-2-<key>.json``: its
  facts, their sources, the parsed rules, the words; a start reads it instead
  of parsing the Turtle and the rule files. A pack is cached only after it
  loaded and passed its SHACL shapes.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rdflib import URIRef

from cptkg.knowledge.kb import KnowledgeBase, Source
from cptkg.knowledge.pack import FamilyPack
from cptkg.rules.ast import Rule


def cache_dir() -> Path:
    """Where cptkg keeps what it may recompute: ``CPTKG_CACHE_DIR``, else the XDG cache folder."""
    env = os.environ.get("CPTKG_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cptkg"


def content_hash(paths: list[Path]) -> str:
    """The first 16 hex digits of a SHA-256 over the files' names and bytes (the KB version)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def write_json_atomically(target: Path, data) -> None:
    """Write ``data`` as JSON to ``target`` (temp file + os.replace), so a reader never sees half a
    file; a failure leaves no temp file and only costs the next start a cache miss."""
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cptkg-", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


# ------------------------------------------------------------------ SHACL pass markers

def shacl_key(files: list[Path], settings: str) -> str:
    """SHA-256 over the validated files' names and bytes, the pySHACL version and the loader's ``settings``."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    try:
        h.update(version("pyshacl").encode())
    except PackageNotFoundError:  # pragma: no cover - a dependency
        h.update(b"pyshacl ?")
    h.update(settings.encode())
    for p in files:
        h.update(str(p.name).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def shacl_marker(key: str) -> Path:
    return cache_dir() / f"shacl-pass-{key}.json"


def passed_before(key: str) -> bool:
    """Whether the files of ``key`` passed SHACL before (a marker that says anything else is not trusted)."""
    try:
        data = json.loads(shacl_marker(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("key") == key and data.get("conforms") is True


def remember_pass(key: str) -> None:
    """Remember that the KB of ``key`` passed SHACL (the marker is written atomically)."""
    write_json_atomically(shacl_marker(key), {"key": key, "conforms": True})


# ------------------------------------------------------------------ the KB cache

KB_CACHE_VERSION = "kb-cache-2"


def kb_cache_key(pack: FamilyPack) -> str:
    """SHA-256 over the pack's files and the code that turns them into a KB (knowledge/ and rules/)."""
    here = Path(__file__).parent
    h = hashlib.sha256(f"{KB_CACHE_VERSION}\0".encode())
    code = [*sorted(here.rglob("*.py")), *sorted((here.parent / "rules").glob("*.py"))]
    for p in sorted({*pack.version_files(), *pack.shape_files(), pack.root / "family.yaml"}) + code:
        if p.exists():
            h.update(str(p.name).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def kb_cache_file(key: str) -> Path:
    return cache_dir() / f"{KB_CACHE_VERSION}-{key}.json"


@dataclass
class CachedKB:
    """What the KB cache holds for one pack, typed again: the loader makes the KB of it.

    The rules come back parsed (``clauses``, kind -> rules); the loader checks
    them into programs as it checks a parsed rule file."""
    version: str
    facts: dict[str, set[tuple]]
    fact_sources: dict
    edb: dict[str, int]
    verdicts: dict[str, str]
    sources: dict[str, Source]
    clauses: dict[str, list[Rule]]
    declared_types: dict[str, list[str]]
    properties: dict[str, URIRef]
    input_types: dict[str, dict[str, list[str]]]
    phrases: dict[str, str]
    subject_file: dict[str, str]
    labels: dict[str, str]


def write_kb_cache(kbo: KnowledgeBase, key: str, clauses: dict) -> None:
    """Keep the just-loaded ``kbo`` (``clauses``: kind -> its rules as parsed) under ``key``."""
    from cptkg.rules.ast import rule_data

    labels = {}
    for rows in kbo.facts.values():
        for row in rows:
            for v in row:
                if isinstance(v, str) and v not in labels:
                    labels[v] = kbo.label(v)
    data = {
        "key": key, "version": kbo.version,
        "facts": {p: [list(r) for r in rows] for p, rows in kbo.facts.items()},
        "fact_sources": [[p, list(r), list(srcs)] for (p, r), srcs in kbo._fact_sources.items()],
        "edb": kbo.edb, "verdicts": kbo.verdicts,
        "sources": [vars(s) | {"maps_to": list(s.maps_to)} for s in kbo.sources.values()],
        "clauses": {k: [rule_data(r) for r in v] for k, v in clauses.items()},
        "declared_types": kbo.check_program.declared_types,
        "properties": {k: str(v) for k, v in kbo.properties.items()},
        "input_types": kbo.input_types,
        "phrases": kbo.phrases, "subject_file": kbo.subject_file,
        "rule_titles": kbo.rule_titles, "rule_verdicts": kbo.rule_verdicts, "labels": labels,
    }
    write_json_atomically(kb_cache_file(key), data)


def read_kb_cache(key: str, kinds) -> CachedKB | None:
    """What the cache holds for ``key`` (with the rules of each of ``kinds``), or None: absent,
    damaged or another pack's file is a cache miss."""
    from cptkg.rules.ast import rule_of

    try:
        data = json.loads(kb_cache_file(key).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        sources = {}
        for s in data["sources"]:
            s = dict(s)
            s["maps_to"] = tuple(s.get("maps_to", ()))
            sources[s["id"]] = Source(**s)
        return CachedKB(
            version=str(data["version"]),
            facts={str(p): {tuple(r) for r in rows} for p, rows in data["facts"].items()},
            fact_sources={(str(p), tuple(r)): list(srcs) for p, r, srcs in data["fact_sources"]},
            edb={str(k): int(v) for k, v in data["edb"].items()}, verdicts=dict(data["verdicts"]),
            sources=sources,
            clauses={kind: [rule_of(r) for r in data["clauses"][kind]] for kind in kinds},
            declared_types={str(k): list(v) for k, v in data["declared_types"].items()},
            properties={str(k): URIRef(v) for k, v in data["properties"].items()},
            input_types={str(k): {str(p): list(t) for p, t in v.items()} for k, v in data["input_types"].items()},
            phrases=dict(data["phrases"]), subject_file=dict(data["subject_file"]), labels=dict(data["labels"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged or foreign cache is a cache miss, never an error
