"""Load the ontology, the knowledge base and the rules once, checked.

The KB is validated against ontology/shapes.ttl (pySHACL) and the rules
against the ontology's declared predicates before anything is judged: a KB
edit that breaks either is refused with the file and the reason, instead of
quietly changing verdicts. SHACL validation (about half the load time) runs
when the KB's content has changed since it last passed, and always in
``cptkg lint``: a pass is remembered as a small JSON file named by the
SHA-256 of every ontology, KB and shape file and the pySHACL version
(:func:`shacl_marker`; written atomically, safe to delete, nothing in it is
executed or unpickled).

RDF reaches Datalog through one documented mapping: a property annotated
``ont:datalogPredicate "name"`` turns each triple (s p o) into the fact
``name(s', o')``, where an IRI becomes its local name (the part after the
``kb/``, ``ontology#`` or ``source/`` namespace) and a literal its value
(integers stay integers, booleans become "true"/"false", the rest text).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import networkx as nx
from rdflib import OWL, RDF, RDFS, SKOS, BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS

from cptkg.knowledge.edit_files import EditFileError, read_edit_file
from cptkg.knowledge.namespace import KB, ONT, SRC
from cptkg.knowledge.pack import RULE_KINDS, FamilyPack, PackError, locate, read_pack
from cptkg.rules.ast import Rule
from cptkg.rules.program import Program, RuleLoadError, build_program

NAMESPACES = (str(KB), str(ONT._NS), str(SRC))


class KBLoadError(RuntimeError):
    """The knowledge base or its rules cannot be used; says which file and why."""


class NoKnowledgeBase(TypeError):
    """A layer below the faces was asked to work without the knowledge base to work with.

    Why an error and not the default pack: a reader or validator that quietly
    took the default pack would check an uploaded claim against one family's
    vocabulary while the face judged it with another's (``--kb``, the
    explorer's pack). The face (CLI, explorer, API, tests) opens a
    :class:`cptkg.session.Session` and passes its ``kb`` down."""


def chosen_kb(kb, what: str):
    """``kb``, the knowledge base the face chose for ``what``; :class:`NoKnowledgeBase` if none was."""
    if kb is None:
        raise NoKnowledgeBase(f"{what}: no knowledge base chosen: the face (CLI, explorer, API) opens a "
                              f"cptkg.Session and passes its kb down")
    return kb


@dataclass(frozen=True)
class Source:
    id: str
    document: str
    section: str
    section_title: str
    quote: str
    confidence: str
    normative: bool
    maps_to: tuple[str, ...] = ()
    document_title: str = ""  # the document's ont:shortTitle ("guide", "domain notes"), else its id
    # an edit table read from a file (ont:citation, ont:fileSha256): how to cite it
    citation: str = ""

    def cite(self) -> str:
        """Short citation for a reason line: 'guide §6.2 (Billing Guidelines)' for a numbered
        section, 'domain notes, Who may perform (high confidence)' for a named one, an
        imported edit table's own citation."""
        if self.citation:
            return self.citation
        doc = self.document_title or self.document
        if self.section.replace(".", "").isdigit():
            return f"{doc} §{self.section} ({self.section_title})"
        return f"{doc}, {self.section} ({self.confidence} confidence)"

    def to_json(self) -> dict:
        return {"id": self.id, "document": self.document, "section": self.section,
                "section_title": self.section_title, "quote": self.quote,
                "confidence": self.confidence, "citation": self.cite()}


def local(node) -> object:
    """The Datalog constant for an RDF node.

    >>> local(URIRef("https://w3id.org/cptkg/kb/62367"))
    '62367'
    >>> local(Literal(3))
    3
    """
    if isinstance(node, Literal):
        v = node.toPython()
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return v
        return str(node)
    s = str(node)
    for ns in NAMESPACES:
        if s.startswith(ns):
            return s[len(ns):]
    return s


@dataclass(eq=False)  # hashed by identity: caches key on the loaded KB
class KnowledgeBase:
    root: Path
    ontology_graph: Graph
    kb_graph: Graph
    graph: Graph
    facts: dict[str, set[tuple]]
    edb: dict[str, int]
    verdicts: dict[str, str]
    sources: dict[str, Source]
    check_program: Program
    infer_program: Program
    rule_files: list[Path]
    subject_file: dict[str, str] = field(default_factory=dict)
    version: str = ""
    phrases: dict[str, str] = field(default_factory=dict)
    input_predicates: dict = field(default_factory=dict)
    # request kind -> input predicate -> argument types, as the ontology declares them (_input_types)
    input_types: dict = field(default_factory=dict)
    # results derived from this KB by other layers (the static part of the
    # rules per engine, say); dropped with the KB
    cache: dict = field(default_factory=dict)
    properties: dict[str, URIRef] = field(default_factory=dict)
    _fact_sources: dict = field(default_factory=dict)
    # the edit files loaded over the pack (--edits), as edit tables: their facts are not in ``facts``
    # (a quarterly table is millions of them); see edit_index() and all_facts()
    edit_tables: list = field(default_factory=list)
    pack: FamilyPack | None = None
    # edit files loaded over the pack (--edits), in order
    edit_files: list[Path] = field(default_factory=list)
    # several releases loaded together (cptkg.knowledge.edit_releases): one line each for the analyst,
    # and per table the rows a newer release replaced (the rules never see them; ask edit names them)
    edit_notices: list[str] = field(default_factory=list)
    edit_superseded: list = field(default_factory=list)
    # rule id -> title in billing words, and for warning rules the verdict an accepted line is reported with
    # (each rule's ``% title:`` and ``% verdict:``; a pack's rules/titles.yaml is still read)
    rule_titles: dict[str, str] = field(default_factory=dict)
    rule_verdicts: dict[str, str] = field(default_factory=dict)
    # warning rules whose warning means no rule of the pack judged the line (``% checked: false``)
    rule_unchecked: frozenset = frozenset()

    def __getattr__(self, name: str):
        # a KB read from the KB cache parses its graphs when they are first asked for
        if name in ("ontology_graph", "kb_graph", "graph") and "_graphs_of" in self.__dict__:
            with _graph_lock:
                if name not in self.__dict__:
                    onto, kbg, full, _ = _pack_graphs(self.__dict__["_graphs_of"])
                    self.__dict__.update(ontology_graph=onto, kb_graph=kbg, graph=full)
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def rule_title(self, rule_id: str) -> str:
        """A rule's title in billing words (its ``% title:``); a rule without one reads as its message's start."""
        title = self.rule_titles.get(rule_id)
        if title:
            return title
        rule = self.rule(rule_id)
        if rule is not None and rule.meta.message:
            import re

            words = re.sub(r"\{[^}]*\}", "…", rule.meta.message).split(":")[0].split(";")[0]
            return words[:1].upper() + words[1:80].rstrip(" .")
        return rule_id

    def label(self, term: str) -> str:
        """Readable name of a KB term (role, device, service …), for messages.

        Remembered per term (a loaded KB's graph does not change): messages
        and proofs ask for the same labels thousands of times.
        """
        if not isinstance(term, str) or any(ch in term for ch in " \"<>{}|^`\\"):
            return str(term)  # text (a phrase of labels, an input value), not a term
        memo = self.cache.setdefault("labels", {})
        out = memo.get(term)
        if out is None:
            out = str(term)
            for ns in NAMESPACES:
                lab = self.graph.value(URIRef(ns + str(term)), RDFS.label) or self.graph.value(URIRef(ns + str(term)), SKOS.prefLabel)
                if lab is not None:
                    out = str(lab)
                    break
            else:  # an input value ("physical_therapist") reads as the label of the term it stands for
                named = [t for t, v in self.facts.get("input_value", ()) if v == term]
                if len(named) == 1:
                    out = self.label(named[0])
            memo[term] = out
        return out

    def fact_sources(self, pred: str, args: tuple) -> list[str]:
        """Source ids a KB fact rests on (axiom annotation, else its subject's; for a
        fact about an edit read from an edit file, the edit's own dct:source)."""
        found = self._fact_sources.get((pred, tuple(args)))
        if found is None and args and self.edit_tables:
            found = self.edit_index().sources_of(args[0])
        return list(found or [])

    def all_facts(self) -> dict[str, set[tuple]]:
        """The pack's facts and every fact of the edit tables loaded over it (for whole-KB consumers: batch).

        Built once per KB; for a quarterly edit table that is millions of facts.
        """
        if not self.edit_tables:
            return self.facts
        out = self.cache.get("all_facts")
        if out is None:
            out = {p: set(rows) for p, rows in self.facts.items()}
            for t in self.edit_tables:
                for pred, rows in t.facts().items():
                    out.setdefault(pred, set()).update(rows)
            self.cache["all_facts"] = out
        return out

    def unsourced_facts(self) -> list[tuple[str, tuple]]:
        """KB facts no source annotates (neither an axiom annotation nor their subject's dct:source).

        ``cptkg lint`` and ``cptkg sources`` report them; a proof shows such a
        leaf as unsourced, never with a source of its own making.
        """
        from cptkg.knowledge.namespace import KB, ONT

        def pack_fact(key) -> bool:  # a fact the pack states (the core's schema and sources' own metadata aside)
            pred, args = key
            if pred == "subclass_of" and args[0] == args[1]:
                return False
            subj = next((ns + str(args[0]) for ns in (str(KB), str(ONT._NS)) if ns + str(args[0]) in self.subject_file), "")
            if not subj or self.subject_file[subj].startswith("core:"):
                return False
            return (URIRef(subj), RDF.type, ONT.Source) not in self.graph

        return sorted((k for k, v in self._fact_sources.items() if not v and pack_fact(k)),
                      key=lambda k: (k[0], tuple(map(str, k[1]))))

    def describe(self, pred: str, args: tuple) -> str:
        """A fact in words, from the predicate's ont:phrase in the ontology."""
        from cptkg.rules.messages import phrase

        codes = {c for (c,) in self.facts.get("code", ())}
        show = lambda a: str(a) if isinstance(a, int) or a in codes else self.label(str(a))  # noqa: E731
        tpl = self.phrases.get(pred)
        if tpl is None:
            return f"{pred}({', '.join(show(a) for a in args)})"
        return phrase(tpl, args, show)

    def codes(self) -> list[str]:
        return sorted(c for (c,) in self.facts.get("code", set()))

    def edit_index(self):
        """The facts about edits, indexed by the codes they name (built once per KB)."""
        idx = self.cache.get("edit_index")
        if idx is None:
            from cptkg.knowledge.edit_index import build, column_predicates

            code_preds, group_preds = column_predicates(self.ontology_graph, self.properties)
            idx = self.cache["edit_index"] = build(self.facts, code_preds, group_preds, self.edit_tables)
        return idx

    def family_codes(self, family: str | None = None) -> list[str]:
        """Codes of ``family`` (default: the pack's own code family)."""
        family = family or self.pack.code_family
        return sorted(c for (c, f) in self.facts.get("in_family", set()) if f == family)

    def descriptor(self, code: str) -> str:
        return str(self.graph.value(KB[code], SKOS.prefLabel) or "")

    def rule(self, rule_id: str) -> Rule | None:
        return self.check_program.by_id(rule_id) or self.infer_program.by_id(rule_id)

    def rule_source(self, rule: Rule) -> list[Source]:
        return [self.sources[s] for s in rule.meta.source if s in self.sources]


def _parse_turtle(path: Path, pack: FamilyPack) -> Graph:
    g = Graph()
    try:
        g.parse(path, format="turtle")
    except Exception as e:  # rdflib raises several parser-specific types
        raise KBLoadError(f"{pack.shown(path)}: not valid Turtle: {e}") from None
    return g


def _validate(data: Graph, shapes: Graph, subject_file: dict[str, str]) -> None:
    from pyshacl import validate

    conforms, report, _ = validate(data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    if conforms:
        return
    SH = "http://www.w3.org/ns/shacl#"
    problems = []
    for res in report.subjects(RDF.type, URIRef(SH + "ValidationResult")):
        focus = report.value(res, URIRef(SH + "focusNode"))
        msg = report.value(res, URIRef(SH + "resultMessage"))
        path = report.value(res, URIRef(SH + "resultPath"))
        where = subject_file.get(str(focus), "kb")
        name = local(focus) if not isinstance(focus, BNode) else "an annotation"
        problems.append(f"{where}: {name}: {msg}" + (f" (property {local(path)})" if path is not None and not isinstance(path, BNode) else ""))
    raise KBLoadError("knowledge base does not conform to its SHACL shapes:\n  " + "\n  ".join(sorted(set(problems))))


#: bump when _validate's settings change, so earlier passes no longer count
_SHACL_SETTINGS = "pyshacl inference=none advanced=True allow_warnings=True v1"


def cache_dir() -> Path:
    """Where cptkg keeps what it may recompute: ``CPTKG_CACHE_DIR``, else the XDG cache folder."""
    env = os.environ.get("CPTKG_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cptkg"


def shacl_key(files: list[Path]) -> str:
    """SHA-256 over the validated files' names and bytes, the pySHACL version and the settings."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    try:
        h.update(version("pyshacl").encode())
    except PackageNotFoundError:  # pragma: no cover - a dependency
        h.update(b"pyshacl ?")
    h.update(_SHACL_SETTINGS.encode())
    for p in files:
        h.update(str(p.name).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def shacl_marker(key: str) -> Path:
    return cache_dir() / f"shacl-pass-{key}.json"


def _passed_before(key: str) -> bool:
    try:
        data = json.loads(shacl_marker(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("key") == key and data.get("conforms") is True


def _write_json_atomically(target: Path, data) -> None:
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


def _remember_pass(key: str) -> None:
    """Remember that the KB of ``key`` passed SHACL (the marker is written atomically)."""
    _write_json_atomically(shacl_marker(key), {"key": key, "conforms": True})


def _closure(graph: Graph) -> set[tuple[str, str]]:
    g = nx.DiGraph()
    for cls in graph.subjects(RDF.type, OWL.Class):
        if isinstance(cls, URIRef):
            g.add_node(local(cls))
    for s, o in graph.subject_objects(RDFS.subClassOf):
        if isinstance(s, URIRef) and isinstance(o, URIRef):
            g.add_edge(local(s), local(o))
    out = set()
    for n in g.nodes:
        out.add((n, n))
        for m in nx.descendants(g, n):
            out.add((n, m))
    return out


def _declared_predicates(onto: Graph) -> tuple[dict[str, URIRef], dict[str, int], dict[str, str]]:
    props: dict[str, URIRef] = {}
    edb: dict[str, int] = {}
    verdicts: dict[str, str] = {}
    for p, name in onto.subject_objects(ONT.datalogPredicate):
        name = str(name)
        if (p, RDF.type, ONT.Predicate) in onto:
            arity = int(onto.value(p, ONT.arity))
            v = onto.value(p, ONT.verdict)
            if v is not None:
                verdicts[name] = str(v)
            else:
                edb[name] = arity
        else:
            props[name] = p
            edb[name] = 2
    return props, edb, verdicts


def _facts(graph: Graph, props: dict[str, URIRef]) -> tuple[dict[str, set[tuple]], dict]:
    facts: dict[str, set[tuple]] = {}
    provenance: dict = {}
    annotations: dict[tuple, list[str]] = {}
    for ax in graph.subjects(RDF.type, OWL.Axiom):
        key = (graph.value(ax, OWL.annotatedSource), graph.value(ax, OWL.annotatedProperty), graph.value(ax, OWL.annotatedTarget))
        annotations.setdefault(key, []).extend(sorted(local(s) for s in graph.objects(ax, DCTERMS.source)))
    for name, p in props.items():
        rows = facts.setdefault(name, set())
        for s, o in graph.subject_objects(p):
            row = (local(s), local(o))
            rows.add(row)
            srcs = annotations.get((s, p, o)) or sorted(local(x) for x in graph.objects(s, DCTERMS.source))
            provenance[(name, row)] = srcs
    facts["code"] = {(local(c),) for c in graph.subjects(RDF.type, ONT.BillingCode)}
    facts["pair_edit"] = {(local(e),) for e in graph.subjects(RDF.type, ONT.PairEdit)}
    facts["unit_edit"] = {(local(e),) for e in graph.subjects(RDF.type, ONT.UnitEdit)}
    facts["code_routes"] = _listed(graph, facts.get("applies_to_route", set()))
    facts["code_devices"] = _listed(graph, facts.get("applies_to_device", set()))
    facts["input_value"] = {(local(s), str(o)) for s, o in graph.subject_objects(ONT.inputValue)}
    facts["subclass_of"] = _closure(graph)
    facts["instance_of"] = {(local(s), local(o)) for s, o in graph.subject_objects(RDF.type)
                            if isinstance(s, URIRef) and isinstance(o, URIRef) and any(str(o).startswith(ns) for ns in NAMESPACES)}
    for (c,) in facts["code"]:
        provenance[("code", (c,))] = sorted(local(x) for x in graph.objects(KB[c], DCTERMS.source))
    for listed, base in (("code_routes", "applies_to_route"), ("code_devices", "applies_to_device")):
        for code, text in facts[listed]:  # the phrase rests on every fact it lists
            provenance[(listed, (code, text))] = sorted({x for (c, t) in facts.get(base, set()) if c == code
                                                         for x in provenance.get((base, (c, t)), [])})
    for s, o in graph.subject_objects(RDF.type):
        row = (local(s), local(o))
        if row in facts["instance_of"]:
            provenance[("instance_of", row)] = (
                annotations.get((s, RDF.type, o)) or sorted(local(x) for x in graph.objects(s, DCTERMS.source)))
    for s, o in graph.subject_objects(ONT.inputValue):
        provenance[("input_value", (local(s), str(o)))] = (
            annotations.get((s, ONT.inputValue, o)) or sorted(local(x) for x in graph.objects(s, DCTERMS.source)))
    for pred, cls in (("pair_edit", ONT.PairEdit), ("unit_edit", ONT.UnitEdit)):
        for e in graph.subjects(RDF.type, cls):
            provenance[(pred, (local(e),))] = sorted(local(x) for x in graph.objects(e, DCTERMS.source))
    for (a, b) in facts["subclass_of"]:
        node = ONT._NS[a] if (ONT._NS[a], None, None) in graph else None
        if node is not None:
            provenance[("subclass_of", (a, b))] = sorted(local(x) for x in graph.objects(node, DCTERMS.source))
    return facts, provenance


def _listed(graph: Graph, pairs: set[tuple]) -> set[tuple[str, str]]:
    """(code, "a, b or c"): the terms a code is linked to, by label, in one phrase.

    A message that names what a code applies to names all of it in one
    sentence ("intrathecal or epidural"), where a rule firing once per term
    would say "epidural only" and "intrathecal only" of the same code.
    """
    by_code: dict[str, list[str]] = {}
    for code, term in pairs:
        lab = None
        for ns in NAMESPACES:
            lab = graph.value(URIRef(ns + str(term)), RDFS.label)
            if lab is not None:
                break
        by_code.setdefault(code, []).append(str(lab) if lab is not None else str(term))
    out = set()
    for code, labels in by_code.items():
        labels = sorted(set(labels))
        out.add((code, labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]))
    return out


def _sources(graph: Graph) -> dict[str, Source]:
    out = {}
    for s in graph.subjects(RDF.type, ONT.Source):
        doc = graph.value(s, DCTERMS.isPartOf)
        out[local(s)] = Source(
            id=local(s), document=local(doc) if doc is not None else "",
            section=str(graph.value(s, ONT.section) or ""),
            section_title=str(graph.value(s, ONT.sectionTitle) or graph.value(s, ONT.section) or ""),
            quote=str(graph.value(s, ONT.quote) or ""),
            confidence=str(local(graph.value(s, ONT.confidence)) or "").lower(),
            normative=bool(graph.value(s, ONT.normative) and graph.value(s, ONT.normative).toPython()),
            maps_to=tuple(sorted(str(local(m)) for m in graph.objects(s, ONT.mapsTo))),
            document_title=str(graph.value(doc, ONT.shortTitle) or "") if doc is not None else "",
            citation=str(graph.value(s, ONT.citation) or ""),
        )
    return out


def _load_rules(path: Path, pack: FamilyPack, edb: dict[str, int], verdicts: dict[str, str], sources: set[str],
                clauses: list[Rule] | None = None) -> Program:
    """The checked program of a rule file (``clauses``: the file already parsed, from the KB cache)."""
    if clauses is None:
        from cptkg.rules.parser import RuleSyntaxError, parse_file  # lark: only when a rule file is parsed

        shown = pack.shown(path)
        try:
            clauses = parse_file(path, shown)
        except RuleSyntaxError as e:
            raise KBLoadError(f"rule syntax error: {e}") from None
    try:
        prog = build_program(clauses, edb, require_meta=True, known_sources=sources,
                             coded_heads={n for n, v in verdicts.items() if v == "reject"})
    except RuleLoadError as e:
        raise KBLoadError("rules refused:\n  " + "\n  ".join(e.problems)) from None
    for r in prog.rules:
        if r.head.pred in verdicts and r.head.arity != 1:
            raise KBLoadError(f"{r.where}: verdict predicate {r.head.pred} takes one argument")
    prog.clauses = list(clauses)  # as parsed, for the KB cache
    return prog


def content_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def pack_version(pack: FamilyPack, edits: list[Path] = ()) -> str:
    """The KB version: content hash of every file the loaded KB is made of
    (the pack's, and the edit files loaded over it)."""
    return content_hash([p for p in pack.version_files() if p.exists()] + list(edits))


def load_kb(root: Path | str | None = None, edits: list[Path | str] | tuple = (),
            shacl: str = "changed") -> KnowledgeBase:
    """Load and check the core ontology and the family pack at ``root``,
    and the edit files ``edits`` over it.

    ``root`` is a pack folder (``kb/<name>``); None means the default
    pack. ``edits`` are RDF files of ont:PairEdit /
    ont:UnitEdit rows (``cptkg edits import``), validated with the same
    SHACL shapes as the pack. Nothing here runs a rule engine.
    ``shacl`` is "changed" (validate unless these exact files passed
    before) or "always" (``cptkg lint``).
    """
    try:
        pack = read_pack(locate(root))
        if shacl == "always":  # cptkg lint: the edit files the pack's cases name are the pack's too
            from cptkg.knowledge.pack import check_case_files

            check_case_files(pack)
    except PackError as e:
        raise KBLoadError(str(e)) from None
    edit_paths = [Path(e).expanduser().resolve() for e in edits or ()]
    onto_files = pack.ontology_files()
    kb_files = pack.kb_files()
    if not pack.core_ontology_files() or not kb_files:
        raise KBLoadError(f"{pack.root}: no ontology or KB Turtle files (ontology/*.ttl, kb/*.ttl)")
    cache_key = kb_cache_key(pack) if not edit_paths and shacl != "always" else None
    if cache_key is not None:
        cached = _from_kb_cache(pack, cache_key)
        if cached is not None:
            return cached
    onto, kbg, full, subject_file = _pack_graphs(pack)
    props, edb, verdicts = _declared_predicates(onto)
    edit_files = []
    for path in edit_paths:
        # the edits become rule facts directly; the file's other triples (its source) join the graph
        try:
            ef = read_edit_file(path, props, full)
        except EditFileError as e:
            raise KBLoadError(f"{path}: {e}") from None
        edit_files.append(ef)
        kbg += ef.graph
        full += ef.graph
        for subj in set(ef.graph.subjects()):
            subject_file.setdefault(str(subj), path.name)
    # several releases loaded together: the newest release's rows decide (cptkg.knowledge.edit_releases)
    from cptkg.knowledge.edit_releases import resolve

    try:
        releases = resolve(edit_files)
    except EditFileError as e:
        raise KBLoadError(f"edit files {', '.join(p.name for p in edit_paths)}: {e}") from None
    edit_files = releases.tables
    shapes = Graph()
    for path in pack.shape_files():
        if path.exists():
            shapes += _parse_turtle(path, pack)
    if len(shapes):
        key = shacl_key(onto_files + kb_files + edit_paths + [p for p in pack.shape_files() if p.exists()])
        if shacl == "always" or not _passed_before(key):
            _validate(full, shapes, subject_file)
            _remember_pass(key)
    facts, prov = _facts(full, props)
    # constants must not collide across namespaces
    seen: dict[object, str] = {}
    for n in set(full.subjects()) | set(full.objects()):
        if isinstance(n, URIRef) and any(str(n).startswith(ns) for ns in NAMESPACES):
            c = local(n)
            if c in seen and seen[c] != str(n):
                raise KBLoadError(f"two terms share the local name '{c}': {seen[c]} and {n}")
            seen[c] = str(n)
    if (KB[pack.code_family], RDF.type, ONT.CodeFamily) not in full:
        raise KBLoadError(f"family.yaml: code_family '{pack.code_family}' is not an ont:CodeFamily of the pack's KB")
    sources = _sources(full)
    programs = {}
    for kind, stem in RULE_KINDS.items():
        path = pack.rule_file(stem)
        if not path.exists():
            raise KBLoadError(f"{pack.root.name}: missing rule file rules/{stem}.dl")
        programs[kind] = _load_rules(path, pack, edb, verdicts, set(sources))
    kbo = KnowledgeBase(root=pack.root, ontology_graph=onto, kb_graph=kbg, graph=full, facts=facts, edb=edb,
                        verdicts=verdicts, sources=sources, check_program=programs["claim"],
                        infer_program=programs["encounter"], rule_files=pack.rule_files(), subject_file=subject_file,
                        version=pack_version(pack, edit_paths), pack=pack)
    kbo.edit_files = edit_paths
    kbo._fact_sources = prov
    kbo.edit_tables = edit_files
    kbo.edit_notices, kbo.edit_superseded = releases.notices, releases.superseded
    # integer-valued KB properties (rdfs:range xsd:integer), typed even when no fact uses them
    from rdflib import XSD
    ints = {name: ["text", "int"] for name, prop in props.items() if (prop, RDFS.range, XSD.integer) in onto}
    for prog in programs.values():
        prog.declared_types = dict(ints)
    kbo.properties = props
    kbo.input_types = _input_types(onto)
    kbo.input_predicates = {kind: set(preds) for kind, preds in kbo.input_types.items()}
    for prog in programs.values():
        for preds in kbo.input_types.values():
            prog.declared_types.update(preds)
    _set_rule_wording(kbo, pack)
    kbo.phrases = {str(name): str(ph) for pred, name in onto.subject_objects(ONT.datalogPredicate)
                   for ph in onto.objects(pred, ONT.phrase)}
    if cache_key is not None:
        _write_kb_cache(kbo, cache_key, {"claim": programs["claim"].clauses, "encounter": programs["encounter"].clauses})
    return kbo


def _input_types(onto: Graph) -> dict[str, dict[str, list[str]]]:
    """The claim and encounter inputs as the ontology declares them (ont:inputOf,
    ont:arity, ont:argumentTypes): request kind -> predicate -> argument types.

    This is the one declaration of what a request gives the rules: the engines'
    facts (cptkg.claims.inputs), the batch SQL views and the SQL compiler's
    column types are all made from it, so a predicate cannot be fed one way
    and typed another."""
    out: dict[str, dict[str, list[str]]] = {}
    for pred, kind in onto.subject_objects(ONT.inputOf):
        name = str(onto.value(pred, ONT.datalogPredicate))
        types = str(onto.value(pred, ONT.argumentTypes) or "").split()
        arity = onto.value(pred, ONT.arity)
        if not types or any(t not in ("int", "text") for t in types) or \
                (arity is not None and int(arity) != len(types)):
            raise KBLoadError(f"the ontology's input {name} ({kind}) needs ont:argumentTypes: one of int or text "
                              f"per argument, {arity} in all")
        out.setdefault(str(kind), {})[name] = types
    return out


def _pack_graphs(pack: FamilyPack) -> tuple[Graph, Graph, Graph, dict[str, str]]:
    """The pack's ontology graph, KB graph, their union, and the file each subject is first stated in."""
    onto = Graph()
    kbg = Graph()
    subject_file: dict[str, str] = {}
    for path in pack.ontology_files():
        g = _parse_turtle(path, pack)
        onto += g
        for subj in set(g.subjects()):
            subject_file.setdefault(str(subj), pack.shown(path))
    for path in pack.kb_files():
        g = _parse_turtle(path, pack)
        kbg += g
        for subj in set(g.subjects()):
            subject_file.setdefault(str(subj), pack.shown(path))
    full = Graph()
    full += onto
    full += kbg
    for prefix, ns in (("ont", ONT._NS), ("kb", KB), ("src", SRC), ("skos", SKOS), ("owl", OWL), ("dct", DCTERMS)):
        full.bind(prefix, ns)
    return onto, kbg, full, subject_file


# ------------------------------------------------------------------ the KB cache
# A loaded pack (no edit files) is kept as JSON under a SHA-256 of every file it
# is made of and of the loader's own code: a start reads it instead of parsing
# the Turtle and the rule files (the graphs are parsed later, if a command asks
# for them: explanations, exports, the explorer's graph). Data only, never a
# pickle; written atomically; a file that does not match is ignored; safe to
# delete. A pack is cached only after it loaded and passed its SHACL shapes.

KB_CACHE_VERSION = "kb-cache-2"


def kb_cache_key(pack: FamilyPack) -> str:
    """SHA-256 over the pack's files and the code that turns them into a KB (knowledge/ and rules/)."""
    h = hashlib.sha256(f"{KB_CACHE_VERSION}\0".encode())
    code = [Path(__file__), *sorted(Path(__file__).parent.glob("*.py")),
            *sorted((Path(__file__).parent.parent / "rules").glob("*.py"))]
    for p in sorted({*pack.version_files(), *pack.shape_files(), pack.root / "family.yaml"}) + code:
        if p.exists():
            h.update(str(p.name).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _kb_cache_file(key: str) -> Path:
    return cache_dir() / f"{KB_CACHE_VERSION}-{key}.json"


def _write_kb_cache(kbo: "KnowledgeBase", key: str, clauses: dict) -> None:
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
    _write_json_atomically(_kb_cache_file(key), data)


def _from_kb_cache(pack: FamilyPack, key: str) -> "KnowledgeBase | None":
    """The KB the cache holds for ``key`` (graphs parsed when first asked for), or None."""
    from cptkg.rules.ast import rule_of

    try:
        data = json.loads(_kb_cache_file(key).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        edb, verdicts = {str(k): int(v) for k, v in data["edb"].items()}, dict(data["verdicts"])
        sources = {}
        for s in data["sources"]:
            s = dict(s)
            s["maps_to"] = tuple(s.get("maps_to", ()))
            sources[s["id"]] = Source(**s)
        programs = {}
        for kind, stem in RULE_KINDS.items():
            clauses = [rule_of(r) for r in data["clauses"][kind]]
            programs[kind] = _load_rules(pack.rule_file(stem), pack, edb, verdicts, set(sources), clauses)
            programs[kind].declared_types = {str(k): list(v) for k, v in data["declared_types"].items()}
        facts = {str(p): {tuple(r) for r in rows} for p, rows in data["facts"].items()}
        kbo = KnowledgeBase(root=pack.root, ontology_graph=None, kb_graph=None, graph=None, facts=facts, edb=edb,
                            verdicts=verdicts, sources=sources, check_program=programs["claim"],
                            infer_program=programs["encounter"], rule_files=pack.rule_files(),
                            subject_file=dict(data["subject_file"]), version=str(data["version"]), pack=pack)
        kbo._fact_sources = {(str(p), tuple(r)): list(srcs) for p, r, srcs in data["fact_sources"]}
        kbo.properties = {str(k): URIRef(v) for k, v in data["properties"].items()}
        kbo.input_types = {str(k): {str(p): list(t) for p, t in v.items()} for k, v in data["input_types"].items()}
        kbo.input_predicates = {kind: set(preds) for kind, preds in kbo.input_types.items()}
        kbo.phrases = dict(data["phrases"])
        _set_rule_wording(kbo, pack)
        kbo.cache["labels"] = dict(data["labels"])
    except (OSError, ValueError, KeyError, TypeError, KBLoadError):
        return None  # a damaged or foreign cache is a cache miss, never an error
    # the graphs: parsed when a command first asks for them
    for name in ("ontology_graph", "kb_graph", "graph"):
        del kbo.__dict__[name]
    kbo.__dict__["_graphs_of"] = pack
    return kbo


def _set_rule_wording(kbo: "KnowledgeBase", pack: FamilyPack) -> None:
    """The KB's rule titles, verdicts and unchecked-warning rules, from its loaded programs."""
    rules = list(kbo.check_program.rules) + list(kbo.infer_program.rules)
    kbo.rule_titles, kbo.rule_verdicts, kbo.rule_unchecked = _rule_wording(pack, rules)


def _rule_titles(pack: FamilyPack, rules: list[Rule] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Each rule's title and, for a warning rule, its verdict in words: rule id -> text.

    ``rules``: the pack's parsed rules (read from its rule files when not given)."""
    titles, verdicts, _unchecked = _rule_wording(pack, rules)
    return titles, verdicts


def _rule_wording(pack: FamilyPack, rules: list[Rule] | None = None
                  ) -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """Titles, verdicts and the unchecked-warning rules, from the rules' own metadata.

    Why on the rule: a new rule is written in one place (``% title:``, ``% verdict:``,
    ``% checked: false`` beside its ``id`` and ``message``). A pack may still hold a
    ``rules/titles.yaml`` (rule id -> title, or a mapping with ``title``, ``verdict``,
    ``checked``); a rule titled in both places is refused, naming both, so the two
    can never disagree.
    """
    if rules is None:
        from cptkg.rules.parser import RuleSyntaxError, parse_file

        rules = []
        for path in pack.rule_files():
            try:
                rules += parse_file(path, pack.shown(path))
            except RuleSyntaxError as e:
                raise KBLoadError(f"rule syntax error: {e}") from None
    titles, verdicts, unchecked, where = {}, {}, set(), {}
    for r in rules:
        rid = r.meta.id
        if not rid:
            continue
        if r.meta.title:
            titles[rid], where[rid] = r.meta.title, r.where
        if r.meta.verdict:
            verdicts[rid] = r.meta.verdict
        if not r.meta.checked:
            unchecked.add(rid)
    path = pack.titles_file()
    if path.is_file():
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise KBLoadError(f"rules/titles.yaml: not valid YAML ({' '.join(str(e).split())[:200]})") from None
        if not isinstance(data, dict):
            raise KBLoadError("rules/titles.yaml: must map rule ids to titles")
        for rid, entry in data.items():
            rid = str(rid)
            if rid in where:
                raise KBLoadError(f"rules/titles.yaml: {rid} is titled here and in its rule's metadata ({where[rid]}); "
                                  "keep the title in one place (the rule's % title:)")
            if isinstance(entry, dict):
                title, verdict = entry.get("title"), entry.get("verdict")
                if verdict is not None and not isinstance(verdict, str):
                    raise KBLoadError(f"rules/titles.yaml: {rid}: 'verdict' must be text")
                if verdict:
                    verdicts[rid] = " ".join(verdict.split())
                if entry.get("checked") is False:
                    unchecked.add(rid)
            else:
                title = entry
            if not isinstance(title, str) or not title.strip():
                raise KBLoadError(f"rules/titles.yaml: {rid}: the title is missing or not text")
            titles[rid] = " ".join(title.split())
    return titles, verdicts, frozenset(unchecked)


_lock = threading.Lock()
_graph_lock = threading.Lock()


@lru_cache(maxsize=4)
def _cached(root: str, edits: tuple[str, ...] = ()) -> KnowledgeBase:
    return load_kb(root, list(edits))


def default_kb(root: Path | str | None = None, edits: list[Path | str] | tuple = ()) -> KnowledgeBase:
    """The pack at ``root`` (None: the default pack; ``CPTKG_KB`` is the faces' to
    read, cptkg.session) with the edit files ``edits``, loaded once per process."""
    with _lock:
        return _cached(str(locate(root)), tuple(str(Path(e).expanduser().resolve()) for e in edits or ()))
