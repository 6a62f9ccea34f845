"""Who may touch the vault when: writers hold an exclusive flock on vault.lock, readers a
shared one, so a reader never sees the vault, its key file and its counter from two
different writes (the cause of false "rolled back" and "wrong key" alarms).

The lock is a separate file (a lock on the vault itself is lost when the vault is replaced),
opened with O_NOFOLLOW (a symlink planted there is refused, never followed) and checked to be
a regular file. Writers never prompt while they hold it, so a reader waits at most for one
write (milliseconds; one or two scrypt runs for a passphrase vault).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time

from ..errors import VaultError
from .disk import FILE_MODE, Paths

LOCK_TIMEOUT = 10.0     # seconds to wait for a writer before giving up
LOCK_POLL = 0.005
_BUSY = (errno.EAGAIN, errno.EACCES)
_CANNOT_CREATE = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def exclusive(paths: Paths):
    """Hold the writers' lock (the folder must exist); VaultError if it cannot be had."""
    import fcntl

    fd = _open_lock(paths, os.O_RDWR | os.O_CREAT)
    try:
        _acquire(fd, fcntl.LOCK_EX, paths, "another openai-skill is writing the vault")
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def shared(paths: Paths):
    """Hold a readers' lock while the vault's files are read.

    Without a lock file (a vault copied in by hand) the reader creates it; when the folder is
    read-only it reads without a lock, which is safe because no writer can replace files
    there either.
    """
    import fcntl

    try:
        fd = _open_lock(paths, os.O_RDONLY, missing_ok=True)
        if fd is None:
            fd = _open_lock(paths, os.O_RDWR | os.O_CREAT, cannot_create_ok=True)
    except FileNotFoundError:  # the folder itself is gone: nothing to read consistently
        fd = None
    if fd is None:
        yield
        return
    try:
        _acquire(fd, fcntl.LOCK_SH, paths, "another openai-skill is still writing the vault")
        yield
    finally:
        os.close(fd)


def _open_lock(paths: Paths, flags: int, *, missing_ok: bool = False, cannot_create_ok: bool = False):
    try:
        fd = os.open(paths.lock, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, FILE_MODE)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VaultError(f"the lock file {paths.lock} is a symbolic link; refusing to follow it "
                             "(delete it: the next writer makes a new one)") from None
        if cannot_create_ok and exc.errno in _CANNOT_CREATE:
            return None
        raise VaultError(f"cannot open the lock file {paths.lock}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VaultError(f"the lock file {paths.lock} is not a regular file; refusing to use it")
    return fd


def _acquire(fd: int, kind: int, paths: Paths, busy: str) -> None:
    import fcntl

    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in _BUSY:
                raise VaultError(f"could not lock {paths.lock}: {exc.strerror}") from None
            if time.monotonic() > deadline:
                raise VaultError(f"could not lock {paths.lock} within {LOCK_TIMEOUT:g} s: {busy}; "
                                 "try again") from None
            time.sleep(LOCK_POLL)
