"""The checkpoint of a bulk run: finished chunks survive a kill, so a rerun pays only for the rest.

Beside the output file `OUT` lives the folder `OUT.partial/` with two files:

    spool     the finished chunks' output bytes, appended in the order they finished
    journal   line 1: the run's header (JSON); then one JSON line per finished chunk:
              {"chunk": n, "first": ordinal, "count": texts, "offset": o, "length": l, "width": w}

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
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from ...errors import InputError
from .run_lock import LOCK_FILE, RunLock

FORMAT = "openai-skill-embed-checkpoint"
VERSION = 1
SUFFIX = ".partial"
JOURNAL = "journal"
SPOOL = "spool"
COPY_BYTES = 1024 * 1024
KEEP = ("stdin",)     # files of the run that are not chunks (job.STDIN_SPOOL)


def folder_for(out: Path) -> Path:
    return out.with_name(out.name + SUFFIX)


def lock_output(out: Path) -> RunLock:
    """Hold the lock of `out`'s checkpoint folder (made if missing); OutputBusyError if another
    run holds it."""
    out = Path(out)
    return RunLock(folder_for(out), out).acquire()


class Checkpoint:
    """Open (or resume) the checkpoint for `out`; `header` is a JSON-able dict.

    `restart` discards an unfinished run's chunks. The folder's lock is taken first (or
    `lock`, already held, is used): OutputBusyError (exit 2) while another run writes `out`.
    `close()` releases it.
    """

    def __init__(self, out: Path, header: dict, *, restart: bool = False, lock: RunLock | None = None):
        self.out = Path(out)
        self.folder = folder_for(self.out)
        self.header = {"format": FORMAT, "version": VERSION, **header}
        self.records: dict[int, dict] = {}
        self._lock = threading.Lock()
        self._journal: BinaryIO | None = None
        self._spool: BinaryIO | None = None
        # `lock`: taken earlier by the caller (before reading the input), else taken here
        self.run_lock = lock if lock is not None and lock.held else lock_output(self.out)
        try:
            self._open(restart)
        except BaseException:
            self.close()
            raise

    def _open(self, restart: bool) -> None:
        journal, spool = self.folder / JOURNAL, self.folder / SPOOL
        unfinished = journal.exists() and journal.stat().st_size > 0
        if restart:
            self.discard()
            unfinished = False
        if unfinished:
            self._load(journal, spool)
        else:
            _write_synced(journal, (json.dumps(self.header, sort_keys=True) + "\n").encode(), "wb")
            spool.write_bytes(b"")
        # Open for the checkpoint's life (every finished chunk appends to both); close() closes them.
        self._journal = open(journal, "ab")  # noqa: SIM115
        self._spool = open(spool, "r+b")  # noqa: SIM115
        self._spool.seek(0, os.SEEK_END)

    def discard(self) -> None:
        """Remove the chunks (spool, journal): never the lock (it stays held, and named), nor
        the run's spooled stdin (`KEEP`)."""
        self._close_files()
        self.records = {}
        for entry in self.folder.iterdir():
            if entry.name in (LOCK_FILE, *KEEP):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _load(self, journal: Path, spool: Path) -> None:
        raw = journal.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]  # a line without its newline was torn by a kill
        lines = complete.decode("utf-8").splitlines()
        try:
            found = json.loads(lines[0])
        except (ValueError, IndexError):
            found = None
        if found != json.loads(json.dumps(self.header, sort_keys=True)):
            raise InputError(
                f"{self.folder} holds the checkpoint of a different run (other input, model, "
                f"dimensions or format): delete it, or pass --restart, to start over",
                problems=[{"path": "checkpoint", "expected": "the same input and options",
                           "given": _diff(found, self.header), "message": "checkpoint mismatch"}])
        end = 0
        for line in lines[1:]:
            record = json.loads(line)
            self.records[record["chunk"]] = record
            end = max(end, record["offset"] + record["length"])
        if len(complete) != len(raw):
            _write_synced(journal, complete, "wb")
        with open(spool, "r+b") as handle:  # bytes no journal line points to belong to no chunk
            handle.truncate(end)
            os.fsync(handle.fileno())

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
        if self._journal is None or self._spool is None:
            raise InputError(f"{self.folder}: the checkpoint is closed; nothing more can be recorded")
        with self._lock:
            offset = self._spool.tell()
            self._spool.write(payload)
            self._spool.flush()
            os.fsync(self._spool.fileno())
            entry = {"chunk": chunk, "first": first, "count": count, "offset": offset, "length": len(payload)}
            if width is not None:
                entry["width"] = width
            self._journal.write((json.dumps(entry) + "\n").encode())
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self.records[chunk] = entry

    def assemble(self, chunks: int, prefix: bytes = b"") -> None:
        """Write `out` from chunks 0..chunks-1 in order, atomically; remove the checkpoint."""
        missing = [n for n in range(chunks) if n not in self.records]
        if missing:
            raise InputError(f"cannot assemble {self.out}: chunks {missing[:5]} are not finished")
        self._close_files()
        folder = self.out.parent
        # entered by the `with` below; made first so the except can remove it by name
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{self.out.name}.", suffix=".tmp",  # noqa: SIM115
                                             delete=False)
        try:
            with handle, open(self.folder / SPOOL, "rb") as spool:
                handle.write(prefix)
                for number in range(chunks):
                    record = self.records[number]
                    spool.seek(record["offset"])
                    left = record["length"]
                    while left:
                        piece = spool.read(min(left, COPY_BYTES))
                        if not piece:
                            raise InputError(f"{self.folder}: the spool is shorter than its journal")
                        handle.write(piece)
                        left -= len(piece)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, self.out)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        shutil.rmtree(self.folder, ignore_errors=True)  # still locked: no run can start on it now
        self.run_lock.release()

    def _close_files(self) -> None:
        for handle in (self._journal, self._spool):
            if handle is not None and not handle.closed:
                handle.close()

    def close(self) -> None:
        """Close the files and let the next run in (the checkpoint stays for it to resume)."""
        self._close_files()
        self.run_lock.release()


def _write_synced(path: Path, data: bytes, mode: str) -> None:
    with open(path, mode) as handle:
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
