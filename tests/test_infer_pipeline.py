"""``cptkg infer`` goes read → judge → explain → write like ``cptkg check``
(cptkg.pipeline.infer): one evaluation per encounter, explained or not, and
the same result whatever face asks (CLI, API)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import cptkg
from cptkg import pipeline
from cptkg.claims.models import InputError
from cptkg.judge import runner
from cptkg.knowledge.loader import default_kb

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "encounter.json"


@pytest.fixture(scope="module")
def kb():
    return default_kb()


@pytest.mark.parametrize("explain", [False, True])
def test_an_encounter_is_judged_once_explained_or_not(kb, monkeypatch, explain):
    calls = []
    real = runner.run

    def counted(*a, **kw):
        calls.append(a[1] if len(a) > 1 else kw.get("kind"))
        return real(*a, **kw)

    monkeypatch.setattr(runner, "run", counted)
    done = pipeline.infer(kb, json.loads(EXAMPLE.read_text()), engine="clingo", explain=explain)
    # the encounter once; each inferred code once more, as the claim checker judges it billed (as_billed)
    assert calls == ["encounter"] + ["claim"] * len(done.result["codes"])
    assert done.result["codes"]
    assert ("proof" in done.result["codes"][0]) is explain
    assert ("Why " + done.result["codes"][0]["code"] in done.text) is explain


def test_the_explained_inference_says_what_the_plain_one_says(kb):
    enc = json.loads(EXAMPLE.read_text())
    plain = pipeline.infer(kb, enc, engine="clingo")
    explained = pipeline.infer(kb, enc, engine="clingo", explain=True)
    assert [c["code"] for c in explained.result["codes"]] == [c["code"] for c in plain.result["codes"]]
    assert explained.text.startswith(plain.text)
    assert explained.exit_code == plain.exit_code


def test_the_api_and_the_pipeline_give_one_result(kb):
    enc = json.loads(EXAMPLE.read_text())
    assert cptkg.infer(enc, kb=kb, engine="clingo") == pipeline.infer(kb, enc, engine="clingo").result


def test_an_encounter_missing_a_field_is_refused_by_name(kb):
    enc = json.loads(EXAMPLE.read_text())
    enc.pop("device")
    with pytest.raises(InputError, match="device"):
        pipeline.infer(kb, enc, engine="clingo")


def test_no_engine_below_the_faces(kb):
    with pytest.raises(Exception, match="no knowledge base or engine chosen"):
        pipeline.infer(kb, json.loads(EXAMPLE.read_text()), engine=None)


def test_an_inferred_code_carries_the_source_conflict_check_notes_on_it(kb):
    """check notes guide §7.1's self-contradiction on a 62368 line; infer billed 62368 with no word of it (a
    coder's audit). The inferred code carries the same conflict, in JSON and in the text report."""
    from cptkg.io.writers.text import encounter_report
    from cptkg.judge.infer import infer_codes
    from cptkg.claims.models import parse_encounter

    res = infer_codes(kb, parse_encounter({"encounter_id": "E", "performer_role": "physician",
                                           "device": "programmable_pump",
                                           "services": ["electronic_analysis", "reprogramming"]}, kb=kb)).to_json()
    (billed,) = res["codes"]
    assert billed["code"] == "62368"
    assert [c["id"] for c in billed["source_conflicts"]] == ["conflict-62368"]
    assert "note: the sources conflict: Guide §7.1 contradicts itself" in " ".join(encounter_report(res).split())
    other = infer_codes(kb, parse_encounter({"encounter_id": "E", "performer_role": "physician",
                                             "device": "programmable_pump", "services": ["electronic_analysis"]},
                                            kb=kb)).to_json()
    assert "source_conflicts" not in other["codes"][0]


def test_each_inferred_code_says_what_the_checker_says_of_it_billed_by_this_performer(kb):
    """A nurse's implant: no source lists who performs 62362, so check warns its performer was not checked;
    infer said the code "applies to the performer" and nothing else (an analyst's audit)."""
    enc = {"encounter_id": "N-1", "date_of_service": "2025-03-04", "performer_role": "nurse",
           "device": "programmable_pump", "route": "intrathecal", "services": ["implantation"]}
    done = pipeline.infer(kb, enc, engine="clingo")
    (code,) = done.result["codes"]
    assert code["code"] == "62362"
    assert [w["rule"] for w in code["as_billed"]["warnings"]] == ["role.performer-not-listed"]
    assert "the claim checker, billing 62362 on line 1 of a claim by this performer: accepted, but its performer was not checked" in \
        " ".join(done.text.split())
    # a physician's: nothing to add
    done = pipeline.infer(kb, dict(enc, performer_role="physician"), engine="clingo")
    assert done.result["codes"][0]["as_billed"] == {"status": "accepted", "verdict": "accepted", "reasons": [],
                                                   "warnings": []}
    assert "the claim checker" not in done.text


def test_an_encounter_stating_no_route_says_the_route_it_was_read_as(kb):
    enc = {"encounter_id": "N-2", "date_of_service": "2025-03-04", "performer_role": "physician",
           "device": "programmable_pump", "services": ["electronic_analysis"]}
    done = pipeline.infer(kb, enc, engine="clingo")
    (said,) = done.result["assumptions"]
    assert said.startswith("The encounter does not state the route: it was read as intrathecal")
    assert "Assumed: The encounter does not state the route" in " ".join(done.text.split())
    stated = pipeline.infer(kb, dict(enc, route="epidural"), engine="clingo")
    assert "assumptions" not in stated.result and "Assumed" not in stated.text


@pytest.mark.parametrize("role, services, chosen, twin", [
    ("physician", ["refill"], "95991", "95990"),
    ("nurse_practitioner", ["electronic_analysis", "reprogramming", "refill"], "62370", "62369"),
])
def test_a_code_chosen_for_the_performers_skill_says_so_and_names_the_code_without_it(kb, role, services, chosen,
                                                                                       twin):
    """A coder's audit: a physician's refill was "bill 95991: it fits the encounter" with nothing in the
    headline saying 95991 was chosen for a skill the sources do not say the service needed (95991 is the
    refill "requiring the skill of a physician or other QHP"; domain notes, "What the codes are")."""
    enc = {"encounter_id": "N-3", "date_of_service": "2025-03-04", "performer_role": role, "route": "intrathecal",
           "device": "programmable_pump", "services": services}
    done = pipeline.infer(kb, enc, engine="clingo")
    assert [c["code"] for c in done.result["codes"]] == [chosen]
    (said,) = done.result["assumptions"]
    assert said.startswith(f"{chosen} requires the skill of a physician or other qualified health care professional")
    assert said.endswith(f"if the documentation shows it did not, bill {twin}.")
    assert "Assumed: " + said[:40] in " ".join(done.text.split())
    nurse = pipeline.infer(kb, dict(enc, performer_role="nurse"), engine="clingo")
    assert [c["code"] for c in nurse.result["codes"]] == [twin] and "assumptions" not in nurse.result


@pytest.mark.parametrize("written", ["Refill", "REFILL", " refill "])
def test_a_service_written_in_capitals_or_with_spaces_is_the_packs_service(kb, written):
    """'Refill' passed the vocabulary check and was then not found: infer said the refill was not documented
    (exit 1, no code, nothing uncovered) while 'Physician' and 'Programmable_Pump' were read as the pack's
    values (an audit). A service is read as the vocabulary spells it, as role, device and route are."""
    raw = {"encounter_id": "CASE", "date_of_service": "2025-03-04", "performer_role": "nurse",
           "device": "programmable_pump", "route": "intrathecal", "services": [written]}
    done = pipeline.infer(kb, raw, engine="clingo")
    assert [c["code"] for c in done.result["codes"]] == ["95990"], done.result
    assert cptkg.parse_encounter(raw, kb=kb).services == ["refill"]


def test_a_claim_given_for_an_encounter_and_the_reverse_say_which_they_are_and_what_to_run(kb):
    """Each was refused as "field encounter_id: is missing" / "field claim_id: is missing" (an audit)."""
    claim = json.loads((EXAMPLE.parent / "claim-pair.json").read_text())
    claim = claim[0] if isinstance(claim, list) else claim
    with pytest.raises(InputError, match=r"this is a claim, not an encounter .*`cptkg check`"):
        cptkg.parse_encounter(claim, kb=kb)
    with pytest.raises(InputError, match=r"this is an encounter, not a claim .*`cptkg infer`"):
        cptkg.parse_claim(json.loads(EXAMPLE.read_text()), kb=kb)
