"""Judging URLs before anything is sent: where the API key may go."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import InsecureTransportError

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_transport(url: str) -> None:
    """Refuse to send a key over plain http anywhere but loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    host = (parts.hostname or "").lower()
    if parts.scheme == "http" and (host in LOOPBACK_HOSTS or host.startswith("127.")):
        return
    raise InsecureTransportError(
        f"refusing to send the API key to {parts.scheme}://{parts.hostname or ''}: only https is "
        "allowed (plain http only to loopback). Fix OPENAI_BASE_URL to an https:// URL."
    )
