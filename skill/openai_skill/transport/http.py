"""Sending an API request: `send` for a JSON answer, `stream` for server-sent events.

`requests` is imported on first use only, so commands that never touch the network (such as
`--dry-run`) do not pay for it. The key travels only in the Authorization header of the
request it belongs to; it is never stored on the session, logged, or put into an error.
Attempts, retries and the deadline are `call.py`'s; capped reads `body.py`'s; the session
`session.py`'s; the URL was judged when the ApiRequest was built (`urls.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..config import Settings
from ..errors import UnexpectedResponseError
from ..secret import Secret
from . import error_map
from .call import BearerAuth, Call
from .error_map import HEADER_REQUEST_ID
from .request import EVENT_STREAM_TYPE, JSON_TYPE, ApiRequest
from ..urls import host_of

# A stream larger than this is cut with an error: far above any chat answer (128k output
# tokens with logprobs is a few hundred MB of events would be extreme), far below "endless".
MAX_STREAM_BYTES = 512 * 1024 * 1024


class ApiResponse:
    """A successful JSON answer. `headers` has lower-case names. (A plain class: see ApiRequest.)"""

    __slots__ = ("status", "headers", "data", "request_id")

    status: int
    headers: dict
    data: dict
    request_id: str | None

    def __init__(self, status: int, headers: dict, data: dict, request_id: str | None = None):
        for name, value in (("status", status), ("headers", headers), ("data", data), ("request_id", request_id)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("an ApiResponse is immutable")

    def __delattr__(self, name):
        self.__setattr__(name, None)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:  # the headers left out, as before
        return f"ApiResponse(status={self.status!r}, data={self.data!r}, request_id={self.request_id!r})"


def send(request: ApiRequest, api_key: Secret, settings: Settings, *, observe=None,
         sessions=None, deadline_at: float | None = None) -> ApiResponse:
    """Send `request` with the key, retrying per `transport.retry`; return the parsed JSON object.

    Raises the APIError subclass for the status, UnexpectedResponseError for a 2xx that is not
    a JSON object (or is larger than the cap), APITimeoutError / APIConnectionError for
    transport failures and the deadline. (A URL the key must not go to was refused when the
    ApiRequest was built.) `observe(status, headers)`, if given, sees every attempt's answer
    (a 429 included), with lower-case header names. `deadline_at` (on `deadline._clock`)
    replaces the deadline that would start now, for a call whose deadline began earlier.
    """
    with Call(request, BearerAuth(api_key), settings, observe=observe, sessions=sessions,
              deadline_at=deadline_at) as call:
        response, body = call.run(read_body=True)
    data = error_map.parse_object(body, response)
    return ApiResponse(response.status_code, error_map.lower_keys(response.headers), data,
                       response.headers.get(HEADER_REQUEST_ID))


def stream(request: ApiRequest, api_key: Secret, settings: Settings, *,
           max_bytes: int = MAX_STREAM_BYTES, max_line: int | None = None,
           max_event: int | None = None, sessions=None) -> StreamResponse:
    """Send a streaming request; return a StreamResponse once the server has begun to answer.

    Retries apply until the response starts; after that a failure is raised while iterating.
    The deadline covers the whole stream; `settings.stream_idle_timeout` bounds the time
    between two events; the caps bound the stream, each line and each event (None: sse.py's
    MAX_LINE_CHARS and MAX_EVENT_CHARS).
    """
    if not request.stream:
        request = request.replace(stream=True)
    call = Call(request, BearerAuth(api_key), settings, what="the event stream", sessions=sessions)
    try:
        response, _ = call.run(read_body=False)
        content_type = error_map.media_type(response)
        if content_type in (JSON_TYPE, "text/html"):
            # Not a stream: a gateway's page, or a JSON answer (an error object, or a server
            # that ignored `stream: true`).
            body = call.read(response)
            data = error_map.parse_object(body, response)
            if isinstance(data.get("error"), Mapping):
                raise error_map.stream_error(data["error"], response.headers.get(HEADER_REQUEST_ID))
            raise UnexpectedResponseError(
                f"HTTP {response.status_code} from {host_of(request.url)}: expected an event "
                f"stream ({EVENT_STREAM_TYPE}), got {content_type}",
                status=response.status_code, request_id=response.headers.get(HEADER_REQUEST_ID))
    except BaseException:
        call.close()
        raise
    return StreamResponse(response, call, max_bytes=max_bytes, max_line=max_line,
                          max_event=max_event)


class StreamResponse:
    """An open event stream: iterate it (once) for the parsed chunk dicts.

    Iteration ends at `data: [DONE]`; a chunk carrying `"error"` raises the matching
    APIError; a stream that ends without `[DONE]` raises UnexpectedResponseError (the answer
    would be cut short). The connection is released when iteration ends or on `close()`;
    it is also a context manager.
    """

    def __init__(self, response, call: Call, *, max_bytes: int = MAX_STREAM_BYTES,
                 max_line: int | None = None, max_event: int | None = None):
        # The event parser is imported with the first stream: a JSON call never needs it.
        from . import sse

        max_line = sse.MAX_LINE_CHARS if max_line is None else max_line
        max_event = sse.MAX_EVENT_CHARS if max_event is None else max_event
        self._response = response
        self._call = call
        self._limits = (max_bytes, max_line, max_event)
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
        from .sse import DONE, TooLong, iter_events, iter_lines

        max_bytes, max_line, max_event = self._limits
        self._call.watch.set_idle(self._call.settings.stream_idle_timeout)
        try:
            lines = iter_lines(self._capped(max_bytes), max_line=max_line)
            for data in iter_events(lines, max_event=max_event):
                self._call.watch.touch()
                if data.strip() == DONE:
                    return
                if not data.strip():
                    continue  # an empty `data:` keep-alive
                chunk = error_map.parse_event(data, self._response)
                if chunk.get("error"):
                    raise error_map.stream_error(chunk["error"], self.request_id)
                yield chunk
            raise UnexpectedResponseError(
                f"the event stream from {host_of(self._call.url)} ended before [DONE]: the "
                "answer may be cut short", status=self.status, request_id=self.request_id)
        except TooLong as exc:
            raise UnexpectedResponseError(
                f"the event stream from {host_of(self._call.url)}: {exc}",
                status=self.status, request_id=self.request_id) from None
        finally:
            self.close()

    def _capped(self, limit: int) -> Iterator[bytes]:
        size = 0
        for piece in self._call.pieces(self._response):
            size += len(piece)
            if size > limit:
                raise UnexpectedResponseError(
                    f"the event stream from {host_of(self._call.url)} is larger than the "
                    f"{limit / 1024 / 1024:g} MiB cap", status=self.status,
                    request_id=self.request_id)
            yield piece

    def close(self) -> None:
        self._call.close()
        self._response.close()

    def __enter__(self) -> StreamResponse:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


__all__ = ["ApiResponse", "StreamResponse", "send", "stream"]
