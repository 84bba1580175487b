"""Issue 16, finding 3 (without a browser): the escaping helper, and no user text near unsafe_allow_html.

The browser walk of every page is tests/test_browser_hostile.py (.ci/browser.sh).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cptkg.faces.markup import html, md, md_code

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["<IMG SRC=//127.1>", "![x](http://127.0.0.1:9/x)", "<IFRAME SRC=//127.1>", "<STYLE>p{}</STYLE>",
           "<B>b</B>", "[a](javascript:alert(1))", "<http://127.0.0.1:9/>", "http://127.0.0.1:9/", "www.example.org",
           "x@example.org", ":red[x]", ":material/warning:", "&lt;b&gt;", "`code`", "$x^2$", "line\none", "# head",
           "- item", "1. item", "a | b", "~~s~~", "**b**", "_i_"]


@pytest.mark.parametrize("value", HOSTILE)
def test_md_leaves_no_markup_syntax_unescaped(value):
    out = md(value)
    assert "\n" not in out
    for ch in "<>[]()!`*|~$&#":
        assert re.search(r"(?<!\\)" + re.escape(ch), out) is None, (ch, out)
    assert "://" not in out and "www." not in out.lower() and not re.search(r":[A-Za-z]", out)


def test_md_keeps_billing_text_readable():
    assert md("claim C9, line 1, field date_of_service: bad") == "claim C9, line 1, field date_of_service: bad"
    assert md("exclusion.component") == "exclusion.component"


@pytest.mark.parametrize("value", ["a`b", "``", "`x`", "<IMG SRC=//127.1>"])
def test_md_code_cannot_be_closed_from_inside(value):
    out = md_code(value)
    fence = re.match(r"`+", out).group(0)
    assert out.endswith(fence) and fence not in out[len(fence):-len(fence)]


def test_html_escapes_tags_and_quotes():
    assert html("<b a='x'>") == "&lt;b a=&#x27;x&#x27;&gt;"


def test_the_explorer_passes_no_user_text_to_unsafe_allow_html():
    import ast

    hits = []
    for p in (ROOT / "cptkg" / "faces" / "explorer").glob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                for node in ast.walk(fn):
                    if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
                        hits.append(f"{p.name}:{fn.name}")
    assert hits == ["common.py:legend"], hits  # the colour legend: static labels, html()-escaped
