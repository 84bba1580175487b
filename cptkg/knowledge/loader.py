"""Load the ontology, the knowledge base and the rules once, checked.

This module loads; what it loads is :class:`cptkg.knowledge.kb.KnowledgeBase`,
and what it keeps between runs (the SHACL pass markers, the KB cache) is
:mod:`cptkg.knowledge.kb_cache`. The names other modules import from here
(``KnowledgeBase``, ``Source``, ``local``, ``cache_dir`` …) still import.

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

import re
import threading
from functools import lru_cache
from pathlib import Path

import networkx as nx
from rdflib import OWL, RDF, RDFS, SKOS, BNode, Graph, URIRef
from rdflib.namespace import DCTERMS

from cptkg.knowledge import kb_cache
from cptkg.knowledge.edits.files import EarlierFiles, EditFileError, read_edit_file
# the KB object and the caches have their own modules; their names stay importable from here
from cptkg.knowledge.kb import NAMESPACES, KnowledgeBase, Source, local  # noqa: F401
from cptkg.knowledge.kb_cache import (KB_CACHE_VERSION, cache_dir, content_hash, kb_cache_key,  # noqa: F401
                                      shacl_key, shacl_marker)
from cptkg.knowledge.namespace import KB, ONT, SRC
from cptkg.files import load_yaml, unreadable_words
from cptkg.knowledge.pack import RULE_KINDS, FamilyPack, PackError, locate, read_pack
from cptkg.rules.ast import Rule
from cptkg.rules.program import Program, RuleLoadError, build_program


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


def _parse_turtle(path: Path, pack: FamilyPack) -> Graph:
    g = Graph()
    try:
        g.parse(path, format="turtle")
    except Exception as e:  # rdflib raises several parser-specific types
        from cptkg.knowledge.rdf_safe import syntax_words

        raise KBLoadError(f"{pack.shown(path)}: not valid Turtle: {syntax_words(e)}") from None
    for s_, p_, o in g:
        for term in (s_, p_, o):
            bad = _NOT_XML.search(str(term))
            if bad:
                from cptkg.controls import one_line

                raise KBLoadError(f"{pack.shown(path)}: {local(s_) if not isinstance(s_, BNode) else 'an annotation'} "
                                  f"({local(p_)}) holds the control character {one_line(bad.group())}, which no XML "
                                  "document can carry (the RDF/XML, OWL and GraphML exports): remove it")
    return g


#: characters XML 1.0 cannot hold (every C0 control but tab and the line breaks, U+FFFE, U+FFFF, lone
#: surrogates): Turtle takes them, but a pack literal with a NUL passed lint and its RDF/XML, OWL and GraphML
#: exports were written as files no XML reader parses (an integrator's audit)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


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
        component = report.value(res, URIRef(SH + "sourceConstraintComponent"))
        value = report.value(res, URIRef(SH + "value"))
        if component == URIRef(SH + "ClassConstraintComponent") and value is not None and path == DCTERMS.source:
            # it cites something, which is no source: "must cite a source" read as if it cited none (an
            # integrator's audit: a citation to a misspelt source id)
            msg = (f"cites {local(value)}, which is not a source of the knowledge base (no ont:Source of that id; "
                   f"`cptkg sources` lists them)")
        problems.append(f"{where}: {name}: {msg}" + (f" (property {local(path)})" if path is not None and not isinstance(path, BNode) else ""))
    raise KBLoadError("knowledge base does not conform to its SHACL shapes:\n  " + "\n  ".join(sorted(set(problems))))


#: bump when _validate's settings change, so earlier passes no longer count
_SHACL_SETTINGS = "pyshacl inference=none advanced=True allow_warnings=True v1"

# the marker of a pass (cptkg.knowledge.kb_cache), keyed by these settings too
_passed_before, _remember_pass = kb_cache.passed_before, kb_cache.remember_pass


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
        grade = graph.value(s, ONT.confidence)
        # an imported edit table (ont:citation) is the payer's data as given: no document of the pack, no
        # graded confidence (it read "none", Python's None as text: an audit); its file names it
        table = str(graph.value(s, RDFS.label) or "") if graph.value(s, ONT.citation) is not None else ""
        out[local(s)] = Source(
            id=local(s), document=local(doc) if doc is not None else ("edit table" if table else ""),
            section=str(graph.value(s, ONT.section) or table),
            section_title=str(graph.value(s, ONT.sectionTitle) or graph.value(s, ONT.section) or table),
            quote=str(graph.value(s, ONT.quote) or ""),
            confidence=str(local(grade)).lower() if grade is not None else "",
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
    # a path given twice is one file: one name in the labels, one KB version (a regression hunt: "pump +
    # synthetic-ptp.ttl, synthetic-ptp.ttl" and another version than the file given once)
    edit_paths = list(dict.fromkeys(Path(e).expanduser().resolve() for e in edits or ()))
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
    earlier = EarlierFiles()  # a copy of a file read before, or a second file of its table, is named as such
    for path in edit_paths:
        # the edits become rule facts directly; the file's other triples (its source) join the graph
        try:
            ef = read_edit_file(path, props, full, earlier)
        except EditFileError as e:
            raise KBLoadError(f"{path}: {e}") from None
        edit_files.append(ef)
        kbg += ef.graph
        full += ef.graph
        for subj in set(ef.graph.subjects()):
            subject_file.setdefault(str(subj), path.name)
    # several releases loaded together: the newest release's rows decide (cptkg.knowledge.edits.releases)
    from cptkg.knowledge.edits.releases import resolve

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
        key = shacl_key(onto_files + kb_files + edit_paths + [p for p in pack.shape_files() if p.exists()],
                        _SHACL_SETTINGS)
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
    kbo = KnowledgeBase(root=pack.root, parsed_graphs=(onto, kbg, full), facts=facts, edb=edb,
                        verdicts=verdicts, sources=sources, check_program=programs["claim"],
                        infer_program=programs["encounter"], rule_files=pack.rule_files(), subject_file=subject_file,
                        version=pack_version(pack, edit_paths), pack=pack)
    kbo.edit_files = edit_paths
    kbo._fact_sources = prov
    kbo.edit_tables = edit_files
    kbo.edit_notices, kbo.edit_superseded = releases.notices, releases.superseded
    from cptkg.knowledge.edits.releases import earliest_unit_release

    kbo.first_unit_release = earliest_unit_release(edit_files)
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
        kb_cache.write_kb_cache(kbo, cache_key, {kind: programs[kind].clauses for kind in RULE_KINDS})
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


def _from_kb_cache(pack: FamilyPack, key: str) -> KnowledgeBase | None:
    """The KB the cache holds for ``key`` (its graphs parsed when first asked for), or None.

    The cached rules are checked into programs as a parsed rule file is; one
    the loader refuses now is a cache miss."""
    data = kb_cache.read_kb_cache(key, RULE_KINDS)
    if data is None:
        return None
    try:
        programs = {}
        for kind, stem in RULE_KINDS.items():
            programs[kind] = _load_rules(pack.rule_file(stem), pack, data.edb, data.verdicts, set(data.sources),
                                         data.clauses[kind])
            programs[kind].declared_types = {k: list(v) for k, v in data.declared_types.items()}
        kbo = KnowledgeBase(root=pack.root, facts=data.facts, edb=data.edb, verdicts=data.verdicts,
                            sources=data.sources, check_program=programs["claim"],
                            infer_program=programs["encounter"], rule_files=pack.rule_files(),
                            subject_file=data.subject_file, version=data.version, pack=pack,
                            parse_graphs=lambda: _pack_graphs(pack)[:3])
        kbo._fact_sources = data.fact_sources
        kbo.properties = data.properties
        kbo.input_types = data.input_types
        kbo.input_predicates = {kind: set(preds) for kind, preds in data.input_types.items()}
        kbo.phrases = data.phrases
        _set_rule_wording(kbo, pack)
        kbo.cache["labels"] = data.labels
    except (OSError, ValueError, KeyError, TypeError, KBLoadError):
        return None  # a damaged or foreign cache is a cache miss, never an error
    return kbo


def _set_rule_wording(kbo: KnowledgeBase, pack: FamilyPack) -> None:
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
            data = load_yaml(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise KBLoadError(f"rules/titles.yaml: not valid YAML ({unreadable_words(e)})") from None
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


@lru_cache(maxsize=4)
def _cached(root: str, edits: tuple[str, ...] = ()) -> KnowledgeBase:
    return load_kb(root, list(edits))


def default_kb(root: Path | str | None = None, edits: list[Path | str] | tuple = ()) -> KnowledgeBase:
    """The pack at ``root`` (None: the default pack; ``CPTKG_KB`` is the faces' to
    read, cptkg.session) with the edit files ``edits``, loaded once per process."""
    with _lock:
        return _cached(str(locate(root)), tuple(dict.fromkeys(str(Path(e).expanduser().resolve()) for e in edits or ())))
