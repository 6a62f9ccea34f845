"""Downloading a generated image from its (signed, short-lived) URL: no key, capped size."""

from __future__ import annotations

from urllib.parse import urljoin

from ..config import Settings
from ..errors import InsecureTransportError, UnexpectedResponseError
from .error_map import media_type as _content_type, host_of as _host, safe_url as _safe_url
from .http import MAX_DOWNLOAD_BYTES, MAX_DOWNLOAD_REDIRECTS, _Call, _no_auth
from .request import USER_AGENT
from .urls import check_transport


def download(url: str, settings: Settings, *,
             max_bytes: int = MAX_DOWNLOAD_BYTES) -> tuple[bytes, str]:
    """GET `url` (an image URL) without any Authorization header; return (bytes, media type).

    Only https, or plain http to loopback, at every redirect hop; a body larger than
    `max_bytes` is refused (UnexpectedResponseError) without being kept in memory.
    Retries, timeouts and the deadline as for `send`.
    """
    deadline_at = None  # set by the first hop's call; later hops share it
    for _hop in range(MAX_DOWNLOAD_REDIRECTS + 1):
        _check_download_url(url)
        headers = {"User-Agent": USER_AGENT, "Accept": "image/*, */*;q=0.5"}
        call = _Call("GET", url, headers, None, _no_auth, settings, max_bytes=max_bytes,
                     hint=" (image URLs expire 60 minutes after creation)",
                     deadline_at=deadline_at)
        deadline_at = call.deadline_at
        response, body = call.run(read_body=True, accept_redirects=True)
        if 300 <= response.status_code < 400 and response.headers.get("location"):
            url = urljoin(url, response.headers["location"])
            continue
        return body, _content_type(response) or "application/octet-stream"
    raise UnexpectedResponseError(
        f"more than {MAX_DOWNLOAD_REDIRECTS} redirects while downloading from {_host(url)}")


def _check_download_url(url: str) -> None:
    try:
        check_transport(url)
    except InsecureTransportError:
        raise InsecureTransportError(
            f"refusing to download {_safe_url(url)}: only https URLs (plain http only on "
            "loopback) are fetched") from None
