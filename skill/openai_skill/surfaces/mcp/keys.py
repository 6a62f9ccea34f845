"""The API key for a long-lived server: found once, reused for every call.

The order is the CLI's (`secrets.keys.resolve_api_key`: environment, then the vault). What
differs is the cost: opening the vault (a passphrase vault runs scrypt) happens once, and
again only when the vault on disk changed — another process ran `setup` or `vault rotate`,
which bumps the vault's generation counter and replaces the file.
"""

from __future__ import annotations

import os
import threading
from typing import Mapping


def _stamp(paths) -> tuple:
    """What changes whenever another process writes the vault: the generation file's text
    (`<vault id> <generation>`) and the vault file's identity (inode, size, mtime)."""
    try:
        generation = paths.generation.read_bytes()
    except OSError:
        generation = None
    try:
        st = os.stat(paths.vault)
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        identity = None
    return generation, identity


class ServerKey:
    """`get()` returns the key to use now; thread-safe (tool calls run concurrently)."""

    def __init__(self, env: Mapping | None = None):
        self.env = os.environ if env is None else env
        self._lock = threading.Lock()
        self._cached: tuple | None = None  # (stamp, key)
        self.opens = 0  # how many times the vault was opened (tests and the benchmark read it)

    def get(self) -> str:
        from ...secrets.keys import credential, resolve_api_key

        if self.env.get(credential()["env"]):
            return resolve_api_key(None, env=self.env)  # the environment wins, as in the CLI
        from ...secrets.files import Paths

        stamp = _stamp(Paths.from_env(self.env))
        with self._lock:
            if self._cached is not None and self._cached[0] == stamp:
                return self._cached[1]
            key = resolve_api_key(None, env=self.env)  # raises CredentialsError naming every fix
            self.opens += 1
            self._cached = (stamp, key)
            return key
