"""The vault in one folder: open it, look an entry up, store, remove, rotate.

Readers hold the shared lock while they read the counter, the vault and the key file (in
that order); writers hold the exclusive lock, open and fully verify the current vault (a
vault that fails to open is never written over), apply the change, replace the vault, then
the counter. Files and atomic writes: `disk.py`; locks: `locking.py`; the counter:
`rollback.py`; master keys and prompts: `master_key.py`; rotation: `rotation.py`.
`read_entry` is what the key source (`sources.VaultKey`) reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import NamedTuple

from ..errors import InputError, VaultError
from ..redaction import remember
from . import disk, locking, rollback
from .disk import ENV_HOME, Paths  # noqa: F401  (re-exported: the vault folder's layout)
from .master_key import ENV_KEY, MasterKeys
from .names import CA_BUNDLE_SUFFIX, check_name
from ..config import DEFAULT_ORIGIN
from ..urls import origin_of
from .vault_format import MAX_FILE_SIZE, VERSION, Vault, VaultAuthError, VaultFile, VaultFormatError, parse


HEADER_PEEK = 256   # bytes: the version, id and master lines
# An entry's CA bundle (PEM, `setup --ca-bundle`) is kept beside it, as the entry `<name>#ca-bundle`:
# encrypted and authenticated like the key; only `set_ca_bundle` writes it.
CA_SUFFIX = CA_BUNDLE_SUFFIX


class StoredEntry(NamedTuple):
    """What the key source reads: the value, the origins it may go to, the CA bundle (or None)."""

    value: str
    origins: tuple[str, ...]
    ca_bundle: str | None = None


def ca_entry(name: str) -> str:
    return check_name(name + CA_SUFFIX)


class VaultStore:
    """The vault in one folder, opened with keys from `env` (default: os.environ)."""

    def __init__(self, env: Mapping | None = None, *, interactive: bool | None = None,
                 getpass: Callable[[str], str] | None = None, kdf_log_n: int | None = None):
        self.env = os.environ if env is None else env
        self.paths = Paths.from_env(self.env)
        self.keys = MasterKeys(self.env, self.paths, interactive=interactive, getpass=getpass,
                               kdf_log_n=kdf_log_n)

    # ---- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return disk.may_exist(self.paths.vault)

    def open(self) -> Vault | None:
        """The authenticated vault, or None if there is none; never writes the vault."""
        if not disk.may_exist(self.paths.vault):
            return None  # reading creates nothing (not even the lock file) where there is no vault
        self._ask_ahead()
        with locking.shared(self.paths):
            counter = rollback.read_counter(self.paths)  # first: see rollback.py
            data = self._read_vault()
            if data is None:
                return None
            return self._open(data, counter)[0]

    def listed_names(self) -> frozenset[str]:
        """The entry names the vault file lists, read without any key or lock: NOT authenticated,
        so only for advice (`setup --keychain` warning that the vault wins), never to decide what
        is sent. Empty when there is no vault, or none that parses."""
        try:
            data = self._read_vault() if disk.may_exist(self.paths.vault) else None
            return frozenset(entry.name for entry in parse(data).entries) if data else frozenset()
        except VaultError:
            return frozenset()

    def lookup(self, name: str) -> str | None:
        vault = self.open()
        return vault.get(name) if vault else None

    def mode(self, vault: Vault | VaultFile) -> str:
        """How this vault is unlocked: "passphrase", "env-key" or "key-file"."""
        return self.keys.mode(vault)

    def _read_vault(self) -> bytes | None:
        return disk.read_file(self.paths.vault, MAX_FILE_SIZE, "the vault")

    def _ask_ahead(self) -> None:
        """A passphrase vault: prompt and derive before any lock (readers must never wait on a
        human, nor on a writer's prompt). A peek at the header, re-checked by the locked read."""
        head = disk.peek(self.paths.vault, HEADER_PEEK)
        if b"\nmaster scrypt " not in head:
            return
        try:
            vf = parse(disk.read_file(self.paths.vault, MAX_FILE_SIZE, "the vault") or b"")
        except VaultError:
            return  # reported properly by the locked read
        if vf.kdf is not None:
            self.keys.passphrase_key(vf.kdf)

    def _open(self, data: bytes, counter: bytes | None) -> tuple[Vault, Path | None]:
        """(vault, key file that opened it); checks the outside generation counter too."""
        try:
            vf = parse(data)
        except VaultFormatError as exc:  # the only error parse() raises
            raise VaultFormatError(exc.reason, f"{exc.message}: {self.paths.vault}") from None
        tried = []
        for label, mode, key_path, get_key in self.keys.candidates(vf):
            try:
                vault = Vault.open(vf, get_key())
            except VaultAuthError:
                tried.append(label)
                continue
            rollback.check(self.paths, counter, vault.vault_id, vault.generation)
            if vault.version == 1 and vault.kdf is None:
                vault.raw_source = mode  # what a v1 file did not record: the source that opened it
            return vault, key_path
        raise VaultAuthError(f"cannot open the vault {self.paths.vault} with the "
                             f"{' or the '.join(dict.fromkeys(tried))}: wrong key/passphrase, "
                             "or the vault was modified")

    # ---- writing -------------------------------------------------------------------------
    def _locked(self):
        disk.prepare_folder(self.paths.folder)
        return locking.exclusive(self.paths)

    def _load_for_write(self) -> tuple[Vault | None, Path | None]:
        """The current vault, verified, under the writers' lock; sweeps what a killed writer left."""
        for leftover in self.paths.folder.glob(disk.TEMP_PREFIX + "*"):
            try:
                leftover.unlink()
            except OSError:
                pass
        counter = rollback.read_counter(self.paths)
        data = self._read_vault()
        if data is None:
            return None, None
        vault, key_path = self._open(data, counter)  # raises if it cannot be opened: never overwrite
        if key_path == self.paths.pending_key:  # finish the interrupted key-file rotation
            disk.replace(self.paths.pending_key, self.paths.key)
        else:
            disk.remove(self.paths.pending_key)
        if vault.version != VERSION:  # a v1 vault becomes v2 on its first write
            vault = vault.rekey(vault.master_key, vault.kdf, source=vault.raw_source)
        return vault, key_path

    def _commit(self, vault: Vault) -> None:
        vault.generation += 1
        disk.atomic_write(self.paths.vault, vault.to_bytes())
        rollback.write_counter(self.paths, vault.vault_id, vault.generation)

    def put(self, name: str, value: str, *, passphrase: bool = False, origin: str | None = None) -> Vault:
        """Store `value` under `name`, creating the vault on first use. `origin` (the API base in
        effect) joins the origins the entry may be sent to; a new entry defaults to api.openai.com."""
        check_name(name)
        if name.endswith(CA_SUFFIX):
            raise InputError(f"{name!r} is where an entry's CA bundle is kept: record one with "
                             "`openai-skill setup --ca-bundle FILE`", field="name")
        remember(value)
        self._ask_ahead()
        if not self.exists() and self.keys.wants_new_passphrase(passphrase):
            self.keys.passphrase(new=True)
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None:
                master, kdf, mode = self.keys.for_new_vault(passphrase)
                vault = Vault.create(master, kdf, source=mode)
            elif passphrase and vault.kdf is None:
                raise InputError("the vault already uses a key; switch it to a passphrase with "
                                 "`openai-skill vault rotate --new-passphrase`")
            origins = set(vault.origins(name) or ()) | {origin_of(origin) if origin else DEFAULT_ORIGIN}
            vault.set(name, value, origins=origins)
            self._commit(vault)
            return vault

    def allow_origin(self, name: str, origin: str) -> tuple[str, ...]:
        """Let the entry be sent to `origin` too; the entry's origins afterwards."""
        origin = origin_of(origin)
        return self._change_origins(name, lambda origins: origins | {origin})

    def revoke_origin(self, name: str, origin: str) -> tuple[str, ...]:
        """Stop sending the entry to `origin`; an entry keeps at least one origin."""
        origin = origin_of(origin)

        def without(origins):
            if origin not in origins:
                raise InputError(f"the entry {name!r} is not allowed to go to {origin} "
                                 f"(it may go to: {', '.join(sorted(origins))})")
            if origins == {origin}:
                raise InputError(f"{origin} is the last origin of {name!r}; an entry keeps at least one "
                                 f"(allow another first, or remove the entry)")
            return origins - {origin}
        return self._change_origins(name, without)

    def _change_origins(self, name: str, change) -> tuple[str, ...]:
        check_name(name)
        self._ask_ahead()
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None or name not in vault.entries:
                raise InputError(f"the vault has no entry named {name!r}", field="name", reason="no_such_entry")
            vault.set_origins(name, change(set(vault.entries[name].origins)))
            self._commit(vault)
            return vault.entries[name].origins

    def set_ca_bundle(self, name: str, pem: str | None) -> Vault:
        """Record (or, with None, forget) the CA bundle that verifies the servers the entry goes
        to. A person confirms it first (the caller's job): it decides who may vouch for them."""
        companion = ca_entry(name)
        self._ask_ahead()
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None or name not in vault.entries:
                raise InputError(f"the vault has no entry named {name!r}", field="name")
            if pem is None:
                if not vault.remove(companion):
                    return vault
            else:
                vault.set(companion, pem, origins=vault.entries[name].origins)
            self._commit(vault)
            return vault

    def remove(self, name: str) -> bool:
        self._ask_ahead()
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None or not vault.remove(name):
                return False
            if not name.endswith(CA_SUFFIX) and len(name + CA_SUFFIX) <= 256:
                vault.remove(name + CA_SUFFIX)  # an entry's CA bundle goes with it
            self._commit(vault)
            return True

    def rotate(self, to: str | None = None) -> Vault:
        """New data key, every entry re-sealed; `to` also changes the master key:
        "passphrase" (new passphrase), "key-file" (new random key file), "env-key" (OPENAI_SKILL_VAULT_NEW_KEY)."""
        from . import rotation  # writers only: readers never load it

        self._ask_ahead()
        rotation.ask_ahead(self.keys, to)
        if not self.exists():
            raise VaultError(f"there is no vault at {self.paths.vault} to rotate")
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None:
                raise VaultError(f"there is no vault at {self.paths.vault} to rotate")
            return rotation.rotate(vault, self.keys, to, self._commit)


def read_entry(name: str, env: Mapping | None = None, *, store: VaultStore | None = None) -> StoredEntry | None:
    """The entry's value, the origins it may be sent to and its CA bundle, or None if there is
    no vault or no such entry. Raises VaultError when a vault exists but cannot be opened (never
    None then). Which origin a request may use is the key source's to judge (`sources.VaultKey`)."""
    check_name(name)
    vault = (store or VaultStore(env)).open()
    if vault is None:
        return None
    value, origins = vault.get(name), vault.origins(name)
    if value is None or origins is None:  # no such entry
        return None
    companion = name + CA_SUFFIX
    ca_bundle = vault.get(companion) if companion in vault.entries else None
    return StoredEntry(value, tuple(origins), ca_bundle)


__all__ = ["ENV_HOME", "ENV_KEY", "Paths", "VaultStore", "StoredEntry", "read_entry", "CA_SUFFIX"]
