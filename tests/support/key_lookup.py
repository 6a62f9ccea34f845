"""What tests ask of the key sources, in one line each (the code's own objects underneath)."""

from __future__ import annotations

import os

from openai_skill.client import Client
from openai_skill.config import DEFAULT_ORIGIN
from openai_skill.secrets.sources import VaultKey


def resolve_api_key(explicit: str | None = None, env=None, *, url: str | None = None) -> str:
    """The key the default chain gives for a request to `url` (default: the base URL in effect)."""
    client = Client(api_key=explicit, env=os.environ if env is None else env)
    return client.key_for(url or client.base_url).reveal()


def lookup_secret(name: str, env=None, *, origin: str | None = None) -> str | None:
    """The vault entry's value for `origin` (default: api.openai.com), or None without one."""
    secret = VaultKey(os.environ if env is None else env, name).key_for(origin or DEFAULT_ORIGIN)
    return None if secret is None else secret.reveal()
