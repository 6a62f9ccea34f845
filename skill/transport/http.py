"""The HTTP layer: one shared `requests.Session`, explicit timeouts on every call, a total
deadline, retries per `transport.retry`, and every failure mapped onto `openai_skill.errors`.

`requests` is imported on first use only, so commands that never touch the network (such as
`--dry-run`) do not pay for it. The key travels only in the Authorization header of the
request it belongs to; it is never stored on the session, logged, or put into an error.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from . import retry
from .request import USER_AGENT, ApiRequest
from . import error_map
from .error_map import EVENT_STREAM_TYPE, HEADER_REQUEST_ID, JSON_TYPE, MAX_ERROR_BODY_BYTES
from .urls import check_transport
from ..config import Settings, is_malformed_key as is_malformed
from ..errors import APIConnectionError, APIError, APITimeoutError, CredentialsError, UnexpectedResponseError
from ..redaction import remember
from .sse import DONE, iter_events, iter_lines

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024   # an image larger than this is refused, not buffered
MAX_DOWNLOAD_REDIRECTS = 5
READ_CHUNK_BYTES = 64 * 1024

# Seams for tests: patch these to skip real waits or move the clock.
_sleep = time.sleep
_clock = time.monotonic

_session = None
_session_lock = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiResponse:
    """A successful JSON answer. `headers` has lower-case names."""

    status: int
    headers: dict = field(repr=False)
    data: dict
    request_id: str | None = None


def send(request: ApiRequest, api_key: str, settings: Settings, *, observe=None) -> ApiResponse:
    """Send `request` with the key, retrying per `transport.retry`; return the parsed JSON object.

    Raises InsecureTransportError (before any connection) for plain http off loopback, the
    APIError subclass for the status, UnexpectedResponseError for a 2xx that is not a JSON
    object, APITimeoutError / APIConnectionError for transport failures and the deadline.
    `observe(status, headers)`, if given, sees every attempt's answer (a 429 included), with
    lower-case header names: the bulk engine's rate limiter learns from it.
    """
    check_transport(request.url)
    headers = _api_headers(request, api_key, accept=JSON_TYPE)
    call = _Call(request.method, request.url, headers, _encode(request.body),
                 _BearerAuth(api_key), settings, observe=observe)
    response, body = call.run(read_body=True)
    data = error_map.parse_object(body, response)
    return ApiResponse(response.status_code, error_map.lower_keys(response.headers), data,
                       response.headers.get(HEADER_REQUEST_ID))


def stream(request: ApiRequest, api_key: str, settings: Settings) -> "StreamResponse":
    """Send a streaming request; return a StreamResponse once the server has begun to answer.

    Retries apply until the response starts; after that a failure is raised while iterating.
    """
    check_transport(request.url)
    headers = _api_headers(request, api_key, accept=EVENT_STREAM_TYPE)
    call = _Call(request.method, request.url, headers, _encode(request.body),
                 _BearerAuth(api_key), settings)
    response, _ = call.run(read_body=False)
    content_type = error_map.media_type(response)
    if content_type in (JSON_TYPE, "text/html"):
        # Not a stream: a gateway's page, or a JSON answer (an error object, or a server that
        # ignored `stream: true`).
        body = call.read(response)
        data = error_map.parse_object(body, response)
        if isinstance(data.get("error"), Mapping):
            raise error_map.stream_error(data["error"], response.headers.get(HEADER_REQUEST_ID))
        raise UnexpectedResponseError(
            f"HTTP {response.status_code} from {error_map.host_of(request.url)}: expected an event stream "
            f"({EVENT_STREAM_TYPE}), got {content_type}",
            status=response.status_code, request_id=response.headers.get(HEADER_REQUEST_ID))
    return StreamResponse(response, call)


class StreamResponse:
    """An open event stream: iterate it (once) for the parsed chunk dicts.

    Iteration ends at `data: [DONE]`; a chunk carrying `"error"` raises the matching
    APIError; a stream that ends without `[DONE]` raises UnexpectedResponseError (the answer
    would be cut short). The connection is released when iteration ends or on `close()`;
    it is also a context manager.
    """

    def __init__(self, response, call: "_Call"):
        self._response = response
        self._call = call
        self._started = False
        self.status: int = response.status_code
        self.headers: dict = error_map.lower_keys(response.headers)
        self.request_id: str | None = response.headers.get(HEADER_REQUEST_ID)

    def __iter__(self) -> Iterator[dict]:
        if self._started:
            raise RuntimeError("a StreamResponse can be iterated only once")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[dict]:
        try:
            for data in iter_events(iter_lines(self._call.pieces(self._response))):
                if data.strip() == DONE:
                    return
                if not data.strip():
                    continue  # an empty `data:` keep-alive
                chunk = error_map.parse_event(data, self._response)
                if chunk.get("error"):
                    raise error_map.stream_error(chunk["error"], self.request_id)
                yield chunk
            raise UnexpectedResponseError(
                f"the event stream from {error_map.host_of(self._call.url)} ended before [DONE]: the answer "
                "may be cut short", status=self.status, request_id=self.request_id)
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> "StreamResponse":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# --- one call: attempts, waits, reads ------------------------------------------------------


class _Call:
    """One logical call: its attempts share the deadline and the retry count."""

    def __init__(self, method: str, url: str, headers: dict, data, auth,
                 settings: Settings, *, max_bytes: int | None = None, hint: str = "",
                 deadline_at: float | None = None, observe=None):
        # `data`: bytes, or an open binary file (an upload), rewound before every attempt.
        self.method, self.url, self.headers, self.data, self.auth = method, url, headers, data, auth
        self.settings = settings
        self.observe = observe
        self.max_bytes = max_bytes
        self.hint = hint
        if deadline_at is None and settings.deadline is not None:
            deadline_at = _clock() + settings.deadline
        self.deadline_at = deadline_at

    def run(self, *, read_body: bool, accept_redirects: bool = False):
        """Attempt until success or a final failure; return (response, body or None)."""
        import requests

        attempt = 0
        while True:
            if hasattr(self.data, "seek"):
                self.data.seek(0)
            try:
                response = _get_session().request(
                    self.method, self.url, headers=self.headers, data=self.data,
                    auth=self.auth, timeout=self._timeouts(), stream=True,
                    allow_redirects=False)
                if self.observe is not None:
                    self.observe(response.status_code, error_map.lower_keys(response.headers))
                redirect = accept_redirects and 300 <= response.status_code < 400
                if 200 <= response.status_code < 300 or redirect:
                    log.debug("%s %s -> %s (request id %s)", self.method, error_map.safe_url(self.url),
                              response.status_code, response.headers.get(HEADER_REQUEST_ID))
                    body = self.read(response, mapped=False) if read_body else None
                    return response, body
                error = self._status_error(response)
                retryable = retry.should_retry(
                    response.status_code, response.headers,
                    error={"code": error.code, "type": error.type})
                delay = retry.retry_delay(attempt, response.headers)
            except requests.RequestException as exc:
                error = error_map.transport_error(exc, self.url, self.settings)
                retryable = not isinstance(exc, (requests.exceptions.SSLError,
                                                 requests.exceptions.InvalidURL))
                delay = retry.retry_delay(attempt, None)
            if not retryable or attempt >= self.settings.max_retries:
                raise error
            self._wait(delay, error)
            attempt += 1
            log.info("retry %d of %d for %s %s after: %s", attempt, self.settings.max_retries,
                     self.method, error_map.safe_url(self.url), error.message)

    def read(self, response, *, mapped: bool = True) -> bytes:
        """The whole body, within the deadline and (for downloads) the size cap."""
        limit = self.max_bytes
        declared = response.headers.get("content-length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            response.close()
            raise self._too_large(response)
        parts, size = [], 0
        try:
            for piece in self.pieces(response, chunk_size=READ_CHUNK_BYTES, mapped=mapped):
                size += len(piece)
                if limit is not None and size > limit:
                    raise self._too_large(response)
                parts.append(piece)
        finally:
            response.close()
        return b"".join(parts)

    def pieces(self, response, chunk_size: int | None = None, *,
               mapped: bool = True) -> Iterator[bytes]:
        """The body as it arrives, within the deadline. Transport failures become our errors
        when `mapped`; unmapped, `run` sees them and retries (a body read is part of an
        attempt, as in the official SDK)."""
        import requests
        from urllib3.exceptions import HTTPError as Urllib3Error

        source = (_as_they_arrive(response) if chunk_size is None
                  else response.iter_content(chunk_size=chunk_size))
        try:
            for piece in source:
                if self.deadline_at is not None and _clock() > self.deadline_at:
                    raise self._deadline_error("while reading the response")
                yield piece
        except requests.RequestException as exc:
            if not mapped:
                raise
            raise error_map.transport_error(exc, self.url, self.settings) from None
        except Urllib3Error as exc:  # from raw reads in `_as_they_arrive`
            raise error_map.transport_error(exc, self.url, self.settings) from None

    def _status_error(self, response) -> APIError:
        try:
            body = self._read_error_body(response)
        except (APIConnectionError, APITimeoutError):
            body = b""
        return error_map.api_error(response, body, self.url, hint=self.hint)

    def _read_error_body(self, response) -> bytes:
        parts, size = [], 0
        try:
            for piece in self.pieces(response, chunk_size=READ_CHUNK_BYTES):
                parts.append(piece)
                size += len(piece)
                if size >= MAX_ERROR_BODY_BYTES:
                    break
        finally:
            response.close()
        return b"".join(parts)

    def _timeouts(self) -> tuple[float, float]:
        connect, read = self.settings.connect_timeout, self.settings.read_timeout
        if self.deadline_at is None:
            return connect, read
        remaining = self.deadline_at - _clock()
        if remaining <= 0:
            raise self._deadline_error("before the next attempt")
        return min(connect, remaining), min(read, remaining)

    def _wait(self, delay: float, error: Exception) -> None:
        if self.deadline_at is not None and _clock() + delay >= self.deadline_at:
            raise self._deadline_error(
                f"during the {delay:.1f} s wait before retrying after: {error}") from error
        log.debug("waiting %.2f s before retrying", delay)
        _sleep(delay)

    def _deadline_error(self, when: str) -> APITimeoutError:
        return APITimeoutError(
            f"the {self.settings.deadline:g} s deadline for {self.method} {error_map.host_of(self.url)} "
            f"would pass {when} (OPENAI_SKILL_DEADLINE / deadline option)")

    def _too_large(self, response) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"the download from {error_map.host_of(self.url)} is larger than the "
            f"{self.max_bytes / 1024 / 1024:g} MiB cap", status=response.status_code)


def _as_they_arrive(response) -> Iterator[bytes]:
    """The body in pieces as the server sends them. A chunked body (what OpenAI sends) comes
    chunk by chunk from `iter_content`; for a body without chunking (an HTTP/1.0 server or
    proxy), `iter_content(None)` would wait for the end, so read whatever has arrived."""
    raw = response.raw
    if getattr(raw, "chunked", True) or not hasattr(raw, "read1"):  # read1: urllib3 >= 2
        yield from response.iter_content(chunk_size=None)
        return
    while piece := raw.read1(READ_CHUNK_BYTES, decode_content=True):
        yield piece


# --- small helpers ------------------------------------------------------------------------


class _BearerAuth:
    """Sets the Authorization header per request. Passing an auth object also stops requests
    from replacing the header with ~/.netrc credentials."""

    def __init__(self, api_key: str):
        self._key = api_key

    def __call__(self, prepared):
        prepared.headers["Authorization"] = f"Bearer {self._key}"
        return prepared

    def __repr__(self) -> str:
        return "_BearerAuth([REDACTED])"


def _no_auth(prepared):
    """No credentials at all (image downloads): also keeps ~/.netrc out."""
    prepared.headers.pop("Authorization", None)
    return prepared


def _api_headers(request: ApiRequest, api_key: str, *, accept: str) -> dict:
    if is_malformed(api_key):
        raise CredentialsError("the API key is empty or contains spaces or control characters; "
                               "set it again (OPENAI_API_KEY or `openai-skill setup`)")
    remember(api_key)
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    if request.body is not None:
        headers["Content-Type"] = JSON_TYPE
    headers.update({k: v for k, v in request.headers.items()
                    if v is not None and k.lower() != "authorization"})
    return headers


def _encode(body: dict | None) -> bytes | None:
    return None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")


def _get_session():
    """The one session for the process, created (and `requests` imported) on first use."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import requests

                # requests' adapter does not retry (DEFAULT_RETRIES = 0): retries are ours.
                _session = requests.Session()
    return _session


__all__ = ["ApiResponse", "StreamResponse", "send", "stream"]
