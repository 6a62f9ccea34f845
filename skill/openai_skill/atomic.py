"""Replacing a small file whole, so a reader sees the old file or the new one, never half of one.

The one atomic write, shared by the layers that keep files in the config folder (the vault's
files and the keychain record in `secrets/`, the spend caps in `spend/`): a temp file in the
same folder (created exclusively, never through a symlink, with the final file's mode),
written, flushed and fsynced, `os.replace`d over the target, then the folder fsynced so the
rename itself survives a power cut. Any OS failure leaves the target as it was, removes the
temp file and goes to the caller as OSError: each caller turns it into its own error.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600


def fsync_folder(folder: Path) -> None:
    """Make a rename (or a create, or a delete) in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = FILE_MODE, temp_prefix: str | None = None) -> None:
    """Replace `path` with `data`: temp file (`mode`, default 0600) in the same folder, flush +
    fsync, os.replace, fsync the folder. `temp_prefix` names the temp file (default
    `.<name>.`), for a folder whose owner sweeps its leftovers by that prefix. OSError (the
    target unchanged, the temp file removed) goes to the caller."""
    prefix = f".{path.name}." if temp_prefix is None else temp_prefix
    temp = path.parent / f"{prefix}{os.urandom(6).hex()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_folder(path.parent)


__all__ = ["atomic_write", "fsync_folder", "FILE_MODE"]
