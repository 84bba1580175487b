"""FHIR R4 terminology resources for the code systems cptkg's FHIR output and input use.

A ClaimResponse (``cptkg.io.writers.fhir``) codes each rejection with a rule
id of :data:`RULES_SYSTEM` and input errors with :data:`INPUT_ERROR_SYSTEM`;
the FHIR claim reader takes the performer's role as a code of
:data:`ROLE_SYSTEM` or a NUCC taxonomy code. A terminology server (HAPI,
Ontoserver, Snowstorm) can ``$validate-code`` and ``$translate`` those only
when the systems are defined, so this export writes, one JSON file each:

* CodeSystem ``cptkg-rules`` at :data:`RULES_SYSTEM`: every rule id of the
  pack (display: its title from the rule's ``% title:`` metadata, definition: its message;
  properties ``source``, the source passages' IRIs, and ``carc``, the X12
  claim adjustment reason code a denial by the rule is reported with);
* CodeSystem ``cptkg-provider-role`` at :data:`ROLE_SYSTEM`: the roles claims
  may name (the KB's ``ont:inputValue`` of each role class, display its label);
* CodeSystem ``cptkg-input-error`` at :data:`INPUT_ERROR_SYSTEM`;
* a ValueSet per code group and per code family: the codes by system (CPT or
  HCPCS) and code only. No display: a CPT concept's display is its official
  descriptor, the AMA's licensed text, and a ValueSet would publish the pack's
  wording as that; the RDF exports carry the pack's labels and definitions as the
  KB holds them, the wording of its sources with each source cited (an integrator
  read the two exports as two stances);
* ConceptMaps rule -> CARC and NUCC taxonomy code -> provider role (the KB's
  ``ont:nuccTaxonomy`` codes; the grouping prefixes the reader also applies,
  such as ``20`` for physicians, are not codes and are named in the map's
  description only).

Every resource is built with fhir.resources' R4B models (as the ClaimResponse
writer is), so one FHIR R4 would refuse is never written. Keys and concepts
are in a fixed order: two exports of the same pack are the same files.
"""
from __future__ import annotations

import json
import re

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from cptkg.exports import ExportError, ExportInput, Exporter
from cptkg.exports._rules import load_rules
# the systems and displays the ClaimResponse writer codes with (cptkg.io.writers.fhir): one definition
from cptkg.knowledge.namespace import CARC_SYSTEM, INPUT_ERROR_DISPLAY, INPUT_ERROR_SYSTEM, ONT, RULES

RULES_SYSTEM = RULES

ROLE_SYSTEM = "https://w3id.org/cptkg/provider-role"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # HL7 Terminology's CodeSystem url
# not (yet) in the closed namespace cptkg.knowledge.namespace.ONT; declared in the core ontology
NUCC_TAXONOMY = URIRef(str(ONT) + "nuccTaxonomy")
NUCC_TAXONOMY_PREFIX = URIRef(str(ONT) + "nuccTaxonomyPrefix")
# canonical URLs of the resources cptkg defines (as the claim reader's route extension)
FHIR_BASE = "https://w3id.org/cptkg/fhir/"
PUBLISHER = "cptkg"
# a CPT code: five digits, or four digits and F, T or U; a HCPCS Level II code: a letter A-V and four digits
_CPT = re.compile(r"^\d{4}[\dFTU]$")
_HCPCS = re.compile(r"^[A-V]\d{4}$")


def code_system_of(code: str) -> str | None:
    """The FHIR system a billing code is written in, by its shape.

    >>> code_system_of("12345"), code_system_of("A1234"), code_system_of("x")
    ('http://www.ama-assn.org/go/cpt', 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets', None)
    """
    if _CPT.match(code):
        return CPT_SYSTEM
    if _HCPCS.match(code):
        return HCPCS_SYSTEM
    return None


def _local(iri) -> str:
    return re.split(r"[#/]", str(iri))[-1]


def _fhir_id(text: str) -> str:
    """A FHIR resource id (letters, digits, '-' and '.', at most 64).

    >>> _fhir_id("group_implant")
    'group-implant'
    """
    return re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64]


def _titles(data: ExportInput) -> dict[str, str]:
    from cptkg.knowledge.loader import KBLoadError, _rule_titles

    try:
        return _rule_titles(data.pack)[0]
    except KBLoadError as e:
        raise ExportError(str(e)) from None


def rules_code_system(data: ExportInput):
    from fhir.resources.R4B.codesystem import CodeSystem, CodeSystemConcept, CodeSystemConceptProperty, CodeSystemProperty
    from fhir.resources.R4B.coding import Coding

    from cptkg.knowledge.carc import carc_description

    titles = _titles(data)
    by_id: dict[str, dict] = {}
    for rule in load_rules(data.pack):
        rid = rule.meta.id
        if not rid:
            continue
        entry = by_id.setdefault(rid, {"message": rule.meta.message, "sources": [], "carc": rule.meta.carc})
        entry["message"] = entry["message"] or rule.meta.message
        entry["carc"] = entry["carc"] or rule.meta.carc
        entry["sources"] += [s for s in rule.meta.source if s not in entry["sources"]]
    src = "https://w3id.org/cptkg/source/"
    concepts = []
    for rid in sorted(by_id):
        entry = by_id[rid]
        props = [CodeSystemConceptProperty(code="source", valueString=src + s) for s in entry["sources"]]
        if entry["carc"]:
            props.append(CodeSystemConceptProperty(code="carc", valueCoding=Coding(
                system=CARC_SYSTEM, code=str(entry["carc"]), display=carc_description(entry["carc"]) or None)))
        concepts.append(CodeSystemConcept(code=rid, display=titles.get(rid) or rid,
                                          definition=entry["message"] or None, property=props or None))
    if not concepts:
        raise ExportError(f"no rule of {data.pack.shown(data.pack.root / 'rules')} carries an id (% id:)")
    return CodeSystem(
        id="cptkg-rules", url=RULES_SYSTEM, name="CptkgRules", title=f"cptkg rules of the {data.pack.name} pack",
        status="active", experimental=False, publisher=PUBLISHER, caseSensitive=True, content="complete",
        description="Every rule of the family pack, by its id: the rules a cptkg ClaimResponse names as the reason of "
                    "a rejection or a warning (adjudication reason and error code), and the rules those rest on (code "
                    "inference, conditions). Definition: the rule's message, with {N} for the values it names.",
        property=[
            CodeSystemProperty(code="source", type="string", description="A source passage the rule encodes (IRI)."),
            CodeSystemProperty(code="carc", type="Coding",
                               description="The X12 claim adjustment reason code a denial by the rule is reported with."),
        ],
        count=len(concepts), concept=concepts)


def _role_classes(g: Graph) -> list[URIRef]:
    """Every class below ont:ProviderRole (transitively), sorted."""
    out, todo = set(), [ONT.ProviderRole]
    while todo:
        for sub in g.subjects(RDFS.subClassOf, todo.pop()):
            if sub not in out:
                out.add(sub)
                todo.append(sub)
    return sorted(out)


def role_values(g: Graph) -> dict[URIRef, str]:
    """Role class -> the input value claims name it by."""
    return {c: str(v) for c in _role_classes(g) for v in g.objects(c, ONT.inputValue)}


def roles_code_system(data: ExportInput):
    from fhir.resources.R4B.codesystem import CodeSystem, CodeSystemConcept

    g = data.published.select("both")
    concepts = [CodeSystemConcept(code=value, display=str(g.value(cls, RDFS.label) or value),
                                  definition=str(g.value(cls, RDFS.comment) or "") or None)
                for cls, value in sorted(role_values(g).items(), key=lambda kv: kv[1])]
    if not concepts:
        raise ExportError("the knowledge base names no provider role with an input value (ont:inputValue)")
    return CodeSystem(
        id="cptkg-provider-role", url=ROLE_SYSTEM, name="CptkgProviderRole", title="cptkg provider roles",
        status="active", experimental=False, publisher=PUBLISHER, caseSensitive=True, content="complete",
        description="The performer roles a claim line may name (the family pack's role classes). A FHIR Claim "
                    "may give the role with this system or as a NUCC taxonomy code (ConceptMap nucc-to-provider-role).",
        count=len(concepts), concept=concepts)


def input_error_code_system():
    from fhir.resources.R4B.codesystem import CodeSystem, CodeSystemConcept

    return CodeSystem(
        id="cptkg-input-error", url=INPUT_ERROR_SYSTEM, name="CptkgInputError", title="cptkg input errors",
        status="active", experimental=False, publisher=PUBLISHER, caseSensitive=True, content="complete",
        description="Why a claim could not be judged; the ClaimResponse error's text says what was wrong.",
        count=1, concept=[CodeSystemConcept(code="input", display=INPUT_ERROR_DISPLAY,
                                            definition="The claim could not be read or judged as given; "
                                                       "the error text names the field and the problem.")])


def _value_set(set_id: str, title: str, codes: list[str], description: str):
    from fhir.resources.R4B.valueset import ValueSet, ValueSetCompose, ValueSetComposeInclude, ValueSetComposeIncludeConcept

    by_system: dict[str, list[str]] = {}
    for code in sorted(set(codes)):
        system = code_system_of(code)
        if system is None:
            raise ExportError(f"code {code!r} of {title} is neither a CPT nor a HCPCS code")
        by_system.setdefault(system, []).append(code)
    include = [ValueSetComposeInclude(system=system, concept=[ValueSetComposeIncludeConcept(code=c) for c in cs])
               for system, cs in sorted(by_system.items())]
    return ValueSet(id=set_id, url=FHIR_BASE + "ValueSet/" + set_id, name=re.sub(r"\W", "", title.title())[:60] or set_id,
                    title=title, status="active", experimental=False, publisher=PUBLISHER,
                    description=description, compose=ValueSetCompose(include=include))


def value_sets(data: ExportInput) -> list:
    g = data.published.select("both")
    notation = {c: str(n) for c in g.subjects(RDF.type, ONT.BillingCode) for n in g.objects(c, SKOS.notation)}
    out = []
    no_text = " Codes only: CPT descriptors are the AMA's licensed text and are not repeated here."
    for group in sorted(g.subjects(RDF.type, ONT.CodeGroup)):
        codes = [notation[m] for m in g.objects(group, SKOS.member) if m in notation]
        label = str(g.value(group, SKOS.prefLabel) or _local(group))
        out.append(_value_set(_fhir_id(_local(group)), label, codes,
                              f"The code group {_local(group)} of the knowledge base ({label})." + no_text))
    for family in sorted(g.subjects(RDF.type, ONT.CodeFamily)):
        codes = [notation[c] for c in g.subjects(SKOS.inScheme, family) if c in notation]
        label = str(g.value(family, SKOS.prefLabel) or _local(family))
        out.append(_value_set(_fhir_id(_local(family)), label, codes,
                              f"The codes of the code family {_local(family)} ({label})." + no_text))
    return out


def rule_carc_map(rules_cs):
    from fhir.resources.R4B.conceptmap import ConceptMap, ConceptMapGroup, ConceptMapGroupElement, ConceptMapGroupElementTarget

    elements = []
    for concept in rules_cs.concept:
        carc = next((p.valueCoding for p in concept.property or () if p.code == "carc"), None)
        if carc is not None:
            elements.append(ConceptMapGroupElement(code=concept.code, display=concept.display, target=[
                ConceptMapGroupElementTarget(code=carc.code, display=carc.display, equivalence="wider")]))
    return ConceptMap(
        id="rule-to-carc", url=FHIR_BASE + "ConceptMap/rule-to-carc", name="RuleToCarc",
        title="cptkg rule -> X12 claim adjustment reason code", status="active", experimental=False,
        publisher=PUBLISHER,  # the code systems are the group's: source/target[x] name value sets (R4)
        description="The CARC a denial by each rule is reported with (the rule's % carc: metadata). "
                    "Equivalence 'wider': a CARC names a kind of denial, the rule one reason of that kind.",
        group=[ConceptMapGroup(source=RULES_SYSTEM, target=CARC_SYSTEM, element=elements)])


def nucc_role_map(data: ExportInput):
    from fhir.resources.R4B.conceptmap import ConceptMap, ConceptMapGroup, ConceptMapGroupElement, ConceptMapGroupElementTarget

    g = data.published.select("both")
    values = role_values(g)
    pairs = sorted((str(code), values[cls]) for cls in values for code in g.objects(cls, NUCC_TAXONOMY))
    prefixes = sorted((str(p), values[cls]) for cls in values for p in g.objects(cls, NUCC_TAXONOMY_PREFIX))
    elements = [ConceptMapGroupElement(code=code, target=[ConceptMapGroupElementTarget(code=role, equivalence="wider")])
                for code, role in pairs]
    said = "; ".join(f"{p}… -> {r}" for p, r in prefixes)
    return ConceptMap(
        id="nucc-to-provider-role", url=FHIR_BASE + "ConceptMap/nucc-to-provider-role", name="NuccToProviderRole",
        title="NUCC provider taxonomy -> cptkg provider role", status="active", experimental=False,
        publisher=PUBLISHER,  # as above: the code systems are the group's
        description="The family pack's mapping of NUCC Health Care Provider Taxonomy codes to the roles its rules "
                    "know (ont:nuccTaxonomy, each mapping sourced in the KB). Equivalence 'wider': the role may hold "
                    "providers of other taxonomy codes too. The claim reader also maps a code no element lists by "
                    f"its grouping prefix (a longer prefix wins): {said}.",
        group=[ConceptMapGroup(source=NUCC_SYSTEM, target=ROLE_SYSTEM, element=elements)])


def resources(data: ExportInput) -> list:
    """Every resource of the export, each a validated R4B model."""
    rules_cs = rules_code_system(data)
    made = [rules_cs, roles_code_system(data), input_error_code_system(), *value_sets(data),
            rule_carc_map(rules_cs), nucc_role_map(data)]
    # the KB version (check's kb_version): a terminology server keeps the releases of a code system apart
    # by it, and a ClaimResponse's codes are checked against the export of the KB that judged it
    if data.graphs.version:
        for res in made:
            res.version = data.graphs.version
    return made


def _render(data: ExportInput) -> dict[str, bytes]:
    try:
        import fhir.resources.R4B  # noqa: F401
    except ImportError:
        raise ExportError("FHIR terminology needs fhir.resources (pip install 'fhir.resources>=8')") from None
    from pydantic import ValidationError

    try:
        made = resources(data)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise ExportError(f"a FHIR terminology resource would not be valid R4: {e.title} {where}: "
                          f"{first.get('msg', e)}") from None
    files = {}
    for res in made:
        doc = json.loads(res.model_dump_json(exclude_none=True))
        files[f"{res.get_resource_type()}-{res.id}.json"] = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return files


EXPORTER = Exporter("fhir", "FHIR R4 CodeSystems (rules, provider roles), ValueSets (code groups) and ConceptMaps "
                            "(rule -> CARC, NUCC -> role) as JSON files", "json", _render,
                    uses_graph=False, several_files=True)
