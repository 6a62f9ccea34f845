"""Authenticating a checkpoint: only this user's runs, for this output, wrote its journal and spool.

The key is 32 random bytes in the config folder (`checkpoint.key`, 0600), made once, never in
the checkpoint folder and never printed. Each run derives its own key from it, the output's
absolute path and the run's header (input, model, dimensions, packing, format): a journal
copied from another output or another run does not verify. The header line carries a MAC;
each chunk's journal line carries a MAC over its fields (chunk, texts, offset and length in
the spool) and that chunk's spool bytes. A resumed run checks every one before it trusts any.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

from .private_folder import CheckpointError

KEY_FILE = "checkpoint.key"
KEY_BYTES = 32
KEY_MODE = 0o600
CONTEXT = b"openai-skill embed checkpoint\n"


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_path(folder: Path | None = None) -> Path:
    from ...config import config_folder

    return (config_folder()[0] if folder is None else Path(folder)) / KEY_FILE


def load_key(path: Path | None = None) -> bytes:
    """This user's checkpoint key, made (0600, atomically, once) when there is none yet."""
    path = key_path() if path is None else Path(path)
    key = _read(path)
    if key is None:
        _create(path)
        key = _read(path)
    if key is None:  # pragma: no cover (made just now; deleted in between by someone else)
        raise CheckpointError(f"{path}: the checkpoint key vanished while it was made; run again")  # pragma: no mutate
    return key


def _bad_key(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path}: {problem}; the checkpoint key cannot be trusted. Remove it (a new one "
                           "is made; unfinished bulk runs then start over) and run again", field="key")


def _read(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):   # none yet (making it says what is wrong)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _bad_key(path, "is a symbolic link") from None
        raise CheckpointError(f"cannot read the checkpoint key {path}: {exc.strerror}", field="key") from None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise _bad_key(path, "is not a regular file")
        if found.st_uid != os.geteuid():
            raise _bad_key(path, f"belongs to another user (uid {found.st_uid})")
        if found.st_mode & 0o077:
            raise _bad_key(path, f"is readable or writable by others (mode {stat.S_IMODE(found.st_mode):o})")
        key = os.read(fd, KEY_BYTES + 1)  # pragma: no mutate (one byte past the size is enough)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise _bad_key(path, f"holds {len(key)} bytes, not {KEY_BYTES}")
    return key


def _create(path: Path) -> None:
    """Write a new key to a temp file, then give it its name with link(): a key another run made
    first is never replaced (two runs racing end with one key)."""
    temp = path.with_name(f".{KEY_FILE}.{os.urandom(6).hex()}")  # pragma: no mutate (any unique name)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, KEY_MODE)
        try:
            os.write(fd, os.urandom(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    except OSError as exc:
        raise CheckpointError(f"cannot create the checkpoint key {path}: {exc.strerror}; set "
                              "OPENAI_SKILL_HOME to a folder you can write", field="key") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


class Seal:
    """The MACs of one run's checkpoint: bound to the key, the output and the run's header."""

    def __init__(self, key: bytes, out: Path, header: dict):
        self._key = hmac.new(key, CONTEXT + canonical({"out": str(Path(out).resolve()), "header": header}),
                             hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "Seal([REDACTED])"

    def header(self) -> str:
        return hmac.new(self._key, b"header", hashlib.sha256).hexdigest()

    def chunk(self, entry: dict):
        """A running MAC over `entry`'s fields: update() it with the chunk's bytes, then hexdigest()."""
        return hmac.new(self._key, b"chunk\n" + canonical(entry) + b"\n", hashlib.sha256)

    @staticmethod
    def same(mac: object, expected: str) -> bool:
        return isinstance(mac, str) and hmac.compare_digest(mac.encode(), expected.encode())
