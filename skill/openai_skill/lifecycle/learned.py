"""What each origin's GET /models said: its model ids and their `shutdown_date`s, kept in a
small JSON file in the config folder so a date OpenAI announces tomorrow counts without a
new release.

The file is an optimization, never a requirement: missing, unreadable, corrupt, too large or
of another version, it is ignored (and replaced by the next `list-models`); a write that fails
(read-only folder, full disk) is dropped silently. Writes are atomic (a temp file in the same
folder, then os.replace), so a reader sees the old file or the new one; a list already recorded
that day is not written again. It is keyed by
origin, so one gateway's list never changes what another origin's calls do, and bounded:
MAX_ORIGINS origins (the most recently seen), MAX_MODELS ids each, MAX_FILE_BYTES in all.

Format (version 1):
    {"version": 1, "origins": {"https://api.openai.com": {
        "seen": "2026-12-02T10:00:00Z",
        "ids": ["gpt-5-mini", "gpt-6.2-sol", ...],
        "shutdowns": {"gpt-5-mini": "2026-12-11", "gpt-6.2-sol": null}}}}
`shutdowns` holds only the entries that carried the field: null is the origin saying "no
shutdown", while a model listed without the field leaves the built-in table in force.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from pathlib import Path

from ..config import CONFIG_FOLDER_VARIABLES, config_folder

FILE_NAME = "models.json"
VERSION = 1
MAX_ORIGINS = 16
MAX_MODELS = 4096
MAX_ID_CHARS = 256
MAX_FILE_BYTES = 1024 * 1024   # 16 origins x 4096 ids of ~25 characters stay well below it
TEMP_PREFIX = ".models-tmp-"
FOLDER_MODE = 0o700


class Learned:
    """One origin's last model list. Immutable, compared by value (a plain class, not a
    dataclass: see table.Shutdown)."""

    __slots__ = ("origin", "seen", "ids", "shutdowns")
    origin: str
    seen: str
    ids: tuple[str, ...]
    shutdowns: Mapping[str, date | None]

    def __init__(self, origin: str, seen: str, ids: tuple[str, ...],
                 shutdowns: Mapping[str, date | None] | None = None):
        for name, value in (("origin", origin), ("seen", seen), ("ids", ids),
                            ("shutdowns", {} if shutdowns is None else shutdowns)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("a Learned list is immutable")

    def __delattr__(self, name):
        raise AttributeError("a Learned list is immutable")

    def _values(self) -> tuple:
        return (self.origin, self.seen, self.ids, self.shutdowns)

    def __eq__(self, other):
        return self._values() == other._values() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (f"Learned(origin={self.origin!r}, seen={self.seen!r}, ids={self.ids!r}, "
                f"shutdowns={self.shutdowns!r})")

    def says(self, model: str) -> tuple[bool, date | None]:
        """(whether the list dated this model, the date or None for "no shutdown")."""
        if model in self.shutdowns:
            return True, self.shutdowns[model]
        return False, None


def path(env: Mapping | None = None) -> Path:
    env = os.environ if env is None else env
    key = tuple(map(env.get, CONFIG_FOLDER_VARIABLES))  # what config_folder reads
    found = _paths.get(key)
    if found is None:  # building the Path was most of a call's lifecycle cost: once per setting
        found = _paths[key] = config_folder(env)[0] / FILE_NAME
    return found


_paths: dict = {}


def load(origin: str | None, env: Mapping | None = None) -> Learned | None:
    """This origin's last list, or None (no list yet, or the file is not usable)."""
    if not origin:
        return None
    entry = _read(path(env)).get(origin)
    if not isinstance(entry, dict):
        return None
    # Every call a reused client makes asks for its origin's list: the one built from this very
    # entry (the file unchanged, `_read` returns the same objects) is given again, not rebuilt
    # from thousands of ids each time.
    kept = _built.get(origin)
    if kept is not None and kept[0] is entry:
        return kept[1]
    try:
        ids = tuple(str(i) for i in entry.get("ids") or ())
        shutdowns = {str(k): _day(v) for k, v in (entry.get("shutdowns") or {}).items()}
        learned = Learned(origin, str(entry.get("seen", "")), ids, shutdowns)
    except (TypeError, ValueError, AttributeError):
        return None
    if len(_built) >= MAX_ORIGINS * 4:
        _built.clear()
    _built[origin] = (entry, learned)   # the entry is kept with it: its id is not reused
    return learned


_built: dict = {}   # origin -> (the file's entry it was built from, its Learned)


def record(origin: str | None, models: Iterable, env: Mapping | None = None,
           now: datetime | None = None) -> None:
    """Remember what `origin`'s GET /models answered (the raw `data` entries). Never raises."""
    if not origin:
        return
    ids: list[str] = []
    shutdowns: dict[str, str | None] = {}
    for entry in models:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        model = entry["id"]
        if len(model) > MAX_ID_CHARS or len(ids) >= MAX_MODELS:
            continue
        ids.append(model)
        if "shutdown_date" in entry:
            try:
                day = _day(entry["shutdown_date"])
            except (TypeError, ValueError):
                continue  # a value we cannot read says nothing
            shutdowns[model] = day.isoformat() if day else None
    moment = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = path(env)
    known = _read(target)
    same = known.get(origin)
    if isinstance(same, dict) and same.get("ids") == ids and same.get("shutdowns") == shutdowns \
            and str(same.get("seen", ""))[:10] == moment[:10]:
        return  # nothing new today: a `models` call does not pay for a write
    origins = {k: v for k, v in known.items() if k != origin and isinstance(v, dict)}
    origins[origin] = {"seen": moment, "ids": ids, "shutdowns": shutdowns}
    if len(origins) > MAX_ORIGINS:  # keep the most recently seen
        kept = sorted(origins, key=lambda k: str(origins[k].get("seen", "")), reverse=True)[:MAX_ORIGINS]
        origins = {k: origins[k] for k in kept}
    data = json.dumps({"version": VERSION, "origins": origins}, separators=(",", ":")).encode()
    if len(data) <= MAX_FILE_BYTES:
        _write(target, data)


def _day(value) -> date | None:
    """A `shutdown_date` as a date: "YYYY-MM-DD" (the spec), Unix seconds (some gateways), or
    None for null. Anything else raises ValueError or TypeError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not a date")
    if isinstance(value, int):
        return datetime.fromtimestamp(value, tz=timezone.utc).date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10]) if len(value) >= 10 else date.fromisoformat(value)
    raise TypeError(f"not a date: {type(value).__name__}")


_memo: dict = {}  # path -> ((mtime_ns, size, inode), origins): one parse per change, not per call


def _read(target: Path) -> dict:
    """The file's `origins`, or {} when it is missing or not usable."""
    try:
        st = os.stat(target)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = _memo.get(target)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if st.st_size > MAX_FILE_BYTES:
            return {}
        with open(target, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("version") != VERSION \
                or not isinstance(document.get("origins"), dict):
            return {}
        _memo[target] = (stamp, document["origins"])
        return document["origins"]
    except (OSError, ValueError, RecursionError):
        return {}


def _write(target: Path, data: bytes) -> None:
    import tempfile

    temp = None
    try:
        target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)  # created 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # No fsync: a reader sees the old file or the new one (os.replace), and the file a power
        # loss could leave empty is a cache, ignored when unreadable; an fsync cost a `models`
        # call tens of milliseconds on a busy disk.
        os.replace(temp, target)
        temp = None
    except OSError:
        pass  # an optimization that could not be saved: the next list-models tries again
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
