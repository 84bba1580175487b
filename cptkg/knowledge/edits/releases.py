"""Several releases of the edit tables loaded together (``--edits q1.ttl --edits q2.ttl``): which rows decide.

CMS republishes the PTP and MUE tables every quarter (January, April, July,
October) "as complete replacement files" (domain notes, How payers apply
edits: src:n-edit-files). An edit file's sources may say which release they
are (``ont:release``, ``ont:releaseDate``: :mod:`cptkg.knowledge.edits.files`);
when files of several releases are loaded, in whatever order, this module
turns them into the rows the rules read, so the rules and every engine
(clingo, pyDatalog, DuckDB SQL in ``cptkg batch``) stay as they are:

- **PTP (pair edits).** Their rows carry their own effective and deletion
  dates, so a claim line is judged by the rows in force on its date of
  service. Where several releases have rows for the same (column 1,
  column 2) pair, a newer release (by release date) decides the pair from
  the first date its rows for it cover: the earliest effective date of
  those rows (a back-dated correction: before the release; a row effective
  later: after it), the release date for a row stating none. The older
  release's rows apply before then, as that release has them; a row left
  no date is replaced (``superseded``).
  A pair a newer loaded release no longer lists ends the day before that
  release takes effect (a complete replacement file lists every edit in
  force); before that date it applies as its own release has it.
- **MUE (unit edits).** Their rows carry no dates: a release's value takes
  effect on the release's first day and is not retroactive ("A change made
  to an MUE value for a particular code is not retroactive", MDedge
  Dermatology, "Medically Unlikely Edits"; NGS Medicare, "Medically
  Unlikely Edits Billing and Processing": CMS updates the MUE/MAI tables
  quarterly "so providers need to remain aware that new values may impact
  claim payments after each update cycle"). For a code several releases
  carry, each release's row is given the window from its release date to
  the day before the next release carrying the code (as
  ``edit_effective_date`` / ``edit_deletion_date``, the next release's first
  day, which the unit rules already honour); the rows of the oldest loaded
  release of unit edits have no start, so a date of service before every
  loaded release is judged by the oldest loaded release (whoever loads only
  this quarter's table still gets its values for past claims). A code a
  newer release lists first has its value from that release's first day
  only: the release in force before it had no limit for the code. A row's own dates, if it has any, are kept inside
  that window. A code a newer loaded release no longer lists has its
  last value until the day before that release.
- Files of the **same release** that disagree about the same edit are
  refused at load, naming both files and rows; files that agree are kept
  (the same table loaded twice judges as once).
- Tables that state **no release** (today's files, the pack's synthetic
  tables) take no part: they apply as written, and when they are loaded
  beside released tables one notice line says so.
- Two release labels for one release date, or two dates for one label,
  are refused: which release is newer could not be told.
"""
from __future__ import annotations

import datetime
import itertools
from collections import Counter
from dataclasses import dataclass, field

from cptkg.knowledge.edits.files import PAIR, UNIT, EditFileError, ImportedEdits

#: disagreements listed before the rest are counted
MAX_SHOWN = 5


@dataclass
class Resolution:
    """The tables the rules read, what was set aside, and what the analyst should be told."""

    tables: list[ImportedEdits]
    #: one line each, for the analyst (a table without a release beside released ones, rows superseded)
    notices: list[str] = field(default_factory=list)
    #: per loaded table, its rows a newer release superseded (ask edit explains them; the rules never see them)
    superseded: list[ImportedEdits] = field(default_factory=list)


_PAIR_EFFECT = ("editKind", "modifierIndicator", "editScope", "effectiveDate", "deletionDate")
_UNIT_EFFECT = ("maxUnits", "adjudicationIndicator", "effectiveDate", "deletionDate")


def _effect_columns(t: ImportedEdits) -> dict[str, list]:
    """The columns :func:`_effect` reads, fetched once per table.

    ``ImportedEdits.column`` makes a list of Nones for a property no row
    has (a PTP table without deletion dates): fetched per row, a release of
    three million rows in four files made three million such lists and the
    load never ended (an audit's ``check`` ran 1,003 s before it was stopped).
    """
    return {n: t.column(n) for n in dict.fromkeys(_PAIR_EFFECT + _UNIT_EFFECT)}


def _effect(t: ImportedEdits, i: int, cols: dict[str, list] | None = None) -> tuple:
    """What a row does to a claim (its rationale and row aside): two rows of one release must agree on it."""
    cols = cols if cols is not None else _effect_columns(t)
    return tuple(cols[n][i] for n in (_PAIR_EFFECT if t.types[i] == PAIR else _UNIT_EFFECT))


def _effect_words(t: ImportedEdits, i: int) -> str:
    words = (("kind", "modifier indicator", "scope", "effective", "deleted") if t.types[i] == PAIR
             else ("at most units", "adjudication indicator", "effective", "deleted"))
    return ", ".join(f"{w} {v}" for w, v in zip(words, _effect(t, i)) if v is not None)


def earliest_unit_release(tables) -> tuple[str, str] | None:
    """(first day, label) of the oldest loaded release with unit edits (MUE), or None.

    That release's values also judge the dates of service before it (see the module docstring): whoever
    loads only this quarter's table still gets unit edits for past claims. An auditor of past claims got
    CO-151 denials under a table not yet published on their dates, with nothing said (an auditor's audit);
    :func:`cptkg.judge.notes.unit_release_note` is what ``check`` and ``batch`` now say, as ``impact`` said already.
    """
    starts = [(src.release_date, src.release) for t in tables if UNIT in t.types
              for src in t.table_sources.values() if src.release and src.release_date]
    return min(starts) if starts else None


def _day_before(day: str) -> str:
    return (datetime.date.fromisoformat(day) - datetime.timedelta(days=1)).isoformat()


def resolve(tables: list[ImportedEdits]) -> Resolution:
    """The rows of ``tables`` the rules read when several releases are loaded (see the module docstring).

    Nothing to do (the tables returned as they are) unless rows of more than
    one released file are loaded: one table, or tables without releases,
    load exactly as before.
    """
    files: dict[tuple, tuple[str, str]] = {}  # (table, source) -> (release, date), released rows only
    per_row: list[list] = []
    unreleased = []
    for n, t in enumerate(tables):
        memo: dict[tuple, object] = {}
        rows = []
        bare = False
        for i, srcs in enumerate(t.sources):
            got = memo.get(srcs)
            if got is None:
                src = t.source_of(i)
                rel = t.release_of(i)
                got = memo[srcs] = ((n, src.id if src else ""), rel) if rel else False
            rows.append(got or None)
            if got:
                files.setdefault(got[0], got[1])
            else:
                bare = True
        per_row.append(rows)
        if bare:
            unreleased.append(t)
    out = Resolution(list(tables))
    if files and unreleased:
        out.notices.append(
            "; ".join(dict.fromkeys(t.path.name for t in unreleased)) + " state(s) no release: their edits apply as "
            "written beside the releases " + ", ".join(sorted({r for r, _ in files.values()})) + ", and a newer "
            "release does not replace them (give the import --release to take part)")
    if len(files) < 2:
        return out
    _check_release_dates(files, tables)

    # every released row, by the edit it is (its pair, or the code it limits); only an edit with more than
    # one released row can disagree or be replaced, and the keys are counted first (in C, by Counter) so
    # that a release of millions of rows, each edit once, builds no entry per row
    keys = []
    for t, rows in zip(tables, per_row):
        k1 = [a or b for a, b in zip(t.column("column1Code"), t.column("column1"))]
        k2 = [a or b for a, b in zip(t.column("column2Code"), t.column("column2"))]
        keys.append([None if got is None else (PAIR, a, b) if kind == PAIR else ("U", u)
                     for got, kind, a, b, u in zip(rows, t.types, k1, k2, t.column("editCode"))])
    seen = Counter(itertools.chain.from_iterable(keys))
    seen.pop(None, None)
    by_key: dict[tuple, list[tuple[str, int, int]]] = {}
    for n, table_keys in enumerate(keys):
        for i, key in enumerate(table_keys):
            if key is not None and seen[key] > 1:
                by_key.setdefault(key, []).append((per_row[n][i][1][1], n, i))

    # The release dates of each kind of edit (pairs, units), oldest first.
    kind_dates: dict[str, list[str]] = {}
    for rows, table_keys in zip(per_row, keys):
        for got, key in zip(rows, table_keys):
            if got is not None and key is not None:
                kind_dates.setdefault(key[0], set()).add(got[1][1])
    kind_dates = {k: sorted(v) for k, v in kind_dates.items()}
    # Only the oldest loaded release of unit edits judges the dates before it (the module docstring): its
    # rows have no start, and every newer release's rows start on that release's first day.
    oldest_unit = kind_dates.get("U", [None])[0]

    disagreements: list[str] = []
    effect_cols = [_effect_columns(t) for t in tables]
    drop: list[set[int]] = [set() for _ in tables]
    taken_over: list[Counter] = [Counter() for _ in tables]  # per table: older pair rows a newer release ends
    windows: list[dict[int, tuple]] = [{} for _ in tables]
    for key, entries in by_key.items():
        dates = sorted({d for d, _, _ in entries})
        for d in dates:  # files of one release agree about the edit, or the load is refused
            effects: dict[tuple, set] = {}
            for dd, n, i in entries:
                if dd == d:
                    effects.setdefault(per_row[n][i][0], set()).add(_effect(tables[n], i, effect_cols[n]))
            if len(effects) > 1 and len({frozenset(v) for v in effects.values()}) > 1:
                disagreements.append(_disagreement(tables, per_row, [(n, i) for dd, n, i in entries if dd == d]))
        if len(dates) < 2:
            continue
        if key[0] == PAIR:
            # A newer release with the pair decides it from the first date its rows for the pair cover: its
            # release date, or the earliest effective date of those rows when that is earlier (a correction
            # back-dated). Before then the older release's rows apply as that release has them: a pair
            # re-listed with a new row effective on the new release's first day, the earlier row left out,
            # dropped the earlier row for its own quarter too (a coder's audit: indicator 0 in Q1 became no
            # edit at all on Q1 dates). A row whose window is left empty is replaced (superseded).
            for d, n, i in entries:
                if d == dates[-1]:
                    continue
                after = dates[dates.index(d) + 1]
                # the newer release's rows for the pair take over on the earliest of their effective dates (a
                # row stating none: the release's first day); a row effective after that first day leaves the
                # older row in force until then (cut at the release date, a month had no edit: an audit)
                starts = [effect_cols[m]["effectiveDate"][j] or after for dd, m, j in entries if dd == after]
                cut = min(starts)
                own = effect_cols[n]["effectiveDate"][i]
                if own is not None and cut <= own:
                    drop[n].add(i)
                else:
                    windows[n][i] = (None, cut)
                    taken_over[n][per_row[n][i][1][0]] += 1
        else:  # each release's value from its first day up to the next one's (its deletion date: ont:deletionDate)
            for d, n, i in entries:
                k = dates.index(d)
                windows[n][i] = (None if d == oldest_unit else d, dates[k + 1] if k + 1 < len(dates) else None)
    newest_of = {key: max(d for d, _, _ in entries) for key, entries in by_key.items()}
    ended: list[Counter] = [Counter() for _ in tables]
    for n, (rows, table_keys) in enumerate(zip(per_row, keys)):
        for i, (got, key) in enumerate(zip(rows, table_keys)):
            if got is None or key is None or i in drop[n]:
                continue
            d = got[1][1]
            if key[0] == "U" and d != oldest_unit and i not in windows[n]:
                # A code's MUE a newer release brings in starts on that release's first day. A code first
                # listed in Q2 was applied to a February claim with Q1 and Q2 loaded, Q1 (in force then)
                # having no MUE for it (an audit).
                windows[n][i] = (d, None)
            if newest_of.get(key, d) != d:
                continue  # a newer release has the edit: its rows decide (pairs) or its window follows (units)
            # A complete replacement file lists every edit in force: an edit (a pair, or a code's MUE) that a
            # newer loaded release of its kind no longer lists ends the day before that release takes effect.
            # It applied for every later date (an audit: a pair the newer release dropped kept denying, while
            # `diff` called it deleted and `impact` newly accepted it).
            later = [x for x in kind_dates[key[0]] if x > d]
            if later:
                start = windows[n].get(i, (None, None))[0]
                windows[n][i] = (start, later[0])  # deleted from the newer release's first day
                ended[n][(got[1][0], later[0])] += 1
    if disagreements:
        more = len(disagreements) - MAX_SHOWN
        raise EditFileError(f"{len(disagreements)} edit(s) disagree between files of one release: "
                            + " | ".join(disagreements[:MAX_SHOWN]) + (f" (and {more} more)" if more > 0 else "")
                            + "; load one file per release (or re-import the release)")
    for n, t in enumerate(tables):
        if not drop[n] and not windows[n]:
            continue
        keep = [i for i in range(len(t)) if i not in drop[n]]
        resolved = t.select(keep)
        if windows[n]:
            _apply_windows(resolved, [windows[n].get(i) for i in keep])
        out.tables[n] = resolved
        for (label, day), count in sorted(ended[n].items()):
            newer = next(r for (r, dd) in set(files.values()) if dd == day)
            out.notices.append(f"{t.path.name}: {count:,} edit row(s) of release {label} end on {_day_before(day)}: "
                               f"the newer release {newer} (each release lists every edit in force) does not list them")
        for label, count in sorted(taken_over[n].items()):
            out.notices.append(f"{t.path.name}: {count:,} pair edit row(s) of release {label} apply until a newer "
                               "release's rows for the same pair take effect")
        if drop[n]:
            gone = sorted(drop[n])
            out.superseded.append(t.select(gone))
            releases = sorted({tables[n].release_of(i)[0] for i in gone})
            out.notices.append(f"{t.path.name}: {len(gone):,} pair edit row(s) of release {', '.join(releases)} "
                               "are replaced by a newer release's rows for the same pair")
    return out


def _check_release_dates(files: dict[tuple, tuple[str, str]], tables: list[ImportedEdits]) -> None:
    """One date per release label and one label per date, else which is newer cannot be told."""
    where: dict[tuple[str, str], str] = {}
    for (n, src), rel in files.items():
        where.setdefault(rel, tables[n].path.name)
    by_label: dict[str, set] = {}
    by_date: dict[str, set] = {}
    for label, day in where:
        by_label.setdefault(label, set()).add(day)
        by_date.setdefault(day, set()).add(label)
    for label, days in sorted(by_label.items()):
        if len(days) > 1:
            shown = "; ".join(f"{where[(label, d)]} dates it {d}" for d in sorted(days))
            raise EditFileError(f"release {label!r} is loaded with two release dates ({shown}): one release has one "
                                "first day in force; correct the import's --release")
    for day, labels in sorted(by_date.items()):
        if len(labels) > 1:
            shown = " and ".join(f"{l!r} ({where[(l, day)]})" for l in sorted(labels))
            raise EditFileError(f"releases {shown} both take effect on {day}: which one is newer cannot be told; "
                                "load one of them")


def _disagreement(tables, per_row, rows: list[tuple[int, int]]) -> str:
    """Two rows of one release, from different files, that disagree: both named, with what each says."""
    first = rows[0]
    other = next((r for r in rows if per_row[r[0]][r[1]][0] != per_row[first[0]][first[1]][0]
                  and _effect(tables[r[0]], r[1]) != _effect(tables[first[0]], first[1])), rows[-1])
    shown = []
    for n, i in (first, other):
        t = tables[n]
        shown.append(f"{t.path.name}: {t.describe(i)} ({_effect_words(t, i)})")
    return " and ".join(shown)


def _apply_windows(t: ImportedEdits, windows: list) -> None:
    """Give rows their release windows as effective/deletion dates, inside any dates they had."""
    eff_pred, del_pred = t.predicate_of.get("effectiveDate"), t.predicate_of.get("deletionDate")
    if eff_pred is None or del_pred is None:  # the ontology declares both; a pack without them cannot window
        raise EditFileError("the knowledge base declares no ont:effectiveDate / ont:deletionDate predicate: "
                            "several releases of a unit edit table cannot be told apart by date")
    eff = list(t.column("effectiveDate"))
    dele = list(t.column("deletionDate"))
    for i, w in enumerate(windows):
        if w is None:
            continue
        start, end = w
        if start is not None and (eff[i] is None or eff[i] < start):
            eff[i] = start
        if end is not None and (dele[i] is None or dele[i] > end):
            dele[i] = end
    t.columns[eff_pred] = eff
    t.columns[del_pred] = dele
