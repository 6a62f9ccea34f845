"""Mapping what came back onto openai_skill.errors: an HTTP status and OpenAI's error
envelope, an `error` object inside a 2xx answer or a stream, and transport exceptions.
Pure functions of a response (status, headers, body) or an exception."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ..config import Settings
from ..errors import (APIConnectionError, APIError, APITimeoutError, AuthenticationError,
                      BadRequestError, ConflictError, NotFoundError, PermissionDeniedError,
                      QuotaExceededError, RateLimitError, ServerError, UnexpectedResponseError)
from ..redaction import redact
from .. import retry
from .request import JSON_TYPE
from ..urls import host_of, safe_url

MAX_SNIPPET_CHARS = 200                  # how much of an unexpected body a message quotes
MAX_MESSAGE_CHARS = 2000
HEADER_REQUEST_ID = "x-request-id"

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

class _Recorded:
    """What api_error reads from a response, for an answer recorded elsewhere (a batch line)."""

    def __init__(self, status: int, request_id: str | None):
        self.status_code = status
        self.headers = {"content-type": "application/json"}
        if request_id:
            self.headers[HEADER_REQUEST_ID] = request_id
        self.url = ""


def recorded_error(status: int, body: bytes, request_id: str | None, url: str) -> APIError:
    """The APIError a recorded answer (status, JSON body) stands for, as a live call would raise it."""
    return api_error(_Recorded(status, request_id), body, url)


def api_error(response, body: bytes | bytearray, url: str, *, hint: str = "") -> APIError:
    """The APIError for a non-2xx response, with OpenAI's message/type/code/param if any."""
    status = response.status_code
    request_id = response.headers.get(HEADER_REQUEST_ID)
    payload = _loads(body)
    error = payload.get("error") if isinstance(payload, dict) else None
    kind = code = param = None
    cls: type[APIError]
    if isinstance(error, Mapping):
        message = _text(error.get("message")) or snippet(body, "application/json")
        kind, code, param = (_text(error.get(k)) for k in ("type", "code", "param"))
    elif isinstance(error, str) and error:
        message = error  # some gateways: {"error": "text"}
    elif isinstance(payload, dict) and isinstance(detail := payload.get("message") or payload.get("detail"), str):
        message = detail
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
    if status == 404 and "Invalid URL" in message and "/v1/" not in safe_url(url) + "/":
        text += (" (the base URL has no /v1: set OPENAI_BASE_URL to the API root, "
                 "e.g. https://api.openai.com/v1)")
    return cls(text, status=status, request_id=request_id, api_type=kind, code=code, param=param)


def stream_error(error, request_id: str | None) -> APIError:
    """The APIError for an `error` object that arrived inside a 2xx answer or event stream."""
    if not isinstance(error, Mapping):
        return APIError(f"the API reported an error: {truncate(str(error))}",
                        request_id=request_id)
    kind, code, param = (_text(error.get(k)) for k in ("type", "code", "param"))
    cls: type[APIError]
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
               request_id=request_id, api_type=kind, code=code, param=param)


def parse_object(body: bytes | bytearray, response) -> dict:
    """A 2xx body as a JSON object, or UnexpectedResponseError saying what came instead."""
    status = response.status_code
    request_id = response.headers.get(HEADER_REQUEST_ID)
    content_type = media_type(response) or "no content type"
    try:
        data = None if not body or body.isspace() else json.loads(body)  # no copy of a big body
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
    """A requests or urllib3 exception as APITimeoutError or APIConnectionError."""
    import ssl

    import requests
    from urllib3.exceptions import ProtocolError, ReadTimeoutError
    from urllib3.exceptions import SSLError as Urllib3SSLError

    host = host_of(url)
    chain = _causes(exc)
    reason = _reason(chain)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return APITimeoutError(f"could not connect to {host} within "
                               f"{settings.connect_timeout:g} s ({reason})")
    if any(isinstance(e, (requests.exceptions.SSLError, Urllib3SSLError, ssl.SSLError))
           for e in chain):
        return APIConnectionError(f"TLS failed with {host}: {reason}")
    if any(isinstance(e, (requests.Timeout, ReadTimeoutError, TimeoutError)) for e in chain):
        return APITimeoutError(f"no answer from {host} within the {settings.read_timeout:g} s "
                               "read timeout (OPENAI_SKILL_TIMEOUT / timeout option)")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, ProtocolError)):
        return APIConnectionError(f"the connection to {host} broke mid-response: {reason}")
    if isinstance(exc, requests.ConnectionError):
        return APIConnectionError(f"could not connect to {host}: {reason}")
    return APIConnectionError(f"the request to {host} failed: {reason}")


# Compiled on first use (re keeps them): only a failed call needs them.
_OBJECT_REPR = r"<[^<>]* object at 0x[0-9a-fA-F]+>:?\s*"
_POOL_PREFIX = r"^\w*Connection(?:Pool)?\([^)]*\):\s*"
MAX_CAUSES = 8


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it wraps, outermost first. requests and urllib3 nest them in
    `.reason` or `args[0]`; only exceptions are followed (ssl.SSLError's `.reason` is a str)."""
    chain = [exc]
    while len(chain) < MAX_CAUSES:
        inner = getattr(chain[-1], "reason", None)
        if not isinstance(inner, BaseException):
            args = getattr(chain[-1], "args", ())
            inner = args[0] if args and isinstance(args[0], BaseException) else None
        if inner is None or any(inner is seen for seen in chain):
            break
        chain.append(inner)
    return chain


def _reason(chain: list[BaseException]) -> str:
    """The innermost cause, without object reprs or URLs' queries."""
    inner = chain[-1]
    text = re.sub(_POOL_PREFIX, "", re.sub(_OBJECT_REPR, "", str(inner))).strip()
    text = re.sub(_QUERY, "", text)
    return truncate(redact(text) or type(inner).__name__, MAX_SNIPPET_CHARS)


_QUERY = r"\?[^\s'\")]*"


def media_type(response) -> str:
    return (response.headers.get("content-type") or "").split(";")[0].strip().lower()


def lower_keys(headers: Mapping) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def _loads(body: bytes | bytearray):
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _text(value) -> str | None:
    return None if value is None else str(value)


MAX_SNIPPET_SOURCE = 64 * 1024   # how much of a body a snippet is taken from
_HIDDEN_ELEMENTS = ("script", "style")


def snippet(body: bytes | bytearray, content_type: str) -> str:
    """A short, one-line, redacted quote of a body (tags dropped from HTML)."""
    text = body[:MAX_SNIPPET_SOURCE].decode("utf-8", errors="replace")
    if "html" in content_type or text.lstrip().startswith("<"):
        text = strip_tags(text)
    text = " ".join(text.split())
    return redact(truncate(text, MAX_SNIPPET_CHARS)) if text else "(empty body)"


def strip_tags(text: str) -> str:
    """`text` without tags, script and style elements. One pass, linear in the length: every
    search starts where the previous one ended, and a search that finds nothing ends the
    scan (a regex with `.*?</script>` rescans the rest for every unclosed `<script`)."""
    lower = text.lower()
    out, i, end = [], 0, len(text)
    while i < end:
        lt = text.find("<", i)
        if lt < 0:
            out.append(text[i:])
            break
        out.append(text[i:lt])
        name = next((n for n in _HIDDEN_ELEMENTS if lower.startswith(n, lt + 1)
                     and not lower[lt + 1 + len(n): lt + 2 + len(n)].isalnum()), None)
        close_at = lower.find(f"</{name}", lt) if name else lt
        gt = text.find(">", close_at) if close_at >= 0 else -1
        if gt < 0:
            if not name:
                out.append(text[lt:])  # a lone "<" with no ">" after it is text
            break
        out.append(" ")
        i = gt + 1
    return "".join(out)


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_problem(exc: BaseException) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
