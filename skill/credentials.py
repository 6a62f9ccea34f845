"""Finding the OpenAI API key: one function, one order, one error that names every fix.

Order: the explicit argument, then the OPENAI_API_KEY environment variable, then the vault
entry `openai_api_key` (stored with `openai-skill setup`).
"""

from __future__ import annotations

import os

from .errors import CredentialsError
from .redact import remember

DEFAULT_ENV = "OPENAI_API_KEY"
DEFAULT_ENTRY = "openai_api_key"


def resolve_api_key(explicit: str | None = None, env=None, *, env_name: str = DEFAULT_ENV,
                    entry: str = DEFAULT_ENTRY) -> str:
    """Return the key to use, or raise CredentialsError saying how to provide one."""
    env = os.environ if env is None else env
    for source, key in (("the api_key argument", explicit), (env_name, env.get(env_name))):
        if key:
            return _checked(key, source)
    from .vault import lookup_secret  # on use only: the vault costs nothing when the env has a key

    key = lookup_secret(entry, env=env)
    if key:
        return _checked(key, f"the vault entry {entry!r}")
    raise CredentialsError(
        f"no OpenAI API key found: set {env_name}=sk-... in the environment, "
        f"or store one once with `openai-skill setup` (kept encrypted in the vault)"
    )


def _checked(key: str, source: str) -> str:
    key = key.strip()
    remember(key)
    # A key with spaces or control characters would corrupt the Authorization header.
    if not key or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise CredentialsError(f"the API key from {source} is malformed (it contains whitespace or "
                               "control characters); set it again")
    return key
