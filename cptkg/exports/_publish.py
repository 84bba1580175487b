"""The graphs as they are exported: stable blank-node labels, explicit SKOS and OWL declarations.

The engine reads the ontology and KB as authored; integrators' tools read them
without our RDFS reasoning. So every graph export (RDF, OWL, GraphML, CSV)
starts from :func:`published`, which adds, in the graph (ontology or KB) where
the subject's own ``rdf:type`` triple lives:

* ``skos:Concept`` on every billing code and ``skos:ConceptScheme`` on every
  code family (today only through ``rdfs:subClassOf`` in the core ontology),
  with ``skos:hasTopConcept``/``skos:topConceptOf`` (codes are a flat list:
  no code is broader than another, so each is a top concept of its family);
* the value terms the codes are described by (services, skills, device types,
  routes) as ``skos:Concept`` in one declared scheme per class
  (``kb:scheme-<class>``, labelled after the class), with ``skos:inScheme``
  and top concepts; their ``rdfs:label`` is also given as ``skos:prefLabel``,
  the label SKOS tools show;
* ``skos:Collection`` on every code group, *not* ``skos:Concept``: the core
  ontology makes ``ont:CodeGroup`` a subclass of ``skos:Collection``, and SKOS
  says a collection is never a concept (SKOS Reference, W3C 2009, §9, S37:
  "skos:Collection is disjoint with each of skos:Concept and skos:ConceptScheme");
* ``owl:NamedIndividual`` on every individual: a subject typed with a class
  the ontology declares (``owl:Class``) or with one of the SKOS classes above
  (OWL 2 Structural Specification §5.6.2, declarations; owlready2 lists only
  declared individuals).

Provider roles are OWL classes (subclass reasoning gives a performer's wider
roles), so they are left out of SKOS: a role typed ``skos:Concept`` would be
punned, which owlready2 does not keep apart.

Blank nodes (the ``owl:Axiom`` nodes that carry a fact's source) stay blank
nodes, as the OWL 2 mapping to RDF writes axiom annotations, but get
content-derived labels (:func:`stable_bnode_labels`): ``ax`` + the first 16
hex digits of the SHA-256 of the annotated source, property and target, so
two exports of the same KB are byte-identical and an edited annotation does
not relabel its axiom.
"""
from __future__ import annotations

import hashlib
import re
from collections import defaultdict

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from cptkg.knowledge.datasets import Graphs
from cptkg.knowledge.namespace import KB, ONT

# The classes whose individuals are the value terms of the codes, in scheme order.
VALUE_CLASSES = (ONT.Service, ONT.Skill, ONT.DeviceType, ONT.Route)
_CACHE: dict[tuple[int, bool], tuple[Graphs, Graphs]] = {}


def _describe(g: Graph, node: BNode, seen: frozenset = frozenset()) -> list[str]:
    """The node's own triples as sorted N-Triples-like lines, blank objects described in turn."""
    lines = []
    for p, o in g.predicate_objects(node):
        if isinstance(o, BNode):
            inner = "[]" if o in seen else "[" + " ".join(_describe(g, o, seen | {node})) + "]"
            lines.append(f"{p.n3()} {inner}")
        else:
            lines.append(f"{p.n3()} {o.n3()}")
    return sorted(lines)


def _axiom_key(g: Graph, node: BNode) -> str | None:
    parts = [g.value(node, p) for p in (OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget)]
    if any(x is None or isinstance(x, BNode) for x in parts):
        return None
    return " ".join(x.n3() for x in parts)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stable_bnode_labels(g: Graph) -> dict[BNode, BNode]:
    """Blank node -> a label derived from its content, the same in every run.

    An axiom node is named by what it annotates; another blank node (or two
    axioms of one triple) by its whole description; nodes no description
    tells apart are numbered in order, which is then arbitrary but harmless
    (they are interchangeable).

    >>> g = Graph()
    >>> a = BNode()
    >>> _ = g.add((a, OWL.annotatedSource, URIRef("urn:s")))
    >>> _ = g.add((a, OWL.annotatedProperty, URIRef("urn:p")))
    >>> _ = g.add((a, OWL.annotatedTarget, Literal("o")))
    >>> str(stable_bnode_labels(g)[a])
    'axa82de9e697838597'
    """
    nodes = sorted({t for triple in g for t in triple if isinstance(t, BNode)}, key=str)
    first: dict[BNode, str] = {}
    for node in nodes:
        key = _axiom_key(g, node)
        first[node] = "ax" + _digest(key) if key else "b" + _digest(" ".join(_describe(g, node)))
    by_label: dict[str, list[BNode]] = defaultdict(list)
    for node, label in first.items():
        by_label[label].append(node)
    out: dict[BNode, BNode] = {}
    for label, same in by_label.items():
        if len(same) == 1:
            out[same[0]] = BNode(label)
            continue
        full = sorted(same, key=lambda n: (" ".join(_describe(g, n)), str(n)))
        for i, node in enumerate(full):
            out[node] = BNode(f"{label}{_digest(' '.join(_describe(g, node)))}n{i}")
    return out


def _relabelled(g: Graph, labels: dict[BNode, BNode]) -> Graph:
    """A copy of ``g`` with the new labels, triples added in sorted order, prefixes kept."""
    out = Graph(bind_namespaces="core")
    for prefix, ns in g.namespaces():
        out.bind(prefix, ns, override=True, replace=True)
    for s, p, o in sorted((labels.get(s, s), p, labels.get(o, o)) for s, p, o in g):
        out.add((s, p, o))
    return out


def _kebab(name: str) -> str:
    """``DeviceType`` -> ``device-type``.

    >>> _kebab("DeviceType")
    'device-type'
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def scheme_of(cls: URIRef) -> URIRef:
    """The concept scheme of a value class: ``kb:scheme-<class in kebab case>``."""
    return KB["scheme-" + _kebab(str(cls).rsplit("#", 1)[-1])]


def _declarations(onto: Graph, kb: Graph) -> tuple[Graph, Graph]:
    """The SKOS and OWL triples to add to the ontology and to the KB graph."""
    both = onto + kb
    adds = {id(onto): Graph(), id(kb): Graph()}

    def home(subject, cls) -> Graph:
        return adds[id(kb)] if (subject, RDF.type, cls) in kb else adds[id(onto)]

    for code in sorted(both.subjects(RDF.type, ONT.BillingCode)):
        out = home(code, ONT.BillingCode)
        out.add((code, RDF.type, SKOS.Concept))
        for scheme in sorted(both.objects(code, SKOS.inScheme)):
            out.add((code, SKOS.topConceptOf, scheme))
            out.add((scheme, SKOS.hasTopConcept, code))
    for family in sorted(both.subjects(RDF.type, ONT.CodeFamily)):
        home(family, ONT.CodeFamily).add((family, RDF.type, SKOS.ConceptScheme))
    for group in sorted(both.subjects(RDF.type, ONT.CodeGroup)):
        home(group, ONT.CodeGroup).add((group, RDF.type, SKOS.Collection))
    for cls in VALUE_CLASSES:
        terms = sorted(both.subjects(RDF.type, cls))
        if not terms:
            continue
        scheme = scheme_of(cls)
        out = home(terms[0], cls)
        out.add((scheme, RDF.type, SKOS.ConceptScheme))
        cls_label = both.value(cls, RDFS.label)
        out.add((scheme, SKOS.prefLabel, Literal(f"{cls_label or _kebab(str(cls).rsplit('#', 1)[-1])} terms",
                                                 lang="en")))
        out.add((scheme, RDFS.seeAlso, cls))
        for term in terms:
            out = home(term, cls)
            out.add((term, RDF.type, SKOS.Concept))
            out.add((term, SKOS.inScheme, scheme))
            out.add((term, SKOS.topConceptOf, scheme))
            out.add((scheme, SKOS.hasTopConcept, term))
            if both.value(term, SKOS.prefLabel) is None:
                for label in sorted(both.objects(term, RDFS.label)):
                    out.add((term, SKOS.prefLabel, label))
    classes = set(both.subjects(RDF.type, OWL.Class)) | {SKOS.Concept, SKOS.ConceptScheme, SKOS.Collection}
    for part in (onto, kb):
        extra = adds[id(part)]
        for s, cls in sorted(set(part.subject_objects(RDF.type)) | set(extra.subject_objects(RDF.type))):
            if cls in classes and isinstance(s, URIRef) and (s, RDF.type, OWL.Class) not in both:
                extra.add((s, RDF.type, OWL.NamedIndividual))
    return adds[id(onto)], adds[id(kb)]


def published(graphs: Graphs, declare: bool = True) -> Graphs:
    """The graphs every graph export writes (cached per loaded KB).

    ``declare=False``: stable labels only, no added SKOS or OWL triples (the
    HTML page: pyLODE titles a page after a ``skos:ConceptScheme`` when the
    graph declares one, and the page documents the ontology).
    """
    hit = _CACHE.get((id(graphs), declare))
    if hit is not None and hit[0] is graphs:
        return hit[1]
    labels = stable_bnode_labels(graphs.ontology + graphs.kb)
    onto_add, kb_add = _declarations(graphs.ontology, graphs.kb) if declare else (Graph(), Graph())
    out = Graphs(ontology=_relabelled(graphs.ontology + onto_add, labels),
                 kb=_relabelled(graphs.kb + kb_add, labels), pack=graphs.pack, version=graphs.version)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[(id(graphs), declare)] = (graphs, out)
    return out


def ordered(g: Graph) -> Graph:
    """A copy of ``g`` that iterates its triples in sorted order, in every process.

    rdflib's default store keeps a graph's triples in a set, whose order
    changes with Python's per-process string hashing; the RDF/XML, OWL and
    JSON-LD serialisers write subjects in that order. ``SimpleMemory`` keeps
    them in insertion order, so sorted insertion gives the same file every run.
    """
    from rdflib.plugins.stores.memory import SimpleMemory

    out = Graph(store=SimpleMemory(), bind_namespaces="none")
    for prefix, ns in sorted(g.namespaces()):
        out.bind(prefix, ns, override=True, replace=True)
    for triple in sorted(g):
        out.add(triple)
    return out


_XMLNS_HEADER = re.compile(rb"(<rdf:RDF\b)([^>]*)(>)")


def sorted_xmlns(xml: bytes) -> bytes:
    """RDF/XML with the root element's namespace declarations in sorted order.

    rdflib's pretty RDF/XML writer declares them in set order (it differs
    between runs); the order of attributes means nothing to XML.

    >>> sorted_xmlns(b'<rdf:RDF\\n   xmlns:b="urn:b"\\n   xmlns:a="urn:a"\\n>\\n')
    b'<rdf:RDF\\n   xmlns:a="urn:a"\\n   xmlns:b="urn:b"\\n>\\n'
    """
    m = _XMLNS_HEADER.search(xml)
    if not m:
        return xml
    lines = m.group(2).split(b"\n")
    attrs = sorted(line for line in lines if line.strip())
    if len(attrs) != len([line for line in lines if line.strip()]) or not all(a.strip().startswith(b"xml") for a in attrs):
        return xml
    body = b"\n" + b"\n".join(attrs) + b"\n"
    return xml[:m.start(2)] + body + xml[m.end(2):]
