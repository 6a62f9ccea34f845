"""The checkpoint of a bulk run: finished chunks survive a kill, so a rerun pays only for the rest.

Beside the output file `OUT` lives the folder `OUT.partial/` with two files:

    spool     the finished chunks' output bytes, appended in the order they finished
    journal   line 1: the run's header (JSON, with its "mac"); then one JSON line per finished chunk:
              {"chunk": n, "first": ordinal, "count": texts, "offset": o, "length": l, "width": w,
               "mac": HMAC of those fields and the chunk's spool bytes}

A chunk is finished when its journal line is on disk: the spool bytes are written and
fsync'ed first, then the journal line (and fsync'ed). A kill between the two leaves spool
bytes that no line points to: they are cut off when the checkpoint is opened again, as is a
journal line without its newline. The header pins what makes chunk numbers mean the same
texts (the input file's identity, the model, dimensions, packing limits, output format);
a rerun with a different header is refused rather than mixing two runs' vectors.
When every chunk is in, `assemble` writes OUT atomically (temp file, fsync, rename) in
chunk order and removes the folder.

A run holds the folder's lock (`run_lock.py`) from before it reads the journal until after it
removed the folder: a second run on the same OUT is refused, never interleaved.

The folder is private (`private_folder.py`: 0700 and 0600, ours, no links; every file opened
relative to it without following links) and what it says is authenticated (`seal.py`): the
header line and every chunk's line carry a MAC under a key kept in the config folder, each
chunk's over its spool bytes too. A resumed run verifies all of them before it trusts any; a
journal that does not verify is refused (`--restart` starts over), never "repaired".
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import BinaryIO

from ...errors import InputError
from .private_folder import CheckpointError, PrivateFolder, refusal
from .run_lock import LOCK_FILE, RunLock
from .seal import Seal, load_key

FORMAT = "openai-skill-embed-checkpoint"
VERSION = 2           # pragma: no mutate (2: MACs on every line; a version-1 journal does not verify)
SUFFIX = ".partial"
JOURNAL = "journal"
SPOOL = "spool"
COPY_BYTES = 1024 * 1024  # pragma: no mutate (any piece size copies the same bytes)
MAX_LINE = 64 * 1024  # pragma: no mutate (a journal line of ours is a few hundred bytes)
KEEP = ("stdin",)     # files of the run that are not chunks (job.STDIN_SPOOL)
FIELDS = ("chunk", "first", "count", "offset", "length")


def folder_for(out: Path) -> Path:
    return out.with_name(out.name + SUFFIX)


def lock_output(out: Path) -> RunLock:
    """Hold the lock of `out`'s checkpoint folder (made if missing); OutputBusyError if another
    run holds it, CheckpointError if the folder is not private to this user."""
    out = Path(out)
    return RunLock(folder_for(out), out).acquire()


class Checkpoint:
    """Open (or resume) the checkpoint for `out`; `header` is a JSON-able dict.

    `restart` discards an unfinished run's chunks. The folder's lock is taken first (or
    `lock`, already held, is used): OutputBusyError (exit 2) while another run writes `out`.
    `key` (tests): the checkpoint key, else the config folder's. `close()` releases the lock
    it took (a lock it was given stays with the caller, who releases it).
    """

    def __init__(self, out: Path, header: dict, *, restart: bool = False, lock: RunLock | None = None,
                 key: bytes | None = None):
        self.out = Path(out)
        self.folder = folder_for(self.out)
        self.header = json.loads(json.dumps({"format": FORMAT, "version": VERSION, **header}))
        self.records: dict[int, dict] = {}
        self._lock = threading.Lock()
        self._journal: BinaryIO | None = None
        self._spool: BinaryIO | None = None
        # `lock`: taken earlier by the caller (before reading the input), else taken here
        self._owns_lock = lock is None or not lock.held
        self.run_lock: RunLock = lock if lock is not None and not self._owns_lock else lock_output(self.out)
        try:
            self.files: PrivateFolder = self.run_lock.files
            self._key = load_key() if key is None else key
            self._seal = Seal(self._key, self.out, self.header)
            self._open(restart)
        except BaseException:
            self.close()
            raise

    def _open(self, restart: bool) -> None:
        # restart: a new header, an empty spool (a journal without a whole header line is one too)
        unfinished = not restart and self.files.size(JOURNAL) > 0
        # Open for the checkpoint's life (every finished chunk appends to both); close() closes them.
        self._journal = self._open_file(JOURNAL)
        self._spool = self._open_file(SPOOL)
        end = self._load(self._journal, self._spool) if unfinished else None
        if end is None:  # nothing to resume (a journal without its header line holds no chunk)
            end = 0
            line = json.dumps({**self.header, "mac": self._seal.header()}) + "\n"
            _replace(self._journal, line.encode())
        self._spool.truncate(end)  # bytes no journal line points to belong to no chunk
        os.fsync(self._spool.fileno())
        self._spool.seek(end)
        self._journal.seek(0, os.SEEK_END)

    def _open_file(self, name: str) -> BinaryIO:
        fd = self.files.open_file(name, os.O_RDWR, create=True)
        try:
            return open(fd, "r+b")  # noqa: SIM115 (closed by close())
        except BaseException:  # pragma: no mutate (open() of a descriptor we hold does not fail)
            os.close(fd)  # pragma: no mutate
            raise  # pragma: no mutate

    def discard(self) -> None:
        """Remove the chunks (spool, journal): never the lock (it stays held, and named), nor
        the run's spooled stdin (`KEEP`)."""
        self._close_files()
        self.records = {}
        self.files.clear(keep=(LOCK_FILE, *KEEP))

    def _load(self, journal: BinaryIO, spool: BinaryIO) -> int | None:
        """Read and verify the journal (every line, every chunk's bytes); returns the spool's end
        (None: not even the header line was finished)."""
        found, complete, end = None, 0, 0   # (both files were opened just now: read from the start)
        for raw in iter(lambda: journal.readline(MAX_LINE + 1), b""):
            if not raw.endswith(b"\n"):
                if len(raw) > MAX_LINE:
                    raise self._unverified("a line is longer than any it writes")
                break             # a line without its newline was torn by a kill
            complete += len(raw)
            line = _json(raw)
            if found is None:
                found = line
                self._check_header(found)
                continue
            record = self._verified(line, spool)
            self.records[record["chunk"]] = record
            end = max(end, record["offset"] + record["length"])
        if found is None:
            return None
        if journal.tell() != complete:
            journal.truncate(complete)
            os.fsync(journal.fileno())
        return end

    def _check_header(self, found) -> None:
        mac = found.pop("mac", None) if isinstance(found, dict) else None
        if not isinstance(found, dict) or not Seal.same(mac, Seal(self._key, self.out, found).header()):
            raise self._unverified("its header line does not verify")
        if found != self.header:
            raise InputError(
                f"{self.folder} holds the checkpoint of a different run (other input, model, "
                f"dimensions or format): delete it, or pass --restart, to start over",
                problems=[{"path": "checkpoint", "expected": "the same input and options",
                           "given": _diff(found, self.header), "message": "checkpoint mismatch"}])

    def _verified(self, line, spool: BinaryIO) -> dict:
        """A chunk's journal line, once its MAC over its fields and its spool bytes holds."""
        mac = line.pop("mac", None) if isinstance(line, dict) else None
        if not (isinstance(line, dict) and set(FIELDS) <= set(line) <= {*FIELDS, "width"}
                and all(_count(line[name]) for name in line)):
            raise self._unverified("a chunk's line is not one it writes")
        digest = self._seal.chunk(line)
        position, left = line["offset"], line["length"]
        while left:
            piece = os.pread(spool.fileno(), min(left, COPY_BYTES), position)
            if not piece:
                raise self._unverified(f"the spool is shorter than chunk {line['chunk']} needs")
            digest.update(piece)
            position, left = position + len(piece), left - len(piece)
        if not Seal.same(mac, digest.hexdigest()):
            raise self._unverified(f"chunk {line['chunk']} does not verify")
        return line

    def _unverified(self, why: str) -> CheckpointError:
        return refusal(self.folder, f"its journal cannot be verified ({why}): this user's openai-skill did "
                                    "not write it for this output, or an older version did",
                       "pass --restart to start over, or remove it")

    def done(self, chunk: int, first: int, count: int) -> bool:
        """Whether `chunk` finished in an earlier run (and covers the same texts)."""
        record = self.records.get(chunk)
        if record is None:
            return False
        if (record["first"], record["count"]) != (first, count):
            raise InputError(f"{self.folder}: chunk {chunk} covered other texts in the earlier run; "
                             "delete the checkpoint, or pass --restart, to start over")
        return True

    def record(self, chunk: int, first: int, count: int, payload: bytes, width: int | None = None) -> None:
        """Persist one finished chunk (safe to call from several threads); `width` (bytes per
        vector) is kept so a fully resumed run still knows its dimensions."""
        if self._journal is None or self._spool is None or self._journal.closed:
            raise InputError(f"{self.folder}: the checkpoint is closed; nothing more can be recorded")
        with self._lock:
            offset = self._spool.tell()
            self._spool.write(payload)
            self._spool.flush()
            os.fsync(self._spool.fileno())
            entry = {"chunk": chunk, "first": first, "count": count, "offset": offset, "length": len(payload)}
            if width is not None:
                entry["width"] = width
            mac = self._seal.chunk(entry)
            mac.update(payload)
            self._journal.write((json.dumps({**entry, "mac": mac.hexdigest()}) + "\n").encode())
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self.records[chunk] = entry

    def assemble(self, chunks: int, prefix: bytes = b"") -> None:
        """Write `out` from chunks 0..chunks-1 in order, atomically; remove the checkpoint."""
        import tempfile

        missing = [n for n in range(chunks) if n not in self.records]
        if missing:
            raise InputError(f"cannot assemble {self.out}: chunks {missing[:5]} are not finished")
        spool = self._spool
        if spool is None or spool.closed:
            raise InputError(f"{self.folder}: the checkpoint is closed; nothing can be assembled")
        folder = self.out.parent
        # entered by the `with` below; made first so the except can remove it by name
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{self.out.name}.", suffix=".tmp",  # noqa: SIM115
                                             delete=False)
        try:
            with handle:
                handle.write(prefix)
                for number in range(chunks):
                    record = self.records[number]
                    position, left = record["offset"], record["length"]
                    while left:
                        piece = os.pread(spool.fileno(), min(left, COPY_BYTES), position)
                        if not piece:
                            raise InputError(f"{self.folder}: the spool is shorter than its journal")
                        handle.write(piece)
                        position, left = position + len(piece), left - len(piece)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, self.out)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        self._close_files()
        self.files.remove()  # still locked: no run can start on it now
        self._release()

    def _close_files(self) -> None:
        for handle in (self._journal, self._spool):
            if handle is not None and not handle.closed:
                handle.close()

    def close(self) -> None:
        """Close the files and let the next run in (the checkpoint stays for it to resume)."""
        self._close_files()
        self._release()

    def _release(self) -> None:
        if self._owns_lock:
            self.run_lock.release()


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _replace(handle: BinaryIO, data: bytes) -> None:
    """Make the file `data`, synced (a new journal's header line)."""
    handle.seek(0)
    handle.truncate(0)
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _diff(found, wanted: dict) -> str:
    if not isinstance(found, dict):
        return "an unreadable checkpoint"
    changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
    return "a run with other " + ", ".join(changed)
