"""Option value types shared by the commands, each checked in one place.

:class:`TimeLimitSeconds` is the type of every time limit a command takes
(``check``/``explain --time-limit``, ``query --timeout``; ``batch
--time-limit`` uses it too): a finite number of seconds within bounds
(cptkg.limits). ``inf``, ``nan``, ``1e10``, ``0`` or a negative number is
refused in one line naming the option, exit 2 (before: ``inf`` and ``1e10``
reached the engines' timers and overflowed, ``nan`` was taken and every claim
then failed).
"""
from __future__ import annotations

import math
import re

import click


class OptionValueError(click.ClickException):
    """A refused option value: one line ``cptkg: --option VALUE: problem``, exit 2 (not click's usage block)."""

    exit_code = 2

    def show(self, file=None) -> None:
        from cptkg.controls import one_line

        try:
            click.echo(f"cptkg: {one_line(self.format_message())}", file=file, err=True)
        except OSError:
            pass


def _option_name(param, ctx) -> str:
    if param is None:
        return "the time limit"
    opts = getattr(param, "opts", None) or [param.name or "value"]
    return max(opts, key=len)  # the long name: --time-limit, not -t


_SECONDS = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


class TimeLimitSeconds(click.ParamType):
    """Seconds, finite, from ``minimum`` to ``maximum`` (default cptkg.limits' MIN/MAX_TIME_LIMIT_SECONDS).

    Usage: ``click.option("--time-limit", type=TimeLimitSeconds(), ...)``; a
    command with other bounds gives them (``TimeLimitSeconds(0.1, 600)``).
    The value passed on is a float.
    """

    name = "seconds"

    def __init__(self, minimum: float | None = None, maximum: float | None = None):
        from cptkg import limits

        self.minimum = limits.MIN_TIME_LIMIT_SECONDS if minimum is None else float(minimum)
        self.maximum = limits.MAX_TIME_LIMIT_SECONDS if maximum is None else float(maximum)

    def get_metavar(self, param, ctx=None) -> str:  # noqa: D401 - click's hook
        return "SECONDS"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, float) and math.isfinite(value) and self.minimum <= value <= self.maximum:
            return value
        name = _option_name(param, ctx)
        shown = str(value)
        # Python's float() also takes '1_0', a full-width '２' and ' 5': a number of seconds is
        # written in ASCII digits, as the README shows it
        if isinstance(value, str) and not _SECONDS.fullmatch(value):
            seconds = None
        else:
            try:
                seconds = float(value)
            except (TypeError, ValueError, OverflowError):
                seconds = None
        if seconds is None or not math.isfinite(seconds) or not self.minimum <= seconds <= self.maximum:
            what = ("is not a number of seconds" if seconds is None
                    else "is not a finite number of seconds" if not math.isfinite(seconds)
                    else "is out of range")
            raise OptionValueError(f"{name} {shown!r} {what}; give seconds from {self.minimum:g} to "
                                   f"{self.maximum:,g}")
        return seconds

    def __repr__(self) -> str:
        return f"TimeLimitSeconds({self.minimum:g}, {self.maximum:g})"


_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)


class WholeNumber(click.ParamType):
    """A count or a number written in ASCII digits, from ``minimum`` to ``maximum`` (None: no upper bound).

    Refused as a time limit is, in one line naming the option and the range
    (``--limit '0' is out of range; give a whole number from 1 to 1,000,000``),
    exit 2: click's own words were "not in the range 1<=x<=1000000" and
    "'x' is not a valid integer range".
    """

    name = "number"

    def __init__(self, minimum: int = 0, maximum: int | None = None, metavar: str = "N"):
        self.minimum, self.maximum, self.metavar = int(minimum), maximum, metavar

    def get_metavar(self, param, ctx=None) -> str:  # noqa: D401 - click's hook
        return self.metavar

    def _range(self) -> str:
        if self.maximum is None:
            return f"give a whole number of {self.minimum:,} or more"
        return f"give a whole number from {self.minimum:,} to {self.maximum:,}"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            # a long run of digits is a whole number out of range, not "not a whole number" (a regression hunt)
            number = int(value.strip()) if len(value.strip()) <= 18 else 10 ** 18
        else:
            number = None
        if number is not None and self.minimum <= number and (self.maximum is None or number <= self.maximum):
            return number
        name = _option_name(param, ctx)
        what = "is not a whole number" if number is None else "is out of range"
        raise OptionValueError(f"{name} {str(value)!r} {what}; {self._range()}")

    def __repr__(self) -> str:
        return f"WholeNumber({self.minimum}, {self.maximum})"


__all__ = ["OptionValueError", "TimeLimitSeconds", "WholeNumber"]
