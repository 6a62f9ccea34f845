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
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from pathlib import Path

from ...errors import InputError

LOCK_FILE = "lock"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
MAX_HOLDER_BYTES = 4096
_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class OutputBusyError(InputError):
    """Another run is writing the same output file."""

    kind = "output_busy"


class RunLock:
    """Held from `acquire` to `release`; `path` is the lock file."""

    def __init__(self, folder: Path, out: Path):
        self.folder, self.out = Path(folder), Path(out)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        while True:
            self.folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            fd = _open(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(fd)
                os.close(fd)
                if exc.errno in _BUSY:
                    raise self._busy(holder) from None
                raise InputError(f"cannot lock {self.path}: {exc.strerror}", field="out") from None
            if _still_named(fd, self.path):
                break
            os.close(fd)  # the run that held it finished and removed the folder: lock the new one
        self._fd = fd
        _write_holder(fd)
        return self

    def release(self) -> None:
        """Let the next run in (closing the file releases the lock). A folder that holds
        nothing but the lock (a run refused before its first chunk) is removed first."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if [entry.name for entry in self.folder.iterdir()] == [LOCK_FILE]:
                    self.path.unlink()
                    self.folder.rmdir()
            except OSError:
                pass  # already gone (the finished run removed it), or not ours to remove
            finally:
                os.close(fd)

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


def _open(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link; refusing to follow it (delete it)", field="out") from None
        raise InputError(f"cannot open the lock file {path}: {exc.strerror}", field="out") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path} is not a regular file; refusing to use it as a lock (delete it)", field="out")
    return fd


def _still_named(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


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
