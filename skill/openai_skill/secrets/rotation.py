"""`vault rotate`: a new data key with every entry re-sealed, and optionally a new master key.

Runs under the writers' lock (store.VaultStore.rotate). A change to a key file goes through
`vault.key.new`: written first, the vault replaced, then renamed over `vault.key`; readers
take the shared lock, so they never see the new vault beside the old key file, and a writer
killed in between leaves a state the next open and the next writer both understand.
"""

from __future__ import annotations

import base64
import os

from ..errors import InputError, VaultError
from . import disk
from .master_key import (ENV_NEW_KEY, ENV_NEW_PASSPHRASE, MODE_ENV, MODE_KEYFILE, MODE_PASSPHRASE,
                         MasterKeys, decode_key)
from .vault_format import KEY_LEN, Vault, derive_passphrase_key

TARGETS = (MODE_PASSPHRASE, MODE_KEYFILE, MODE_ENV)


def ask_ahead(keys: MasterKeys, to: str | None) -> None:
    """Everything that may prompt, before the lock is taken (readers must not wait on a human)."""
    if to == MODE_PASSPHRASE:
        keys.passphrase(ENV_NEW_PASSPHRASE, new=True)
    elif to == MODE_ENV and not keys.env.get(ENV_NEW_KEY):
        raise InputError(f"set {ENV_NEW_KEY} to the new key (base64 of {KEY_LEN} random bytes)")
    elif to not in (None, *TARGETS):
        raise InputError(f"unknown master-key mode {to!r}")


def rotate(vault: Vault, keys: MasterKeys, to: str | None, commit) -> Vault:
    """Re-seal `vault` (to a new master key if `to`), commit it, and settle the key disk."""
    paths = keys.paths
    new_key_file, source = None, None
    if to is None:
        master, kdf, source = vault.master_key, (keys.new_kdf() if vault.kdf else None), vault.raw_source
        if kdf is not None:  # a fresh salt: the stretched key changes too
            master = derive_passphrase_key(keys.passphrase(), kdf)
    elif to == MODE_PASSPHRASE:
        kdf = keys.new_kdf()
        master = derive_passphrase_key(keys.passphrase(ENV_NEW_PASSPHRASE, new=True), kdf)
    elif to == MODE_ENV:
        master, kdf, source = decode_key(keys.env.get(ENV_NEW_KEY) or "", ENV_NEW_KEY), None, MODE_ENV
    else:
        master, kdf, source = os.urandom(KEY_LEN), None, MODE_KEYFILE
        new_key_file = paths.pending_key
        disk.atomic_write(new_key_file, base64.b64encode(master) + b"\n")
    new = vault.rekey(master, kdf, source=source)
    new.generation = vault.generation
    try:
        commit(new)
    except VaultError:
        if new_key_file is not None:  # the vault was not replaced: the new key opens nothing
            disk.remove(new_key_file)
        raise
    if new_key_file is not None:
        disk.replace(new_key_file, paths.key)
    elif to in (MODE_PASSPHRASE, MODE_ENV):
        disk.remove(paths.key)  # the old key file opens nothing current any more
    return new
