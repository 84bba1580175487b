"""Questions an analyst asks of the rules, answered without a query language.

Each question is one function returning a JSON-able answer of one shape::

    {"question": "who-may-perform", "asked": {...},
     "answer": "the answer in billing words (labels, not ids)",
     "rows": [...],            # the structured answer, ids as secondary fields
     "sources": [...],         # {id, citation, quote, ...}: the sentences it rests on
     "focus": [...],           # nodes of the knowledge graph (views.knowledge_graph) it names
     "kb_version": "..."}

The answers are computed by the rules, not read from a table kept by hand:
who may perform a code is what ``check`` says of one line of it per
performer; what may not be billed with a code is what ``check`` says of the
two codes on one claim; which codes fit a device, route and performer is
what ``infer`` says of an encounter documenting each code's services. The
rest read the loaded knowledge base (the pack, and edit files loaded over
it) the way ``cptkg sources`` and the claim rules do.

A question the KB cannot answer (an unknown code, role, source or edit)
raises :class:`QuestionError`, one line naming the field and the values it
may take.

One module per question, so a question is read and changed in one room:
``performers`` (who may perform), ``billed_with`` (not with), ``coding``
(codes for), ``sources`` (rests on, unsupported), ``edit_rows`` (the edits,
one edit); beneath them ``synthetic`` (the claims they judge), ``answers``
(the shape above), ``reading`` (what they read from the KB, what they may
be asked) and ``wording`` (lists, sentences, the refusal). Callers import
from the package: the modules' names are not an interface.
"""
from __future__ import annotations

from cptkg.judge.questions.billed_with import not_with
from cptkg.judge.questions.coding import codes_for
from cptkg.judge.questions.edit_rows import edit, edits
from cptkg.judge.questions.performers import who_may_perform
from cptkg.judge.questions.reading import choices
from cptkg.judge.questions.sources import rests_on, unsupported
from cptkg.judge.questions.synthetic import billed_alone, implanted_history
from cptkg.judge.questions.wording import QuestionError

__all__ = ["QUESTIONS", "QuestionError", "billed_alone", "choices", "codes_for", "edit", "edits", "implanted_history",
           "not_with", "rests_on", "unsupported", "who_may_perform"]

#: the questions, by the name the CLI and the explorer give them
QUESTIONS = ("who-may-perform", "not-with", "codes-for", "rests-on", "unsupported", "edit")
