"""Family packs: a code family as data, in one folder.

A pack holds everything one code family needs beside the core:

    family.yaml          label, disclaimer, defaults, never-bypass modifiers
    ontology/*.ttl       its ontology extension (services, devices, routes, roles)
    kb/*.ttl             its knowledge base (codes, groups, edits, sources)
    rules/<kind>.dl      its rules (claim.dl, infer.dl), with <kind>.cases.yaml
    rules/titles.yaml    each rule's title in billing words (rule id -> title)
    shapes/*.ttl         optional SHACL shapes of its own
    sources/             the documents its sources quote (optional)

The core reads no family name: which pack is loaded comes from ``--kb DIR``
or ``CPTKG_KB``, else the repository's default pack (the folder
``families/default`` names).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CORE_ONTOLOGY = Path(__file__).resolve().parent / "ontology"
REPO_ROOT = Path(__file__).resolve().parents[2]
FAMILIES = REPO_ROOT / "families"


def _default_pack() -> Path:
    """The folder ``families/default`` names (one line): the pack loaded when none is chosen."""
    try:
        name = (FAMILIES / "default").read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    return FAMILIES / name if name else FAMILIES


DEFAULT_PACK = _default_pack()
ENV = "CPTKG_KB"
RULE_KINDS = {"claim": "claim", "encounter": "infer"}  # request kind -> rule file stem


class PackError(ValueError):
    """A family pack that cannot be read; the message names the file and the field."""


@dataclass(frozen=True)
class FamilyPack:
    root: Path
    name: str
    code_family: str
    label: str
    codes: str = ""
    disclaimer: str = ""
    defaults: dict = field(default_factory=dict)
    never_bypass: tuple[str, ...] = ()
    example_claim: Path | None = None
    example_encounter: Path | None = None

    def __hash__(self) -> int:  # defaults is a dict; a pack is known by its folder
        return hash(self.root)

    def shown(self, path: Path) -> str:
        """A file of the pack (or of the core) as messages name it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            try:
                return "core: " + str(path.relative_to(CORE_ONTOLOGY.parent))
            except ValueError:
                return str(path)

    def core_ontology_files(self) -> list[Path]:
        return sorted(p for p in CORE_ONTOLOGY.glob("*.ttl") if "shapes" not in p.name)

    def ontology_files(self) -> list[Path]:
        """Core ontology first, then the pack's extension."""
        return self.core_ontology_files() + sorted((self.root / "ontology").glob("*.ttl"))

    def kb_files(self) -> list[Path]:
        return sorted((self.root / "kb").glob("*.ttl"))

    def shape_files(self) -> list[Path]:
        """The core's KB shapes and the pack's own (claim shapes are not KB shapes)."""
        return [CORE_ONTOLOGY / "shapes.ttl"] + sorted((self.root / "shapes").glob("*.ttl"))

    def claim_shape_files(self) -> list[Path]:
        return [CORE_ONTOLOGY / "claim-shapes.ttl"]

    def rule_file(self, stem: str) -> Path:
        return self.root / "rules" / f"{stem}.dl"

    def rule_files(self) -> list[Path]:
        return sorted((self.root / "rules").glob("*.dl"))

    def titles_file(self) -> Path:
        """``rules/titles.yaml``: each rule's title in billing words, by rule id."""
        return self.root / "rules" / "titles.yaml"

    def case_file(self, stem: str) -> Path:
        return self.root / "rules" / f"{stem}.cases.yaml"

    def version_files(self) -> list[Path]:
        """Every file whose content the KB version hashes."""
        return (self.ontology_files() + self.kb_files() + self.rule_files() + [self.titles_file()] + self.shape_files()
                + [self.root / "family.yaml"])


def locate(kb_dir: str | Path | None = None) -> Path:
    """The pack folder: ``kb_dir``, else ``CPTKG_KB``, else the default pack."""
    chosen = kb_dir or os.environ.get(ENV) or DEFAULT_PACK
    return Path(chosen).expanduser().resolve()


def read_pack(root: str | Path) -> FamilyPack:
    """Read and check ``family.yaml`` of the pack at ``root``."""
    import yaml

    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise PackError(f"{root}: no such family pack folder")
    desc = root / "family.yaml"
    if not desc.is_file():
        raise PackError(f"{root}: not a family pack (no family.yaml)")
    try:
        data = yaml.safe_load(desc.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PackError(f"{desc.name}: not valid YAML ({' '.join(str(e).split())[:200]})") from None
    if not isinstance(data, dict):
        raise PackError(f"{desc.name}: must be a mapping of fields (name, code_family, label, …)")
    known = {"name", "code_family", "label", "codes", "disclaimer", "defaults", "never_bypass", "example_claim",
             "example_encounter"}
    for key in data:
        if key not in known:
            raise PackError(f"{desc.name}: field '{key}' is not a field of a family description (known: {', '.join(sorted(known))})")
    for key in ("name", "code_family", "label"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise PackError(f"{desc.name}: field '{key}' is missing or not text")
    for key in ("codes", "disclaimer"):
        if key in data and not isinstance(data[key], str):
            raise PackError(f"{desc.name}: field '{key}' must be text")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in defaults.items()):
        raise PackError(f"{desc.name}: field 'defaults' must map input fields to values (text)")
    never = data.get("never_bypass") or []
    if not isinstance(never, list) or not all(isinstance(m, (str, int)) for m in never):
        raise PackError(f"{desc.name}: field 'never_bypass' must be a list of modifiers")
    for key in ("example_claim", "example_encounter"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise PackError(f"{desc.name}: field '{key}' must be a file path")
    example, example_enc = data.get("example_claim"), data.get("example_encounter")
    for sub in ("ontology", "kb", "rules"):
        if not (root / sub).is_dir():
            raise PackError(f"{root.name}: a family pack needs a {sub}/ folder")
    return FamilyPack(root=root, name=data["name"].strip(), code_family=data["code_family"].strip(),
                      label=data["label"].strip(), codes=(data.get("codes") or "").strip(),
                      disclaimer=" ".join((data.get("disclaimer") or "").split()), defaults=dict(defaults),
                      never_bypass=tuple(str(m).upper() for m in never),
                      example_claim=(root / example).resolve() if example else None,
                      example_encounter=(root / example_enc).resolve() if example_enc else None)
