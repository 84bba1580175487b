"""User values inside Markdown and HTML: shown as text, never as markup.

Streamlit renders Markdown in ``st.markdown``, ``st.subheader``,
``st.error``/``st.warning``/``st.success``/``st.info``, captions and
expander labels; a claim id ``![x](http://host/x)`` would be an image the
browser fetches, a code ``<IMG SRC=//host>`` an element (with
``unsafe_allow_html``). Every value that comes from a claim, an uploaded
file, a query or the KB passes through :func:`md` (or :func:`md_code` inside
a code span) before it is put into Markdown; the explorer passes no user
text to ``unsafe_allow_html``.

>>> md("<IMG SRC=//127.1>")
'\\\\<IMG SRC=//127.1\\\\>'
>>> "](" in md("![x](http://127.0.0.1:9/x)"), "http://" in md("http://127.0.0.1")
(False, False)
"""
from __future__ import annotations

import html as _html
import re
from typing import Any

from cptkg.claims.models import one_line

# Markdown's inline syntax and HTML's: links and images ([ ] ( ) !), tags and
# autolinks (< >), entities (&), emphasis and strike (* ~), code (`), tables (|),
# headings (#), maths ($), Streamlit's directives (:red[...]: the brackets)
_SPECIAL = re.compile(r"[\\`*\[\]()<>!#|~$&{}]")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(value: Any) -> str:
    """``value`` as Markdown text that renders as exactly those characters, on one line."""
    text = one_line("" if value is None else str(value))
    text = _SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    text = _LONE_UNDERSCORE.sub(r"\\_", text)
    # GitHub-flavoured Markdown turns bare URLs, www. names and e-mail addresses
    # into links after the escapes are read: an invisible word joiner breaks them
    text = text.replace("://", ":\u2060//")
    text = re.sub(r"(?i)\b(www)\.", "\\1\u2060.", text)
    text = text.replace("@", "@\u2060")
    # Streamlit's own directives (:red[...], :material/icon:, :emoji:) start with ':' and a letter
    text = re.sub(r":(?=[A-Za-z])", ":\u2060", text)
    text = re.sub(r"^([-+=])", r"\\\1", text)                # no list item or heading underline
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)          # no numbered list
    return text


def md_code(value: Any) -> str:
    """``value`` as a Markdown code span (nothing inside a code span is markup)."""
    text = one_line("" if value is None else str(value))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}" if text else ""


def html(value: Any) -> str:
    """``value`` escaped for HTML text or an attribute."""
    return _html.escape(one_line("" if value is None else str(value)), quote=True)
