"""OWL 2 as RDF/XML, for Protégé-class tools and DL reasoners.

The graph is the same as the RDF exports except for the declarations OWL 2 DL
asks for (each predicate and class of another vocabulary declared, see
:func:`owl_graph`) and for dates: OWL 2's datatype
map has no ``xsd:date`` (HermiT refuses it), so ``xsd:date`` ranges become
``xsd:dateTime`` and date values become midnight (``T00:00:00``) dateTimes;
datatypes outside the OWL 2 map become plain strings. The ontology header
(``owl:Ontology``) is kept so the file opens as one ontology.
"""
from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

from cptkg.exports import ExportInput, Exporter

_OWL2_DATATYPES = {
    RDF.PlainLiteral, RDF.XMLLiteral, RDF.langString, RDFS.Literal,
    URIRef("http://www.w3.org/2002/07/owl#real"), URIRef("http://www.w3.org/2002/07/owl#rational"),
    *(XSD[n] for n in (
        "decimal integer nonNegativeInteger nonPositiveInteger positiveInteger negativeInteger "
        "long int short byte unsignedLong unsignedInt unsignedShort unsignedByte double float "
        "string normalizedString token language Name NCName NMTOKEN boolean hexBinary "
        "base64Binary anyURI dateTime dateTimeStamp"
    ).split()),
}


def _owl_term(term):
    if term == XSD.date:
        return XSD.dateTime
    if isinstance(term, Literal) and term.datatype is not None and term.datatype not in _OWL2_DATATYPES:
        if term.datatype == XSD.date:
            return Literal(f"{term}T00:00:00", datatype=XSD.dateTime)
        return Literal(str(term), datatype=XSD.string)
    return term


_BUILT_IN = (str(RDF), str(RDFS), str(OWL), str(XSD))
_PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)


def _kinds(g: Graph) -> dict:
    """Each property ``g`` declares, with its OWL kind (object, datatype or annotation property)."""
    return {s: t for t in _PROPERTY_TYPES for s in g.subjects(RDF.type, t)}


def owl_graph(g: Graph, schema: Graph | None = None) -> Graph:
    """A copy of ``g`` using only OWL 2 datatypes, with the declarations OWL 2 DL asks for.

    Every predicate of another vocabulary the graph uses (Dublin Core's ``dct:source``, SKOS's
    ``skos:prefLabel`` and ``skos:member`` ...) is declared an ``owl:AnnotationProperty``, and every class of
    such a vocabulary it types terms with (``skos:Concept``, ``prov:Entity`` ...) an ``owl:Class``: undeclared,
    an OWL 2 parser had to guess, and read ``dct:source`` as an object property in 99 assertions and as an
    annotation property on 82 axioms (an integrator's audit, horned-owl). As annotations they leave the logic,
    and HermiT's answers, unchanged.

    ``schema``: the graph that declares the properties (the ontology), when ``g`` is a part without it (the
    KB alone): each property ``g`` uses is declared as the ontology declares it. Declared as annotation
    properties, the KB's facts (``ont:mayBePerformedBy`` …) were annotations a reasoner ignores, and the KB
    and the ontology exports, merged, gave one property two kinds (an integrator's audit).

    A property of another vocabulary that is the super-property of an object (or datatype) property of the
    ontology (``ont:inFamily rdfs:subPropertyOf skos:inScheme``) is declared of that kind, not an annotation
    property: OWL 2 DL relates properties of one kind only (Structural Specification §5.8.1), and every value
    it has here is of that kind.
    """
    out = Graph(bind_namespaces="core")
    for prefix, ns in g.namespaces():
        out.bind(prefix, ns)
    for s, p, o in g:
        out.add((s, p, _owl_term(o)))
    kinds = _kinds(schema) if schema is not None else {}
    kinds.update(_kinds(g))
    axioms = schema if schema is not None else g
    for p in sorted(set(g.predicates()) - set(_kinds(g))):
        if str(p).startswith(_BUILT_IN):
            continue
        kind = kinds.get(p) or _super_kind(g, p, kinds, axioms) or OWL.AnnotationProperty
        out.add((p, RDF.type, kind))
    for p in sorted({o for o in g.objects(None, RDFS.subPropertyOf) if isinstance(o, URIRef)} - set(kinds)):
        if not str(p).startswith(_BUILT_IN) and (p, RDF.type, None) not in out:
            kind = _super_kind(g, p, kinds, axioms)
            if kind is not None:
                out.add((p, RDF.type, kind))
    classes = set(g.subjects(RDF.type, OWL.Class))
    used = set(g.objects(None, RDF.type)) | set(g.objects(None, RDFS.subClassOf))
    for cls in sorted(used - classes):
        if isinstance(cls, URIRef) and not str(cls).startswith(_BUILT_IN):
            out.add((cls, RDF.type, OWL.Class))
    return out


def _super_kind(g: Graph, p, kinds: dict, axioms: Graph):
    """The kind of the object or datatype properties ``p`` is the super-property of (in ``axioms``), when they
    are all of one kind and every value ``p`` has in ``g`` fits it; else None (an annotation property)."""
    subs = {kinds.get(s) for s in axioms.subjects(RDFS.subPropertyOf, p)}
    if len(subs) != 1 or subs <= {None, OWL.AnnotationProperty}:
        return None
    kind = next(iter(subs))
    values = list(g.objects(None, p))
    literal = [isinstance(o, Literal) for o in values]
    if kind == OWL.ObjectProperty and not any(literal):
        return kind
    if kind == OWL.DatatypeProperty and all(literal):
        return kind
    return None


def exported(data: ExportInput) -> Graph:
    """The graph the OWL export writes: the chosen part, declared as the whole (ontology and KB) declares it."""
    return owl_graph(data.graph, data.published.select("both") if data.which != "both" else None)


def _render(data: ExportInput) -> dict[str, bytes]:
    from cptkg.exports._publish import ordered, sorted_xmlns

    return {"": sorted_xmlns(ordered(exported(data)).serialize(format="xml", encoding="utf-8"))}


EXPORTER = Exporter("owl", "OWL 2 ontology as RDF/XML (OWL 2 datatypes only)", "owl", _render, rdf_format="xml")
