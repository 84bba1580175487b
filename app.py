"""cptkg explorer (Streamlit). Thin: every computation goes through the package."""
import json

import streamlit as st

from cptkg.check import check_claims
from cptkg.claims import InputError, load_json, parse_claims
from cptkg.kb import KBLoadError, default_kb
from cptkg.report import claim_report

st.set_page_config(page_title="cptkg — pump billing checker", layout="wide")
st.title("cptkg: reservoir and pump billing checker")
st.caption("CPT 62360–62370, 95990, 95991. Not legal advice: check payer policy before billing.")

try:
    kb = default_kb()
except KBLoadError as e:
    st.error(f"The knowledge base cannot be used: {e}")
    st.stop()

example = (kb.root / "examples" / "claim-rejected.json").read_text(encoding="utf-8")
text = st.text_area("Claim JSON (one claim or a list)", value=example, height=260)
if st.button("Check claim"):
    try:
        claims, _ = parse_claims(load_json(text, "claim"))
    except InputError as e:
        st.error(str(e))
    else:
        for res in check_claims(kb, claims):
            st.subheader(f"Claim {res.claim_id}: {res.status}")
            st.code(claim_report(res), language=None)
            with st.expander("JSON"):
                st.json(res.to_json())
