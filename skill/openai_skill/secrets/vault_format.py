"""The vault file format, version 2 (reads version 1 too): named secrets sealed with
AES-256-GCM, each bound to the origins it may be sent to (skill/secrets/VAULT-FORMAT.md).

A vault is a short ASCII text file, one field per line, so `cat` shows its structure (ids,
names, times, origins, generation) and nothing secret:

    openai-skill-vault v2
    id <base64, 16 bytes>
    master key-file | master env-key | master scrypt <log2 N> <r> <p> <base64 salt, 16 bytes>
    wrap <base64: nonce 12 | data key 32 | tag 16>
    generation <n>
    entry <name> <created> <updated> <origin>[,<origin>...] <base64: nonce 12 | ciphertext | tag 16>
    mac <base64 HMAC-SHA256, 32 bytes>

Version 1 differs in two places: `master raw` (the file did not say which raw-key source) and
entries without origins (read as bound to https://api.openai.com). A v1 vault opens as it
is; the first write turns it into v2. The master key (32 raw bytes, or scrypt of a
passphrase) yields the wrap, MAC and fingerprint keys by HKDF-Expand; the random data key
seals the entries. Every fault in the file's own bytes beyond its structure is one
`VaultAuthError` with no detail, and the MAC is checked before anything is decrypted.
`Vault.create`, `set` and `rekey` take `rand`, `now` and `data_key` seams so known-answer
tests can fix every random byte (tests/support/vault_fixture.py).

This module only parses, checks and builds bytes; files, locks and key sources live in
`secrets/store.py` (and the modules it names), which also has `lookup_secret`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from typing import NamedTuple

from ..errors import InputError
from ..redaction import remember
from .crypto import (KEY_LEN, NONCE_LEN, SALT_LEN, SCRYPT_LOG_N, TAG_LEN, ScryptParams, VaultAuthError,  # noqa: F401
                     VaultFormatError, _seal_from_parts, check_key, derive_passphrase_key, hkdf_expand,
                     new_scrypt_params, scrypt, seal, unseal)
from .names import CA_BUNDLE_SUFFIX, NAME_PATTERN, check_name
from ..config import DEFAULT_ORIGIN
from ..urls import is_origin

MAGIC = b"openai-skill-vault"
VERSION = 2                    # what this code writes
READABLE_VERSIONS = (1, 2)
VERSION_LINE = MAGIC + b" v2"

VAULT_ID_LEN = 16
MAC_LEN = 32
WRAPPED_KEY_LEN = NONCE_LEN + KEY_LEN + TAG_LEN

MAX_FILE_SIZE = 4 * 1024 * 1024
MAX_VALUE_LEN = 64 * 1024
MAX_ENTRIES = 1000
MAX_ORIGINS = 16               # per entry

# The key schedule is the one of v1 (the version line is under the MAC, so nothing can be
# downgraded); keeping it keeps fingerprints stable when a v1 vault is upgraded.
WRAP_KEY_INFO = b"openai-skill-vault v1 wrap key"
MAC_KEY_INFO = b"openai-skill-vault v1 file mac key"
FINGERPRINT_KEY_INFO = b"openai-skill-vault v1 fingerprint key"
# Associated data names the format version: a v1 ciphertext never opens as a v2 one.
WRAP_AAD_PREFIX = {1: b"openai-skill-vault v1 wrap\n", 2: b"openai-skill-vault v2 wrap\n"}    # + id + master line
ENTRY_AAD_PREFIX = {1: b"openai-skill-vault v1 entry\n", 2: b"openai-skill-vault v2 entry\n"}  # + id + name (+ origins)
FINGERPRINT_HEX_LEN = 8

KEY_FILE, ENV_KEY = "key-file", "env-key"   # v2: where a raw master key comes from
RAW_SOURCES = (KEY_FILE, ENV_KEY)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIMESTAMP = re.compile(rb"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z")

_B64 = rb"[A-Za-z0-9+/]*={0,2}"
_INT = rb"(0|[1-9][0-9]{0,15})"
_SCRYPT = rb"scrypt " + _INT + rb" " + _INT + rb" " + _INT + rb" (" + _B64 + rb")"
_NAME_TIMES = rb"entry (" + NAME_PATTERN.encode() + rb") ([0-9TZ:-]{20}) ([0-9TZ:-]{20}) "
_ORIGINS = rb"([a-z0-9:/.,\[\]-]{1,4096})"   # split and checked one by one in _origins
_COMMON = {
    b"id": re.compile(rb"id (" + _B64 + rb")"),
    b"wrap": re.compile(rb"wrap (" + _B64 + rb")"),
    b"generation": re.compile(rb"generation " + _INT),
    b"mac": re.compile(rb"mac (" + _B64 + rb")"),
}
_LINES = {
    1: {**_COMMON, b"master": re.compile(rb"master (raw|" + _SCRYPT + rb")"),
        b"entry": re.compile(_NAME_TIMES + rb"()(" + _B64 + rb")")},
    2: {**_COMMON, b"master": re.compile(rb"master (key-file|env-key|" + _SCRYPT + rb")"),
        b"entry": re.compile(_NAME_TIMES + _ORIGINS + rb" (" + _B64 + rb")")},
}


def _format_error(reason: str) -> VaultFormatError:
    messages = {
        "empty": "the vault file is empty",
        "not_a_vault": "the file is not an openai-skill vault",
        "unknown_version": "the vault uses a format version this openai-skill cannot read (it reads "
                           f"{', '.join(f'v{n}' for n in READABLE_VERSIONS)}); upgrade openai-skill",
        "truncated": "the vault file is truncated (it was cut short)",
        "corrupted": "the vault file is corrupted (its structure is not valid)",
        "too_large": f"the vault file is larger than {MAX_FILE_SIZE} bytes; refusing to read it",
    }
    return VaultFormatError(reason, messages[reason])


def entry_aad(version: int, vault_id: bytes, name: str, origins: tuple[str, ...]) -> bytes:
    aad = ENTRY_AAD_PREFIX[version] + vault_id + name.encode("ascii")
    return aad if version == 1 else aad + b"\n" + ",".join(origins).encode("ascii")


def _b64e(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def _b64d(text: bytes, length: int | None = None) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)  # pragma: no mutate (the canonical check below also refuses)
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
    origins: tuple[str, ...] = (DEFAULT_ORIGIN,)
    version: int = VERSION   # the format whose associated data sealed it

    def aad(self, vault_id: bytes) -> bytes:
        return entry_aad(self.version, vault_id, self.name, self.origins)

    def line(self) -> bytes:
        return b"entry %s %s %s %s %s" % (self.name.encode(), self.created.encode(), self.updated.encode(),
                                          ",".join(self.origins).encode(), _b64e(self.sealed))


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
    version: int = VERSION
    raw_source: str | None = None   # v2 raw keys: "key-file" or "env-key"; v1: not recorded


def parse(data: bytes) -> VaultFile:
    """Check the structure (and the KDF caps) of a vault file; raise VaultFormatError."""
    if not isinstance(data, bytes) or not data:
        raise _format_error("empty")
    if len(data) > MAX_FILE_SIZE:
        raise _format_error("too_large")
    if not data.startswith(MAGIC + b" "):
        raise _format_error("truncated" if (MAGIC + b" ").startswith(data) else "not_a_vault")
    first, newline, _ = data.partition(b"\n")
    match = re.fullmatch(rb"openai-skill-vault v([1-9][0-9]{0,8})", first)
    if not match:
        raise _format_error("truncated" if not newline and re.fullmatch(rb"openai-skill-vault v?", first)
                            else "corrupted")
    version = int(match.group(1))
    if version not in READABLE_VERSIONS:
        raise _format_error("unknown_version")
    if not data.endswith(b"\n"):
        raise _format_error("truncated")
    grammar = _LINES[version]
    lines = data[:-1].split(b"\n")[1:]
    fields = {kind: _line(grammar, lines, position, kind)
              for position, kind in enumerate((b"id", b"master", b"wrap", b"generation"))}
    entries, position = [], 4
    while position < len(lines) and lines[position].startswith(b"entry "):
        m = _line(grammar, lines, position, b"entry")
        origins = _origins(m.group(4)) if version >= 2 else (DEFAULT_ORIGIN,)
        entries.append(Entry(m.group(1).decode(), _time(m.group(2)), _time(m.group(3)), _b64d(m.group(5)),
                             origins, version))
        position += 1
    mac = _line(grammar, lines, position, b"mac")
    if position + 1 != len(lines):
        raise _format_error("corrupted")
    names = [e.name for e in entries]
    if names != sorted(set(names)) or len(entries) > MAX_ENTRIES:
        raise _format_error("corrupted")
    if any(len(e.sealed) < NONCE_LEN + TAG_LEN for e in entries):
        raise _format_error("corrupted")
    master = fields[b"master"]
    kdf, raw_source = None, None
    if master.group(1).startswith(b"scrypt"):
        kdf = ScryptParams(int(master.group(2)), int(master.group(3)), int(master.group(4)),
                           _b64d(master.group(5), SALT_LEN))
        kdf.check()
    elif version >= 2:
        raw_source = master.group(1).decode()
    signed = data[: len(data) - len(lines[position]) - 1]
    return VaultFile(
        vault_id=_b64d(fields[b"id"].group(1), VAULT_ID_LEN), kdf=kdf,
        master_line=b"master " + master.group(1),
        wrapped_key=_b64d(fields[b"wrap"].group(1), WRAPPED_KEY_LEN),
        generation=int(fields[b"generation"].group(1)), entries=tuple(entries),
        signed=signed, mac=_b64d(mac.group(1), MAC_LEN), version=version, raw_source=raw_source)


def _line(grammar: dict, lines: list[bytes], position: int, kind: bytes) -> re.Match:
    if position >= len(lines):
        raise _format_error("truncated")
    m = grammar[kind].fullmatch(lines[position])
    if not m:
        raise _format_error("corrupted")
    return m


def _origins(raw: bytes) -> tuple[str, ...]:
    origins = tuple(raw.decode("ascii").split(","))
    if (len(origins) > MAX_ORIGINS or list(origins) != sorted(set(origins))
            or not all(map(is_origin, origins))):
        raise _format_error("corrupted")
    return origins


def _time(raw: bytes) -> str:
    if not _TIMESTAMP.fullmatch(raw):
        raise _format_error("corrupted")
    return raw.decode("ascii")


def _now(now: float | None) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(time.time() if now is None else now))


def check_origins(origins) -> tuple[str, ...]:
    """Sorted, unique canonical origins, 1 to MAX_ORIGINS of them (a caller mistake: InputError)."""
    result = tuple(sorted(set(origins)))
    if not 1 <= len(result) <= MAX_ORIGINS or not all(map(is_origin, result)):
        raise InputError(f"an entry needs 1 to {MAX_ORIGINS} origins of the form https://host[:port]")
    return result


class Vault:
    """An authenticated vault in memory; entries stay sealed until `get`."""

    def __init__(self, vault_id: bytes, kdf: ScryptParams | None, master_key: bytes, data_key: bytes,
                 wrapped_key: bytes, generation: int, entries: dict[str, Entry], *,
                 version: int = VERSION, raw_source: str | None = KEY_FILE):
        self.vault_id = vault_id
        self.kdf = kdf
        self.master_key = master_key
        self.data_key = data_key
        self.wrapped_key = wrapped_key
        self.generation = generation
        self.entries = entries
        self.version = version
        self.raw_source = None if kdf is not None else raw_source  # None for a v1 raw key: unknown

    @classmethod
    def create(cls, master_key: bytes, kdf: ScryptParams | None = None, *, source: str = KEY_FILE,
               rand: Callable[[int], bytes] = os.urandom, data_key: bytes | None = None) -> Vault:
        """A new empty vault (generation 0) with a fresh id and data key."""
        vault = cls(rand(VAULT_ID_LEN), kdf, b"", b"", b"", 0, {})
        return vault.rekey(master_key, kdf, source=source, rand=rand, data_key=data_key)

    @classmethod
    def open(cls, data: bytes | VaultFile, master_key: bytes) -> Vault:
        """Parse, check the MAC, then unwrap the data key; raise VaultFormatError/VaultAuthError."""
        vf = data if isinstance(data, VaultFile) else parse(data)
        check_key(master_key)
        expected = hmac.new(hkdf_expand(master_key, MAC_KEY_INFO), vf.signed, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, vf.mac):
            raise VaultAuthError()
        wrap_key = hkdf_expand(master_key, WRAP_KEY_INFO)
        data_key = unseal(wrap_key, vf.wrapped_key, WRAP_AAD_PREFIX[vf.version] + vf.vault_id + vf.master_line)
        return cls(vf.vault_id, vf.kdf, master_key, data_key, vf.wrapped_key, vf.generation,
                   {e.name: e for e in vf.entries}, version=vf.version, raw_source=vf.raw_source)

    def get(self, name: str) -> str | None:
        entry = self.entries.get(name)
        if entry is None:
            return None
        value = unseal(self.data_key, entry.sealed, entry.aad(self.vault_id)).decode("utf-8")
        if not name.endswith(CA_BUNDLE_SUFFIX):  # a secret: masked from now on (certificates are public)
            remember(value)
        return value

    def origins(self, name: str) -> tuple[str, ...] | None:
        entry = self.entries.get(name)
        return None if entry is None else entry.origins

    def set(self, name: str, value: str, *, origins=None, now: float | None = None,
            rand: Callable[[int], bytes] = os.urandom) -> None:
        """Store `value`; `origins` default to the entry's current ones, else the default origin."""
        check_name(name)
        raw = value.encode("utf-8")
        if not raw or len(raw) > MAX_VALUE_LEN:
            raise InputError(f"a secret must be 1 to {MAX_VALUE_LEN} bytes long")
        if name not in self.entries and len(self.entries) >= MAX_ENTRIES:
            raise InputError(f"the vault holds at most {MAX_ENTRIES} entries")
        old = self.entries.get(name)
        origins = check_origins(origins if origins is not None else old.origins if old else (DEFAULT_ORIGIN,))
        stamp = _now(now)
        entry = Entry(name, old.created if old else stamp, stamp, b"", origins, VERSION)
        self.entries[name] = entry._replace(sealed=seal(self.data_key, raw, entry.aad(self.vault_id), rand))

    def set_origins(self, name: str, origins, *, rand: Callable[[int], bytes] = os.urandom) -> None:
        """Re-seal an entry bound to `origins` (they are in its associated data)."""
        old = self.entries[name]
        plain = unseal(self.data_key, old.sealed, old.aad(self.vault_id))
        entry = old._replace(origins=check_origins(origins), version=VERSION, updated=_now(None))
        self.entries[name] = entry._replace(sealed=seal(self.data_key, plain, entry.aad(self.vault_id), rand))

    def remove(self, name: str) -> bool:
        return self.entries.pop(name, None) is not None

    def fingerprint(self, name: str) -> str:
        """First 8 hex digits of HMAC-SHA256 under a vault-derived key: identifies, never reveals."""
        value = self.get(name)
        if value is None:
            raise InputError(f"the vault has no entry named {name!r}", field="name", reason="no_such_entry")
        key = hkdf_expand(self.master_key, FINGERPRINT_KEY_INFO)
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_HEX_LEN]

    def rekey(self, master_key: bytes, kdf: ScryptParams | None, *, source: str | None = None,
              rand: Callable[[int], bytes] = os.urandom, data_key: bytes | None = None) -> Vault:
        """A v2 copy under a new data key (and the given master key), every entry re-sealed.

        `source` says where a raw master key comes from ("key-file" or "env-key"); by default
        the current one.
        """
        check_key(master_key)
        source = None if kdf is not None else (source or self.raw_source or KEY_FILE)
        if source is not None and source not in RAW_SOURCES:
            raise ValueError(f"a raw master key comes from one of {RAW_SOURCES}")
        new_key = data_key or rand(KEY_LEN)
        new = Vault(self.vault_id, kdf, master_key, new_key, b"", self.generation, {}, raw_source=source)
        new.wrapped_key = seal(hkdf_expand(master_key, WRAP_KEY_INFO), new_key,
                               WRAP_AAD_PREFIX[VERSION] + self.vault_id + new.master_line(), rand)
        for name in sorted(self.entries):
            old = self.entries[name]
            plain = unseal(self.data_key, old.sealed, old.aad(self.vault_id))
            entry = old._replace(version=VERSION)
            new.entries[name] = entry._replace(sealed=seal(new_key, plain, entry.aad(self.vault_id), rand))
        return new

    def master_line(self) -> bytes:
        if self.kdf is None:
            if self.raw_source is None:  # a v1 raw key (source not recorded): to_bytes refuses it first
                raise ValueError("a vault read from a v1 file is written only after rekey() (the v2 upgrade)")
            return b"master " + self.raw_source.encode()
        return b"master scrypt %d %d %d %s" % (self.kdf.log_n, self.kdf.r, self.kdf.p, _b64e(self.kdf.salt))

    def to_bytes(self) -> bytes:
        """The v2 file; a vault read from a v1 file must be `rekey`ed first (store does that)."""
        if self.version != VERSION or any(e.version != VERSION for e in self.entries.values()):
            raise ValueError("a vault read from a v1 file is written only after rekey() (the v2 upgrade)")
        lines = [VERSION_LINE, b"id " + _b64e(self.vault_id), self.master_line(),
                 b"wrap " + _b64e(self.wrapped_key), b"generation %d" % self.generation]
        lines += [self.entries[name].line() for name in sorted(self.entries)]
        signed = b"\n".join(lines) + b"\n"
        mac = hmac.new(hkdf_expand(self.master_key, MAC_KEY_INFO), signed, hashlib.sha256).digest()
        return signed + b"mac " + _b64e(mac) + b"\n"
