"""The words every answer is written in, and the one-line refusal of a question.

Shared so that each question lists, joins and cuts its words the same way
("a, b and c", "… (3 more)") and refuses a field in one line the same way:
an analyst reads one voice whichever question is asked.
"""
from __future__ import annotations

import datetime as dt


class QuestionError(ValueError):
    """A question the knowledge base cannot answer; ``str()`` is one line naming the field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(" ".join(f"{field}: {message}".split()))


def _listing(values, most: int = 12) -> str:
    """Values for an error message: the first ``most``, then how many more.

    >>> _listing(["a", "b"]), _listing([str(i) for i in range(5)], most=2)
    ('a, b', '0, 1 … (3 more)')
    """
    values = list(values)
    shown = ", ".join(values[:most])
    return shown + (f" … ({len(values) - most} more)" if len(values) > most else "") if values else "none"


def _words(items: list[str]) -> str:
    """Items joined as a sentence says them.

    >>> _words(["a"]), _words(["a", "b"]), _words(["a", "b", "c"])
    ('a', 'a and b', 'a, b and c')
    """
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _short(text: str, most: int = 70) -> str:
    """A descriptor cut for a sentence.

    >>> _short("Refill and maintenance of a pump", 12)
    'Refill and…'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= most else text[:most].rsplit(" ", 1)[0].rstrip(",;: ") + "…"


def _date(value) -> str:
    if value is None:
        return dt.date.today().isoformat()
    from cptkg.claims.models import date_problem

    problem = date_problem(str(value))
    if problem == "calendar":  # 2025-02-30 is written YYYY-MM-DD: it is not a day (an audit)
        raise QuestionError("date", f"'{str(value)[:40]}' is not a real calendar date")
    try:
        if problem:
            raise ValueError(problem)
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise QuestionError("date", f"'{str(value)[:40]}' is not a date written YYYY-MM-DD") from None


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word
