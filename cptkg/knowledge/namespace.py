"""The ontology's terms as a closed namespace.

A misspelt term raises at import instead of silently matching nothing;
tests/test_ontology.py checks that every term here is defined in
ontology/cptkg.ttl.
"""
from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace

KB = Namespace("https://w3id.org/cptkg/kb/")
SRC = Namespace("https://w3id.org/cptkg/source/")
RULES = "https://w3id.org/cptkg/rules"
# the code systems a FHIR ClaimResponse codes with and the terminology export publishes: defined once, here,
# below both (io writes the responses, exports the CodeSystems), so the two cannot drift apart
INPUT_ERROR_SYSTEM = "https://w3id.org/cptkg/input-error"
INPUT_ERROR_DISPLAY = "claim could not be judged"  # its one code's display; the claim's own error is text
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"  # X12's external code list, as HL7 names it


class ONT(DefinedNamespace):
    _NS = Namespace("https://w3id.org/cptkg/ontology#")
    _fail = True

    BillingCode: URIRef
    CodeGroup: URIRef
    CodeFamily: URIRef
    Service: URIRef
    Skill: URIRef
    DeviceType: URIRef
    Route: URIRef
    ProviderRole: URIRef
    PairEdit: URIRef
    UnitEdit: URIRef
    EditKind: URIRef
    EditScope: URIRef
    ModifierSet: URIRef
    Source: URIRef
    SourceDocument: URIRef
    SourceConflict: URIRef
    Predicate: URIRef
    datalogPredicate: URIRef
    arity: URIRef
    inputValue: URIRef
    verdict: URIRef
    section: URIRef
    sectionTitle: URIRef
    shortTitle: URIRef
    quote: URIRef
    normative: URIRef
    confidence: URIRef
    mapsTo: URIRef
    phrase: URIRef
    inputOf: URIRef
    argumentTypes: URIRef
    conflictingSource: URIRef
    prevailingSource: URIRef
    resolution: URIRef
    inFamily: URIRef
    mayBePerformedBy: URIRef
    performersListed: URIRef
    repeatBy: URIRef
    coversService: URIRef
    requiresService: URIRef
    requiresSkill: URIRef
    appliesToDevice: URIRef
    appliesToRoute: URIRef
    namesCode: URIRef
    namesCodeGroup: URIRef
    column1Code: URIRef
    column2Code: URIRef
    column1: URIRef
    column2: URIRef
    editKind: URIRef
    modifierIndicator: URIRef
    editScope: URIRef
    effectiveDate: URIRef
    deletionDate: URIRef
    rationale: URIRef
    sourceRow: URIRef
    editCode: URIRef
    maxUnits: URIRef
    adjudicationIndicator: URIRef
    modifier: URIRef
    citation: URIRef
    fileSha256: URIRef
