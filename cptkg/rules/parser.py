"""Parse rule files (standard Datalog syntax plus structured comments).

Syntax::

    % id: exclusion.component
    % message: {C} on line {L} is included in {C2}
    % source: g1-1, notes-excl
    % carc: 97
    % group: CO
    % title: Component of a more comprehensive code billed the same day
    head(X) :- body(X, Y), not other(Y), X != Y.

A warning rule may add ``% verdict:`` (the words an accepted line carrying
the warning is reported with) and ``% checked: false`` (the warning means no
rule of the pack judged the line). Structured comments are ``% key: value`` lines directly above a clause; any
other ``%`` line is an ordinary comment. Lowercase bare words in argument
position are string constants, as in textbook Datalog; ``_`` is a fresh
variable at each occurrence.
"""
from __future__ import annotations

import re
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedInput, v_args

from cptkg.rules.ast import ANONYMOUS_PREFIX, Atom, Comparison, Const, Literal, Rule, RuleMeta, Var

GRAMMAR = r"""
start: clause*
clause: atom "." -> fact
      | atom ":-" body "." -> rule
body: item ("," item)*
?item: atom -> pos
     | NOT atom -> neg
     | term CMP term -> cmp
atom: NAME ("(" [term ("," term)*] ")")?
?term: VAR -> var
     | NAME -> sym
     | STRING -> string
     | SIGNED_INT -> int
NOT.2: /not\b/
CMP: "!=" | "<=" | ">=" | "=" | "<" | ">"
NAME: /[a-z][a-zA-Z0-9_]*/
VAR: /[A-Z_][a-zA-Z0-9_]*/
STRING: /"(\\.|[^"\\\n])*"/
%import common.SIGNED_INT
%import common.WS
COMMENT: /%[^\n]*/
%ignore WS
%ignore COMMENT
"""

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)
META_RE = re.compile(r"^\s*%+\s*@?(id|message|source|confidence|[a-z_]+)\s*:\s*(.*?)\s*$")
KNOWN_META = {"id", "message", "source", "confidence", "fix", "carc", "group", "rarc", "title", "verdict", "checked"}



class RuleSyntaxError(ValueError):
    """A rule file that cannot be read; names the file and line."""

    def __init__(self, file: str, line: int, message: str):
        self.file, self.line = file, line
        super().__init__(f"{file}:{line}: {message}")


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s[1:-1])


class _Build(Transformer):
    def __init__(self):
        super().__init__()
        self.anon = 0

    def var(self, items):
        (tok,) = items
        if tok == "_":
            # each '_' is its own variable, named so no variable written in a rule
            # can be it ('_1' is a name a user may write; '?' is not a name character)
            self.anon += 1
            return Var(f"{ANONYMOUS_PREFIX}{self.anon}")
        return Var(str(tok))

    def sym(self, items):
        return Const(str(items[0]))

    def string(self, items):
        return Const(_unescape(str(items[0])))

    def int(self, items):
        return Const(int(items[0]))

    @v_args(meta=True)
    def atom(self, meta, items):
        name = str(items[0])
        args = tuple(a for a in items[1:] if a is not None)
        return (Atom(name, args), meta.line)

    def pos(self, items):
        return Literal(items[0][0], False)

    def neg(self, items):
        return Literal(items[1][0], True)

    def cmp(self, items):
        left, op, right = items
        return Comparison(str(op), left, right)

    def body(self, items):
        return tuple(items)

    def fact(self, items):
        atom, line = items[0]
        return ("clause", atom, (), line)

    def rule(self, items):
        (atom, line), body = items
        return ("clause", atom, body, line)

    def start(self, items):
        return items


def _meta_blocks(text: str) -> dict[int, RuleMeta]:
    """Map the line of each metadata block's last comment to its metadata."""
    blocks: dict[int, RuleMeta] = {}
    current: RuleMeta | None = None
    last_key = None
    for n, raw in enumerate(text.splitlines(), start=1):
        m = META_RE.match(raw)
        if m and raw.lstrip().startswith("%"):
            key, value = m.group(1), m.group(2)
            current = current or RuleMeta()
            last_key = key
            if key == "id":
                current.id = value
            elif key == "message":
                current.message = value
            elif key == "source":
                current.source = [s.strip() for s in value.split(",") if s.strip()]
            elif key == "confidence":
                current.confidence = value.lower()
            elif key == "fix":
                current.fix += [f.strip() for f in value.split(";") if f.strip()]
            elif key == "carc":
                current.carc = value.strip().upper()
            elif key == "group":
                current.group = value.strip().upper()
            elif key == "rarc":
                current.rarc = value.strip().upper()
            else:
                current.extra[key] = value
            blocks[n] = current
        elif raw.lstrip().startswith("%") and current is not None and last_key == "message" and raw.lstrip().startswith("%  "):
            # continuation of a long message
            current.message = (current.message or "") + " " + raw.lstrip("% \t").rstrip()
            blocks[n] = current
        elif raw.strip() == "" or raw.lstrip().startswith("%"):
            if not raw.strip():
                current, last_key = None, None
        else:
            current, last_key = None, None
    return blocks


def parse_text(text: str, file: str = "<text>") -> list[Rule]:
    """Parse rule text into rules and facts; syntax errors name file and line."""
    try:
        tree = _parser.parse(text)
    except UnexpectedInput as e:
        line = getattr(e, "line", 0) or 0
        col = getattr(e, "column", 0) or 0
        ctx = ""
        try:
            ctx = e.get_context(text, 30).splitlines()[0].strip()
        except Exception:  # context is a courtesy only
            pass
        tok = getattr(e, "token", None)
        what = f"unexpected '{tok}'" if isinstance(tok, Token) else "unexpected text"
        if isinstance(tok, Token) and tok.type == "$END":  # the text ended inside a rule (an audit: "unexpected ''")
            what = "the file ends in the middle of a rule: is the '.' at the end of the rule missing?"
        raise RuleSyntaxError(file, line, f"column {col}: {what} near '{ctx}'") from None
    clauses = _Build().transform(tree)
    metas = _meta_blocks(text)
    lines = text.splitlines()
    rules: list[Rule] = []
    for _, head, body, line in clauses:
        meta = RuleMeta()
        # metadata ends on the line directly above the clause (comments only between)
        k = line - 1
        while k >= 1 and k not in metas and lines[k - 1].lstrip().startswith("%"):
            k -= 1
        if k in metas:
            meta = metas[k]
        rules.append(Rule(head=head, body=body, meta=meta, file=file, line=line))
    return rules


def parse_file(path: Path, display: str | None = None) -> list[Rule]:
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:  # a stray byte was a traceback of lint (an integrator's audit)
        line = data[:e.start].count(b"\n") + 1
        raise RuleSyntaxError(display or str(path), line, f"byte 0x{data[e.start]:02x} is not UTF-8 text "
                                                          "(save the file as UTF-8)") from None
    return parse_text(text, display or str(path))
