"""``cptkg schema claim|encounter``: the JSON Schema of the JSON that check and infer read."""
from __future__ import annotations

import click


@click.command("schema")
@click.argument("what", type=click.Choice(["claim", "encounter"]), default="claim", metavar="[claim|encounter]")
def command(what):
    """Print the JSON Schema (draft 2020-12) of claim JSON (cptkg check) or encounter JSON (cptkg infer),
    with the roles, routes and devices of the family pack loaded (--kb)."""
    from cptkg.faces.cli import dump, get_kb, out
    from cptkg.claims.schema import SCHEMAS

    out(dump(SCHEMAS[what](get_kb())), raw=True)
