"""Code finder page: tick what was documented, get the code with its proof and
every code not chosen with why not."""
from __future__ import annotations

import streamlit as st

from cptkg.judge.input import Device, InputError, Role, Route, Service, parse_encounter
from cptkg.engines import EvaluationError, EvaluationTimeout
from cptkg.faces.explorer.common import draw_graph, kb_or_stop
from cptkg.faces.explorer.explaining import explain_encounter
from cptkg.faces.explorer.proofs import PROOF_STYLESHEET, citations, proof_elements, proof_markdown


def find_codes(kb, encounter: dict) -> dict:
    """Validated encounter in, the inferred codes (explained) out; InputError on bad input."""
    return explain_encounter(kb, parse_encounter(encounter))


def page() -> None:
    kb = kb_or_stop()
    st.header("Code finder")
    st.caption("Tick the documented services, the device, route and performer: the inference rules pick the code "
               "that covers most of what was documented, and say why every other code was not chosen.")
    c1, c2, c3 = st.columns(3)
    role = c1.selectbox("Performer", [r.value for r in Role], index=[r.value for r in Role].index("nurse"),
                        key="finder_role", format_func=lambda v: v.replace("_", " "))
    device = c2.selectbox("Device", [d.value for d in Device], index=2, key="finder_device",
                          format_func=lambda v: v.replace("_", " "))
    route = c3.selectbox("Route", [r.value for r in Route], key="finder_route")
    st.markdown("**Documented services**")
    cols = st.columns(len(Service))
    defaults = {"electronic_analysis", "reprogramming", "refill"}
    services = [s.value for s, col in zip(Service, cols)
                if col.checkbox(s.value.replace("_", " "), value=s.value in defaults, key=f"finder_svc_{s.value}")]
    enc = {"encounter_id": "explorer", "performer_role": role, "device": device, "route": route, "services": services}
    try:
        res = find_codes(kb, enc)
    except InputError as e:
        st.warning(str(e))
        return
    except (EvaluationTimeout, EvaluationError) as e:
        st.error(f"the encounter could not be judged: {e}")
        return
    if res.get("message"):
        st.info(res["message"])
    for entry in res.get("codes", []):
        st.success(f"Bill **{entry['code']}** — {entry.get('descriptor', '')}")
        for r in entry.get("reasons", []):
            st.markdown(f"- {r['message']}  \n  <small>`{r['rule']}` · {r.get('source', '')}</small>", unsafe_allow_html=True)
        proof = entry.get("proof")
        if proof:
            with st.expander(f"Proof that {entry['code']} is the code to bill"):
                st.markdown(proof_markdown(proof))
            draw_graph(proof_elements([proof], root_label=None), key=f"finder-proof-{entry['code']}",
                       height="380px", layout="breadthfirst", stylesheet=PROOF_STYLESHEET)
    for u in res.get("uncovered", []):
        st.warning(f"No code of the family covers the documented {u['service']}: "
                   + "; ".join(r["message"] for r in u.get("reasons", [])))
    st.subheader("Not chosen", anchor=False)
    for entry in res.get("not_chosen", []):
        with st.expander(f"{entry['code']}: " + (entry["why_not"][0]["message"] if entry.get("why_not") else "not chosen")):
            for r in entry.get("why_not", []):
                st.markdown(f"- {r['message']}")
                for c in citations(r.get("sources")):
                    st.markdown(f"  - :material/description: {c}")
            fc = entry.get("failed_conditions") or []
            if fc:
                st.markdown("**Conditions of the billing rule that failed**")
                for f in fc:
                    st.markdown(f"- {f.get('message', '')}")
