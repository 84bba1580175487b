"""``cptkg ask``: the questions an analyst asks of the rules, without SPARQL or Datalog.

``cptkg ask who-may-perform CODE``, ``not-with CODE``, ``codes-for --device
--role [--route]``, ``rests-on SOURCE``, ``unsupported`` and ``edit
[EDIT]``: each answer in words with the sources it rests on, computed by the
rules (cptkg.judge.questions); ``--json`` prints the answer's JSON. Exit 0
with an answer, 2 when the question names a code, role, device, route,
source or edit the knowledge base does not have (one line naming the field
and the values it may take).
"""
from __future__ import annotations

import textwrap

import click

WIDTH = 100


def _fail(where: str, message: str) -> "NoReturn":  # noqa: F821
    from cptkg.faces.cli import fail

    fail(f"ask {where}: {message}")


def _ask(where: str, question, as_json: bool, **kwargs) -> None:
    """Ask ``question`` of the command's KB and print the answer (text or JSON); exit 2 on a bad question."""
    from cptkg.faces.cli import dump, get_session, out
    from cptkg.judge.questions import QuestionError

    session = get_session()
    try:
        answer = question(session.kb, **kwargs)
    except QuestionError as e:
        _fail(where, str(e))
    out(dump(answer) if as_json else answer_text(answer), raw=as_json)  # dump escapes as JSON; text line by line


def _engine() -> str:
    """The command's rule engine (``--engine``, else ``CPTKG_ENGINE``, else the default): the questions
    that judge claims are handed it."""
    from cptkg.faces.cli import get_engine

    return get_engine()


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(str(text), WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _reasons(reasons: list[dict]) -> str:
    return "; ".join(dict.fromkeys(r["title"] + (f" ({r['denial']})" if r.get("denial") else "") for r in reasons))


def _rows(answer: dict) -> list[str]:
    """One line (or a few) per row of the answer, as the question shapes its rows."""
    q, out = answer["question"], []
    for r in answer["rows"]:
        if q == "who-may-perform":
            what = (f"refused · {_reasons(r['reasons'])}" if not r["may_perform"]
                    else f"performer not checked · {r['verdict']}" if r.get("performer_checked") is False
                    else f"may perform · {r['verdict']}")
            out.append(_wrap(f"{r['role_label']:<22} {what}", "  "))
            out += [_wrap(x["message"], "      ") for x in r["reasons"]]
        elif q == "not-with":
            what = (f"{', '.join(r['stands'])} stands, {', '.join(r['denied'])} denied" if r["stands"]
                    else "both denied")
            out.append(_wrap(f"{r['code']:<7} {what} · {_reasons(r['reasons'])}"
                             + (f" · edit {', '.join(r['edits'])}" if r["edits"] else ""), "  "))
        elif q == "codes-for":
            what = ("fits" if r["fits"] else f"fits, {', '.join(r['included_in'])} billed instead"
                    if r.get("included_in") else "does not fit")
            why = (", ".join(r["services"]) if r["fits"] else r["reasons"][0]["message"] if r["reasons"]
                   else f"the rules bill {', '.join(r['instead'])} instead" if r["instead"]
                   else "not billed (the inference rules give no why-not)")
            if r.get("performer_checked") is False:
                what += ", performer not checked"
            billed = r.get("as_billed") or {}
            if billed.get("warnings") or billed.get("status") not in (None, "accepted"):
                why += f" · as billed: {billed.get('verdict')}"
            out.append(_wrap(f"{r['code']:<7} {what} · {why}", "  "))
        elif q == "rests-on":
            if r["kind"] == "rule":
                out.append(_wrap(f"rule  {r['id']}: {r['title']} ({r['program']} rules)", "  "))
            elif r["kind"] == "edit":
                out.append(_wrap(f"edit  {r['id']}: {r['label']}", "  "))
            else:
                out.append(_wrap(f"fact  {r['fact']}", "  "))
        elif q == "unsupported":
            out.append(_wrap(f"NOT USED  {r['id']}  {r['citation']}: “{r['quote']}”" if r["kind"] == "sentence"
                             else f"UNSOURCED  {r['fact']}", "  "))
        elif q == "edit" and not answer["asked"].get("edit"):  # the list of edits
            cols = (f"{', '.join(r['column1'])} / {', '.join(r['column2'])}" if r["kind"] == "pair"
                    else f"{r['code']}, at most {r['max_units']} unit(s)")
            out.append(_wrap(f"{r['id']}  ({r['kind']}: {cols})  {r['label']}", "  "))
        elif q == "edit":
            date = answer["asked"]["date"]
            fields = (("kind of edit", r.get("edit_kind_label")), ("column 1", r.get("column1")),
                      ("column 2", r.get("column2")), ("code", r.get("code")), ("most units", r.get("max_units")),
                      ("provider scope", r.get("scope_label")),
                      ("modifier indicator", _indicator(r.get("modifier_indicator"), r.get("modifier"))),
                      ("adjudication", _indicator(r.get("adjudication_indicator"), r.get("adjudication"))),
                      ("bypassed by", r.get("bypassed_by")),
                      ("effective", r.get("effective") or "no date (every date of service)"),
                      ("deleted", r.get("deleted") or "no deletion date"),
                      (f"in force on {date}", "yes" if r["in_force"] else "no"),
                      ("release", f"{r['release']} (in force from {r['release_date']})" if r.get("release")
                       else None),
                      ("edit table row", r.get("table_row")), ("file", r.get("file")),
                      ("table read", r.get("source_file") if r.get("source_file") != r.get("file") else None),
                      ("replaced by", r.get("replaced_by_label")))
            for key, value in fields:
                if value not in (None, "", []):
                    out.append(_wrap(f"{key:<24} {', '.join(map(str, value)) if isinstance(value, list) else value}",
                                     "  "))
            for a in r.get("applied", []):
                what = (f"{', '.join(a['stands'])} stands, {', '.join(a['denied'])} denied" if a["stands"]
                        else "both denied" if a["denied"] else "no line denied under it")
                out.append(_wrap(f"check on {a['date']}: {a['column1']} with {a['column2']}: {what}", "  "))
    return out


def _indicator(value, meaning) -> str | None:
    return None if value is None else f"{value} ({meaning})" if meaning else str(value)


def answer_text(answer: dict) -> str:
    """The readable answer: the sentence, its rows, its sources and the graph nodes it names."""
    lines = [_wrap(answer["answer"]), ""]
    rows = _rows(answer)
    if rows:
        lines += rows + [""]
    if answer["sources"]:
        lines.append("Sources:")
        for s in answer["sources"]:
            quote = f": “{s['quote']}”" if s.get("quote") else ""
            lines.append(_wrap(f"{s['citation']}{quote}  [{s['id']}]", "  "))
        lines.append("")
    if answer["focus"]:
        lines.append(_wrap("In the knowledge graph (explorer: Knowledge graph, Neighbourhood of a node): "
                           + ", ".join(answer.get("focus_labels") or answer["focus"])))
    return "\n".join(lines).rstrip("\n")


_JSON = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (answer, rows, sources, focus).")
_DATE = click.option("--date", default=None, metavar="YYYY-MM-DD",
                     help="Date of service the rules judge on (default: today); edits apply in their dates.")


@click.group("ask")
def command():
    """Ask the rules an analyst's question; answers in words with their sources.

    who-may-perform, not-with, codes-for, rests-on, unsupported, edit. Exit 0
    with an answer, 2 when the question names something the knowledge base
    does not have.
    """


@command.command("who-may-perform")
@click.argument("code")
@_DATE
@_JSON
def who_may_perform(code, date, as_json):
    """Who may perform CODE: one line of it judged by `check` for every performer role."""
    from cptkg.judge.questions import who_may_perform as question

    _ask("who-may-perform", question, as_json, code=code, date=date, engine=_engine())


@command.command("not-with")
@click.argument("code")
@_DATE
@_JSON
def not_with(code, date, as_json):
    """What may not be billed with CODE on the same date, and which line stands: `check` on each pair."""
    from cptkg.judge.questions import not_with as question

    _ask("not-with", question, as_json, code=code, date=date, engine=_engine())


@command.command("codes-for")
@click.option("--device", required=True, help="Device (an input value of the pack, as in an encounter).")
@click.option("--role", required=True, help="Performer's role (an input value of the pack).")
@click.option("--route", default=None, help="Route of delivery (default: the pack's default route).")
@_JSON
def codes_for(device, role, route, as_json):
    """Which codes of the family fit a device, route and performer: `infer` on each code's services."""
    from cptkg.judge.questions import codes_for as question

    _ask("codes-for", question, as_json, device=device, role=role, route=route, engine=_engine())


@command.command("rests-on")
@click.argument("source")
@_JSON
def rests_on(source, as_json):
    """The rules, edits and facts that rest on the source sentence SOURCE (an id of `cptkg sources`)."""
    from cptkg.judge.questions import rests_on as question

    _ask("rests-on", question, as_json, source_id=source)


@command.command("unsupported")
@_JSON
def unsupported(as_json):
    """Sentences that state a billing rule with nothing resting on them, and facts that rest on no source."""
    from cptkg.judge.questions import unsupported as question

    _ask("unsupported", question, as_json)


@command.command("edit")
@click.argument("edit_id", metavar="[EDIT]", required=False)
@_DATE
@_JSON
def edit(edit_id, date, as_json):
    """An edit's dates, scope, modifier indicator, codes and sources, and what `check` does with it;
    without EDIT, every edit of the pack and of the --edits files."""
    from cptkg.judge.questions import edit as question

    _ask("edit", question, as_json, edit_id=edit_id, date=date, engine=_engine())
