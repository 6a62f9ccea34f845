"""Origins: where a vault entry may be sent (scheme://host[:port], VAULT-FORMAT.md, Origins).

A vault entry records the origins it is for; the API key from the vault is sent only to a
request whose origin is one of them. Origins are compared in one canonical form: scheme and
host in lower case, the default port dropped, no path. Anything that could make two parsers
disagree about the host (userinfo, backslashes, whitespace, control or non-ASCII characters)
is refused instead of guessed at: the comparison must judge the host that is really contacted.
"""

from __future__ import annotations

import re

from ..errors import InputError

# Cheap to compile (every CLI call compiles it): the DNS label rules are checked in is_origin.
ORIGIN_PATTERN = r"https?://(?:[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::[1-9][0-9]{0,4})?"
ORIGIN = re.compile(ORIGIN_PATTERN)
MAX_ORIGINS = 16   # per entry
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Anything but printable ASCII without the backslash (a negated class: cheap to compile).
_UNSAFE = re.compile(r"[^\x21-\x5b\x5d-\x7e]")


def origin_of(url: str) -> str:
    """The canonical origin of a URL or origin; InputError if it is not a plain http(s) URL."""
    if not isinstance(url, str) or not url or _UNSAFE.search(url):
        raise InputError(f"{_shown(url)} is not a URL this skill can judge: it contains spaces, control or "
                         "non-ASCII characters or backslashes (write a host in its punycode form)")
    from urllib3.util import parse_url  # the parser that sends the request judges it too
    from urllib3.exceptions import LocationParseError

    try:
        parts = parse_url(url)
    except LocationParseError:
        raise InputError(f"{_shown(url)} is not a URL") from None
    scheme = (parts.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS or not parts.host or "://" not in url:
        raise InputError(f"{_shown(url)} is not an http(s) URL (expected e.g. https://api.example.com/v1)")
    if parts.auth is not None or "@" in url.split("://", 1)[1].split("/", 1)[0]:
        raise InputError(f"{_shown(url)} carries a user name or password: refused, since it hides the host")
    host = parts.host.lower()
    port = parts.port
    if port is not None and not 0 < port < 65536:
        raise InputError(f"{_shown(url)} has an invalid port")
    origin = f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")
    if not is_origin(origin):
        raise InputError(f"{_shown(url)} does not name a host this skill can judge")
    return origin


def is_origin(text) -> bool:
    """Whether `text` is an origin in canonical form (see VAULT-FORMAT.md, Layout)."""
    if not isinstance(text, str) or not ORIGIN.fullmatch(text):
        return False
    rest = text.split("://", 1)[1]
    if rest.startswith("["):  # an IPv6 literal
        port = rest.rpartition("]")[2].lstrip(":")
    else:
        host, _, port = rest.partition(":")
        if not all(0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-" for label in host.split(".")):
            return False
    return not port or int(port) <= 65535


def _shown(url) -> str:
    return repr(url[:200]) if isinstance(url, str) else type(url).__name__


# The origin of config.DEFAULT_BASE_URL, written out so that reading a vault needs no URL
# parser (tests/test_vault_origins.py holds the two together).
DEFAULT_ORIGIN = "https://api.openai.com"


def allow_hint(name: str, origin: str) -> str:
    return f"openai-skill vault allow-origin {name} {origin}"
