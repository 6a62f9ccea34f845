"""Downloading a generated image from its (signed, short-lived) URL: no key, capped size,
never to a private address, within one deadline across every redirect hop."""

from __future__ import annotations

from urllib.parse import urljoin

from ..config import Settings
from ..errors import UnexpectedResponseError
from .body import MAX_DOWNLOAD_BYTES
from .call import Call, no_auth
from .error_map import media_type
from .request import ApiRequest
from .session import peer_rule
from .urls import check_download_url, host_of

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
