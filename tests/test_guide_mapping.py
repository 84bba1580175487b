"""Every section of the guide, and every sentence that states a billing rule,
is mapped to the KB elements that encode it."""
import re

import pytest
from rdflib import URIRef

from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT

GUIDE = PACK / "sources" / "pump-billing-guide.txt"   # a verbatim copy, see sources/README.md
SHARED = ROOT.parent / "shared" / "sources"


def guide_sections():
    out = []
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(\d+(?:\.\d+)?)\.? (.{2,35})$", line.strip())
        if m:
            out.append(m.group(1))
    return out


def test_the_guide_has_the_sections_we_encoded():
    assert guide_sections() == ["1", "2", "2.1", "3", "3.1", "4", "4.1", "5", "5.1", "6", "6.1", "6.2",
                                "7", "7.1", "7.2", "8", "8.1", "8.2", "9", "9.1"]


def test_every_guide_section_maps_to_kb_elements(kb):
    mapped = {s.section for s in kb.sources.values() if s.document == "guide" and s.maps_to}
    missing = [s for s in guide_sections() if s not in mapped]
    assert not missing, f"guide sections with no KB mapping: {missing}"


def test_every_guide_sentence_is_a_quoted_source(kb):
    text = GUIDE.read_text(encoding="utf-8")
    quotes = [s.quote for s in kb.sources.values() if s.document == "guide"]
    assert len(quotes) == 66
    for q in quotes:
        assert q in text


def test_every_domain_notes_quote_is_verbatim_but_for_omissions_it_marks(kb):
    """A quote of the notes is their words: a part left out (the attribution in parentheses, which
    dct:references carries) is marked with […]; markdown's emphasis, bold and code marks are formatting,
    not words, and a quote leaves them out (shown as text they read as stray asterisks). Each marked piece
    must appear in the notes, in order, and a quote that is no part of the notes is not cited to them."""
    assert not [s.id for s in kb.sources.values() if s.quote and "*" in s.quote]
    notes = (PACK / "sources" / "domain-notes.md").read_text(encoding="utf-8")
    text = " ".join(notes.replace("**", "").replace("*", "").replace("`", "").split())  # markdown's marks
    quotes = {s.id: s.quote for s in kb.sources.values() if s.document == "notes" and s.quote}
    assert len(quotes) >= 30
    for sid, quote in quotes.items():
        at = 0
        for piece in (p.strip() for p in " ".join(quote.split()).split("[…]")):
            if piece in ("", "."):
                continue
            found = text.find(piece, at)
            assert found >= 0, f"{sid}: {piece[:80]!r} is not in the domain notes (after the quote's earlier pieces)"
            at = found + len(piece)


def test_normative_sentences_map_to_existing_kb_elements(kb):
    subjects = {str(s) for s in kb.graph.subjects()}
    for s in kb.sources.values():
        if s.document == "guide" and s.normative:
            assert s.maps_to, s.id
        for target in s.maps_to:
            assert any(x.endswith("/" + target) or x.endswith("#" + target) for x in subjects), (s.id, target)


def test_every_normative_source_is_used_by_a_rule_or_a_fact(kb):
    from rdflib.namespace import DCTERMS
    from cptkg.knowledge.loader import local

    used = {s for p in (kb.check_program, kb.infer_program) for r in p.rules for s in r.meta.source}
    used |= {local(o) for o in kb.graph.objects(None, DCTERMS.source)}
    unused = [s.id for s in kb.sources.values() if s.normative and s.id not in used and s.document == "notes"]
    assert not unused, unused


@pytest.mark.parametrize("name", ["pump-billing-guide.txt", "domain-notes.md"])
def test_the_copies_of_the_sources_equal_the_shared_originals(name):
    original = SHARED / name
    if not original.exists():
        pytest.skip("the shared folder is not beside this checkout")
    assert (PACK / "sources" / name).read_bytes() == original.read_bytes()
