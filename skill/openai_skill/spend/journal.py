"""The call log's hot path: one self-checking line appended per call, folded into the ledger later.

Every call (every surface, success or failure, priced or not, capped or not) is a row of the
ledger's `calls` table, written as one line appended to `spend.journal` beside the ledger: a
lock, an fstat and a stat, one `write` and an unlock on a file the process keeps open (O_APPEND,
0600), no SQLite (its import and a transaction cost a cold CLI call several ms). A call reserved
through the running totals (`totals.py`) is two lines: its reservation, then its settlement.
Whatever reads or writes the ledger first folds the journal into `calls` in its transaction
(`fold`), so readers and the caps see every call.

A line is `\\x1e` + JSON (ASCII, so no raw control byte) + `\\t` + its CRC-32 in hex + `\\n`. A line
whose CRC does not match (a write cut by SIGKILL) is skipped; a record that follows a torn one
starts at its own `\\x1e`, so it is still read.

Folding, crash-safe and without losing a concurrent append: under the ledger's write lock the
folder renames the journal aside (`spend.journal.<random>.fold`), takes the aside's lock (a writer
that opened the journal before the rename finishes its write first), inserts its records, and
records the aside's name in `journal_folded`, all in one transaction; after the commit it removes
the aside. A folder killed before its commit leaves the aside to the next folder; one killed
after it leaves a name the next folder knows is done. A writer that finds, once it holds the
lock, that its file is no longer the journal (renamed aside meanwhile) opens the new one, so a
line only ever lands in the file named `spend.journal` (the one the running totals count).

Settings (declared in skill.yaml's `environment`): OPENAI_SKILL_CALL_LOG=0 writes no log row
(a reservation is still recorded while a cap is set: the caps need it); OPENAI_SKILL_LOG_TEXT=1
stores prompt and output text too (masked for keys, capped); OPENAI_SKILL_CALL_LOG_DAYS keeps
rows that many days (default 90; open reservations are always kept).
"""

from __future__ import annotations

import binascii
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import InputError

JOURNAL_NAME = "spend.journal"
ASIDE_SUFFIX = ".fold"
ENV_LOG = "OPENAI_SKILL_CALL_LOG"
ENV_TEXT = "OPENAI_SKILL_LOG_TEXT"
ENV_DAYS = "OPENAI_SKILL_CALL_LOG_DAYS"
DEFAULT_DAYS = 90            # skill.yaml's description of OPENAI_SKILL_CALL_LOG_DAYS states it (a test checks)
FOLD_BYTES = 256 * 1024      # a writer whose append crosses a multiple of this folds the journal (~700 calls)
MAX_JOURNAL_BYTES = 64 * 1024 * 1024   # past this (the ledger cannot be written), rows are dropped, not piled up
MAX_TEXT_CHARS = 32 * 1024   # prompt and output text each, when text logging is on
MAX_LINE_BYTES = 1024 * 1024  # a longer line is not ours: skipped unread
NO_DEADLINE_HOLD = 3600.0    # a call without a deadline counts as crashed after an hour
LOCK_SECONDS = 10.0          # the most a writer or folder waits for the other's lock
START, SEP, END = b"\x1e", b"\t", b"\n"
FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
FILE_MODE = 0o600

# POSIX record locks belong to the process, not the thread: this lock keeps a writer thread and
# a folding thread of one process (an MCP server) apart, as the file lock does between processes.
_LOCK = threading.Lock()
_KEPT: tuple[str, int] | None = None   # the journal this process appends to: (its path, an open fd)


def _after_fork() -> None:
    """A forked child opens the journal afresh, and starts with the thread lock free (a thread
    of the parent may have held it at the fork: the child would wait LOCK_SECONDS each call)."""
    global _LOCK
    _LOCK = threading.Lock()
    _close_kept()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

# What a record may carry, and the type each column takes (anything else is dropped on folding).
NUMBERS = ("made_at", "reserved_usd", "settled_usd", "deadline_at", "latency_s")
# `call_id` names a call reserved through the running totals (`totals.py`); `reserve` marks its
# first line (the reservation), so the totals know which lines charge and which only settle.
INTEGERS = ("priced", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "images", "reserve")
TEXTS = ("surface", "action", "model", "status", "request_id", "error", "ref", "prompt_text", "output_text",
         "call_id")
COLUMNS = NUMBERS + INTEGERS + TEXTS


def journal_path(ledger: Path) -> Path:
    """The journal beside a ledger file."""
    return Path(ledger).with_name(JOURNAL_NAME)


def _switch(env: Mapping, name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name}: expected 1 or 0 (on or off), got {env.get(name)!r}", field=name,
                     expected="1 or 0", given=str(env.get(name)))


def enabled(env: Mapping) -> bool:
    """Whether calls are logged (OPENAI_SKILL_CALL_LOG, default on)."""
    return _switch(env, ENV_LOG, True)


def text_enabled(env: Mapping) -> bool:
    """Whether prompt and output text are logged (OPENAI_SKILL_LOG_TEXT, default off)."""
    return _switch(env, ENV_TEXT, False)


def retention_days(env: Mapping) -> int:
    """How many days rows are kept (OPENAI_SKILL_CALL_LOG_DAYS, an integer >= 1)."""
    raw = (env.get(ENV_DAYS) or "").strip()
    if not raw:
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days < 1:
        raise InputError(f"{ENV_DAYS}: expected a whole number of days >= 1 (default {DEFAULT_DAYS}), got {raw!r}",
                         field=ENV_DAYS, expected="an integer >= 1", given=raw)
    return days


# --- what a row holds besides the cost ---

def images_in(answer) -> int | None:
    """How many images an images answer carries (None for any other answer)."""
    items = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(items, list) and items and isinstance(items[0], dict) and ("b64_json" in items[0]
                                                                              or "url" in items[0]):
        return len(items)
    return None


def _masked(text: str) -> str:
    """Text as the log may keep it: keys (held ones and key-shaped tokens) masked, capped."""
    from ..redaction import redact_untrusted

    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + " [truncated]"
    return redact_untrusted(text)


def prompt_text(params) -> str | None:
    """The prompt of a call (chat messages as JSON, an image prompt, embeddings input)."""
    if not isinstance(params, dict):
        return None
    for name in ("messages", "prompt", "input"):
        if name in params:
            value = params[name]
            return _masked(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return None


def output_text(answer) -> str | None:
    """The text of an answer (chat choices' content, images' revised prompts); None for vectors."""
    if not isinstance(answer, dict):
        return None
    pieces = [choice.get("message", {}).get("content") for choice in answer.get("choices") or ()
              if isinstance(choice, dict) and isinstance(choice.get("message"), dict)]
    if images_in(answer):
        pieces += [item.get("revised_prompt") for item in answer["data"]]
    text = "\n".join(piece for piece in pieces if isinstance(piece, str))
    return _masked(text) if text else None


# --- writing: the hot path (no SQLite) ---

# Built once: `json.dumps` with any option builds an encoder per call (~1 us of the ~5 a record takes).
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def encode(record: Mapping) -> bytes:
    """START + ASCII JSON + SEP + CRC-32 in hex + END (one format: `%`, not four concatenations)."""
    body = _JSON.encode(record).encode("ascii")
    return b"\x1e%s\t%08x\n" % (body, binascii.crc32(body))


def _lockf(fd: int, command: int) -> None:
    """`os.lockf` over the whole file: it locks from the fd's offset, which is the end of the
    file once a kept fd has appended (not the range a folder locks), so from byte 0 again.
    (`fcntl.lockf` locks from 0 itself, but importing `fcntl` costs every cold call ~0.3 ms.)
    Writes are O_APPEND: the offset moves no byte of them."""
    os.lseek(fd, 0, os.SEEK_SET)
    os.lockf(fd, command, 0)


def lock_file(fd: int, deadline: float) -> bool:
    """Take the file's lock, waiting at most until `deadline`; whether it was taken (a journal
    writer or folder goes on without it, the running totals give up)."""
    while True:
        try:
            _lockf(fd, os.F_TLOCK)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)


def _open(path: str) -> int:
    try:
        return os.open(path, FLAGS, FILE_MODE)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        return os.open(path, FLAGS, FILE_MODE)


def _close_kept() -> None:
    global _KEPT
    kept, _KEPT = _KEPT, None
    if kept is not None:
        try:
            os.close(kept[1])
        except OSError:
            pass


def append(path: Path, record: Mapping) -> int | None:
    """Append one record; the journal's size after it (None when nothing was written: the
    folder cannot be written, or the journal is over its cap). Never raises for the file."""
    return append_line(path, encode(record))


def append_line(path: Path | str, line: bytes) -> int | None:
    """`append` for a record already encoded (the caller needs its length too).

    The journal stays open between calls (`_KEPT`): a reused client pays a lock, an fstat, a
    stat, a write and an unlock, not an open and a close too. Under the lock the fstat and the
    stat say whether the file is still the journal (a folder renames it aside, then waits for
    this lock to read it); if not, it is opened again. (A folder marking the files it read was
    1-3 us faster, but a folder killed before its mark left writers appending to an aside the
    running totals do not count: not worth a cap's guarantee.)"""
    global _KEPT
    name = os.fspath(path)
    deadline = time.monotonic() + LOCK_SECONDS
    if not _LOCK.acquire(timeout=LOCK_SECONDS):
        return None
    try:
        # Again each time a folder renamed the journal aside before our lock (a fold done), to the deadline.
        while time.monotonic() < deadline:
            kept = _KEPT
            if kept is None or kept[0] != name:
                _close_kept()
                kept = _KEPT = (name, _open(name))
            fd = kept[1]
            lock_file(fd, deadline)   # past the deadline, write anyway: a lost lock is rarer than a lost row
            try:
                mine = os.fstat(fd)
                if not _named(mine, name):
                    _close_kept()   # the lock goes with it
                    continue
                if mine.st_size >= MAX_JOURNAL_BYTES:
                    return None
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                return mine.st_size + written
            finally:
                if _KEPT is kept:
                    _lockf(fd, os.F_ULOCK)
        return None
    except OSError:
        _close_kept()   # whatever failed, the next call starts from a fresh open
        return None
    finally:
        _LOCK.release()


def _named(info: os.stat_result, name: str) -> bool:
    """Whether the file `info` describes is the one at `name` now."""
    try:
        return os.path.samestat(info, os.stat(name))
    except FileNotFoundError:
        return False


def crossed_fold_mark(size: int | None, added: int) -> bool:
    """Whether an append that left the journal at `size` crossed a multiple of FOLD_BYTES."""
    return size is not None and size // FOLD_BYTES != (size - added) // FOLD_BYTES


# --- reading: what a fold does (the caller holds the ledger's write lock) ---

def decode(line: bytes) -> dict | None:
    """The record of one line, or None when it is torn, altered or not a record."""
    data = unframe(line)
    return clean(data) if isinstance(data, dict) else None


def unframe(line: bytes) -> object:
    """The JSON value of one line whose CRC matches (the last record when a torn one precedes
    it), or None."""
    start = line.rfind(START)
    if start < 0:
        return None
    body, sep, crc = line[start + 1:].rstrip(END).rpartition(SEP)
    if not sep or len(crc) != 8:
        return None
    try:
        if int(crc, 16) != binascii.crc32(body):
            return None
        return json.loads(body)
    except ValueError:
        return None


def clean(data: dict) -> dict | None:
    """The record with only known columns of the right type; None without its required ones."""
    out: dict = {}
    for name, value in data.items():
        kind = _KINDS.get(name)
        # JSON decodes to exact types: `type(...) is` keeps booleans out of the numbers, as isinstance would not.
        if kind is float:
            if (type(value) is float and value == value) or type(value) is int:
                out[name] = float(value)
        elif kind is int:
            if type(value) is int:
                out[name] = value
        elif kind is str and type(value) is str:
            out[name] = value[:MAX_TEXT_CHARS + 100]
    if not all(name in out for name in ("made_at", "surface", "action", "status")):
        return None
    return out


_KINDS = {**dict.fromkeys(NUMBERS, float), **dict.fromkeys(INTEGERS, int), **dict.fromkeys(TEXTS, str)}


def records(path: Path) -> Iterator[dict]:
    """Every whole record of a journal file, in order (a torn or altered line is skipped)."""
    with open(path, "rb") as handle:
        yield from _records(handle)


def _records(handle) -> Iterator[dict]:
    while True:
        line = handle.readline(MAX_LINE_BYTES)
        if not line:
            return
        if not line.endswith(END):   # over the cap: skip to the end of that line
            while line and not line.endswith(END):
                line = handle.readline(MAX_LINE_BYTES)
            continue
        record = decode(line)
        if record is not None:
            yield record


def set_aside(path: Path) -> list[Path]:
    """Rename the journal aside for folding; every aside file waiting (ours, and any a killed
    folder left), oldest first. OSError other than "no journal" goes to the caller."""
    aside = path.with_name(f"{path.name}.{time.time_ns():020d}{os.urandom(4).hex()}{ASIDE_SUFFIX}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        pass
    prefix = path.name + "."
    return sorted(path.parent / name for name in os.listdir(path.parent)
                  if name.startswith(prefix) and name.endswith(ASIDE_SUFFIX))


def tail(path: Path, start: int, limit: int) -> tuple[list[int], bytes | None] | None:
    """The journal's identity ([dev, inode]) and its bytes from `start` (None when the file
    is shorter than `start` or holds more than `limit` past it); None when there is no journal.
    Read under this process's journal lock: POSIX record locks belong to the process, and
    closing any descriptor of the file drops them, a writer thread's included."""
    if not _LOCK.acquire(timeout=LOCK_SECONDS):
        raise TimeoutError(f"{path}: the journal's lock stayed taken for {LOCK_SECONDS:.0f} s")
    fd = -1
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        info = os.fstat(fd)
        size = info.st_size
        return [info.st_dev, info.st_ino], (os.pread(fd, size - start, start) if 0 <= size - start <= limit else None)
    except FileNotFoundError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
        _LOCK.release()


def read_aside(path: Path) -> list[dict]:
    """The records of an aside file, once every writer that opened it before the rename is done
    (a writer that locks it after us finds it is no longer the journal, and opens the new one)."""
    deadline = time.monotonic() + LOCK_SECONDS
    held = _LOCK.acquire(timeout=LOCK_SECONDS)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        lock_file(fd, deadline)
        with open(fd, "rb") as handle:   # read through the locked fd; closing it drops the lock
            return list(_records(handle))
    finally:
        if held:
            _LOCK.release()
