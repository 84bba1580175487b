"""The questions as a package (issue 24, "rooms of one concern"): one module per question over
shared floors (wording, reading, answers, synthetic claims), and callers that import from the
package only, so the modules can be split or renamed without touching the CLI or the explorer."""
from __future__ import annotations

import ast
import types
from pathlib import Path

import cptkg.judge.questions as Q

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "cptkg" / "judge" / "questions"
QUESTION_MODULES = {"performers", "billed_with", "coding", "sources", "edit_rows"}
SHARED_MODULES = {"wording", "reading", "answers", "synthetic"}


def _callers():
    """Every Python file outside the package that may import it."""
    for folder in ("cptkg", "tests", "devtools", "bench"):
        yield from (p for p in (ROOT / folder).rglob("*.py") if PKG not in p.parents)
    yield ROOT / "app.py"


def _imported_from(path: Path, module: str):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module:
            yield from (a.name for a in node.names)


def test_the_package_offers_every_question_and_the_refusal():
    # and the history a question's claim is set up with (infer's as_billed sets up its claim alike)
    assert set(Q.__all__) == {"QUESTIONS", "QuestionError", "choices", "who_may_perform", "not_with", "codes_for",
                              "rests_on", "unsupported", "edits", "edit", "implanted_history", "billed_alone"}
    assert all(not isinstance(getattr(Q, n), types.ModuleType) for n in Q.__all__)
    assert issubclass(Q.QuestionError, ValueError)


def test_callers_import_only_what_the_package_offers_never_a_module_of_it():
    bad = []
    for path in _callers():
        rel = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")
        if "cptkg.judge.questions" not in text:  # parsing every file of the tree is most of this test's time
            continue
        bad += [f"{rel}: {n}" for n in _imported_from(path, "cptkg.judge.questions") if n not in Q.__all__]
        bad += [f"{rel}: {m}" for m in QUESTION_MODULES | SHARED_MODULES
                for _ in _imported_from(path, f"cptkg.judge.questions.{m}")]
    assert not bad, "\n".join(bad)


def test_the_shared_modules_never_import_a_question_module():
    """The floors (wording < reading < answers, synthetic) sit under the questions, never beside them."""
    bad = [f"{m}.py imports {name}" for m in SHARED_MODULES
           for node in ast.walk(ast.parse((PKG / f"{m}.py").read_text(encoding="utf-8")))
           if isinstance(node, ast.ImportFrom) and node.module
           for name in [node.module.rsplit(".", 1)[-1]] if name in QUESTION_MODULES]
    assert not bad, bad


def test_every_module_of_the_package_is_a_known_room_and_none_is_named_as_a_question_function():
    """A module named as a function of the package (``edits``, ``choices``) would be replaced by the
    function on import, the clash the layers test forbids at the top (tests/test_layers.py)."""
    modules = {p.stem for p in PKG.glob("*.py")} - {"__init__"}
    assert modules == QUESTION_MODULES | SHARED_MODULES
    assert not modules & set(Q.__all__)


def test_the_python_calls_questions_md_documents_run_as_written():
    """questions.md showed who_may_perform(cptkg.load_kb(), "62370"), which is refused below the faces for want
    of an engine (an integrator's audit): the page's calls, taken from it, run as written."""
    import re
    from pathlib import Path

    import cptkg

    page = (Path(__file__).resolve().parents[1] / "docs" / "questions.md").read_text(encoding="utf-8")
    para = " ".join(page[page.index("In Python, with a session"):].split("\n\n")[0].split())
    opened, call = re.findall(r"`([^`]*)`", para)[:2]
    assert opened == "s = cptkg.Session.open()" and call.startswith("cptkg.questions.who_may_perform(")
    s = cptkg.Session.open()
    answer = cptkg.questions.who_may_perform(s.kb, "62370", engine=s.engine)
    assert call == 'cptkg.questions.who_may_perform(s.kb, "62370", engine=s.engine)' and answer["rows"]
