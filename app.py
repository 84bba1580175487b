"""cptkg explorer (Streamlit). Thin: each page lives in cptkg.faces.explorer.

Run with ``bash scripts/app.sh`` (http://127.0.0.1:8501). Nothing is loaded
from the internet: the graph component's JavaScript ships inside its Python
package and .streamlit/config.toml turns usage statistics off.
"""
import streamlit as st

from cptkg.faces.explorer.navigation import pages, title

st.set_page_config(page_title=title(), page_icon="💉", layout="wide")
st.navigation(pages()).run()
