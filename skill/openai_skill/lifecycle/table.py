"""skill.yaml's `lifecycle` as a table: when a model shuts down and what replaces it.

Pure functions of the data, a date and (optionally) what an origin's GET /models said; the
one place the real date is read is `utc_today` (tests replace it, callers may pass their own).
A shutdown day is a UTC date, and on that day the model is already gone (OpenAI gives no
grace period and no automatic upgrade).
"""

from __future__ import annotations

import datetime as dt
import time
from datetime import date

DEFAULT_WARN_DAYS = 30
MAX_CHAIN = 5   # a replacement that is itself gone is followed this many steps at most
MAX_REMEMBERED = 1024  # model ids whose lookup is kept (a long-lived server sees a few dozen)
# A date to use instead of today's: what a call will do after a shutdown, before the day comes.
ENV_TODAY = "OPENAI_SKILL_TODAY"


_tables: dict = {}  # id(data) -> (data, Table)


def utc_today() -> date:
    """Today in UTC: the day a shutdown date is compared with. (The clock's day number, and a
    `date` built once per day: a reused client asks on every call, and `datetime.now(utc)`
    with its `.date()` was most of what `today` cost.)"""
    global _kept_day
    day = int(time.time() // 86400)
    kept = _kept_day
    if kept[0] != day:
        kept = _kept_day = (day, _EPOCH + dt.timedelta(days=day))
    return kept[1]


_EPOCH = date(1970, 1, 1)
_kept_day: tuple = (None, None)   # (UTC day number, its date), replaced whole


def today_from(env) -> date:
    """OPENAI_SKILL_TODAY (YYYY-MM-DD) if set, else `utc_today()`."""
    given = env.get(ENV_TODAY) if env is not None else None
    if not given:
        return utc_today()
    try:
        return date.fromisoformat(given.strip())
    except ValueError:
        from ..errors import InputError

        raise InputError(f"{ENV_TODAY}: expected a date as YYYY-MM-DD, got {given!r}; unset it to use "
                         "today's date", field=ENV_TODAY, expected="YYYY-MM-DD", given=given) from None


class Shutdown:
    """A model's shutdown day. Immutable, compared by value; a plain class, not a dataclass:
    `dataclasses` imports `inspect` (~6 ms) on the start-up path of every CLI call."""

    __slots__ = ("model", "date", "replacement", "learned")
    model: str
    date: date
    replacement: tuple[str, ...]   # OpenAI's named replacement(s), newest wording
    learned: bool                  # from the origin's GET /models, not the built-in table

    def __init__(self, model: str, date: dt.date, replacement: tuple[str, ...], learned: bool = False):
        for name, value in (("model", model), ("date", date), ("replacement", replacement), ("learned", learned)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("a Shutdown is immutable")

    def __delattr__(self, name):
        raise AttributeError("a Shutdown is immutable")

    def _values(self) -> tuple:
        return (self.model, self.date, self.replacement, self.learned)

    def __eq__(self, other):
        return self._values() == other._values() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (f"Shutdown(model={self.model!r}, date={self.date!r}, replacement={self.replacement!r}, "
                f"learned={self.learned!r})")

    def begun(self, today: dt.date) -> bool:  # `dt.`: the field `date` shadows the class here
        return today >= self.date

    def days_left(self, today: dt.date) -> int:
        return (self.date - today).days


class Table:
    """The built-in shutdowns, looked up by model id (exact ids and globs), with an
    origin's learned dates on top."""

    @classmethod
    def of(cls, data: dict) -> Table:
        """The table for skill.yaml's `lifecycle` section, built once per process."""
        found = _tables.get(id(data))
        if found is None or found[0] is not data:
            found = _tables[id(data)] = (data, cls(data))
        return found[1]

    def __init__(self, data: dict):
        self.warn_days = int(data.get("warn_days", DEFAULT_WARN_DAYS))
        self.entries = [(tuple(entry["models"]), date.fromisoformat(entry["shutdown"]),
                         tuple(entry.get("replacement") or ()))
                        for entry in data.get("shutdowns") or ()]
        # Exact ids in a dict, the few globs in order: an id is looked up, not matched ~60 times.
        self._exact = {model: (day, repl) for globs, day, repl in self.entries for model in globs
                       if not any(ch in model for ch in "*?[")}
        self._globs = [(glob, day, repl) for globs, day, repl in self.entries for glob in globs
                       if glob not in self._exact]
        self._found: dict[str, Shutdown | None] = {}  # model -> answer: the table never changes

    def built_in(self, model: str) -> Shutdown | None:
        if model in self._found:
            return self._found[model]
        hit = self._exact.get(model) or next(((day, repl) for glob, day, repl in self._globs
                                               if glob_matches(model, glob)), None)
        found = Shutdown(model, *hit) if hit else None
        if len(self._found) < MAX_REMEMBERED:
            self._found[model] = found
        return found

    def shutdown(self, model: str, learned=None) -> Shutdown | None:
        """The model's shutdown, if one is known. Where the origin's own list dated the model
        (or said it has none: null), that wins: a postponed shutdown or a model kept on
        dedicated capacity is not refused on that origin. An origin silent about a model
        (not listed, or listed without the field) leaves the built-in date in force."""
        built_in = self.built_in(model)
        if learned is not None:
            said, day = learned.says(model)
            if said:
                if day is None:
                    return None
                return Shutdown(model, day, built_in.replacement if built_in else (), learned=True)
        return built_in

    def live(self, model: str, today: date, learned=None) -> bool:
        found = self.shutdown(model, learned)
        return found is None or not found.begun(today)

    def first_live(self, models, today: date, learned=None) -> str:
        """The first of `models` still served on `today` (the last one if none is)."""
        for model in models:
            if self.live(model, today, learned):
                return model
        return models[-1]

    def replacements(self, shutdown: Shutdown, today: date, learned=None) -> list[str]:
        """The named replacement(s), a replacement that is itself gone followed to its own
        (o1-mini -> o4-mini, gone too -> gpt-5.6-sol / gpt-5.6-terra)."""
        out: list[str] = []

        def follow(names, depth):
            for name in names:
                gone = self.shutdown(name, learned)
                if gone is not None and gone.begun(today) and gone.replacement and depth < MAX_CHAIN:
                    follow(gone.replacement, depth + 1)
                elif name not in out:
                    out.append(name)

        follow(shutdown.replacement, 0)
        return out

    def dated_list(self, models, quote: str = "") -> str:
        """A default list as committed text reads it, never depending on today:
        "gpt-4o-mini until 2027-01-14, then gpt-6-luna"."""
        parts = []
        for index, model in enumerate(models):
            shown = f"{quote}{model}{quote}"
            found = self.built_in(model)
            last = index == len(models) - 1
            if found and not last:
                shown += f" until {found.date.isoformat()}"
            elif found:
                shown += f" (shuts down {found.date.isoformat()})"
            parts.append(shown if index == 0 else f"then {shown}")
        return ", ".join(parts)


def glob_matches(name: str, glob: str) -> bool:
    """`fnmatch.fnmatchcase(name, glob)`. skill.yaml's globs use `*` alone, matched here by
    plain string search: fnmatch compiles every glob to a regular expression, ~0.1 ms each,
    thirty of them (model rules, shutdowns) on every CLI call. A glob with `?` or `[` goes to fnmatch."""
    if "?" in glob or "[" in glob:
        from fnmatch import fnmatchcase

        return fnmatchcase(name, glob)
    if "*" not in glob:
        return name == glob
    head, *middle, tail = glob.split("*")
    if len(name) < len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    position, end = len(head), len(name) - len(tail)
    for part in middle:  # each piece between stars, leftmost first: the earliest fit leaves most room
        found = name.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True
