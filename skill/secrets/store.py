"""Where the vault lives and how it is written: folder, master-key sources, lock, atomic replace.

Master key, in this order: OPENAI_SKILL_VAULT_KEY (base64 of 32 bytes); a passphrase
(OPENAI_SKILL_VAULT_PASSPHRASE, or a hidden prompt when stdin is a terminal) stretched with
scrypt; otherwise a random key file (0600) beside the vault. The vault file says whether it
wants a raw key or a passphrase; a raw key comes from the environment if set, else the file.

Writers hold an exclusive flock on a separate lock file, write a 0600 temp file in the same
folder, fsync it, os.replace it over the vault and fsync the folder, so readers (who take no
lock) see the old or the new vault, never half of one. A vault that fails to open is never
written over. A generation counter kept outside the vault (vault.generation) catches a whole
file rolled back to an older copy while that counter survives; skill/secrets/VAULT-FORMAT.md says
what it cannot catch.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import os
import stat
import sys
import time
from pathlib import Path
from typing import Callable, Mapping

from ..errors import InputError, VaultError
from ..redaction import remember
from .vault_format import KEY_LEN, Vault, VaultAuthError, VaultFile, check_name, new_scrypt_params, parse

ENV_HOME = "OPENAI_SKILL_HOME"
ENV_KEY = "OPENAI_SKILL_VAULT_KEY"
ENV_PASSPHRASE = "OPENAI_SKILL_VAULT_PASSPHRASE"
ENV_NEW_KEY = "OPENAI_SKILL_VAULT_NEW_KEY"              # vault rotate --to-env-key
ENV_NEW_PASSPHRASE = "OPENAI_SKILL_VAULT_NEW_PASSPHRASE"  # vault rotate --new-passphrase, no terminal
APP_FOLDER = "openai-skill"

VAULT_NAME = "vault"
KEY_NAME = "vault.key"
PENDING_KEY_NAME = "vault.key.new"   # a key-file rotation in flight (see _key_candidates)
LOCK_NAME = "vault.lock"
GENERATION_NAME = "vault.generation"
TEMP_PREFIX = ".vault-tmp-"

FOLDER_MODE = 0o700
FILE_MODE = 0o600
LOCK_TIMEOUT = 10.0     # seconds a writer waits for another writer
LOCK_POLL = 0.02
MIN_PASSPHRASE_LEN = 8

MODE_ENV, MODE_PASSPHRASE, MODE_KEYFILE = "env-key", "passphrase", "key-file"


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
    def from_env(cls, env: Mapping) -> "Paths":
        if env.get(ENV_HOME):
            return cls(Path(env[ENV_HOME]).expanduser())
        config = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
        return cls(Path(config) / APP_FOLDER)


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VaultError(f"cannot read {path}: {exc.strerror}") from None


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


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file 0600 in the same folder, flush + fsync, os.replace, fsync the folder."""
    temp = path.parent / f"{TEMP_PREFIX}{os.urandom(6).hex()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
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
    _fsync_folder(path.parent)


class VaultStore:
    """The vault in one folder, opened with keys from `env` (default: os.environ)."""

    def __init__(self, env: Mapping | None = None, *, interactive: bool | None = None,
                 getpass: Callable[[str], str] | None = None, kdf_log_n: int | None = None):
        self.env = os.environ if env is None else env
        self.paths = Paths.from_env(self.env)
        self.interactive = interactive
        self._getpass = getpass
        self.kdf_log_n = kdf_log_n  # tests only: cheaper scrypt for new passphrase vaults
        self._known_passphrase: str | None = None

    # ---- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.paths.vault.exists()

    def open(self) -> Vault | None:
        """The authenticated vault, or None if there is none; never writes anything."""
        data = _read(self.paths.vault)
        if data is None:
            return None
        return self._open(data)[0]

    def lookup(self, name: str) -> str | None:
        vault = self.open()
        return vault.get(name) if vault else None

    def mode(self, vault: Vault | VaultFile) -> str:
        """How this vault is unlocked here: "passphrase", "env-key" or "key-file"."""
        if vault.kdf is not None:
            return MODE_PASSPHRASE
        return MODE_ENV if self.env.get(ENV_KEY) else MODE_KEYFILE

    def _open(self, data: bytes) -> tuple[Vault, Path | None]:
        """(vault, key file that opened it); checks the outside generation counter too."""
        try:
            vf = parse(data)
        except VaultError as exc:
            raise type(exc)(exc.reason, f"{exc.message}: {self.paths.vault}") from None
        last_error = None
        for source, key_path, get_key in self._key_candidates(vf):
            try:
                vault = Vault.open(vf, get_key())
            except VaultAuthError:
                last_error = source
                continue
            self._check_generation(vault)
            return vault, key_path
        raise VaultAuthError(f"cannot open the vault {self.paths.vault} with the {last_error}: "
                             "wrong key/passphrase, or the vault was modified")

    def _key_candidates(self, vf: VaultFile):
        if vf.kdf is not None:
            yield "passphrase", None, lambda: self._passphrase_key(vf)
            return
        if self.env.get(ENV_KEY):
            yield f"key from {ENV_KEY}", None, lambda: decode_key(self.env[ENV_KEY], ENV_KEY)
            return
        if not self.paths.key.exists():
            raise VaultError(f"the vault {self.paths.vault} needs its key file {self.paths.key}, which is "
                             f"missing; restore it from a backup, or set {ENV_KEY}")
        yield "key file", self.paths.key, lambda: self._key_file(self.paths.key)
        # A key-file rotation interrupted between the vault and the key-file rename.
        if self.paths.pending_key.exists():
            yield "key file", self.paths.pending_key, lambda: self._key_file(self.paths.pending_key)

    def _key_file(self, path: Path) -> bytes:
        st = path.stat()
        if st.st_mode & 0o077:
            raise VaultError(f"the key file {path} can be read by other users (mode "
                             f"{stat.S_IMODE(st.st_mode):o}); run `chmod 600 {path}`")
        return decode_key(_read(path) or b"", f"the key file {path}")

    def _passphrase_key(self, vf: VaultFile) -> bytes:
        from .vault_format import derive_passphrase_key

        return derive_passphrase_key(self._passphrase(), vf.kdf)

    def _passphrase(self, env_name: str = ENV_PASSPHRASE, *, new: bool = False) -> str:
        """From `env_name`, else a hidden prompt (twice for a new one); `new` checks its length."""
        if not new and self._known_passphrase:
            return self._known_passphrase
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
        if not new:
            self._known_passphrase = value
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

    def _check_generation(self, vault: Vault) -> None:
        raw = _read(self.paths.generation)
        if raw is None:
            return
        parts = raw.decode("ascii", "replace").split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise VaultError(f"the generation file {self.paths.generation} is corrupted; if you trust "
                             "the vault as it is, delete that file")
        vault_id = base64.b64encode(vault.vault_id).decode()
        if parts[0] != vault_id:
            raise VaultError(f"the vault {self.paths.vault} is not the vault this folder last wrote "
                             f"(another vault was put in its place); if you did that on purpose, delete "
                             f"{self.paths.generation}")
        if vault.generation < int(parts[1]):
            raise VaultError(f"the vault {self.paths.vault} was rolled back to an older copy "
                             f"(generation {vault.generation}, last written {parts[1]}); if you restored "
                             f"it on purpose, delete {self.paths.generation}")

    # ---- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        import fcntl

        self._prepare_folder()
        fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        raise VaultError(f"could not lock {self.paths.lock}: another openai-skill is "
                                         "writing the vault; try again") from None
                    time.sleep(LOCK_POLL)
            for leftover in self.paths.folder.glob(TEMP_PREFIX + "*"):  # a writer killed mid-write
                with contextlib.suppress(OSError):
                    leftover.unlink()
            yield
        finally:
            os.close(fd)  # releases the lock

    def _prepare_folder(self) -> None:
        folder = self.paths.folder
        try:
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
                os.chmod(folder, FOLDER_MODE)
        except OSError as exc:
            raise VaultError(f"cannot create the vault folder {folder}: {exc.strerror}") from None

    def _commit(self, vault: Vault) -> None:
        vault.generation += 1
        atomic_write(self.paths.vault, vault.to_bytes())
        # After the vault: a crash in between leaves counter < generation, which is accepted.
        vault_id = base64.b64encode(vault.vault_id).decode()
        atomic_write(self.paths.generation, f"{vault_id} {vault.generation}\n".encode())

    def _load_for_write(self) -> tuple[Vault | None, Path | None]:
        data = _read(self.paths.vault)
        if data is None:
            return None, None
        vault, key_path = self._open(data)  # raises if it cannot be opened: never overwrite
        if key_path == self.paths.pending_key:  # finish the interrupted key-file rotation
            os.replace(self.paths.pending_key, self.paths.key)
            _fsync_folder(self.paths.folder)
        elif self.paths.pending_key.exists():
            self.paths.pending_key.unlink()
        return vault, key_path

    def _new_master(self, passphrase: bool) -> tuple[bytes, object]:
        """Master key and KDF for a new vault: env key, then passphrase, then key file."""
        from .vault_format import derive_passphrase_key

        if passphrase or (not self.env.get(ENV_KEY) and self.env.get(ENV_PASSPHRASE)):
            kdf = self._new_kdf()
            return derive_passphrase_key(self._passphrase(ENV_PASSPHRASE, new=True), kdf), kdf
        if self.env.get(ENV_KEY):
            return decode_key(self.env[ENV_KEY], ENV_KEY), None
        existing = _read(self.paths.key)  # left by a first write that crashed: still unused
        if existing is not None:
            return self._key_file(self.paths.key), None
        key = os.urandom(KEY_LEN)
        atomic_write(self.paths.key, base64.b64encode(key) + b"\n")
        return key, None

    def _new_kdf(self):
        return new_scrypt_params(log_n=self.kdf_log_n)

    def put(self, name: str, value: str, *, passphrase: bool = False) -> Vault:
        """Store `value` under `name`, creating the vault on first use."""
        remember(value)
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None:
                master, kdf = self._new_master(passphrase)
                vault = Vault.create(master, kdf)
            elif passphrase and vault.kdf is None:
                raise InputError("the vault already uses a key; switch it to a passphrase with "
                                 "`openai-skill vault rotate --new-passphrase`")
            vault.set(name, value)
            self._commit(vault)
            return vault

    def remove(self, name: str) -> bool:
        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None or not vault.remove(name):
                return False
            self._commit(vault)
            return True

    def rotate(self, to: str | None = None) -> Vault:
        """New data key, every entry re-sealed; `to` also changes the master key:
        "passphrase" (new passphrase), "key-file" (new random key file), "env-key" (OPENAI_SKILL_VAULT_NEW_KEY)."""
        from .vault_format import derive_passphrase_key

        with self._locked():
            vault, _ = self._load_for_write()
            if vault is None:
                raise VaultError(f"there is no vault at {self.paths.vault} to rotate")
            new_key_file = None
            if to is None:
                master, kdf = vault.master_key, (self._new_kdf() if vault.kdf else None)
                if kdf is not None:  # a fresh salt: the stretched key changes too
                    master = derive_passphrase_key(self._passphrase(), kdf)
            elif to == MODE_PASSPHRASE:
                kdf = self._new_kdf()
                master = derive_passphrase_key(self._passphrase(ENV_NEW_PASSPHRASE, new=True), kdf)
            elif to == MODE_ENV:
                if not self.env.get(ENV_NEW_KEY):
                    raise InputError(f"set {ENV_NEW_KEY} to the new key (base64 of {KEY_LEN} random bytes)")
                master, kdf = decode_key(self.env[ENV_NEW_KEY], ENV_NEW_KEY), None
            elif to == MODE_KEYFILE:
                master, kdf = os.urandom(KEY_LEN), None
                new_key_file = self.paths.pending_key
                atomic_write(new_key_file, base64.b64encode(master) + b"\n")
            else:
                raise InputError(f"unknown master-key mode {to!r}")
            new = vault.rekey(master, kdf)
            new.generation = vault.generation
            self._commit(new)
            if new_key_file is not None:
                os.replace(new_key_file, self.paths.key)
                _fsync_folder(self.paths.folder)
            elif to in (MODE_PASSPHRASE, MODE_ENV) and self.paths.key.exists():
                self.paths.key.unlink()  # the old key file opens nothing current any more
            return new


def lookup_secret(name: str, env: Mapping | None = None) -> str | None:
    """The handler's entry point: the entry's value, or None if there is no vault or no such entry.

    Raises VaultError when a vault exists but cannot be opened (never returns None then).
    """
    check_name(name)
    value = VaultStore(env).lookup(name)
    if value is not None:
        remember(value)
    return value
