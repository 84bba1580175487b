"""Edit files as edit tables (cptkg.knowledge.edits.files): the importer's table, the parsed
table and the cache agree; the vectorised checks agree with the SHACL shapes; a cache
that is not the file's is never used; a claim meets only the edits of its codes
(cptkg.knowledge.edits.index) and gets the same verdicts as when it meets them all."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cptkg.knowledge.edits import files as edit_files
from cptkg.knowledge.loader import KBLoadError, load_kb

ROOT = Path(__file__).resolve().parents[1]
EDITS = ROOT / "tests" / "data" / "edits"
PACK = ROOT / "kb" / "pump"


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("CPTKG_CACHE_DIR", str(d))
    return d


def _named(facts: dict) -> dict:
    """Facts without rows about blank nodes (their ids are new at each parse)."""
    return {p: {r for r in rows if not any(isinstance(v, str) and v.startswith("n") and len(v) > 30 for v in r)}
            for p, rows in facts.items()}


def _import(kind: str, src: str, out: Path):
    from cptkg.knowledge.edits.cms_import import import_table
    import datetime

    return import_table(kind, EDITS / src, out, imported=datetime.date(2025, 3, 1))


def test_the_importers_table_parsing_the_file_and_the_cache_give_the_same_facts(tmp_path, cache):
    ptp, mue = tmp_path / "ptp.ttl", tmp_path / "mue.ttl"
    _import("ptp", "ptp_practitioner_synthetic.txt", ptp)
    _import("mue", "mue_practitioner_synthetic.txt", mue)
    written = sorted(cache.glob("edit-table-*.parquet"))
    assert len(written) == 2, "the importer caches the table of each file it writes"
    from_import = load_kb(PACK, edits=[ptp, mue])
    assert all(t.from_cache for t in from_import.edit_tables)
    for f in written:
        f.unlink()
    parsed = load_kb(PACK, edits=[ptp, mue])
    assert not any(t.from_cache for t in parsed.edit_tables)
    assert len(list(cache.glob("edit-table-*.parquet"))) == 2, "a parsed table is cached too"
    again = load_kb(PACK, edits=[ptp, mue])
    assert all(t.from_cache for t in again.edit_tables)
    for kb in (parsed, again):
        assert _named(kb.all_facts()) == _named(from_import.all_facts())
        assert [t.sources for t in kb.edit_tables] == [t.sources for t in from_import.edit_tables]
        assert set(kb.sources) == set(from_import.sources)


def test_a_cache_that_is_not_the_files_is_ignored(tmp_path, cache):
    ptp = tmp_path / "ptp.ttl"
    _import("ptp", "ptp_practitioner_synthetic.txt", ptp)
    (target,) = cache.glob("edit-table-*.parquet")
    target.write_bytes(b"garbage, not parquet")
    kb = load_kb(PACK, edits=[ptp])
    assert not kb.edit_tables[0].from_cache and len(kb.edit_tables[0]) == 7
    # a cache stamped for another file's hash is not used under this one's name
    other = tmp_path / "other.ttl"
    _import("mue", "mue_practitioner_synthetic.txt", other)
    (mue_table,) = [f for f in cache.glob("edit-table-*.parquet") if f != target]
    shutil.copy(mue_table, target)
    kb = load_kb(PACK, edits=[ptp])
    assert not kb.edit_tables[0].from_cache and kb.edit_tables[0].pair_edits == 7


BROKEN = {
    "modifier indicator 7": ('ont:modifierIndicator "1"', 'ont:modifierIndicator "7"'),
    "no modifier indicator": ('ont:modifierIndicator "1" ;', ""),
    "a column 1 code of four characters": ('ont:column1Code "27447"', 'ont:column1Code "2744"'),
    "column 1 by code and by group": ('ont:column1Code "27447" ;', 'ont:column1Code "27447" ; ont:column1 <https://w3id.org/cptkg/kb/group-refill> ;'),
    "no column 1": ('ont:column1Code "27447" ;', ""),
    "an unknown kind": ("ont:editKind ont:ComponentEdit ; ont:modifierIndicator \"1\"", "ont:editKind ont:SameProvider ; ont:modifierIndicator \"1\""),
    "an unknown scope": ('ont:modifierIndicator "1" ; ont:editScope ont:SameProvider', 'ont:modifierIndicator "1" ; ont:editScope ont:ComponentEdit'),
    "a date that is not xsd:date": ('ont:effectiveDate "2025-01-01"^^xsd:date ;\n    ont:rationale "SYNTHETIC: standards', 'ont:effectiveDate "2025-01-01" ;\n    ont:rationale "SYNTHETIC: standards'),
    "a source row that is not a number": ("dct:source e:source ; ont:sourceRow 1 .", 'dct:source e:source ; ont:sourceRow "one" .'),
    "no source": ('ont:rationale "SYNTHETIC: standards of medical/surgical practice" ; dct:source e:source ;', 'ont:rationale "SYNTHETIC: standards of medical/surgical practice" ;'),
    "a source that is not one": ('ont:rationale "SYNTHETIC: standards of medical/surgical practice" ; dct:source e:source ;', 'ont:rationale "SYNTHETIC: standards of medical/surgical practice" ; dct:source e:nothing ;'),
    "a deletion date before the effective date": ('ont:effectiveDate "2020-01-01"^^xsd:date ; ont:deletionDate "2025-01-01"^^xsd:date',
                                                  'ont:effectiveDate "2020-01-01"^^xsd:date ; ont:deletionDate "2019-12-31"^^xsd:date'),
    "untouched": ("", ""),
}


@pytest.mark.parametrize("what", sorted(BROKEN))
def test_the_edit_table_checks_refuse_what_the_shacl_shapes_refuse(what, tmp_path, cache):
    """The same edit file, once as part of a pack (pySHACL) and once as --edits (the vectorised checks)."""
    old, new = BROKEN[what]
    text = (EDITS / "synthetic-ptp.ttl").read_text()
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    pack = tmp_path / "pack"
    shutil.copytree(PACK, pack)
    (pack / "kb" / "zz-edits.ttl").write_text(text)
    edits = tmp_path / "edits.ttl"
    edits.write_text(text)

    def refused(**kw) -> bool:
        try:
            load_kb(**kw)
        except KBLoadError:
            return True
        return False

    by_shacl = refused(root=pack, shacl="always")
    by_table = refused(root=PACK, edits=[edits])
    assert by_shacl == by_table == (what != "untouched")


def test_a_bad_edit_is_named_with_its_table_row_and_the_constraint(tmp_path, cache):
    text = (EDITS / "synthetic-mue.ttl").read_text().replace('ont:adjudicationIndicator "1"', 'ont:adjudicationIndicator "7"')
    bad = tmp_path / "bad.ttl"
    bad.write_text(text)
    with pytest.raises(KBLoadError) as e:
        load_kb(PACK, edits=[bad])
    msg = str(e.value)
    assert msg.startswith(f"{bad}: 1 of 3 edits break the edit model: edit urn:cptkg:synthetic-mue:row-2")
    assert 'a unit edit has one adjudication indicator: "1" (per line), "2" or "3"' in msg
    assert "\n" not in msg


def test_an_edit_file_over_the_size_limit_is_refused(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(edit_files, "MAX_EDIT_FILE_BYTES", 100)
    with pytest.raises(KBLoadError, match="over the limit of 100 bytes for an edit file"):
        load_kb(PACK, edits=[EDITS / "synthetic-ptp.ttl"])


@pytest.mark.parametrize("text", [
    "",  # an empty file
    "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<urn:x> owl:imports <http://example.org/edits.ttl> .\n",
])
def test_an_edit_file_with_no_edit_is_refused_not_judged_as_no_edits(tmp_path, cache, text):
    # an audit: --edits on an empty file (or one holding only an owl:imports) judged claims with no edits, silently
    empty = tmp_path / "empty.ttl"
    empty.write_text(text)
    with pytest.raises(KBLoadError, match="holds no pair edit or unit edit") as e:
        load_kb(PACK, edits=[empty])
    assert "ont:" not in str(e.value)  # billing words, not the ontology's class names (an explorer audit)


_FILE_HEAD = """@prefix ont: <https://w3id.org/cptkg/ontology#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix kb: <https://w3id.org/cptkg/kb/> .
@prefix src: <https://w3id.org/cptkg/source/> .
@prefix e: <urn:test:edits:> .
e:source a ont:Source ; rdfs:label "test table" ; ont:citation "a test table" ;
    ont:fileSha256 "0000000000000000000000000000000000000000000000000000000000000000" .
e:row-1 a ont:UnitEdit ; ont:editCode "62367" ; ont:maxUnits 1 ; ont:adjudicationIndicator "1" ;
    ont:rationale "test" ; dct:source e:source ; ont:sourceRow 1 ; rdfs:label "row 1" ; rdfs:comment "a note" .
"""


@pytest.mark.parametrize("extra, why", [
    ("kb:62360 ont:appliesToRoute ont:Intraventricular .", "about neither an edit of the file nor a source"),
    ("kb:62360 ont:mayBePerformedBy ont:Nurse .", "about neither an edit of the file nor a source"),
    ("<urn:new-code> a ont:Code ; ont:inGroup kb:group-drug .", "about neither an edit of the file nor a source"),
    ("e:row-1 a ont:Code .", "says more of an edit than its names and notes"),
    ("e:row-1 ont:appliesToRoute ont:Intraventricular .", "says more of an edit than its names and notes"),
    ("src:n-ncci a ont:Source ; ont:confidence \"low\" .", "describes a source of the family pack"),
])
def test_an_edit_file_saying_anything_of_the_packs_knowledge_is_refused_naming_the_triple(tmp_path, cache, extra, why):
    """An integrator's audit: one line added to an imported table (62360 applies to brain delivery) turned a
    denial into an acceptance with no word. An edit file holds edits and their own sources, nothing else."""
    f = tmp_path / "edits.ttl"
    f.write_text(_FILE_HEAD + extra + "\n")
    with pytest.raises(KBLoadError, match=why) as e:
        load_kb(PACK, edits=[f])
    assert "an edit file holds pair and unit edits and their sources" in str(e.value)


@pytest.mark.parametrize("edit", [
    # the pack's edit, switched off by a deletion date before any claim
    'kb:edit-refill-includes-analysis a ont:PairEdit ; ont:column1 kb:group-refill ; ont:column2Code "62367" ; '
    'ont:editKind ont:ComponentEdit ; ont:modifierIndicator "0" ; ont:editScope ont:AnyProvider ; '
    'ont:effectiveDate "2000-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ; '
    'ont:deletionDate "2000-01-02"^^<http://www.w3.org/2001/XMLSchema#date> ; dct:source e:source ; ont:sourceRow 2 .',
    # the pack's edit, its columns reversed
    'kb:edit-refill-includes-analysis a ont:PairEdit ; ont:column1Code "62367" ; ont:column2Code "95990" ; '
    'ont:editKind ont:ComponentEdit ; ont:modifierIndicator "0" ; ont:editScope ont:AnyProvider ; '
    'dct:source e:source ; ont:sourceRow 2 .',
])
def test_an_edit_file_cannot_change_or_delete_an_edit_of_the_pack_by_naming_it(tmp_path, cache, edit):
    """An audit: an edit file giving the pack's kb:edit-refill-includes-analysis a deletion date accepted a 62367
    billed with 95990, and one reversing its columns denied the 95990, both cited to the guide."""
    f = tmp_path / "edits.ttl"
    f.write_text(_FILE_HEAD + edit + "\n")
    with pytest.raises(KBLoadError, match="has the name of one of the family pack's own edits: an edit file adds "
                                          "edits and cannot change or delete what the pack says"):
        load_kb(PACK, edits=[f])


def test_one_edit_named_by_two_edit_files_is_refused_naming_the_first_file(tmp_path, cache):
    a, b = tmp_path / "a.ttl", tmp_path / "b.ttl"
    a.write_text(_FILE_HEAD)
    b.write_text(_FILE_HEAD.replace("e:source", "<urn:test:other-source>").replace('"62367"', '"62368"'))
    with pytest.raises(KBLoadError, match="is an edit of a.ttl too: one edit is given by one file"):
        load_kb(PACK, edits=[a, b])


@pytest.mark.parametrize("edit, said", [
    ('e:p1 a ont:PairEdit ; ont:column1Code "95990" ; ont:colum2Code "62367" ; ont:editKind ont:ComponentEdit ; '
     'ont:modifierIndicator "0" ; ont:editScope ont:AnyProvider ; dct:source e:source ; ont:sourceRow 2 .',
     "has 'ont:colum2Code', which is not a property of an edit: ont:column2Code?"),
    ('e:p1 a ont:PairEdit ; ont:column1Code "95990" ; ont:column2Code "95990" ; ont:editKind ont:ComponentEdit ; '
     'ont:modifierIndicator "0" ; ont:editScope ont:AnyProvider ; dct:source e:source ; ont:sourceRow 2 .',
     "column 2 names the column 1 code too: an edit pairs two different codes"),
])
def test_an_edit_with_a_misspelt_property_or_one_code_in_both_columns_is_refused_saying_so(tmp_path, cache, edit,
                                                                                          said):
    """An audit: ont:colum2Code read "names column 1 and column 2 ... not both"; a pair edit of 95990 with itself
    loaded through --edits, where cptkg edits import refuses the same row."""
    f = tmp_path / "edits.ttl"
    f.write_text(_FILE_HEAD + edit + "\n")
    with pytest.raises(KBLoadError, match=re.escape(said)):
        load_kb(PACK, edits=[f])


def test_an_edit_file_naming_and_noting_its_edits_and_describing_its_own_source_loads(tmp_path, cache):
    f = tmp_path / "edits.ttl"
    f.write_text(_FILE_HEAD + 'e:source dct:title "test" .\n')
    kb = load_kb(PACK, edits=[f])
    assert kb.edit_tables


# ------------------------------------------------------------------ slicing

def _claims(n: int) -> list:
    from devtools import claimgen
    from cptkg.claims.models import parse_claims

    lines, history = claimgen.generate(n, seed=5, edits=True)
    claims, _ = parse_claims(claimgen.to_claims(lines, history))
    return [c for c in claims if not isinstance(c, Exception)]


@pytest.mark.parametrize("engine", ["clingo", "pydatalog"])
def test_a_claim_meeting_only_the_edits_of_its_codes_gets_the_verdicts_of_one_meeting_them_all(engine, cache):
    """Sliced (the default) against unsliced, with the pack's edits and two synthetic edit tables."""
    from cptkg.judge import runner
    from cptkg.judge.check import _result, _want, billed_codes, claim_facts

    kb = load_kb(PACK, edits=[EDITS / "synthetic-ptp.ttl", EDITS / "synthetic-mue.ttl"])
    claims = _claims(160)
    if engine == "pydatalog":  # at ~0.3 s a claim: the claims that bill the synthetic tables' codes first
        claims = sorted(claims, key=lambda c: not ({ln.code for ln in c.lines} & {"20610", "27447"}))[:25]
    assert len(claims) > 20
    fired = set()
    for c in claims:
        facts = claim_facts(kb, c)
        whole = runner.run(kb, "claim", facts, want=_want(kb), rule_bindings={"reject", "warn"}, engine=engine)
        sliced = runner.run(kb, "claim", facts, want=_want(kb), rule_bindings={"reject", "warn"}, engine=engine,
                            codes=billed_codes(c))
        a, b = _result(kb, c, whole, facts).to_json(), _result(kb, c, sliced, facts).to_json()
        assert a == b, c.claim_id
        fired |= {r["rule"] for ln in a["lines"] for r in ln["reasons"] + ln["warnings"]}
    # the claims reach the edit rules, or the comparison proves little
    want = {"ncci.column2"} if engine == "clingo" else {"ncci.column2", "exclusion.component", "edit.component-stands"}
    assert want & fired, sorted(fired)


def test_many_claims_per_call_meet_only_their_own_edits(cache):
    from cptkg.judge.check import check_claim, check_claims

    kb = load_kb(PACK, edits=[EDITS / "synthetic-ptp.ttl", EDITS / "synthetic-mue.ttl"])
    claims = _claims(120)
    together = [r.to_json() for r in check_claims(kb, claims)]
    alone = [check_claim(kb, c).to_json() for c in claims]
    assert together == alone


def test_a_large_edit_table_loads_and_a_claim_meets_only_its_codes_edits(tmp_path, cache):
    """20,000 generated pair edits (the benchmark's generator): the table is the importer's, a claim
    billing two of its codes is denied by their edit, and the slice holds that edit only."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from edits_import_bench import generate
    from cptkg.knowledge.edits.cms_import import import_table
    from cptkg.judge.check import billed_codes
    from cptkg.claims.models import parse_claim
    import cptkg

    src, out = tmp_path / "ptp.txt", tmp_path / "ptp.ttl"
    generate(src, 20_000)
    import_table("ptp", src, out)
    kb = load_kb(PACK, edits=[out])
    (table,) = kb.edit_tables
    assert len(table) == 20_000 and table.from_cache
    cols = table.columns
    i = next(i for i in range(len(table)) if cols["edit_modifier_indicator"][i] == "0"
             and cols["edit_deletion_date"][i] is None and cols["edit_effective_date"][i] <= "2025-01-01")
    c1, c2 = cols["edit_column1_code"][i], cols["edit_column2_code"][i]
    claim = {"claim_id": "BIG", "patient_id": "P", "lines": [
        {"line": 1, "code": c1, "date_of_service": "2025-06-02", "provider_id": "D", "provider_role": "physician"},
        {"line": 2, "code": c2, "date_of_service": "2025-06-02", "provider_id": "D", "provider_role": "physician"}]}
    res = cptkg.check(claim, kb=kb)
    assert res["lines"][1]["status"] == "rejected" and res["lines"][1]["reasons"][0]["carc"] == "236"
    sliced = kb.edit_index().facts_for(billed_codes(parse_claim(claim)))
    assert table.ids[i] in {e for (e,) in sliced["pair_edit"]}
    assert len(sliced["pair_edit"]) < 40, "the slice holds the edits of the claim's two codes, not the table"
    assert json.dumps(res)  # JSON-able


def test_a_folder_given_as_an_edit_file_is_said_to_be_a_folder(tmp_path):
    """"--before-edits ../rel: no such edit file" of a folder that exists (a payer-edit specialist's audit)."""
    from click.testing import CliRunner

    from cptkg.faces.cli import main

    for args in (["check", str(ROOT / "examples" / "claim-pair.json"), "--edits", str(tmp_path)],
                 ["impact", str(ROOT / "examples" / "claim-pair.json"), "--after-edits", str(tmp_path)]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and f"{tmp_path}: is a folder; give the edit file itself" in r.output, r.output


def test_two_identical_edit_files_are_said_to_be_one_file_given_twice(tmp_path, cache):
    """An auditor's finding: a byte-identical copy of an edit file was refused as "its triple ... describes a
    source of the family pack" (the source was the first file's). The same path given twice is one file."""
    from cptkg.knowledge.loader import load_kb

    ptp = Path(__file__).parent / "data" / "edits" / "synthetic-ptp.ttl"
    copy = tmp_path / "copy.ttl"
    copy.write_bytes(ptp.read_bytes())
    with pytest.raises(KBLoadError, match=r"copy.ttl: the same edit file as .*synthetic-ptp.ttl \(the two files are "
                                          r"identical\): give it once") as e:
        load_kb(PACK, edits=[ptp, copy])
    assert "family pack" not in str(e.value)
    near = tmp_path / "near.ttl"  # a copy with a comment added: the same table, not the pack's source
    near.write_text(ptp.read_text(encoding="utf-8") + "# a line added\n", encoding="utf-8")
    with pytest.raises(KBLoadError, match=r"near.ttl: declares the source .*, which synthetic-ptp.ttl declares too: "
                                          r"two files of one imported table") as e:
        load_kb(PACK, edits=[ptp, near])
    assert "family pack" not in str(e.value)
    twice, once = load_kb(PACK, edits=[ptp, ptp]), load_kb(PACK, edits=[ptp])
    assert twice.facts.get("pair_edit") == once.facts.get("pair_edit")
    assert twice.version == once.version and list(twice.edit_files) == list(once.edit_files)


def test_an_edit_file_of_binary_data_is_said_to_be_binary_not_a_turtle_parse_error(tmp_path, cache):
    """An explorer audit: a binary file given as edits read "line 1, column 1: '\\x13' is not allowed at the
    beginning of a prefix name"."""
    binary = tmp_path / "edits.ttl"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(KBLoadError, match="edits.ttl: holds binary data, not Turtle text") as e:
        load_kb(PACK, edits=[binary])
    assert "prefix name" not in str(e.value)
