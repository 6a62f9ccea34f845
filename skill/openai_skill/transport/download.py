"""Downloading a generated image from its (signed, short-lived) URL: no key, capped size,
never to a private address, within one deadline across every redirect hop."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin

from ..config import Settings
from ..errors import UnexpectedResponseError
from .body import MAX_DOWNLOAD_BYTES
from .call import Call, no_auth
from .error_map import media_type
from .request import ApiRequest
from .session import peer_rule
from ..errors import InsecureTransportError
from ..urls import _EMPTY, _ip, _lenient, host_of, is_loopback_host, parse, safe_url

MAX_DOWNLOAD_REDIRECTS = 5
IMAGE_ACCEPT = "image/*, */*;q=0.5"


def download(url: str, settings: Settings, *,
             max_bytes: int = MAX_DOWNLOAD_BYTES) -> tuple[bytes, str]:
    """GET `url` (an image URL) without any Authorization header; return (bytes, media type).

    At every redirect hop: only https (plain http only on loopback), and never a private,
    link-local or loopback address unless the API base itself is loopback
    (`urls.check_download_url`). A body larger than `max_bytes` is refused
    (UnexpectedResponseError) without being kept in memory. Retries and timeouts as for
    `send`; one deadline for all hops.
    """
    deadline_at = None  # set by the first hop's call; later hops share it
    for _hop in range(MAX_DOWNLOAD_REDIRECTS + 1):
        check_peer = check_download_url(url, settings.base_url)
        request = ApiRequest("GET", url, {"Accept": IMAGE_ACCEPT})
        with Call(request, no_auth, settings, max_bytes=max_bytes, what="the image",
                  hint=" (image URLs expire 60 minutes after creation)",
                  deadline_at=deadline_at) as call, peer_rule(check_peer):
            deadline_at = call.deadline_at
            response, body = call.run(read_body=True, accept_redirects=True)
        if 300 <= response.status_code < 400 and response.headers.get("location"):
            url = urljoin(url, response.headers["location"])
            continue
        return bytes(body), media_type(response) or "application/octet-stream"
    raise UnexpectedResponseError(
        f"more than {MAX_DOWNLOAD_REDIRECTS} redirects while downloading from {host_of(url)}")


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
