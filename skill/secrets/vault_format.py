"""The vault file format, version 1: named secrets sealed with AES-256-GCM (skill/secrets/VAULT-FORMAT.md).

A vault is a short ASCII text file, one field per line, so `cat` shows its structure (ids,
names, times, generation) and nothing secret:

    openai-skill-vault v1
    id <base64, 16 bytes>
    master raw | master scrypt <log2 N> <r> <p> <base64 salt, 16 bytes>
    wrap <base64: nonce 12 | data key 32 | tag 16>
    generation <n>
    entry <name> <created> <updated> <base64: nonce 12 | ciphertext | tag 16>    (sorted by name)
    mac <base64 HMAC-SHA256, 32 bytes>

The master key (32 raw bytes, or scrypt of a passphrase) yields the wrap, MAC and fingerprint
keys by HKDF-Expand; the random data key seals the entries. Every fault in the file's own
bytes beyond its structure is one `VaultAuthError` with no detail. The MAC is checked before
anything is decrypted. `Vault.create`, `set` and `rekey` take `rand`, `now` and `data_key`
seams so known-answer tests can fix every random byte (see tests/vectors/vault_v1.json).

This module only parses, checks and builds bytes; files, locks and key sources live in
`secrets/store.py` (and the modules it names), which also has `lookup_secret`, the pipeline's
one entry point.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from typing import Callable, NamedTuple

from ..errors import InputError, VaultError
from ..redaction import remember
from .names import NAME_PATTERN, check_name

MAGIC = b"openai-skill-vault"
VERSION = 1
VERSION_LINE = MAGIC + b" v1"

VAULT_ID_LEN = 16
KEY_LEN = 32          # master, data and derived keys: 256 bits
NONCE_LEN = 12        # 96-bit GCM nonce, fresh from os.urandom for every encryption
TAG_LEN = 16
SALT_LEN = 16
MAC_LEN = 32
WRAPPED_KEY_LEN = NONCE_LEN + KEY_LEN + TAG_LEN

MAX_FILE_SIZE = 4 * 1024 * 1024
MAX_VALUE_LEN = 64 * 1024
MAX_ENTRIES = 1000

# scrypt for new passphrase vaults: OWASP's minimum (age uses log2 N = 18).
SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
# Caps checked before any work when reading: a file may not ask for more than this.
MIN_SCRYPT_LOG_N = 10
MAX_SCRYPT_LOG_N = 20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 1 << 30   # 128 * r * N bytes
MAX_SCRYPT_WORK = 1 << 24     # N * r * p (16x the default)

# Domain separation: every derived key and every AAD names its purpose and the format version.
WRAP_KEY_INFO = b"openai-skill-vault v1 wrap key"
MAC_KEY_INFO = b"openai-skill-vault v1 file mac key"
FINGERPRINT_KEY_INFO = b"openai-skill-vault v1 fingerprint key"
WRAP_AAD_PREFIX = b"openai-skill-vault v1 wrap\n"     # + vault id + master line
ENTRY_AAD_PREFIX = b"openai-skill-vault v1 entry\n"   # + vault id + entry name
FINGERPRINT_HEX_LEN = 8

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIMESTAMP = re.compile(rb"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z")

_B64 = rb"[A-Za-z0-9+/]*={0,2}"
_INT = rb"(0|[1-9][0-9]{0,15})"
_LINES = {
    b"id": re.compile(rb"id (" + _B64 + rb")"),
    b"master": re.compile(rb"master (raw|scrypt " + _INT + rb" " + _INT + rb" " + _INT + rb" (" + _B64 + rb"))"),
    b"wrap": re.compile(rb"wrap (" + _B64 + rb")"),
    b"generation": re.compile(rb"generation " + _INT),
    b"entry": re.compile(rb"entry (" + NAME_PATTERN.encode() + rb") ([0-9TZ:-]{20}) ([0-9TZ:-]{20}) ("
                         + _B64 + rb")"),
    b"mac": re.compile(rb"mac (" + _B64 + rb")"),
}


class VaultFormatError(VaultError):
    """The file is not a vault this version can read; `details["reason"]` says which case."""

    def __init__(self, reason: str, message: str):
        super().__init__(message, reason=reason)
        self.reason = reason


class VaultAuthError(VaultError):
    """The one error for every fault the key must catch: wrong key or modified file."""

    def __init__(self, message: str = "cannot open the vault: wrong key/passphrase, or the vault was modified"):
        super().__init__(message, reason="cannot_authenticate")
        self.reason = "cannot_authenticate"


def _format_error(reason: str) -> VaultFormatError:
    messages = {
        "empty": "the vault file is empty",
        "not_a_vault": "the file is not an openai-skill vault",
        "unknown_version": f"the vault uses a format version this openai-skill cannot read (it reads v{VERSION}); "
                           "upgrade openai-skill",
        "truncated": "the vault file is truncated (it was cut short)",
        "corrupted": "the vault file is corrupted (its structure is not valid)",
        "too_large": f"the vault file is larger than {MAX_FILE_SIZE} bytes; refusing to read it",
        "kdf_too_large": "the vault asks for more scrypt work than allowed "
                         f"(log2 N <= {MAX_SCRYPT_LOG_N}, r <= {MAX_SCRYPT_R}, p <= {MAX_SCRYPT_P}, "
                         f"memory <= {MAX_SCRYPT_MEMORY >> 20} MiB); refusing to derive the key",
    }
    return VaultFormatError(reason, messages[reason])


class ScryptParams(NamedTuple):
    log_n: int
    r: int
    p: int
    salt: bytes

    def check(self) -> None:
        """Refuse parameters a file may not ask for (too little work is also nonsense)."""
        n = 1 << self.log_n if self.log_n < 64 else 1 << 64
        if (self.log_n < MIN_SCRYPT_LOG_N or self.r < 1 or self.p < 1 or len(self.salt) != SALT_LEN):
            raise _format_error("corrupted")
        if (self.log_n > MAX_SCRYPT_LOG_N or self.r > MAX_SCRYPT_R or self.p > MAX_SCRYPT_P
                or 128 * self.r * n > MAX_SCRYPT_MEMORY or n * self.r * self.p > MAX_SCRYPT_WORK):
            raise _format_error("kdf_too_large")

    def line(self) -> bytes:
        return b"master scrypt %d %d %d %s" % (self.log_n, self.r, self.p, _b64e(self.salt))


def new_scrypt_params(rand: Callable[[int], bytes] = os.urandom, log_n: int | None = None) -> ScryptParams:
    """Parameters for a new passphrase vault: the module defaults and a fresh salt."""
    return ScryptParams(log_n or SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, rand(SALT_LEN))


def derive_passphrase_key(passphrase: str, params: ScryptParams) -> bytes:
    """scrypt(passphrase) -> 32-byte master key; the caps are checked first."""
    params.check()
    return scrypt(passphrase.encode("utf-8"), params.salt, params.log_n, params.r, params.p, KEY_LEN)


def scrypt(password: bytes, salt: bytes, log_n: int, r: int, p: int, length: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt  # passphrase mode only

    return Scrypt(salt=salt, length=length, n=1 << log_n, r=r, p=p).derive(password)


def hkdf_expand(prk: bytes, info: bytes) -> bytes:
    """HKDF-Expand-SHA256 (RFC 5869) for one 32-byte block; `prk` is already uniform."""
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def seal(key: bytes, plaintext: bytes, aad: bytes, rand: Callable[[int], bytes] = os.urandom) -> bytes:
    """AES-256-GCM with a fresh random nonce: nonce | ciphertext | tag."""
    return _seal_from_parts(key, plaintext, aad, rand(NONCE_LEN))


def _seal_from_parts(key: bytes, plaintext: bytes, aad: bytes, nonce: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(sealed) < NONCE_LEN + TAG_LEN:
        raise VaultAuthError()
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_LEN], sealed[NONCE_LEN:], aad)
    except InvalidTag:
        raise VaultAuthError() from None


def entry_aad(vault_id: bytes, name: str) -> bytes:
    return ENTRY_AAD_PREFIX + vault_id + name.encode("ascii")


def _b64e(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def _b64d(text: bytes, length: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _format_error("corrupted") from None
    if _b64e(raw) != text or (length is not None and len(raw) != length):
        raise _format_error("corrupted")
    return raw


class Entry(NamedTuple):
    name: str
    created: str
    updated: str
    sealed: bytes

    def line(self) -> bytes:
        return b"entry %s %s %s %s" % (self.name.encode(), self.created.encode(), self.updated.encode(),
                                       _b64e(self.sealed))


class VaultFile(NamedTuple):
    """A parsed, not yet authenticated vault: what can be read without any key."""

    vault_id: bytes
    kdf: ScryptParams | None     # None: a raw 32-byte master key (env variable or key file)
    master_line: bytes
    wrapped_key: bytes
    generation: int
    entries: tuple[Entry, ...]
    signed: bytes                # every byte the MAC covers
    mac: bytes


def parse(data: bytes) -> VaultFile:
    """Check the structure (and the KDF caps) of a vault file; raise VaultFormatError."""
    if not data:
        raise _format_error("empty")
    if len(data) > MAX_FILE_SIZE:
        raise _format_error("too_large")
    if not data.startswith(MAGIC + b" "):
        raise _format_error("truncated" if (MAGIC + b" ").startswith(data) else "not_a_vault")
    first, newline, _ = data.partition(b"\n")
    version = re.fullmatch(rb"openai-skill-vault v([1-9][0-9]{0,8})", first)
    if not version:
        raise _format_error("truncated" if not newline and re.fullmatch(rb"openai-skill-vault v?", first)
                            else "corrupted")
    if int(version.group(1)) != VERSION:
        raise _format_error("unknown_version")
    if not data.endswith(b"\n"):
        raise _format_error("truncated")
    lines = data[:-1].split(b"\n")[1:]
    fields: dict[bytes, re.Match] = {}
    for position, kind in enumerate((b"id", b"master", b"wrap", b"generation")):
        fields[kind] = _line(lines, position, kind)
    entries, position = [], 4
    while position < len(lines) and lines[position].startswith(b"entry "):
        m = _line(lines, position, b"entry")
        entries.append(Entry(m.group(1).decode(), _time(m.group(2)), _time(m.group(3)), _b64d(m.group(4))))
        position += 1
    mac = _line(lines, position, b"mac")
    if position + 1 != len(lines):
        raise _format_error("corrupted")
    names = [e.name for e in entries]
    if names != sorted(set(names)) or len(entries) > MAX_ENTRIES:
        raise _format_error("corrupted")
    if any(len(e.sealed) < NONCE_LEN + TAG_LEN for e in entries):
        raise _format_error("corrupted")
    master = fields[b"master"]
    kdf = None
    if master.group(1) != b"raw":
        kdf = ScryptParams(int(master.group(2)), int(master.group(3)), int(master.group(4)),
                           _b64d(master.group(5), SALT_LEN))
        kdf.check()
    signed = data[: len(data) - len(lines[position]) - 1]
    return VaultFile(
        vault_id=_b64d(fields[b"id"].group(1), VAULT_ID_LEN), kdf=kdf,
        master_line=b"master " + master.group(1),
        wrapped_key=_b64d(fields[b"wrap"].group(1), WRAPPED_KEY_LEN),
        generation=int(fields[b"generation"].group(1)), entries=tuple(entries),
        signed=signed, mac=_b64d(mac.group(1), MAC_LEN))


def _line(lines: list[bytes], position: int, kind: bytes) -> re.Match:
    if position >= len(lines):
        raise _format_error("truncated")
    m = _LINES[kind].fullmatch(lines[position])
    if not m:
        raise _format_error("corrupted")
    return m


def _time(raw: bytes) -> str:
    if not _TIMESTAMP.fullmatch(raw):
        raise _format_error("corrupted")
    return raw.decode("ascii")


def _now(now: float | None) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(time.time() if now is None else now))


class Vault:
    """An authenticated vault in memory; entries stay sealed until `get`."""

    def __init__(self, vault_id: bytes, kdf: ScryptParams | None, master_key: bytes, data_key: bytes,
                 wrapped_key: bytes, generation: int, entries: dict[str, Entry]):
        self.vault_id = vault_id
        self.kdf = kdf
        self.master_key = master_key
        self.data_key = data_key
        self.wrapped_key = wrapped_key
        self.generation = generation
        self.entries = entries

    @classmethod
    def create(cls, master_key: bytes, kdf: ScryptParams | None = None, *,
               rand: Callable[[int], bytes] = os.urandom, data_key: bytes | None = None) -> "Vault":
        """A new empty vault (generation 0) with a fresh id and data key."""
        vault = cls(rand(VAULT_ID_LEN), kdf, b"", b"", b"", 0, {})
        return vault.rekey(master_key, kdf, rand=rand, data_key=data_key)

    @classmethod
    def open(cls, data: bytes | VaultFile, master_key: bytes) -> "Vault":
        """Parse, check the MAC, then unwrap the data key; raise VaultFormatError/VaultAuthError."""
        vf = parse(data) if isinstance(data, bytes) else data
        _check_key(master_key)
        expected = hmac.new(hkdf_expand(master_key, MAC_KEY_INFO), vf.signed, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, vf.mac):
            raise VaultAuthError()
        wrap_key = hkdf_expand(master_key, WRAP_KEY_INFO)
        data_key = unseal(wrap_key, vf.wrapped_key, WRAP_AAD_PREFIX + vf.vault_id + vf.master_line)
        return cls(vf.vault_id, vf.kdf, master_key, data_key, vf.wrapped_key, vf.generation,
                   {e.name: e for e in vf.entries})

    def get(self, name: str) -> str | None:
        entry = self.entries.get(name)
        if entry is None:
            return None
        value = unseal(self.data_key, entry.sealed, entry_aad(self.vault_id, name)).decode("utf-8")
        remember(value)
        return value

    def set(self, name: str, value: str, *, now: float | None = None,
            rand: Callable[[int], bytes] = os.urandom) -> None:
        check_name(name)
        raw = value.encode("utf-8")
        if not raw or len(raw) > MAX_VALUE_LEN:
            raise InputError(f"a secret must be 1 to {MAX_VALUE_LEN} bytes long")
        if name not in self.entries and len(self.entries) >= MAX_ENTRIES:
            raise InputError(f"the vault holds at most {MAX_ENTRIES} entries")
        stamp = _now(now)
        created = self.entries[name].created if name in self.entries else stamp
        sealed = seal(self.data_key, raw, entry_aad(self.vault_id, name), rand)
        self.entries[name] = Entry(name, created, stamp, sealed)

    def remove(self, name: str) -> bool:
        return self.entries.pop(name, None) is not None

    def fingerprint(self, name: str) -> str:
        """First 8 hex digits of HMAC-SHA256 under a vault-derived key: identifies, never reveals."""
        value = self.get(name)
        key = hkdf_expand(self.master_key, FINGERPRINT_KEY_INFO)
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_HEX_LEN]

    def rekey(self, master_key: bytes, kdf: ScryptParams | None, *, rand: Callable[[int], bytes] = os.urandom,
              data_key: bytes | None = None) -> "Vault":
        """A copy under a new data key (and the given master key), every entry re-sealed."""
        _check_key(master_key)
        new_key = data_key or rand(KEY_LEN)
        master_line = kdf.line() if kdf else b"master raw"
        wrapped = seal(hkdf_expand(master_key, WRAP_KEY_INFO), new_key,
                       WRAP_AAD_PREFIX + self.vault_id + master_line, rand)
        entries = {}
        for name in sorted(self.entries):
            plain = self.get(name).encode("utf-8")
            entries[name] = self.entries[name]._replace(
                sealed=seal(new_key, plain, entry_aad(self.vault_id, name), rand))
        return Vault(self.vault_id, kdf, master_key, new_key, wrapped, self.generation, entries)

    def to_bytes(self) -> bytes:
        master_line = self.kdf.line() if self.kdf else b"master raw"
        lines = [VERSION_LINE, b"id " + _b64e(self.vault_id), master_line, b"wrap " + _b64e(self.wrapped_key),
                 b"generation %d" % self.generation]
        lines += [self.entries[name].line() for name in sorted(self.entries)]
        signed = b"\n".join(lines) + b"\n"
        mac = hmac.new(hkdf_expand(self.master_key, MAC_KEY_INFO), signed, hashlib.sha256).digest()
        return signed + b"mac " + _b64e(mac) + b"\n"


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_LEN:
        raise ValueError(f"a master key is {KEY_LEN} bytes")
