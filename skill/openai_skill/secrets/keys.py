"""Finding the OpenAI API key: one function, one order, one error that names every fix.

Order: the explicit argument, then the environment variable skill.yaml names
(OPENAI_API_KEY), then the vault entry it names (openai_api_key, stored with
`openai-skill setup`). A key from the vault goes only to the origins its entry allows
(`vault allow-origin`); a key the caller or the user's environment gives is their choice and
goes wherever the request goes.
"""

from __future__ import annotations

import os
import re

from ..config import DEFAULT_BASE_URL, ENV_BASE_URL
from ..config import is_malformed_key as is_malformed
from ..errors import CredentialsError
from ..manifest import load_manifest
from ..redaction import remember


def credential() -> dict:
    """skill.yaml's `credential`: name (the vault entry), env, prefix, label, description."""
    return load_manifest().credential


def resolve_api_key(explicit: str | None = None, env=None, *, url: str | None = None) -> str:
    """Return the key to use for a request to `url`, or raise CredentialsError saying how to
    provide one (or, for a vault key, how to allow that origin).

    `url` is the request's URL (or its base URL); without it, the base URL the environment
    selects. A caller whose settings override the base URL must pass it.
    """
    env = os.environ if env is None else env
    spec = credential()
    for source, key in (("the api_key argument", explicit), (spec["env"], env.get(spec["env"]))):
        if key:
            return _checked(key, source)
    from .origins import origin_of  # on use only: the vault costs nothing when the env has a key
    from .store import lookup_secret

    origin = origin_of(url or env.get(ENV_BASE_URL) or DEFAULT_BASE_URL)
    key = lookup_secret(spec["name"], env=env, origin=origin)
    if key:
        return _checked(key, f"the vault entry {spec['name']!r}")
    raise CredentialsError(
        f"no OpenAI API key found: set {spec['env']}={spec['prefix']}... in the environment, "
        f"or store one once, kept encrypted in the vault: `openai-skill setup` in a terminal, or, in an MCP "
        f"client, the setup_integration tool (it opens a local page for the key; never paste a key into a chat)"
    )


def looks_like_api_key(secret: str) -> bool:
    """The shape of an OpenAI key (sk-, sk-proj-, sk-svcacct-, ...): the prefix, then a long token."""
    return re.fullmatch(re.escape(credential()["prefix"]) + r"[A-Za-z0-9_-]{20,}", secret) is not None


def _checked(key: str, source: str) -> str:
    key = key.strip()
    remember(key)
    if is_malformed(key):
        raise CredentialsError(f"the API key from {source} is malformed (it contains whitespace, "
                               "control or non-ASCII characters); set it again")
    return key
