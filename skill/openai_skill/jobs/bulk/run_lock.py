"""One run per output: an exclusive lock on `OUT.partial/lock` for as long as a run writes OUT.

Two runs on the same `--out` would both append to the one spool and journal, and the first to
finish would assemble (and delete) a checkpoint the other still writes: rows holding another
text's vector, torn lines. So a run takes a non-blocking `flock` on the lock file first, and a
second run is refused at once, naming the process that holds it (its pid is written in the
file). The kernel drops the lock when its holder dies, even by SIGKILL, so a killed run never
leaves a stale lock: the next run resumes.

The lock file lives inside the checkpoint folder, which the finishing run removes while it still
holds the lock. A run that opened the file just before that removal would then lock a file that
no longer has a name; after locking, the name is therefore checked to still lead to the locked
file, and the lock is taken again (on a new folder) when it does not.

The folder is opened and checked first (`private_folder.py`: ours, private, no links), and the
lock file is opened relative to it: a folder planted by another user is refused before a byte
is written into it.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

from ...errors import InputError
from .private_folder import CheckpointError, PrivateFolder

LOCK_FILE = "lock"
MAX_HOLDER_BYTES = 4096
_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class OutputBusyError(InputError):
    """Another run is writing the same output file."""

    kind = "output_busy"


class RunLock:
    """Held from `acquire` to `release`; `path` is the lock file, `files` the open folder."""

    def __init__(self, folder: Path, out: Path):
        self.folder, self.out = Path(folder), Path(out)
        self.path = self.folder / LOCK_FILE
        self._files: PrivateFolder | None = None
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        while True:
            files = PrivateFolder.open(self.folder)
            try:
                fd = files.open_file(LOCK_FILE, os.O_RDWR, create=True)
            except CheckpointError:
                gone = not files.still_named()
                files.close()
                if gone:
                    continue  # the run that held it finished and removed the folder: make a new one
                raise
            except BaseException:
                files.close()
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(fd)
                os.close(fd)
                files.close()
                if exc.errno in _BUSY:
                    raise self._busy(holder) from None
                raise InputError(f"cannot lock {self.path}: {exc.strerror}", field="out") from None
            if files.still_named() and _still_named(fd, self.path):
                break
            os.close(fd)  # the run that held it finished and removed the folder: lock the new one
            files.close()
        self._fd, self._files = fd, files
        _write_holder(fd)
        return self

    def release(self) -> None:
        """Let the next run in (closing the file releases the lock). A folder that holds
        nothing but the lock (a run refused before its first chunk) is removed first."""
        if self._fd is not None and self._files is not None:
            fd, self._fd = self._fd, None
            files, self._files = self._files, None
            try:
                # only when the lock named there is this one: a run that started on the folder as
                # the finished run removed its files has a lock file of its own there
                if files.names() == [LOCK_FILE] and _same(files.lstat(LOCK_FILE), os.fstat(fd)):
                    files.remove()
            except OSError:
                pass  # already gone (the finished run removed it)
            finally:
                os.close(fd)
                files.close()

    @property
    def files(self) -> PrivateFolder:
        """The open folder, while the lock is held."""
        if self._files is None:
            raise InputError(f"{self.folder}: the lock of this output is not held", field="out")
        return self._files

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _busy(self, holder: dict) -> OutputBusyError:
        pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
        started = holder.get("started") if isinstance(holder.get("started"), str) else None
        # The holder writes its pid just after it locks: a run refused in between reads nothing.
        about = [f"pid {pid}" if pid is not None else "its pid not written yet"]
        about += [f"started {started}"] if started else []
        who = f"another openai-skill run ({', '.join(about)})"
        stop = f"`kill {pid}`" if pid is not None else "stop it"
        message = (f"--out {self.out}: {who} is writing this output now; wait for it to finish, or "
                   f"{stop} and run again (the rerun resumes where it stopped)")
        return OutputBusyError(message, field="out", expected="an output no other run is writing",
                               given=str(self.out), holder_pid=pid,
                               problems=[{"path": "out", "expected": "an output no other run is writing",
                                          "given": f"{self.out} (locked by {self.path})", "message": message}])


def _still_named(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return _same(named, os.fstat(fd))


def _same(one: os.stat_result, other: os.stat_result) -> bool:
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def _write_holder(fd: int) -> None:
    data = json.dumps({"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_holder(fd: int) -> dict:
    try:
        found = json.loads(os.pread(fd, MAX_HOLDER_BYTES, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
