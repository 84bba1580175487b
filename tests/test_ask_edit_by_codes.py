"""``cptkg ask edit`` takes an edit as an analyst names it (the explanation's
"NCCI PTP edit 27447/20610", "MUE 62367"), not only by its IRI."""
from __future__ import annotations

import pytest

from cptkg.judge import questions
from cptkg.judge.questions import QuestionError
from cptkg.knowledge.loader import default_kb


@pytest.fixture(scope="module")
def kb():
    return default_kb()


@pytest.mark.parametrize("asked", ["95990/62367", "95990 / 62367", "NCCI PTP edit 95990/62367"])
def test_a_pair_edit_is_found_by_its_column_1_and_column_2_codes(kb, asked):
    answer = questions.edit(kb, asked, date="2025-03-04")
    assert answer["rows"][0]["id"] == "edit-refill-includes-analysis"


def test_the_codes_the_wrong_way_round_name_no_edit(kb):
    with pytest.raises(QuestionError) as e:
        questions.edit(kb, "62367/95990")
    assert "is not an edit" in str(e.value)


TWO_ROWS = """@prefix ont: <https://w3id.org/cptkg/ontology#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix e: <urn:cptkg:synthetic-two:> .
e:source a ont:Source ; rdfs:label "SYNTHETIC two rows of one pair" ; ont:citation "SYNTHETIC test table" ;
    ont:fileSha256 "6ffbbe12c3d609cbd5297aa4418f8371ce1ee554ce8b6919fee54d90398d44db" .
e:row-1 a ont:PairEdit ; ont:column1Code "27447" ; ont:column2Code "20610" ; ont:editKind ont:ComponentEdit ;
    ont:modifierIndicator "1" ; ont:editScope ont:SameProvider ; ont:effectiveDate "2020-01-01"^^xsd:date ;
    ont:deletionDate "2022-12-31"^^xsd:date ; dct:source e:source ; ont:sourceRow 1 .
e:row-2 a ont:PairEdit ; ont:column1Code "27447" ; ont:column2Code "20610" ; ont:editKind ont:ComponentEdit ;
    ont:modifierIndicator "0" ; ont:editScope ont:SameProvider ; ont:effectiveDate "2023-01-01"^^xsd:date ;
    dct:source e:source ; ont:sourceRow 2 .
"""


def test_codes_of_several_edits_are_refused_naming_them(tmp_path):
    f = tmp_path / "two.ttl"
    f.write_text(TWO_ROWS)
    kb = default_kb(edits=[f])
    with pytest.raises(QuestionError) as e:
        questions.edit(kb, "27447/20610")
    assert "names 2 edits" in str(e.value) and "row-1" in str(e.value) and "row-2" in str(e.value)
