"""The checkpoint folder `OUT.partial/` is private: 0700, its files 0600, every one of them ours.

An output may sit in a folder other users can write (a shared project folder, /tmp). Another
user could create `OUT.partial/` first, holding a `spool` that is a symbolic link to the
victim's vault (the run would overwrite the vault), or a journal and spool of their own (the
run would "resume" their vectors). So the folder is opened once, without following a link, and
checked on the open descriptor: a folder owned by someone else, writable by others, or holding
anything but plain files of ours with one name each is refused, and nothing in it is touched.
A folder of our own with looser modes (an older version left its files 0644) is tightened to
0700 / 0600. Every file in it is then opened relative to that descriptor, never following a
link, so a folder or file swapped after the check is not the one written. What the journal
and the spool say is authenticated separately (`seal.py`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ...errors import InputError

FOLDER_MODE = 0o700
FILE_MODE = 0o600
OTHERS_WRITE = 0o022          # group or others may write: files could have been planted
ATTEMPTS = 100                # pragma: no mutate (to open a folder a finishing run removes as it is made)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class CheckpointError(InputError):
    """A checkpoint folder (or its key) that may not be used: not ours, not private, holding a
    link, or a journal that does not authenticate. Nothing in it was used or changed."""

    kind = "checkpoint_refused"


def refusal(path: Path, problem: str, fix: str) -> CheckpointError:
    message = f"{path}: {problem}; nothing in it was used; {fix}"
    return CheckpointError(message, field="out", problems=[
        {"path": "out", "expected": "a private checkpoint folder written by this user's runs",
         "given": f"{path} ({problem})", "message": message}])


def _mine() -> int:
    return os.geteuid()


class PrivateFolder:
    """The open folder (`fd`) at `path`; its files are opened relative to it. `close()` once."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def open(cls, path: Path) -> PrivateFolder:
        """Make `path` 0700 (and its parents) if missing; else check it (see the module)."""
        path = Path(path)
        fd = cls._made(path)
        folder = cls(path, fd)
        try:
            folder._check()
        except OSError as exc:
            folder.close()
            raise cls._cannot(path, "check", exc) from None
        except BaseException:
            folder.close()
            raise
        return folder

    @classmethod
    def _made(cls, path: Path) -> int:
        """The folder's descriptor, made first if missing (without following a link)."""
        for _ in range(ATTEMPTS):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:   # (a file where a folder should be is a FileExistsError too)
                raise cls._cannot(path, "create", exc) from None
            try:
                os.mkdir(path, FOLDER_MODE)
            except FileExistsError:
                pass
            except OSError as exc:
                raise cls._cannot(path, "create", exc) from None
            try:
                return os.open(path, _DIR_FLAGS)
            except FileNotFoundError:
                continue          # removed just now, by a run finishing on it: make it again
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise refusal(path, "is a symbolic link or not a folder", cls.fix(path)) from None
                raise cls._cannot(path, "open", exc) from None
        raise CheckpointError(f"cannot open the checkpoint folder {path}: it was removed {ATTEMPTS} times "
                              "as it was made; run again", field="out")

    @staticmethod
    def fix(path: Path) -> str:
        return f"remove it (rm -r '{path}') if it is yours, or pick another --out"

    @staticmethod
    def _cannot(path: Path, verb: str, exc: OSError) -> CheckpointError:
        return CheckpointError(f"cannot {verb} the checkpoint folder {path}: {exc.strerror}", field="out")

    def _check(self) -> None:
        """Refuse before changing anything; then tighten what is ours and merely loose."""
        found = os.fstat(self.fd)
        self._owned(self.path, found)
        if found.st_mode & OTHERS_WRITE:
            raise refusal(self.path, "is writable by other users, so its files may have been planted",
                          self.fix(self.path))
        loose = []
        for name in self.names():
            try:
                entry = self.lstat(name)
            except FileNotFoundError:
                continue   # removed meanwhile (a run of ours finishing): nothing to check
            where = self.path / name
            if stat.S_ISLNK(entry.st_mode):
                raise refusal(where, "is a symbolic link", self.fix(self.path))
            if not stat.S_ISREG(entry.st_mode):
                raise refusal(where, "is not a regular file", self.fix(self.path))
            self._owned(where, entry)
            if entry.st_nlink > 1:
                raise refusal(where, f"has {entry.st_nlink} names (a hard link)", self.fix(self.path))
            if stat.S_IMODE(entry.st_mode) != FILE_MODE:
                loose.append(name)
        if stat.S_IMODE(found.st_mode) != FOLDER_MODE:
            os.fchmod(self.fd, FOLDER_MODE)
        for name in loose:
            fd = self.open_file(name, os.O_RDONLY, create=False)
            try:
                os.fchmod(fd, FILE_MODE)
            finally:
                os.close(fd)

    def _owned(self, where: Path, found: os.stat_result) -> None:
        if found.st_uid != _mine():
            raise refusal(where, f"belongs to another user (uid {found.st_uid})", self.fix(self.path))

    def names(self) -> list[str]:
        return os.listdir(self.fd)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def size(self, name: str) -> int:
        """The size of file `name`, 0 when it is missing."""
        try:
            return self.lstat(name).st_size
        except FileNotFoundError:
            return 0  # pragma: no mutate (1: an empty journal is read as one without a header: the same)

    def open_file(self, name: str, flags: int, *, create: bool) -> int:
        """A descriptor for the regular file `name` of ours (made 0600 with `create`)."""
        where = self.path / name
        try:
            fd = os.open(name, flags | _FILE_FLAGS | (os.O_CREAT if create else 0), FILE_MODE, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise refusal(where, "is a symbolic link", self.fix(self.path)) from None
            raise CheckpointError(f"cannot open {where}: {exc.strerror}", field="out") from None
        found = os.fstat(fd)
        try:
            if not stat.S_ISREG(found.st_mode):
                raise refusal(where, "is not a regular file", self.fix(self.path))
            self._owned(where, found)
            if found.st_nlink > 1:   # (0: removed just now by a finishing run; the lock retries)
                raise refusal(where, f"has {found.st_nlink} names (a hard link)", self.fix(self.path))
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def unlink(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CheckpointError(f"cannot delete {self.path / name}: {exc.strerror}", field="out") from None

    def clear(self, keep: tuple[str, ...] = ()) -> None:
        """Delete every file but those named in `keep`."""
        for name in self.names():
            if name not in keep:
                self.unlink(name)

    def remove(self) -> None:
        """Delete every file and the folder itself (best effort: what is gone is gone)."""
        try:
            self.clear()
            os.rmdir(self.path)
        except (OSError, CheckpointError):
            pass

    def still_named(self) -> bool:
        """Whether `path` still leads to this folder (a finishing run may have removed it)."""
        try:
            named = os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        mine = os.fstat(self.fd)
        return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)
