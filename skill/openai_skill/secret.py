"""A secret the skill holds (the API key): one value object from its source to the header.

Created once, where the key is found (an explicit argument, the environment, the vault, the
keychain). Creating it checks the shape once (a key with spaces, control or non-ASCII
characters would corrupt the Authorization header) and registers the value for redaction, so
every later message is masked. It never prints itself: `str`, `repr` and f-strings show
`[REDACTED]` with where it came from, and it cannot be pickled or copied into a log by accident.
Only the transport's auth object calls `reveal()`.
"""

from __future__ import annotations

import hmac

from .errors import CredentialsError
from .redaction import remember

REDACTED = "[REDACTED]"


def is_malformed_key(key: str | None) -> bool:
    """A key that cannot go in an Authorization header as is: empty, with spaces or control
    characters (they would corrupt the header), or with non-ASCII characters (HTTP headers
    are Latin-1 at best; OpenAI keys are ASCII, so such a key is a paste error)."""
    return not key or not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key)


class Secret:
    """An API key and where it came from (`source`, e.g. "OPENAI_API_KEY")."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str):
        if not isinstance(value, str):
            raise CredentialsError(f"the API key from {source} is not text")
        value = value.strip()
        remember(value)  # before any message could quote it
        if is_malformed_key(value):
            raise CredentialsError(f"the API key from {source} is empty or malformed (it contains whitespace, "
                                   "control or non-ASCII characters); set it again")
        self._value = value
        self.source = source

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
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled (it would carry the key in clear)")


__all__ = ["Secret", "is_malformed_key", "REDACTED"]
