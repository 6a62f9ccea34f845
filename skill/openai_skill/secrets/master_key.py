"""Where the vault's master key comes from, and asking for a passphrase.

Order when creating a vault: OPENAI_SKILL_VAULT_KEY (base64 of 32 bytes); a passphrase
(OPENAI_SKILL_VAULT_PASSPHRASE, or a hidden prompt when stdin is a terminal) stretched with
scrypt; otherwise a random key file (0600) beside the vault. When opening, the vault file
says which it wants: a passphrase, the key in OPENAI_SKILL_VAULT_KEY, or the key file (a v1
file says only "raw": the variable if set, else the key file).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import sys
from pathlib import Path
from collections.abc import Callable, Mapping

from ..errors import InputError, VaultError
from ..redaction import remember
from .disk import MAX_SMALL_FILE, Paths, atomic_write, read_file
from .vault_format import KEY_LEN, ScryptParams, VaultFile, derive_passphrase_key, new_scrypt_params

ENV_KEY = "OPENAI_SKILL_VAULT_KEY"
ENV_PASSPHRASE = "OPENAI_SKILL_VAULT_PASSPHRASE"
ENV_NEW_KEY = "OPENAI_SKILL_VAULT_NEW_KEY"              # vault rotate --to-env-key
ENV_NEW_PASSPHRASE = "OPENAI_SKILL_VAULT_NEW_PASSPHRASE"  # vault rotate --new-passphrase, no terminal
MIN_PASSPHRASE_LEN = 8

MODE_ENV, MODE_PASSPHRASE, MODE_KEYFILE = "env-key", "passphrase", "key-file"


def decode_key(text: str | bytes, source: str) -> bytes:
    """A raw master key: base64 of exactly 32 bytes."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_LEN:
        raise VaultError(f"{source} must hold base64 of {KEY_LEN} random bytes "
                         "(e.g. from `head -c 32 /dev/urandom | base64`)")
    return raw


class MasterKeys:
    """The master-key sources of one vault folder, read from `env`; prompts only when allowed."""

    def __init__(self, env: Mapping, paths: Paths, *, interactive: bool | None = None,
                 getpass: Callable[[str], str] | None = None, kdf_log_n: int | None = None):
        self.env = env
        self.paths = paths
        self.interactive = interactive
        self._getpass = getpass
        self.kdf_log_n = kdf_log_n  # tests only: cheaper scrypt for new passphrase vaults
        self._passphrases: dict[tuple[str, bool], str] = {}
        self._derived: dict[ScryptParams, bytes] = {}

    def mode(self, vault) -> str:
        """How this vault (a Vault or VaultFile) is unlocked: "passphrase", "env-key" or "key-file"."""
        if vault.kdf is not None:
            return MODE_PASSPHRASE
        if vault.raw_source:  # v2 records it
            return vault.raw_source
        return MODE_ENV if self.env.get(ENV_KEY) else MODE_KEYFILE  # v1: whichever is at hand

    # ---- opening -------------------------------------------------------------------------
    def candidates(self, vf: VaultFile):
        """(label, mode, key file or None, () -> key) in the order to try them.

        A v2 file says where its raw key comes from: that source first, the other one if it is
        at hand (a key moved between the two by hand). A v1 file does not say: the variable if
        set, then the key file.
        """
        if vf.kdf is not None:
            yield "passphrase", MODE_PASSPHRASE, None, lambda: self.passphrase_key(vf.kdf)
            return
        env_set = bool(self.env.get(ENV_KEY))
        has_file = self.paths.key.exists() or self.paths.pending_key.exists()
        order = [MODE_ENV, MODE_KEYFILE] if vf.raw_source == MODE_ENV or (vf.raw_source is None and env_set) \
            else [MODE_KEYFILE, MODE_ENV]
        order = [m for m in order if (m == MODE_ENV and env_set) or (m == MODE_KEYFILE and has_file)]
        if not order:
            raise VaultError(self._no_key_message(vf.raw_source))
        for mode in order:
            if mode == MODE_ENV:
                yield f"key from {ENV_KEY}", MODE_ENV, None, lambda: decode_key(self.env[ENV_KEY], ENV_KEY)
                continue
            for path in (self.paths.key, self.paths.pending_key):
                # vault.key.new: a key-file rotation interrupted between the vault and the rename.
                if path.exists():
                    yield "key file", MODE_KEYFILE, path, lambda path=path: self.key_file(path)

    def _no_key_message(self, declared: str | None) -> str:
        if declared == MODE_ENV:
            return (f"the vault {self.paths.vault} is unlocked with the key in {ENV_KEY}, which is not set "
                    f"in this environment: set it (for OpenClaw's secret-provider, name {ENV_KEY} in the "
                    "provider's passEnv)")
        hint = "" if declared else f" (or, if this vault was made with {ENV_KEY}, set that variable)"
        return (f"the vault {self.paths.vault} needs its key file {self.paths.key}, which is missing; "
                f"restore it from a backup{hint}")

    def key_file(self, path: Path) -> bytes:
        data = read_file(path, MAX_SMALL_FILE, "the key file")
        if data is None:
            raise VaultError(f"the key file {path} is missing; restore it from a backup, or set {ENV_KEY}")
        mode = path.stat().st_mode
        if mode & 0o077:
            raise VaultError(f"the key file {path} can be read by other users (mode "
                             f"{stat.S_IMODE(mode):o}); run `chmod 600 {path}`")
        return decode_key(data, f"the key file {path}")

    def passphrase_key(self, kdf: ScryptParams) -> bytes:
        """scrypt of the passphrase, once per parameter set (writers derive it before locking)."""
        if kdf not in self._derived:
            self._derived[kdf] = derive_passphrase_key(self.passphrase(), kdf)
        return self._derived[kdf]

    # ---- passphrases ---------------------------------------------------------------------
    def passphrase(self, env_name: str = ENV_PASSPHRASE, *, new: bool = False) -> str:
        """From `env_name`, else a hidden prompt (twice for a new one); asked once per process."""
        if (env_name, new) in self._passphrases:
            return self._passphrases[(env_name, new)]
        value = self.env.get(env_name)
        if not value and self._can_prompt():
            value = self._prompt("New vault passphrase: " if new else "Vault passphrase: ")
            if new and value != self._prompt("Repeat the passphrase: "):
                raise InputError("the two passphrases differ")
        if not value:
            raise VaultError(f"the vault {'will be' if new else 'is'} protected by a passphrase: set "
                             f"{env_name}, or run in a terminal to be asked for it")
        remember(value)
        if new and len(value) < MIN_PASSPHRASE_LEN:
            raise InputError(f"a vault passphrase needs at least {MIN_PASSPHRASE_LEN} characters")
        self._passphrases[(env_name, new)] = value
        return value

    def _can_prompt(self) -> bool:
        if self.interactive is not None:
            return self.interactive
        return bool(sys.stdin and sys.stdin.isatty())

    def _prompt(self, text: str) -> str:
        if self._getpass is None:
            import getpass

            self._getpass = getpass.getpass
        return self._getpass(text)

    # ---- new master keys -----------------------------------------------------------------
    def new_kdf(self) -> ScryptParams:
        return new_scrypt_params(log_n=self.kdf_log_n)

    def wants_new_passphrase(self, passphrase: bool) -> bool:
        """Whether a new vault will be protected by a passphrase."""
        return passphrase or (not self.env.get(ENV_KEY) and bool(self.env.get(ENV_PASSPHRASE)))

    def for_new_vault(self, passphrase: bool) -> tuple[bytes, ScryptParams | None, str]:
        """(master key, KDF, mode) for a new vault: env key, then passphrase, then key file."""
        if self.wants_new_passphrase(passphrase):
            kdf = self.new_kdf()
            return derive_passphrase_key(self.passphrase(ENV_PASSPHRASE, new=True), kdf), kdf, MODE_PASSPHRASE
        if self.env.get(ENV_KEY):
            return decode_key(self.env[ENV_KEY], ENV_KEY), None, MODE_ENV
        if read_file(self.paths.key, MAX_SMALL_FILE, "the key file") is not None:
            # left by a first write that crashed: it opens nothing yet
            return self.key_file(self.paths.key), None, MODE_KEYFILE
        key = os.urandom(KEY_LEN)
        atomic_write(self.paths.key, base64.b64encode(key) + b"\n")
        return key, None, MODE_KEYFILE
