"""Code finder page: tick what was documented, get the code with its proof and
every code not chosen with why not."""
from __future__ import annotations

import streamlit as st

from cptkg.faces.markup import md, md_code
from cptkg import EvaluationError, EvaluationTimeout, InputError, parse_encounter, vocabulary
from cptkg.faces.explorer.common import current_engine, draw_graph, kb_or_stop
from cptkg.faces.explorer.explaining import explain_encounter
from cptkg.faces.explorer.proofs import PROOF_STYLESHEET, citations, proof_elements, proof_markdown


def find_codes(kb, encounter: dict, engine=None) -> dict:
    """Validated encounter in, the inferred codes (explained) out; InputError on bad input."""
    return explain_encounter(kb, parse_encounter(encounter, kb), engine=engine)


def example_encounter(kb) -> dict:
    """The pack's example encounter (family.yaml ``example_encounter``) the finder opens with."""
    import json

    path = kb.pack.example_encounter
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {**data, "route": data.get("route") or kb.pack.defaults.get("route")}


def page() -> None:
    kb = kb_or_stop()
    st.header("Code finder")
    st.caption("Tick the documented services, the device, route and performer: the inference rules pick the code "
               "that covers most of what was documented, and say why every other code was not chosen.")
    vocab = vocabulary(kb)
    start = example_encounter(kb)

    def pick(col, title: str, kind: str, field: str, key: str):
        values = vocab.values(kind)
        first = start.get(field)
        return col.selectbox(title, values, index=values.index(first) if first in values else 0, key=key,
                             format_func=lambda v: kb.label(vocab.term(kind, v) or v))

    c1, c2, c3 = st.columns(3)
    role = pick(c1, "Performer", "role", "performer_role", "finder_role")
    device = pick(c2, "Device", "device", "device", "finder_device")
    route = pick(c3, "Route", "route", "route", "finder_route")
    st.markdown("**Documented services**")
    offered = vocab.values("service")
    # three to a row: six narrow columns cut a label mid-word ("refill and mainten…", issue 23 finding 9)
    cols = [c for _ in range(0, len(offered), 3) for c in st.columns(3)] or st.columns(1)
    defaults = set(start.get("services") or [])
    services = [v for v, col in zip(offered, cols)
                if col.checkbox(kb.label(vocab.term("service", v) or v), value=v in defaults, key=f"finder_svc_{v}")]
    enc = {"encounter_id": "explorer", "performer_role": role, "device": device, "route": route, "services": services}
    if not services:  # the encounter parser would say "field services: must not be empty" (developer words)
        st.info("Tick at least one documented service: the finder picks the code that covers what was documented.")
        return
    try:
        res = find_codes(kb, enc, engine=current_engine())
    except InputError as e:
        st.warning(md(str(e).replace("encounter explorer, field ", "the documented ")))
        return
    except (EvaluationTimeout, EvaluationError) as e:
        st.error(f"the encounter could not be judged: {md(e)}")
        return
    if res.get("message"):
        st.info(md(res["message"]))
    for a in res.get("assumptions") or []:  # the route always stated here; a skill the performer's role gives
        st.markdown(f":material/info: **Assumed**: {md(a)}")
    for entry in res.get("codes", []):
        billed = entry.get("as_billed") or {}  # infer checked the code as billed once: not again here
        verdict = billed.get("verdict") or billed.get("status", "")
        st.success(f"Bill **{md(entry['code'])}** — {md(entry.get('descriptor', ''))}  \n"
                   f"The claim checker: {md(verdict)}")
        for r in entry.get("reasons", []):
            st.markdown(f"- {md(r['message'])}  \n  :small[{md(r.get('source', ''))} · rule {md_code(r['rule'])}]")
        for w in billed.get("warnings", []):
            st.markdown(f"- :material/warning: **{md(w.get('title') or w['rule'])}**: {md(w['message'])}  \n"
                        f"  :small[{md(w.get('source', ''))} · rule {md_code(w['rule'])}]")
        for r in billed.get("reasons", []):
            st.markdown(f"- :material/cancel: **{md(r.get('title') or r['rule'])}**: {md(r['message'])}")
        proof = entry.get("proof")
        if proof:
            with st.expander(f"Proof that {md(entry['code'])} is the code to bill"):
                st.markdown(proof_markdown(proof))
            draw_graph(proof_elements([proof], root_label=None), key=f"finder-proof-{entry['code']}",
                       height="380px", layout="breadthfirst", stylesheet=PROOF_STYLESHEET)
    for u in res.get("uncovered", []):
        said = "; ".join(r["message"] for r in u.get("reasons", []))  # the rule says it: not twice
        said = said or f"no code of the family covers the documented {u['service']}"
        st.warning(md(said[:1].upper() + said[1:]))
    st.subheader("Not chosen", anchor=False)
    for entry in res.get("not_chosen", []):
        with st.expander(f"{md(entry['code'])}: " + (md(entry["why_not"][0]["message"]) if entry.get("why_not") else "not chosen")):
            for r in entry.get("why_not", []):
                st.markdown(f"- {md(r['message'])}")
                for c in citations(r.get("sources")):
                    st.markdown(f"  - :material/description: {md(c)}")
            fc = entry.get("failed_conditions") or []
            if fc:
                st.markdown("**Conditions of the billing rule that failed**")
                for f in fc:
                    st.markdown(f"- {md(f.get('message', ''))}")
