"""The documentation cannot drift from the code (datasette's habit; STYLE.md, habit 10).

Every command and option of the click group is in the generated reference
(docs/cli.md), and the committed page is the one the CLI's ``--help`` makes
today; every command is also described in a written page; the README's
example outputs are what the commands print; every page is in the site's
navigation and every relative link and image of the README and the pages
points at a file that exists."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from devtools import cli_reference

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
COMMANDS = list(cli_reference.commands())


def _section(page: str, path: tuple[str, ...]) -> str:
    """The text of one command's section of docs/cli.md (from its heading to the next)."""
    head = f"## `{' '.join(path)}`\n"
    assert head in page, f"{' '.join(path)} has no section in docs/cli.md"
    return page.split(head, 1)[1].split("\n## `", 1)[0]


def test_the_committed_command_reference_is_the_one_the_cli_help_makes_today():
    # rendered in a process of its own, as a user's `cptkg --help` is: in this one, earlier tests
    # have loaded and invoked the commands, and click's help columns follow what is loaded
    r = subprocess.run([sys.executable, "-m", "devtools.cli_reference", "--check"], cwd=DOCS.parent,
                       capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k not in ("CPTKG_KB", "CPTKG_ENGINE")})
    assert r.returncode == 0, \
        f"docs/cli.md is stale: run python -m devtools.cli_reference and commit docs/cli.md\n{r.stdout}{r.stderr}"


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_each_of_its_options_and_arguments_is_in_its_reference_section(path, command):
    text = _section((DOCS / "cli.md").read_text(encoding="utf-8"), path)
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(opt in text for opt in param.opts), f"{' '.join(path)}: option {param.opts} undocumented"
        else:
            shown = {n.lower() for n in (param.metavar, param.human_readable_name, param.name) if n}
            assert any(n in text.lower() for n in shown), f"{' '.join(path)}: argument {param.name} undocumented"


def test_the_walk_reaches_the_nested_commands():
    """The reference walks sub-groups too: a command under ``ask`` or ``edits`` is not forgotten."""
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"cptkg check", "cptkg ask who-may-perform", "cptkg edits import"} <= names


def _written_pages() -> str:
    pages = [README] + [p for p in sorted(DOCS.glob("*.md")) if p.name != "cli.md"]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS[1:]], ids=[" ".join(p) for p, _ in COMMANDS[1:]])
def test_every_command_is_named_in_the_readme_or_a_written_docs_page(path):
    """The generated reference alone is not documentation: each command is named where a reader looks."""
    assert " ".join(path) in _written_pages(), f"{' '.join(path)} is named only in the generated reference"


def _readme_examples(page: Path = README) -> list[tuple[str, str]]:
    """(command, shown output) for every ``$ cptkg ...`` line of the page's text blocks."""
    text = page.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```text\n(.*?)```", text, flags=re.S):
        parts = re.split(r"^\$ ", block, flags=re.M)
        for part in parts[1:]:
            command, _, output = part.partition("\n")
            found.append((command, output))
    return found


def test_the_readme_shows_a_check_an_infer_and_an_explain_example():
    shown = [c.split()[1] for c, _ in _readme_examples()]
    assert {"check", "infer", "explain"} <= set(shown), shown


_EXAMPLE = r'(cptkg [^|;>]+?)(?: 2>/dev/null)?(?: \| head -(\d+))?(; echo "exit \$\?")?'
#: the README's examples, and those of the pages whose examples are plain commands (a page's example piped
#: through anything but head, or writing files, is shown, not run: questions.md's `not-with | sed`,
#: checking.md's `--log decisions.jsonl > explained.json`)
_EXAMPLES = _readme_examples() + [(c, o) for page in ("questions.md", "checking.md")
                                  for c, o in _readme_examples(DOCS / page) if re.fullmatch(_EXAMPLE, c)]


def test_the_questions_page_examples_are_run_by_the_example_test():
    assert len([c for c, _ in _EXAMPLES if c.startswith("cptkg ask")]) >= 4


@pytest.mark.parametrize("command, shown", _EXAMPLES, ids=[c for c, _ in _EXAMPLES])
def test_each_readme_example_prints_exactly_the_output_it_shows(command, shown):
    """Run as the README's reader would (from the checkout, the default pack and engine): the same text.
    An example whose output shows the one-line error (``cptkg: ...``) shows standard error after standard
    output, as a terminal does."""
    m = re.fullmatch(_EXAMPLE, command)
    assert m, f"README example not in a form this test runs: {command}"
    env = {k: v for k, v in os.environ.items() if k not in ("CPTKG_KB", "CPTKG_ENGINE")}
    res = subprocess.run([sys.executable, "-m", "cptkg", *shlex.split(m.group(1))[1:]], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    out = res.stdout.splitlines()
    if "2>/dev/null" not in command and any(line.startswith("cptkg: ") for line in shown.splitlines()):
        out += res.stderr.splitlines()
    if m.group(2):
        out = out[:int(m.group(2))]
    if m.group(3):
        out.append(f"exit {res.returncode}")
    assert "\n".join(out) == shown.rstrip("\n"), f"README example drifted: {command}\n{res.stderr}"


def test_the_readme_is_a_front_door_of_at_most_300_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def test_every_docs_page_is_in_the_site_navigation():
    conf = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)

    listed = set(pages(conf["nav"]))
    on_disk = {p.name for p in DOCS.glob("*.md")}
    assert on_disk - listed == set(), "pages missing from mkdocs.yml nav"
    assert listed - on_disk == set(), "nav entries with no page"


def _links(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target) and not target.startswith("#"):
            yield target.split("#", 1)[0]


@pytest.mark.parametrize("page", [README] + sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_relative_link_and_image_points_at_a_file_that_exists(page):
    missing = [t for t in _links(page) if not (page.parent / t).exists()]
    assert missing == [], f"{page.name} links to missing files: {missing}"


def test_the_screenshots_live_in_docs_images_and_none_is_left_loose():
    assert sorted(p.name for p in DOCS.glob("*.png")) == []
    assert len(list((DOCS / "images").glob("explorer-*.png"))) >= 1
