"""The named cases beside each rule file pass, and every rule has one, on every engine."""
import pytest

pytestmark = pytest.mark.usefixtures("each_engine")

from cptkg.cases import load_cases, run_all, run_claim_case, run_infer_case
from cptkg.knowledge.pack import DEFAULT_PACK as PACK, REPO_ROOT as ROOT, case_files

CLAIM_CASES = load_cases(case_files(PACK, "claim"))
INFER_CASES = load_cases(case_files(PACK, "infer"))


@pytest.mark.parametrize("case", CLAIM_CASES, ids=[c["name"][:80] for c in CLAIM_CASES])
def test_claim_case(kb, case):
    r = run_claim_case(kb, case, "claim.cases.yaml")
    assert r.ok, "\n".join(r.problems)


@pytest.mark.parametrize("case", INFER_CASES, ids=[c["name"][:80] for c in INFER_CASES])
def test_infer_case(kb, case):
    r = run_infer_case(kb, case, "infer.cases.yaml")
    assert r.ok, "\n".join(r.problems)


@pytest.mark.slow_on("pydatalog")
def test_every_rule_is_fired_by_some_case(kb):
    _, untouched = run_all(kb)
    assert untouched == {"claim": [], "infer": []}


def test_a_case_that_expects_the_wrong_verdict_fails(kb):
    case = dict(next(c for c in CLAIM_CASES if c["expect"].get("status") == "rejected"))
    case["expect"] = {"status": "accepted"}
    assert not run_claim_case(kb, case, "x").ok
