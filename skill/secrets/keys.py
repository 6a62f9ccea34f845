"""Finding the OpenAI API key: one function, one order, one error that names every fix.

Order: the explicit argument, then the environment variable skill.yaml names
(OPENAI_API_KEY), then the vault entry it names (openai_api_key, stored with
`openai-skill setup`).
"""

from __future__ import annotations

import os
import re

from ..config import is_malformed_key as is_malformed
from ..errors import CredentialsError
from ..manifest import load_manifest
from ..redaction import remember


def credential() -> dict:
    """skill.yaml's `credential`: name (the vault entry), env, prefix, label, description."""
    return load_manifest().credential


def resolve_api_key(explicit: str | None = None, env=None) -> str:
    """Return the key to use, or raise CredentialsError saying how to provide one."""
    env = os.environ if env is None else env
    spec = credential()
    for source, key in (("the api_key argument", explicit), (spec["env"], env.get(spec["env"]))):
        if key:
            return _checked(key, source)
    from .store import lookup_secret  # on use only: the vault costs nothing when the env has a key

    key = lookup_secret(spec["name"], env=env)
    if key:
        return _checked(key, f"the vault entry {spec['name']!r}")
    raise CredentialsError(
        f"no OpenAI API key found: set {spec['env']}={spec['prefix']}... in the environment, "
        f"or store one once with `openai-skill setup` (kept encrypted in the vault)"
    )


def looks_like_api_key(secret: str) -> bool:
    """The shape of an OpenAI key (sk-, sk-proj-, sk-svcacct-, ...): the prefix, then a long token."""
    return re.fullmatch(re.escape(credential()["prefix"]) + r"[A-Za-z0-9_-]{20,}", secret) is not None


def _checked(key: str, source: str) -> str:
    key = key.strip()
    remember(key)
    if is_malformed(key):
        raise CredentialsError(f"the API key from {source} is malformed (it contains whitespace or "
                               "control characters); set it again")
    return key
