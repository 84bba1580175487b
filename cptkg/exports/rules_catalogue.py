"""A catalogue of the rules for reviewers: id, message, codes, source.

"Codes" are the billing codes a rule mentions: constants that are a code's
notation or local name in the KB, members of code groups it names, and
codes its message or its source quotes name (ranges such as 62367–62369
included). The rules themselves name few codes: the KB carries them.
"Source" lists the rule's source ids, each followed by the section anchor
the KB records for it when there is one.
"""
from __future__ import annotations

import io
import re

from rdflib import Graph
from rdflib.namespace import RDF, SKOS

from cptkg.exports import ExportInput, Exporter
from cptkg.exports._rules import load_rules
from cptkg.knowledge.namespace import ONT
from cptkg.rules.ast import Atom, Comparison, Const, Literal, Rule

COLUMNS = ("id", "head", "message", "codes", "source", "file", "line", "confidence")


def local_name(iri: str) -> str:
    """The part after the last ``#`` or ``/``.

    >>> local_name("https://w3id.org/cptkg/ontology#Physician")
    'Physician'
    """
    for sep in ("#", "/"):
        if sep in iri and iri.rsplit(sep, 1)[1]:
            return iri.rsplit(sep, 1)[1]
    return iri


def _code_index(g: Graph) -> dict[str, set[str]]:
    """Constant text -> codes it stands for (a code, or a group's members)."""
    index: dict[str, set[str]] = {}
    notation = {}
    for code in g.subjects(RDF.type, ONT.BillingCode):
        n = g.value(code, SKOS.notation)
        if n is not None:
            notation[code] = str(n)
            index.setdefault(str(n), set()).add(str(n))
            index.setdefault(local_name(str(code)), set()).add(str(n))
    for group in g.subjects(RDF.type, ONT.CodeGroup):
        members = {notation[m] for m in g.objects(group, SKOS.member) if m in notation}
        if members:
            index.setdefault(local_name(str(group)), set()).update(members)
    return index


def _consts(rule: Rule, negated: bool = False):
    """The constants the rule's head, positive literals and comparisons hold (``negated``: those of its negated
    literals instead: ``not group_member("group-drug", C)`` put every drug code in the codes column of rules that
    never apply to one, an integrator's audit)."""
    if negated:
        for item in rule.body:
            if isinstance(item, Literal) and item.negated:
                yield from (t.value for t in item.atom.args if isinstance(t, Const))
        return
    atoms: list[Atom] = [rule.head]
    for item in rule.body:
        if isinstance(item, Literal):
            if item.negated:
                continue
            atoms.append(item.atom)
        elif isinstance(item, Comparison):
            for t in (item.left, item.right):
                if isinstance(t, Const):
                    yield t.value
    for atom in atoms:
        for t in atom.args:
            if isinstance(t, Const):
                yield t.value


def _source_confidence(g: Graph) -> dict[str, str]:
    """Source id -> its confidence in words (high, medium, low)."""
    out = {}
    for src in g.subjects(RDF.type, ONT.Source):
        c = g.value(src, ONT.confidence)
        if c is not None:
            out[local_name(str(src))] = local_name(str(c)).lower()
    return out


def rule_confidence(rule: Rule, by_source: dict[str, str]) -> str:
    """The rule's confidence as its verdicts report it (cptkg.judge.reasons): its own, else the weakest of its
    sources'. A rule resting on a medium source alone showed no confidence in the catalogue while its denials
    said "medium" (an integrator's audit)."""
    from cptkg.knowledge.sources import weakest_confidence

    return rule.meta.confidence or weakest_confidence(by_source.get(s) for s in rule.meta.source)


def _source_sections(g: Graph) -> tuple[dict[str, str], dict[str, str]]:
    """Source id -> section anchor, and source id -> quoted sentence."""
    sections, quotes = {}, {}
    for src in g.subjects(RDF.type, ONT.Source):
        sec = g.value(src, ONT.section)
        if sec is not None:
            sections[local_name(str(src))] = str(sec)
        quote = g.value(src, ONT.quote)
        if quote is not None:
            quotes[local_name(str(src))] = str(quote)
    return sections, quotes


_RANGE = re.compile(r"\b(\d{5})\s*[–—-]\s*(\d{5})\b")


def codes_in_text(text: str, notations: set[str]) -> set[str]:
    """KB codes a text names, ranges expanded.

    >>> sorted(codes_in_text("10021–10023, not 10040", {"10021", "10022", "10023", "10040", "10050"}))
    ['10021', '10022', '10023', '10040']
    """
    found = {n for n in notations if re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text)}
    for lo, hi in _RANGE.findall(text):
        found |= {n for n in notations if n.isdigit() and int(lo) <= int(n) <= int(hi)}
    return found


def catalogue(data: ExportInput) -> list[dict[str, str]]:
    """One row per rule that carries an id (facts and helper rules without ids are left out)."""
    g = data.graphs.select("both")
    index = _code_index(g)
    sections, quotes = _source_sections(g)
    confidence = _source_confidence(g)
    notations = {str(n) for c in g.subjects(RDF.type, ONT.BillingCode) for n in g.objects(c, SKOS.notation)}
    rows = []
    for rule in load_rules(data.pack):
        if not rule.meta.id:
            continue
        codes: set[str] = set()
        for value in _consts(rule):
            codes |= index.get(str(value), set())
        # and its sources' sentences, less the codes a negated condition excludes: not its message, which names
        # the codes to bill instead ("a refill by clinical staff is 95990"); the drug codes a source quotes for a
        # rule over every code but the drugs were read as the codes it applies to (an integrator's audit)
        codes |= codes_in_text(" ".join(quotes.get(s, "") for s in rule.meta.source), notations)
        for value in _consts(rule, negated=True):
            codes -= index.get(str(value), set())
        sources = [f"{s} ({sections[s]})" if s in sections else s for s in rule.meta.source]
        rows.append({
            "id": rule.meta.id,
            "head": str(rule.head),
            "message": rule.meta.message or "",
            "codes": " ".join(sorted(codes)),
            "source": "; ".join(sources),
            "file": rule.file,
            "line": str(rule.line),
            "confidence": rule_confidence(rule, confidence),
        })
    return rows


def _render_csv(data: ExportInput) -> dict[str, bytes]:
    from cptkg import spreadsheet

    buf = io.StringIO()
    w = spreadsheet.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(catalogue(data))
    return {"": buf.getvalue().encode("utf-8")}


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _render_md(data: ExportInput) -> dict[str, bytes]:
    rows = catalogue(data)
    out = ["# cptkg rules catalogue", "",
           f"{len(rows)} rules, generated from the rule files by `cptkg export --format rules-md`.", "",
           "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        out.append("| " + " | ".join(_md_cell(row[c]) for c in COLUMNS) + " |")
    return {"": ("\n".join(out) + "\n").encode("utf-8")}


CSV_EXPORTER = Exporter("rules-csv", "rules catalogue as CSV (id, message, codes, source)", "csv", _render_csv, uses_graph=False)
MD_EXPORTER = Exporter("rules-md", "rules catalogue as a Markdown table", "md", _render_md, uses_graph=False)
