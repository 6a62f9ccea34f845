"""The HTTP layer: one shared `requests.Session`, explicit timeouts on every call, a total
deadline, retries per `skill.retry`, and every failure mapped onto `skill.errors`.

`requests` is imported on first use only, so commands that never touch the network (such as
`--dry-run`) do not pay for it. The key travels only in the Authorization header of the
request it belongs to; it is never stored on the session, logged, or put into an error.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from . import retry
from .build import USER_AGENT, ApiRequest, check_transport
from .config import Settings
from .credentials import is_malformed
from .errors import (APIConnectionError, APIError, APITimeoutError, AuthenticationError,
                     BadRequestError, ConflictError, CredentialsError, InsecureTransportError,
                     NotFoundError, PermissionDeniedError, QuotaExceededError, RateLimitError,
                     ServerError, UnexpectedResponseError)
from .redact import redact, remember
from .streaming import DONE, iter_events, iter_lines

MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024   # an image larger than this is refused, not buffered
MAX_DOWNLOAD_REDIRECTS = 5
MAX_ERROR_BODY_BYTES = 1024 * 1024       # enough for any error message; a gateway page is cut
MAX_SNIPPET_CHARS = 200                  # how much of an unexpected body a message quotes
MAX_MESSAGE_CHARS = 2000
READ_CHUNK_BYTES = 64 * 1024
HEADER_REQUEST_ID = "x-request-id"
JSON_TYPE = "application/json"
EVENT_STREAM_TYPE = "text/event-stream"

_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 422: BadRequestError, 429: RateLimitError,
}
# A mid-stream error has no HTTP status of its own (the stream began with 200): its `type`
# names the kind.
_TYPE_ERRORS: dict[str, type[APIError]] = {
    "invalid_request_error": BadRequestError, "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError, "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError, "rate_limit_exceeded": RateLimitError,
    "server_error": ServerError, "api_error": ServerError,
}

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


def send(request: ApiRequest, api_key: str, settings: Settings) -> ApiResponse:
    """Send `request` with the key, retrying per `skill.retry`; return the parsed JSON object.

    Raises InsecureTransportError (before any connection) for plain http off loopback, the
    APIError subclass for the status, UnexpectedResponseError for a 2xx that is not a JSON
    object, APITimeoutError / APIConnectionError for transport failures and the deadline.
    """
    check_transport(request.url)
    headers = _api_headers(request, api_key, accept=JSON_TYPE)
    call = _Call(request.method, request.url, headers, _encode(request.body),
                 _BearerAuth(api_key), settings)
    response, body = call.run(read_body=True)
    data = _parse_object(body, response)
    return ApiResponse(response.status_code, _lower(response.headers), data,
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
    content_type = _content_type(response)
    if content_type in (JSON_TYPE, "text/html"):
        # Not a stream: a gateway's page, or a JSON answer (an error object, or a server that
        # ignored `stream: true`).
        body = call.read(response)
        data = _parse_object(body, response)
        if isinstance(data.get("error"), Mapping):
            raise _stream_error(data["error"], response.headers.get(HEADER_REQUEST_ID))
        raise UnexpectedResponseError(
            f"HTTP {response.status_code} from {_host(request.url)}: expected an event stream "
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
        self.headers: dict = _lower(response.headers)
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
                chunk = _parse_event(data, self._response)
                if chunk.get("error"):
                    raise _stream_error(chunk["error"], self.request_id)
                yield chunk
            raise UnexpectedResponseError(
                f"the event stream from {_host(self._call.url)} ended before [DONE]: the answer "
                "may be cut short", status=self.status, request_id=self.request_id)
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> "StreamResponse":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


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


# --- one call: attempts, waits, reads ------------------------------------------------------


class _Call:
    """One logical call: its attempts share the deadline and the retry count."""

    def __init__(self, method: str, url: str, headers: dict, data: bytes | None, auth,
                 settings: Settings, *, max_bytes: int | None = None, hint: str = "",
                 deadline_at: float | None = None):
        self.method, self.url, self.headers, self.data, self.auth = method, url, headers, data, auth
        self.settings = settings
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
            try:
                response = _get_session().request(
                    self.method, self.url, headers=self.headers, data=self.data,
                    auth=self.auth, timeout=self._timeouts(), stream=True,
                    allow_redirects=False)
                redirect = accept_redirects and 300 <= response.status_code < 400
                if 200 <= response.status_code < 300 or redirect:
                    log.debug("%s %s -> %s (request id %s)", self.method, _safe_url(self.url),
                              response.status_code, response.headers.get(HEADER_REQUEST_ID))
                    body = self.read(response, mapped=False) if read_body else None
                    return response, body
                error = self._status_error(response)
                retryable = retry.should_retry(
                    response.status_code, response.headers,
                    error={"code": error.code, "type": error.type})
                delay = retry.retry_delay(attempt, response.headers)
            except requests.RequestException as exc:
                error = _transport_error(exc, self.url, self.settings)
                retryable = not isinstance(exc, (requests.exceptions.SSLError,
                                                 requests.exceptions.InvalidURL))
                delay = retry.retry_delay(attempt, None)
            if not retryable or attempt >= self.settings.max_retries:
                raise error
            self._wait(delay, error)
            attempt += 1
            log.info("retry %d of %d for %s %s after: %s", attempt, self.settings.max_retries,
                     self.method, _safe_url(self.url), error.message)

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
            raise _transport_error(exc, self.url, self.settings) from None
        except Urllib3Error as exc:  # from raw reads in `_as_they_arrive`
            raise _transport_error(exc, self.url, self.settings) from None

    def _status_error(self, response) -> APIError:
        try:
            body = self._read_error_body(response)
        except (APIConnectionError, APITimeoutError):
            body = b""
        return _api_error(response, body, self.url, hint=self.hint)

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
            f"the {self.settings.deadline:g} s deadline for {self.method} {_host(self.url)} "
            f"would pass {when} (OPENAI_SKILL_DEADLINE / deadline option)")

    def _too_large(self, response) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"the download from {_host(self.url)} is larger than the "
            f"{self.max_bytes / 1024 / 1024:g} MiB cap", status=response.status_code)


# --- mapping answers and failures onto skill.errors -------------------------------------------


def _api_error(response, body: bytes, url: str, *, hint: str = "") -> APIError:
    """The APIError for a non-2xx response, with OpenAI's message/type/code/param if any."""
    status = response.status_code
    request_id = response.headers.get(HEADER_REQUEST_ID)
    payload = _loads(body)
    error = payload.get("error") if isinstance(payload, dict) else None
    kind = code = param = None
    if isinstance(error, Mapping):
        message = _text(error.get("message")) or _snippet(body, "application/json")
        kind, code, param = (_text(error.get(k)) for k in ("type", "code", "param"))
    elif isinstance(error, str) and error:
        message = error  # some gateways: {"error": "text"}
    elif isinstance(payload, dict) and isinstance(payload.get("message") or payload.get("detail"), str):
        message = payload.get("message") or payload.get("detail")
    else:
        content_type = _content_type(response) or "no content type"
        message = f"the body is not JSON ({content_type}): {_snippet(body, content_type)}"
    if 300 <= status < 400:
        cls = UnexpectedResponseError
        message = (f"redirected to {_safe_url(response.headers.get('location') or '?')}; set the "
                   "base URL to the final address")
    elif retry.is_quota_error({"code": code, "type": kind}):
        cls = QuotaExceededError
    elif status >= 500:
        cls = ServerError
    else:
        cls = _STATUS_ERRORS.get(status, APIError)
    text = f"HTTP {status} from {_host(url)}: {_truncate(message)}"
    if hint and status in (403, 404):
        text += hint
    return cls(text, status=status, request_id=request_id, type=kind, code=code, param=param)


def _stream_error(error, request_id: str | None) -> APIError:
    """The APIError for an `error` object that arrived inside a 2xx answer or event stream."""
    if not isinstance(error, Mapping):
        return APIError(f"the API reported an error: {_truncate(str(error))}",
                        request_id=request_id)
    kind, code, param = (_text(error.get(k)) for k in ("type", "code", "param"))
    if retry.is_quota_error(error):
        cls = QuotaExceededError
    elif code and code.isdigit() and int(code) >= 500:
        cls = ServerError
    elif code and code.isdigit() and int(code) in _STATUS_ERRORS:
        cls = _STATUS_ERRORS[int(code)]
    else:
        cls = _TYPE_ERRORS.get(kind or "", APIError)
    message = _text(error.get("message")) or "no message"
    return cls(f"the API reported an error mid-response: {_truncate(message)}",
               request_id=request_id, type=kind, code=code, param=param)


def _parse_object(body: bytes, response) -> dict:
    """A 2xx body as a JSON object, or UnexpectedResponseError saying what came instead."""
    status = response.status_code
    request_id = response.headers.get(HEADER_REQUEST_ID)
    content_type = _content_type(response) or "no content type"
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError) as exc:
        what = ("truncated or invalid JSON" if content_type == JSON_TYPE
                else f"a non-JSON body ({content_type})")
        raise UnexpectedResponseError(
            f"HTTP {status} from {_host(response.url)} is {what}: "
            f"{_snippet(body, content_type)} ({_json_problem(exc)})",
            status=status, request_id=request_id) from None
    if not isinstance(data, dict):
        got = "an empty body" if data is None else f"JSON {type(data).__name__}"
        raise UnexpectedResponseError(
            f"HTTP {status} from {_host(response.url)}: expected a JSON object, got {got}",
            status=status, request_id=request_id)
    if isinstance(data.get("error"), Mapping) and len(data) == 1:
        raise _stream_error(data["error"], request_id)
    return data


def _parse_event(data: str, response) -> dict:
    try:
        chunk = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UnexpectedResponseError(
            f"an event from {_host(response.url)} is not JSON: {_snippet(data.encode(), JSON_TYPE)}"
            f" ({_json_problem(exc)})", status=response.status_code,
            request_id=response.headers.get(HEADER_REQUEST_ID)) from None
    if not isinstance(chunk, dict):
        raise UnexpectedResponseError(
            f"an event from {_host(response.url)} is JSON {type(chunk).__name__}, not an object",
            status=response.status_code, request_id=response.headers.get(HEADER_REQUEST_ID))
    return chunk


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


def _transport_error(exc, url: str, settings: Settings) -> APIConnectionError | APITimeoutError:
    """A requests (or urllib3) exception as APITimeoutError or APIConnectionError."""
    import requests
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    host = _host(url)
    reason = _reason(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return APITimeoutError(f"could not connect to {host} within "
                               f"{settings.connect_timeout:g} s ({reason})")
    if isinstance(exc, requests.Timeout) or _caused_by_read_timeout(exc):
        return APITimeoutError(f"no answer from {host} within the {settings.read_timeout:g} s "
                               "read timeout (OPENAI_SKILL_TIMEOUT / timeout option)")
    if isinstance(exc, (requests.exceptions.SSLError, Urllib3SSLError)):
        return APIConnectionError(f"TLS failed with {host}: {reason}")
    if isinstance(exc, requests.ConnectionError):
        return APIConnectionError(f"could not connect to {host}: {reason}")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, ProtocolError)):
        return APIConnectionError(f"the connection to {host} broke mid-response: {reason}")
    return APIConnectionError(f"the request to {host} failed: {reason}")


def _caused_by_read_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ReadTimeoutError):
            return True
        exc = getattr(exc, "reason", None) or (exc.args[0] if exc.args and
                                               isinstance(exc.args[0], BaseException) else None)
        seen += 1
    return False


_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>:?\s*")
_POOL_PREFIX = re.compile(r"^\w*Connection(?:Pool)?\([^)]*\):\s*")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 exception, without object reprs."""
    inner = exc
    for _ in range(8):
        nxt = getattr(inner, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        if nxt is None or nxt is inner:
            break
        inner = nxt
    text = _POOL_PREFIX.sub("", _OBJECT_REPR.sub("", str(inner))).strip()
    return _truncate(redact(text) or type(inner).__name__, MAX_SNIPPET_CHARS)


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


def _check_download_url(url: str) -> None:
    try:
        check_transport(url)
    except InsecureTransportError:
        raise InsecureTransportError(
            f"refusing to download {_safe_url(url)}: only https URLs (plain http only on "
            "loopback) are fetched") from None


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


def _content_type(response) -> str:
    return (response.headers.get("content-type") or "").split(";")[0].strip().lower()


def _lower(headers: Mapping) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def _host(url: str) -> str:
    parts = urlsplit(url or "")
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _safe_url(url: str) -> str:
    """scheme://host/path: no credentials, no query (signed image URLs carry tokens there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{_host(url)}{parts.path}" if parts.scheme else parts.path


def _loads(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _text(value) -> str | None:
    return None if value is None else str(value)


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def _snippet(body: bytes, content_type: str) -> str:
    """A short, one-line, redacted quote of a body (tags dropped from HTML)."""
    text = body[:MAX_ERROR_BODY_BYTES].decode("utf-8", errors="replace")
    if "html" in content_type or text.lstrip().startswith("<"):
        text = _TAG.sub(" ", text)
    text = " ".join(text.split())
    return redact(_truncate(text, MAX_SNIPPET_CHARS)) if text else "(empty body)"


def _truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_problem(exc: BaseException) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__


__all__ = ["ApiResponse", "StreamResponse", "send", "stream", "download", "MAX_DOWNLOAD_BYTES"]
