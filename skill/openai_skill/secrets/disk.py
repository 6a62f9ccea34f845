"""The vault folder's files: where they are, reading them defensively, replacing them atomically.

Every read opens without blocking and checks, on the opened descriptor, that it got a regular
file of sane size: a vault, key or counter that is a FIFO, a device (a symlink to /dev/zero)
or a folder is refused instead of hanging or filling memory. Every write is
`atomic.atomic_write` (a 0600 temp file in the same folder, flushed and fsynced, then
os.replace'd over the target, then the folder fsynced), so a reader sees the old file or the
new one, never half of one. Any OS failure (read-only folder, full disk, quota) becomes a
VaultError and leaves the target untouched.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from collections.abc import Mapping

from ..atomic import atomic_write as _atomic_write
from ..atomic import fsync_folder
from ..config import ENV_HOME, config_folder  # noqa: F401  (ENV_HOME: named here for the store)
from ..errors import VaultError


VAULT_NAME = "vault"
KEY_NAME = "vault.key"
PENDING_KEY_NAME = "vault.key.new"   # a key-file rotation in flight (see master_key.MasterKeys)
LOCK_NAME = "vault.lock"
GENERATION_NAME = "vault.generation"
TEMP_PREFIX = ".vault-tmp-"

FOLDER_MODE = 0o700
FILE_MODE = 0o600
MAX_SMALL_FILE = 4096   # a key file or the counter: one short line


class Paths:
    """The vault folder and the files in it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.vault = folder / VAULT_NAME
        self.key = folder / KEY_NAME
        self.pending_key = folder / PENDING_KEY_NAME
        self.lock = folder / LOCK_NAME
        self.generation = folder / GENERATION_NAME

    @classmethod
    def from_env(cls, env: Mapping) -> Paths:
        return cls(config_folder(env)[0])


def read_file(path: Path, max_size: int, what: str) -> bytes | None:
    """The bytes of a regular file of at most `max_size` bytes, or None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VaultError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise VaultError(f"{what} {path} is not a regular file ({_kind(st.st_mode)}); refusing to read it")
        if st.st_size > max_size:
            raise VaultError(f"{what} {path} is larger than {max_size} bytes; refusing to read it")
        chunks, size = [], 0
        while size <= max_size:  # the file may grow while we read: never more than the cap
            chunk = os.read(fd, max_size + 1 - size)  # pragma: no mutate (one byte past the cap is enough)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_size:
            raise VaultError(f"{what} {path} is larger than {max_size} bytes; refusing to read it")
        return b"".join(chunks)
    except OSError as exc:
        raise VaultError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def may_exist(path: Path) -> bool:
    """False only when `path` is certainly absent; an unreadable folder is left to the read
    that reports it (Path.exists() raises PermissionError there)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def peek(path: Path, size: int) -> bytes:
    """Up to `size` first bytes of a regular file; b"" for anything else (the real read reports)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        return os.read(fd, size) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def atomic_write(path: Path, data: bytes) -> None:
    """`atomic.atomic_write` (temp file 0600 in the same folder, flush + fsync, os.replace, fsync
    the folder), its temp file named for the writers' sweep (`TEMP_PREFIX`).

    Raises VaultError (the target unchanged, the temp file removed) on any OS failure.
    """
    try:
        _atomic_write(path, data, mode=FILE_MODE, temp_prefix=TEMP_PREFIX)
    except OSError as exc:
        raise VaultError(f"cannot write {path}: {exc.strerror}; it was left as it was") from None


def replace(source: Path, target: Path) -> None:
    """os.replace + fsync of the folder, as a VaultError on failure."""
    try:
        os.replace(source, target)
        fsync_folder(target.parent)
    except OSError as exc:
        raise VaultError(f"cannot rename {source} to {target}: {exc.strerror}") from None


def remove(path: Path) -> None:
    """Delete `path` if it exists, as a VaultError on failure."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise VaultError(f"cannot delete {path}: {exc.strerror}") from None


def prepare_folder(folder: Path) -> None:
    """Create the folder 0700 (or tighten it to 0700)."""
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
            os.chmod(folder, FOLDER_MODE)
    except OSError as exc:
        raise VaultError(f"cannot create the vault folder {folder}: {exc.strerror}") from None
