"""A secret the skill holds (the API key): one value object from its source to the header.

Created once, where the key is found (an explicit argument, the environment, the vault, the
keychain). Creating it checks the shape once (a key with spaces, control or non-ASCII
characters would corrupt the Authorization header) and registers the value for redaction, so
every later message is masked. It never prints itself: `str`, `repr` and f-strings show
`[REDACTED]` with where it came from, and it cannot be pickled or copied into a log by accident.
Only the transport's auth object calls `reveal()`.

A key from a store that binds it to origins (the vault, the OS keychain) is `bound`: the
binding names the hosts it may go to, and TLS is what proves a host is that host, so the
transport verifies the server against certifi's bundle (or the CA bundle the entry records,
`ca_bundle`) and nothing in the environment (SSL_CERT_FILE, SSL_CERT_DIR, REQUESTS_CA_BUNDLE,
CURL_CA_BUNDLE, SSLKEYLOGFILE) may change that. A key the caller passes or exports goes
wherever the caller's environment says.
"""

from __future__ import annotations

from .errors import CredentialsError
from .redaction import remember

REDACTED = "[REDACTED]"


def is_malformed_key(key: str | None) -> bool:
    """A key that cannot go in an Authorization header as is: empty, with spaces or control
    characters (they would corrupt the header), or with non-ASCII characters (HTTP headers
    are Latin-1 at best; OpenAI keys are ASCII, so such a key is a paste error)."""
    return not key or not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key)


class Secret:
    """An API key and where it came from (`source`, e.g. "OPENAI_API_KEY"); `bound` and
    `ca_bundle` (PEM text) say how the server it goes to must be verified (see above)."""

    __slots__ = ("_value", "source", "bound", "ca_bundle")

    def __init__(self, value: str, source: str, *, bound: bool = False, ca_bundle: str | None = None):
        if not isinstance(value, str):
            raise CredentialsError(f"the API key from {source} is not text")
        value = value.strip()
        remember(value)  # before any message could quote it
        if is_malformed_key(value):
            raise CredentialsError(f"the API key from {source} is empty or malformed (it contains whitespace, "
                                   "control or non-ASCII characters); set it again")
        self._value = value
        self.source = source
        self.bound = bound
        self.ca_bundle = ca_bundle if bound else None

    def reveal(self) -> str:
        """The value itself: for the Authorization header and for storing it, nothing else."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED}, source={self.source!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # on use: every CLI call imports this module, few compare keys

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled (it would carry the key in clear)")


__all__ = ["Secret", "is_malformed_key", "REDACTED"]
