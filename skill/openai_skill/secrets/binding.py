"""The origin binding of stored keys: a vault or keychain entry goes only to the origins it
records (VAULT-FORMAT.md, Origins). One check, one message, for every bound source."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import CredentialsError


def allow_hint(name: str, origin: str) -> str:
    return f"openai-skill vault allow-origin {name} {origin}"


def check_origin(where: str, name: str, allowed: Sequence[str], origin: str) -> None:
    """Refuse (CredentialsError, nothing sent) a bound key for an origin its entry does not allow."""
    if origin not in allowed:
        raise CredentialsError(
            f"{where} entry {name!r} may be sent only to {', '.join(allowed)}, and this request goes to "
            f"{origin}; nothing was sent. If you trust {origin} with this key, run `{allow_hint(name, origin)}` "
            f"(or put the key in the environment yourself)", reason="origin_not_allowed", origin=origin)
