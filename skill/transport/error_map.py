"""Mapping what came back onto openai_skill.errors: an HTTP status and OpenAI's error
envelope, an `error` object inside a 2xx answer or a stream, and transport exceptions.
Pure functions of a response (status, headers, body) or an exception."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..config import Settings
from ..errors import (APIConnectionError, APIError, APITimeoutError, AuthenticationError,
                      BadRequestError, ConflictError, NotFoundError, PermissionDeniedError,
                      QuotaExceededError, RateLimitError, ServerError, UnexpectedResponseError)
from ..redaction import redact
from . import retry

MAX_ERROR_BODY_BYTES = 1024 * 1024       # enough for any error message; a gateway page is cut
MAX_SNIPPET_CHARS = 200                  # how much of an unexpected body a message quotes
MAX_MESSAGE_CHARS = 2000
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

def api_error(response, body: bytes, url: str, *, hint: str = "") -> APIError:
    """The APIError for a non-2xx response, with OpenAI's message/type/code/param if any."""
    status = response.status_code
    request_id = response.headers.get(HEADER_REQUEST_ID)
    payload = _loads(body)
    error = payload.get("error") if isinstance(payload, dict) else None
    kind = code = param = None
    if isinstance(error, Mapping):
        message = _text(error.get("message")) or snippet(body, "application/json")
        kind, code, param = (_text(error.get(k)) for k in ("type", "code", "param"))
    elif isinstance(error, str) and error:
        message = error  # some gateways: {"error": "text"}
    elif isinstance(payload, dict) and isinstance(payload.get("message") or payload.get("detail"), str):
        message = payload.get("message") or payload.get("detail")
    else:
        content_type = media_type(response) or "no content type"
        message = f"the body is not JSON ({content_type}): {snippet(body, content_type)}"
    if 300 <= status < 400:
        cls = UnexpectedResponseError
        message = (f"redirected to {safe_url(response.headers.get('location') or '?')}; set the "
                   "base URL to the final address")
    elif retry.is_quota_error({"code": code, "type": kind}):
        cls = QuotaExceededError
    elif status >= 500:
        cls = ServerError
    else:
        cls = _STATUS_ERRORS.get(status, APIError)
    text = f"HTTP {status} from {host_of(url)}: {truncate(message)}"
    if hint and status in (403, 404):
        text += hint
    return cls(text, status=status, request_id=request_id, type=kind, code=code, param=param)


def stream_error(error, request_id: str | None) -> APIError:
    """The APIError for an `error` object that arrived inside a 2xx answer or event stream."""
    if not isinstance(error, Mapping):
        return APIError(f"the API reported an error: {truncate(str(error))}",
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
    return cls(f"the API reported an error mid-response: {truncate(message)}",
               request_id=request_id, type=kind, code=code, param=param)


def parse_object(body: bytes, response) -> dict:
    """A 2xx body as a JSON object, or UnexpectedResponseError saying what came instead."""
    status = response.status_code
    request_id = response.headers.get(HEADER_REQUEST_ID)
    content_type = media_type(response) or "no content type"
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError) as exc:
        what = ("truncated or invalid JSON" if content_type == JSON_TYPE
                else f"a non-JSON body ({content_type})")
        raise UnexpectedResponseError(
            f"HTTP {status} from {host_of(response.url)} is {what}: "
            f"{snippet(body, content_type)} ({_json_problem(exc)})",
            status=status, request_id=request_id) from None
    if not isinstance(data, dict):
        got = "an empty body" if data is None else f"JSON {type(data).__name__}"
        raise UnexpectedResponseError(
            f"HTTP {status} from {host_of(response.url)}: expected a JSON object, got {got}",
            status=status, request_id=request_id)
    if isinstance(data.get("error"), Mapping) and len(data) == 1:
        raise stream_error(data["error"], request_id)
    return data


def parse_event(data: str, response) -> dict:
    try:
        chunk = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise UnexpectedResponseError(
            f"an event from {host_of(response.url)} is not JSON: {snippet(data.encode(), JSON_TYPE)}"
            f" ({_json_problem(exc)})", status=response.status_code,
            request_id=response.headers.get(HEADER_REQUEST_ID)) from None
    if not isinstance(chunk, dict):
        raise UnexpectedResponseError(
            f"an event from {host_of(response.url)} is JSON {type(chunk).__name__}, not an object",
            status=response.status_code, request_id=response.headers.get(HEADER_REQUEST_ID))
    return chunk


def transport_error(exc, url: str, settings: Settings) -> APIConnectionError | APITimeoutError:
    """A requests (or urllib3) exception as APITimeoutError or APIConnectionError."""
    import requests
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    host = host_of(url)
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
    return truncate(redact(text) or type(inner).__name__, MAX_SNIPPET_CHARS)


def media_type(response) -> str:
    return (response.headers.get("content-type") or "").split(";")[0].strip().lower()


def lower_keys(headers: Mapping) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def host_of(url: str) -> str:
    parts = urlsplit(url or "")
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def safe_url(url: str) -> str:
    """scheme://host/path: no credentials, no query (signed image URLs carry tokens there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{host_of(url)}{parts.path}" if parts.scheme else parts.path


def _loads(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _text(value) -> str | None:
    return None if value is None else str(value)


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def snippet(body: bytes, content_type: str) -> str:
    """A short, one-line, redacted quote of a body (tags dropped from HTML)."""
    text = body[:MAX_ERROR_BODY_BYTES].decode("utf-8", errors="replace")
    if "html" in content_type or text.lstrip().startswith("<"):
        text = _TAG.sub(" ", text)
    text = " ".join(text.split())
    return redact(truncate(text, MAX_SNIPPET_CHARS)) if text else "(empty body)"


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_problem(exc: BaseException) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
