"""Where the API key comes from: key sources behind one seam, and the one place their order lives.

A key source answers for an origin (`https://api.openai.com`) with a `Secret`, or says it has
nothing (None). A source that has a key but may not send it to that origin raises
CredentialsError saying how to allow it: it never falls through to a weaker source.

    KeyChain.default(env, explicit)  ->  explicit > OPENAI_API_KEY > vault > OS keychain

The explicit argument and the environment are the caller's choice and go wherever the request
goes. The vault and the keychain are bound to the origins their entry records (`vault
allow-origin`). The names (the environment variable, the vault entry, the key prefix) come
from skill.yaml's `credential`.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..errors import CredentialsError
from ..manifest import load_manifest
from ..secret import Secret
from .binding import KEYCHAIN, allow_hint, check_origin  # noqa: F401  (allow_hint: for the CLI)


class KeySource(Protocol):
    """One place a key may come from."""

    name: str  # shown by `vault list` and in errors: "OPENAI_API_KEY", "the vault", ...

    def key_for(self, origin: str) -> Secret | None:
        """The key to send to `origin`, or None when this source has none."""


def credential() -> dict:
    """skill.yaml's `credential`: name (the vault entry), env, prefix, label, description."""
    return load_manifest().credential


def looks_like_api_key(secret: str) -> bool:
    """The shape of an OpenAI key (sk-, sk-proj-, sk-svcacct-, ...): the prefix, then a long token."""
    return re.fullmatch(re.escape(credential()["prefix"]) + r"[A-Za-z0-9_-]{20,}", secret) is not None


class ExplicitKey:
    """The `api_key` a Python caller passed: goes wherever the caller's request goes."""

    name = "the api_key argument"

    def __init__(self, value: str | None):
        self._secret = None if not value else Secret(value, self.name)

    def key_for(self, origin: str) -> Secret | None:
        return self._secret


class EnvKey:
    """OPENAI_API_KEY (skill.yaml `credential.env`), read when asked: goes wherever the request goes."""

    def __init__(self, env: Mapping[str, str], variable: str):
        self.env, self.name = env, variable
        self._cached: tuple[str, Secret] | None = None

    def key_for(self, origin: str) -> Secret | None:
        value = self.env.get(self.name)
        if not value:
            return None
        cached = self._cached
        if cached is None or cached[0] != value:  # one Secret per value: checked and remembered once
            cached = self._cached = (value, Secret(value, self.name))
        return cached[1]


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


class VaultKey:
    """The vault entry (skill.yaml `credential.name`), bound to the origins it records.

    With `cache=True` (a long-lived server), the entry is read once and again only when the
    vault on disk changed (another process ran `setup` or `vault rotate`): a passphrase vault's
    scrypt runs once, not per call. Without it, every lookup reads the vault (a CLI call looks
    once anyway)."""

    name = "the vault"

    def __init__(self, env: Mapping[str, str], entry: str, *, cache: bool = False, store=None):
        self.env, self.entry, self.cache = env, entry, cache
        self.store = store  # a VaultStore already used (`vault list`): its passphrase is not asked twice
        self._lock = threading.Lock()
        self._cached: tuple | None = None  # (stamp, (Secret, origins) or None)
        self.opens = 0  # how many times the vault was read (tests and the benchmark read it)
        _vault_sources.add(self)

    def key_for(self, origin: str) -> Secret | None:
        found = self._read()
        if found is None:
            return None
        secret, origins = found
        check_origin("the vault", self.entry, origins, origin)
        return secret

    def origins(self) -> tuple[str, ...] | None:
        found = self._read()
        return None if found is None else found[1]

    def _read(self):
        from .disk import Paths  # on use: the environment's key never pays for the vault
        from .store import read_entry

        if not self.cache:
            return self._load(read_entry)
        stamp = _stamp(Paths.from_env(self.env))
        with self._lock:
            if self._cached is not None and self._cached[0] == stamp:
                return self._cached[1]
            found = self._load(read_entry)
            self._cached = (stamp, found)
            return found

    def _load(self, read_entry):
        self.opens += 1
        entry = read_entry(self.entry, self.env, store=self.store)
        if entry is None:
            return None
        secret = Secret(entry.value, f"the vault entry {self.entry!r}", bound=True, ca_bundle=entry.ca_bundle)
        return secret, entry.origins


class PendingKey:
    """A key about to be stored in the vault, sent once to check it (`setup --verify`, the pages'
    check): sent the way the stored key will be, as a bound key (tls.py: certifi's bundle and
    the entry's CA bundle, never the environment's), so checking it cannot leak it either."""

    name = "the key being stored"

    def __init__(self, value: str, ca_bundle: str | None = None):
        self._secret = Secret(value, self.name, bound=True, ca_bundle=ca_bundle)

    def key_for(self, origin: str) -> Secret | None:
        return self._secret


_vault_sources: weakref.WeakSet[VaultKey] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A thread may have held a source's lock at the fork (reading a passphrase vault takes a
    # second of scrypt); that thread does not exist in the child, so the lock would never be
    # released there and the child's first key lookup would hang.
    for source in list(_vault_sources):
        source._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class KeychainOnUse:
    """The OS keychain source (`keychain.KeychainKey`), its module loaded at the first lookup:
    most calls are answered before it (OPENAI_API_KEY), and the keychain module with the record
    and lock helpers it imports was ~0.6 ms of every CLI start."""

    name = KEYCHAIN

    def __init__(self, env: Mapping[str, str], entry: str):
        self.env, self.entry = env, entry
        self._source: KeySource | None = None

    def key_for(self, origin: str) -> Secret | None:
        if self._source is None:
            from .keychain import KeychainKey

            self._source = KeychainKey(self.env, self.entry)
        return self._source.key_for(origin)


class KeyChain:
    """Key sources in order: the first that answers wins; none answering is one error that
    names every fix."""

    def __init__(self, sources: Sequence[KeySource]):
        self.sources = tuple(sources)

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None, explicit: str | None = None, *,
                cache_vault: bool = False, vault_store=None) -> KeyChain:
        """THE order, in one place: explicit > OPENAI_API_KEY > vault > OS keychain."""
        env = os.environ if env is None else env
        spec = credential()
        return cls([ExplicitKey(explicit), EnvKey(env, spec["env"]),
                    VaultKey(env, spec["name"], cache=cache_vault, store=vault_store),
                    KeychainOnUse(env, spec["name"])])

    def key_for(self, origin: str) -> Secret:
        for source in self.sources:
            secret = source.key_for(origin)
            if secret is not None:
                return secret
        raise missing_key_error()

    def answering(self, origin: str) -> str | None:
        """The name of the source that would answer for `origin` (None: none would)."""
        return self.consult(origin)[0]

    def consult(self, origin: str) -> tuple[str | None, CredentialsError | None]:
        """(the source that would answer for `origin`, the error it would answer with or None).

        A source that raises answers too: the chain stops at it (a key bound elsewhere, a vault
        that does not open, a locked keychain) and never falls through to a weaker source."""
        for source in self.sources:
            try:
                if source.key_for(origin) is not None:
                    return source.name, None
            except CredentialsError as exc:
                return source.name, exc
        return None, None


def missing_key_error() -> CredentialsError:
    spec = credential()
    return CredentialsError(
        f"no OpenAI API key found: set {spec['env']}={spec['prefix']}... in the environment, "
        f"or store one once, kept encrypted in the vault: `openai-skill setup` in a terminal, or, in an MCP "
        f"client, the setup_integration tool (it opens a local page for the key; never paste a key into a chat)")


__all__ = ["KeySource", "KeyChain", "ExplicitKey", "EnvKey", "VaultKey", "PendingKey", "credential",
           "looks_like_api_key",
           "check_origin", "allow_hint", "missing_key_error"]
