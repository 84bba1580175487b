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


def owl_graph(g: Graph) -> Graph:
    """A copy of ``g`` using only OWL 2 datatypes, with the declarations OWL 2 DL asks for.

    Every predicate of another vocabulary the graph uses (Dublin Core's ``dct:source``, SKOS's
    ``skos:prefLabel`` and ``skos:member`` ...) is declared an ``owl:AnnotationProperty``, and every class of
    such a vocabulary it types terms with (``skos:Concept``, ``prov:Entity`` ...) an ``owl:Class``: undeclared,
    an OWL 2 parser had to guess, and read ``dct:source`` as an object property in 99 assertions and as an
    annotation property on 82 axioms (an integrator's audit, horned-owl). As annotations they leave the logic,
    and HermiT's answers, unchanged.
    """
    out = Graph(bind_namespaces="core")
    for prefix, ns in g.namespaces():
        out.bind(prefix, ns)
    for s, p, o in g:
        out.add((s, p, _owl_term(o)))
    declared = {s for t in _PROPERTY_TYPES for s in g.subjects(RDF.type, t)}
    for p in sorted(set(g.predicates()) - declared):
        if not str(p).startswith(_BUILT_IN):
            out.add((p, RDF.type, OWL.AnnotationProperty))
    classes = set(g.subjects(RDF.type, OWL.Class))
    used = set(g.objects(None, RDF.type)) | set(g.objects(None, RDFS.subClassOf))
    for cls in sorted(used - classes):
        if isinstance(cls, URIRef) and not str(cls).startswith(_BUILT_IN):
            out.add((cls, RDF.type, OWL.Class))
    return out


def _render(data: ExportInput) -> dict[str, bytes]:
    from cptkg.exports._publish import ordered, sorted_xmlns

    return {"": sorted_xmlns(ordered(owl_graph(data.graph)).serialize(format="xml", encoding="utf-8"))}


EXPORTER = Exporter("owl", "OWL 2 ontology as RDF/XML (OWL 2 datatypes only)", "owl", _render, rdf_format="xml")
