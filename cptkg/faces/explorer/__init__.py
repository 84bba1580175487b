"""The explorer's pages (Streamlit).

Each page module keeps its logic in plain functions (tested without a
browser) and a ``page()`` function that draws it; ``app.py`` only wires the
pages into a navigation.
"""
