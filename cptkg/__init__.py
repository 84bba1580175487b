"""cptkg: a logic-based compliance knowledge graph for US medical billing.

Public API (used by the CLI and the Streamlit explorer):
``default_kb``/``load_kb``, ``parse_claims``/``parse_encounter``,
``check_claim``/``check_claims``, ``infer_codes``.
"""
from cptkg.knowledge.loader import KBLoadError, KnowledgeBase, default_kb, load_kb  # noqa: F401

__version__ = "0.1.0"
