"""Judging URLs before anything is sent: where the API key (or a download) may go.

The host is judged with `urllib3.util.parse_url`, the parser that requests and urllib3 use
to decide where to connect, so the check and the connection cannot disagree about the host
(`urlsplit` and urllib3 read `http://a\\@b/` differently). Anything that could make parsers
disagree — userinfo, backslashes, control characters, whitespace — is refused outright.
"""

from __future__ import annotations

import ipaddress
import socket

from ..errors import InsecureTransportError

LOCALHOST = "localhost"
_FIX_BASE = "Fix OPENAI_BASE_URL (or the base_url option)"


def parse(url: str, *, what: str = "the base URL"):
    """urllib3's reading of `url` (scheme, auth, host, port, path, query), or
    InsecureTransportError saying why it is not a URL we will connect to."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    text = url if isinstance(url, str) else ""
    shown = _shown(text)
    if not text:
        raise InsecureTransportError(f"{what} is empty; {_FIX_BASE} to an https:// URL.")
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in text):
        raise InsecureTransportError(
            f"{what} {shown} contains a backslash, whitespace or a control character; "
            "refusing it (parsers disagree on where such a URL goes).")
    try:
        parts = parse_url(text)
    except (LocationParseError, ValueError):
        raise InsecureTransportError(f"{what} {shown} is not a URL.") from None
    if parts.scheme is None or "://" not in text:
        raise InsecureTransportError(
            f"{what} {shown} has no scheme; write it as https://{text} "
            "(or http:// for a server on this machine).")
    if parts.scheme not in ("http", "https"):
        raise InsecureTransportError(f"{what} {shown} is not an http(s) URL.")
    if not parts.host:
        raise InsecureTransportError(f"{what} {shown} has no host.")
    if parts.auth is not None or "@" in _authority(text):
        raise InsecureTransportError(
            f"{what} {shown} carries user:password@ before the host; refusing it (the key "
            "goes in a header, never in the URL).")
    return parts


def is_loopback_host(host: str | None) -> bool:
    """An IP literal that `ipaddress` calls loopback, or exactly `localhost`. Nothing else:
    `127.evil.example`, `localhost.`, `0x7f.1` and `2130706433` all resolve somewhere a
    string check cannot know."""
    if not host:
        return False
    if host == LOCALHOST:
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def host_of(url: str) -> str:
    """host[:port] as urllib3 would connect to it ("?" if there is none)."""
    parts = _lenient(url)
    if parts is None or not parts.host:
        return "?"
    return f"{parts.host}:{parts.port}" if parts.port else parts.host


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: no userinfo, no query or fragment (signed image URLs carry
    their tokens in the query)."""
    parts = _lenient(url)
    if parts is None:
        return "?"
    if not parts.scheme:
        return parts.path or "?"
    return f"{parts.scheme}://{host_of(url)}{parts.path or ''}"


def check_transport(url: str) -> None:
    """Refuse a URL the key must not travel to: not a proper http(s) URL, or plain http to
    anything but loopback. Called when an ApiRequest is built, so nothing that refuses can
    ever reach a socket."""
    parts = parse(url)
    if parts.scheme == "https" or is_loopback_host(parts.host):
        return
    raise InsecureTransportError(
        f"refusing to send the API key to http://{host_of(url)}: only https is allowed (plain "
        f"http only to loopback: 127.0.0.0/8, ::1 or localhost). {_FIX_BASE} to an https:// URL.")


def uses_plain_http(url: str) -> bool:
    return (_lenient(url) or _EMPTY).scheme == "http"


# Seam for tests: how a download's host name is resolved before it is judged.
_resolve = socket.getaddrinfo


def check_download_url(url: str, base_url: str, *, resolve=None):
    """Where a generated image may be fetched from: the same URL rules as for the API, and
    (against server-side request forgery) never a private, link-local, loopback or otherwise
    non-public address unless the API base itself is loopback (a local test server).

    Returns the rule for the address actually connected to (`check_peer`), or None when any
    address will do: a name can resolve differently a moment later (DNS rebinding), so the
    session checks the connected socket's peer too, before a byte is sent."""
    try:
        parts = parse(url, what="the image URL")
    except InsecureTransportError as exc:
        raise InsecureTransportError(f"refusing to download: {exc.message}") from None
    local_api = is_loopback_host((_lenient(base_url) or _EMPTY).host)
    if parts.scheme != "https" and not is_loopback_host(parts.host):
        raise InsecureTransportError(
            f"refusing to download {safe_url(url)}: only https URLs (plain http only on "
            "loopback) are fetched")
    if local_api:
        return None
    for address in _addresses(parts.host, parts.port or 443, resolve or _resolve):
        _refuse_private(address, url, parts.host)
    return lambda peer: _refuse_private(ipaddress.ip_address(peer.split("%")[0]), url, parts.host)


def _refuse_private(address, url: str, host: str) -> None:
    if not address.is_global or address.is_multicast:
        raise InsecureTransportError(
            f"refusing to download {safe_url(url)}: {host} is {address}, a private, "
            "loopback or link-local address (image URLs from the API are public)")


def _addresses(host: str, port: int, resolve) -> list:
    literal = _ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        from ..errors import APIConnectionError

        raise APIConnectionError(f"could not resolve {host}: {exc}") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _authority(text: str) -> str:
    rest = text.split("://", 1)[-1]
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest


def _ip(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _lenient(url):
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        return parse_url(url if isinstance(url, str) else "")
    except (LocationParseError, ValueError):
        return None


class _Empty:
    scheme = host = None


_EMPTY = _Empty()


def _shown(text: str, limit: int = 80) -> str:
    """The URL for a message: its query dropped, control characters made visible."""
    head = text.split("?", 1)[0]
    head = head if len(head) <= limit else head[:limit] + "…"
    return repr(head)
