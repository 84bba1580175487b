"""Family packs: a code family as data, in one folder.

A pack holds everything one code family needs beside the core:

    family.yaml          label, disclaimer, defaults, never-bypass modifiers
    ontology/*.ttl       its ontology extension (services, devices, routes, roles)
    kb/*.ttl             its knowledge base (codes, groups, edits, sources)
    rules/<kind>.dl      its rules (claim.dl, infer.dl); each rule's title in its metadata (% title:)
    rules/<kind>.cases/  the rules' cases, one file per topic (<topic>.yaml, read in name order),
                         or one file rules/<kind>.cases.yaml
    rules/titles.yaml    optional, older packs: rule id -> title (the rule's % title: is preferred)
    shapes/*.ttl         optional SHACL shapes of its own
    sources/             the documents its sources quote (optional)
    examples/            the example claim and encounter family.yaml names (optional)

A pack is read only inside its folder: a symbolic link leaving it, a FIFO or
other non-regular file in it, and a path in family.yaml or a case file that
is absolute or leaves it by '..' are refused (PackError) before anything is
read, and the message quotes nothing from outside the pack.

The core reads no family name: which pack is loaded comes from ``--kb DIR``
(or a pack's name: a folder of ``kb/``, or a pack another installed package
declares under the ``cptkg.packs`` entry point) or ``CPTKG_KB`` (both read
by the faces, cptkg.session), else the default pack (the folder ``kb/default`` names).

Where the RDF lives: in a checkout, the design card's top level (``kb/`` for
the family packs, ``ontology/`` for the core ontology and shapes); in an
installed wheel, the same two folders shipped inside the package
(``cptkg/_kb``, ``cptkg/_ontology``: setup.py maps them), so an installed
``cptkg`` judges claims with its default pack from any folder.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cptkg import limits
from cptkg.files import load_yaml, unreadable_words

_PACKAGE = Path(__file__).resolve().parents[1]
REPO_ROOT = _PACKAGE.parent


def _shipped(name: str) -> Path:
    """A top-level data folder: inside the installed package if it was shipped there (a wheel),
    else the checkout's own (``kb/``, ``ontology/`` beside ``cptkg/``)."""
    inside = _PACKAGE / f"_{name}"
    return inside if inside.is_dir() else REPO_ROOT / name


CORE_ONTOLOGY = _shipped("ontology")
PACKS = _shipped("kb")
ENTRY_POINTS = "cptkg.packs"


def _default_pack() -> Path:
    """The folder ``kb/default`` names (one line): the pack loaded when none is chosen."""
    try:
        name = (PACKS / "default").read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    return PACKS / name if name else PACKS


DEFAULT_PACK = _default_pack()
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
        """Where the cases of ``rules/<stem>.dl`` are: the folder ``rules/<stem>.cases/`` if the pack
        has one, else the file ``rules/<stem>.cases.yaml`` (``cptkg.cases.load_cases`` reads either)."""
        return case_path(self.root, stem)

    def case_files(self, stem: str) -> list[Path]:
        """Every case file of ``rules/<stem>.dl``, in the order they are read (:func:`case_files`)."""
        return case_files(self.root, stem)

    def version_files(self) -> list[Path]:
        """Every file whose content the KB version hashes."""
        return (self.ontology_files() + self.kb_files() + self.rule_files() + [self.titles_file()] + self.shape_files()
                + [self.root / "family.yaml"])


#: the pack's folders: every file in them is the pack's, checked when the pack is read
PACK_FOLDERS = ("ontology", "kb", "rules", "shapes", "sources", "examples")
#: more entries than this in the pack's folders is not a family pack
MAX_PACK_FILES = 10_000


def _shown(root: Path, path: Path) -> str:
    """A path of the pack as messages name it: relative to the pack, never what a link points to."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _entry_problem(root: Path, path: Path) -> tuple[str | None, Path | None]:
    """(why ``path`` cannot be read as a file or folder of the pack at ``root``, its real path).

    Refused: a symbolic link whose target is outside the pack (or missing),
    and anything that is neither a regular file nor a folder (a FIFO would
    hang the load, a device or socket is no pack file). The message names
    the path as the pack names it and quotes nothing from outside.
    """
    shown = _shown(root, path)
    real = Path(os.path.realpath(path))
    if not _inside(root, real):
        return (f"{shown}: a symbolic link to a file outside the pack; a family pack reads only its own files "
                f"(copy the file into the pack)"), None
    try:
        st = os.stat(real)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"{shown}: a symbolic link in a loop (following it leads back to a link already followed)", None
        return f"{shown}: a symbolic link to a file that does not exist", None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a file")
        return f"{shown}: not a regular file ({kind}); a family pack holds regular files only", None
    return None, real


def check_pack_files(root: Path) -> None:
    """Refuse a pack whose files leave it: ``family.yaml`` and every entry of its folders.

    A symbolic link may point anywhere inside the pack (a rule file shared
    between two names, say); the pack folder itself may be reached through a
    link (``--kb`` names it, and it is resolved first). Hard links are
    ordinary files of the pack.
    """
    why, _real = _entry_problem(root, root / "family.yaml")
    if why:
        raise PackError(why)
    seen: set[Path] = set()
    count = total = 0
    for name in PACK_FOLDERS:
        folder = root / name
        if not os.path.lexists(folder):
            continue
        pending = [folder]
        while pending:
            entry = pending.pop()
            why, real = _entry_problem(root, entry)
            if why:
                raise PackError(why)
            if not real.is_dir():
                if entry is folder:
                    raise PackError(f"{_shown(root, entry)}: must be a folder of the pack")
                if real not in seen:
                    seen.add(real)
                    total += real.stat().st_size
                    if total > limits.MAX_PACK_BYTES:
                        raise PackError(f"{_shown(root, entry)}: the pack's files come to more than "
                                        f"{limits.MAX_PACK_BYTES:,} bytes with it, the most a family pack "
                                        "may hold (its rules and knowledge, not edit tables: those load with --edits)")
                continue
            if entry is not folder and entry.name.endswith((".ttl", ".dl", ".yaml", ".json")) and entry.parent.name in PACK_FOLDERS:
                raise PackError(f"{_shown(root, entry)}: not a regular file (a folder); a family pack reads it as a file")
            if real in seen:
                continue  # a folder reached twice (through a link inside the pack)
            seen.add(real)
            try:
                children = sorted(os.scandir(entry), key=lambda e: e.name)
            except OSError as e:
                raise PackError(f"{_shown(root, entry)}: cannot be read ({e.strerror})") from None
            count += len(children)
            if count > MAX_PACK_FILES:
                raise PackError(f"{root.name}: more than {MAX_PACK_FILES:,} files in its folders; not a family pack")
            pending.extend(entry / c.name for c in children)


def pack_path(root: Path, value: str, what: str, base: Path | None = None) -> Path:
    """The file a pack names (``value``, relative to ``base``, default the pack folder), inside the pack.

    Refused: an absolute path, a path whose '..' leaves the pack, a symbolic
    link out of it and anything but a regular file. ``what`` names where the
    pack names it ("family.yaml: field 'example_claim'"); the value itself is
    not quoted.
    """
    base = base or root
    if os.path.isabs(value):
        raise PackError(f"{what}: must name a file inside the pack folder by a relative path, not an absolute one")
    lexical = Path(os.path.normpath(base / value))
    if not _inside(root, lexical):
        raise PackError(f"{what}: must name a file inside the pack folder; '..' may not lead out of it")
    if os.path.lexists(lexical):
        why, real = _entry_problem(root, lexical)
        if why:
            raise PackError(f"{what}: {why}")
        if real.is_dir():
            raise PackError(f"{what}: {_shown(root, lexical)} is a folder, not a file")
    return lexical


def installed_packs() -> dict[str, Path]:
    """Packs by name: the folders of ``kb/`` holding a ``family.yaml``, then the packs installed
    packages declare under the ``cptkg.packs`` entry point (a name and a module, whose folder is
    the pack, or an object naming the folder), so a pack can be its own installable package.
    A built-in pack keeps its name; an entry point that cannot be loaded is left out (``cptkg
    packs`` names it)."""
    found = {p.name: p for p in sorted(PACKS.iterdir()) if (p / "family.yaml").is_file()} if PACKS.is_dir() else {}
    for ep in _entry_points():
        if ep.name in found:
            continue
        try:
            found[ep.name] = _entry_point_folder(ep)
        except PackError:
            continue
    return found


def _entry_points():
    from importlib.metadata import entry_points

    return sorted(entry_points(group=ENTRY_POINTS), key=lambda ep: ep.name)


def _entry_point_folder(ep) -> Path:
    """The pack folder an entry point declares: a module (its folder) or a path (text or Path)."""
    try:
        target = ep.load()
    except Exception as e:  # noqa: BLE001 - another package's import error, told in billing words
        raise PackError(f"installed pack '{ep.name}' ({ep.value}) cannot be loaded: {type(e).__name__}") from None
    if isinstance(target, (str, os.PathLike)):
        return Path(target)
    where = getattr(target, "__file__", None)
    if where:
        return Path(where).resolve().parent
    paths = list(getattr(target, "__path__", []) or [])  # a namespace package: its one folder
    if len(paths) == 1:
        return Path(paths[0])
    raise PackError(f"installed pack '{ep.name}' ({ep.value}) names neither a folder nor a module")


def locate(kb_dir: str | Path | None = None) -> Path:
    """The pack folder: ``kb_dir``, else the default pack (``CPTKG_KB`` is read by the faces only,
    in :mod:`cptkg.session`, and given here as ``kb_dir``).

    A value that is not an existing folder is looked up as a pack's name
    (``pump``: ``kb/pump``, or an installed pack of that name), so ``--kb pump``
    works from any folder, in a checkout and in an installed wheel alike.
    """
    chosen = kb_dir or DEFAULT_PACK
    path = Path(chosen).expanduser()
    if not path.exists() and isinstance(chosen, str) and chosen and "/" not in chosen and os.sep not in chosen:
        named = installed_packs().get(chosen)
        if named is not None:
            path = named
    return path.resolve()


def read_pack(root: str | Path) -> FamilyPack:
    """Read and check ``family.yaml`` of the pack at ``root``."""
    import yaml

    root = Path(root).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise PackError(f"{root}: is a file, not a family pack folder (give the folder that holds family.yaml)")
    if not root.is_dir():
        raise PackError(f"{root}: no such family pack folder")
    desc = root / "family.yaml"
    if not os.path.lexists(desc):
        raise PackError(f"{root}: not a family pack (no family.yaml)")
    # every file the pack holds is its own: no link out, no FIFO (before anything is read)
    check_pack_files(root)
    if not desc.is_file():
        raise PackError("family.yaml: not a regular file (a folder); a family pack describes itself in a file")
    try:
        data = load_yaml(desc.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PackError(f"{desc.name}: not valid YAML ({unreadable_words(e)})") from None
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
                      example_claim=_example(root, example, "example_claim"),
                      example_encounter=_example(root, example_enc, "example_encounter"))


def _example(root: Path, value: str | None, key: str) -> Path | None:
    """An example file family.yaml names: a file of the pack (cptkg.knowledge.pack.pack_path)."""
    if not value:
        return None
    return Path(os.path.realpath(pack_path(root, value, f"family.yaml: field '{key}'")))


def _pack_root(root: "Path | str | FamilyPack") -> Path:
    """A pack's folder, from the folder or the FamilyPack (a Path's own ``root`` is its drive: '/')."""
    return root.root if isinstance(root, FamilyPack) else Path(root)


def case_path(root: "Path | str | FamilyPack", stem: str) -> Path:
    """The cases of ``rules/<stem>.dl`` of the pack at ``root``: its folder ``rules/<stem>.cases/``
    if there is one, else the file ``rules/<stem>.cases.yaml`` (which may not exist)."""
    rules = _pack_root(root) / "rules"
    folder = rules / f"{stem}.cases"
    return folder if folder.is_dir() else rules / f"{stem}.cases.yaml"


def case_files(root: "Path | str | FamilyPack", stem: str) -> list[Path]:
    """Every case file of ``rules/<stem>.dl`` of the pack at ``root`` (a folder or a FamilyPack).

    Why a folder: a pack author keeps the cases beside the rules they pin, one file per topic
    (``rules/claim.cases/duplicate.yaml``), and a new rule's cases touch one file. Read: the file
    ``rules/<stem>.cases.yaml`` if there is one, then the ``*.yaml`` files of ``rules/<stem>.cases/``
    in name order (a file whose name starts with '.' is not read). Tests and tools ask for the
    pack's cases here instead of naming a path.
    """
    rules = _pack_root(root) / "rules"
    single, folder = rules / f"{stem}.cases.yaml", rules / f"{stem}.cases"
    found = [single] if single.is_file() else []
    if folder.is_dir():
        found += sorted((p for p in folder.iterdir() if p.suffix == ".yaml" and not p.name.startswith(".")
                         and p.is_file()), key=lambda p: p.name)
    return found


def case_edit_path(root: Path, case_file: Path, value, case_name) -> Path:
    """An edit file a case of ``case_file`` names, inside the pack.

    The path is relative to the rules folder the case file is in: a topic file of
    ``rules/claim.cases/`` names ``edits/x.ttl`` as ``rules/claim.cases.yaml`` does, so a case
    moves between files unchanged.
    """
    where = f"{_shown(root, case_file)}: case '{str(case_name)[:80]}', field edits"
    if not isinstance(value, str) or not value.strip():
        raise PackError(f"{where}: must be a list of file paths")
    base = case_file.parent
    if base.name.endswith(".cases") and base.parent.name == "rules":
        base = base.parent
    return Path(os.path.realpath(pack_path(root, value, where, base=base)))


def check_case_files(pack: "FamilyPack") -> None:
    """Every case file of the pack reads as a list of cases, no two cases share a name, and every edit
    file a case names is a file of the pack (``cptkg lint``; ``cptkg test`` checks each case as it runs it)."""
    import yaml

    for stem in RULE_KINDS.values():
        seen: dict[str, Path] = {}
        for path in case_files(pack, stem):
            try:
                data = load_yaml(path.read_text(encoding="utf-8")) or []
            except (yaml.YAMLError, UnicodeDecodeError) as e:
                raise PackError(f"{pack.shown(path)}: not valid YAML ({unreadable_words(e)})") from None
            if not isinstance(data, list):
                raise PackError(f"{pack.shown(path)}: a case file is a list of cases")
            for case in data:
                name = case.get("name") if isinstance(case, dict) else None
                if isinstance(name, str):
                    if name in seen:
                        raise PackError(duplicate_case(name, pack.shown(seen[name]), pack.shown(path)))
                    seen[name] = path
                edits = case.get("edits") if isinstance(case, dict) else None
                if edits is None:
                    continue
                for value in edits if isinstance(edits, list) else [None]:
                    case_edit_path(pack.root, path, value, name or "(unnamed)")


def duplicate_case(name: str, first: str, second: str) -> str:
    """The one line a case name used twice is refused with: a case is known by its name."""
    where = f"in {first} twice" if first == second else f"in {first} and in {second}"
    return f"{second}: case '{name[:80]}' is named {where}; a case's name is its identity: rename one"
