"""The origin binding of stored keys: a vault or keychain entry goes only to the origins it
records (VAULT-FORMAT.md, Origins). One check, one message, for every bound source."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import CredentialsError


# The keychain source's name (keychain.WHERE): its origins live in the keychain record, and
# `vault allow-origin ... --keychain` changes them.
KEYCHAIN = "the OS keychain"


def allow_hint(name: str, origin: str, where: str = "the vault") -> str:
    """The command that lets the entry go to `origin`."""
    return f"openai-skill vault allow-origin {name} {origin}" + (" --keychain" if where == KEYCHAIN else "")


def check_origin(where: str, name: str, allowed: Sequence[str], origin: str) -> None:
    """Refuse (CredentialsError, nothing sent) a bound key for an origin its entry does not allow."""
    if origin not in allowed:
        raise CredentialsError(
            f"{where} entry {name!r} may be sent only to {', '.join(allowed)}, and this request goes to "
            f"{origin}; nothing was sent. Only a person can let it go there: if they trust {origin} with this "
            f"key, they run `{allow_hint(name, origin, where)}` in a terminal and type the word it shows (no flag "
            f"or pipe can answer it), or put the key in the environment themselves", reason="origin_not_allowed",
            origin=origin)
