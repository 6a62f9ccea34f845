"""The vault's cryptographic primitives: scrypt with capped parameters, HKDF-Expand, AES-256-GCM.

Every fault a key must catch is one `VaultAuthError` with no detail; parameters a file may
not ask for are a `VaultFormatError` raised before any work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from typing import NamedTuple

from ..errors import VaultError

KEY_LEN = 32          # master, data and derived keys: 256 bits
NONCE_LEN = 12        # 96-bit GCM nonce, fresh from os.urandom for every encryption
TAG_LEN = 16
SALT_LEN = 16

# scrypt for new passphrase vaults: OWASP's minimum (age uses log2 N = 18).
SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
# Caps checked before any work when reading: a file may not ask for more than this.
MIN_SCRYPT_LOG_N = 10
MAX_SCRYPT_LOG_N = 20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 1 << 30   # 128 * r * N bytes
MAX_SCRYPT_WORK = 1 << 24     # N * r * p (16x the default)


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


KDF_TOO_LARGE = ("the vault asks for more scrypt work than allowed "
                 f"(log2 N <= {MAX_SCRYPT_LOG_N}, r <= {MAX_SCRYPT_R}, p <= {MAX_SCRYPT_P}, "
                 f"memory <= {MAX_SCRYPT_MEMORY >> 20} MiB); refusing to derive the key")


class ScryptParams(NamedTuple):
    log_n: int
    r: int
    p: int
    salt: bytes

    def check(self) -> None:
        """Refuse parameters a file may not ask for (too little work is also nonsense)."""
        n = 1 << self.log_n if self.log_n < 64 else 1 << 64
        if (self.log_n < MIN_SCRYPT_LOG_N or self.r < 1 or self.p < 1 or len(self.salt) != SALT_LEN):
            raise VaultFormatError("corrupted", "the vault file is corrupted (its structure is not valid)")
        if (self.log_n > MAX_SCRYPT_LOG_N or self.r > MAX_SCRYPT_R or self.p > MAX_SCRYPT_P
                or 128 * self.r * n > MAX_SCRYPT_MEMORY or n * self.r * self.p > MAX_SCRYPT_WORK):
            raise VaultFormatError("kdf_too_large", KDF_TOO_LARGE)


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

    if len(sealed) < NONCE_LEN + TAG_LEN:  # pragma: no mutate (GCM refuses the edge case the same way)
        raise VaultAuthError()
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_LEN], sealed[NONCE_LEN:], aad)
    except InvalidTag:
        raise VaultAuthError() from None


def check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_LEN:
        raise ValueError(f"a master key is {KEY_LEN} bytes")
