"""One logical call: its attempts, the waits between them and the total deadline.

Every attempt runs under the call's `Watchdog` (deadline.py), so no blocking read can outlive
the deadline; retries follow `retry.py`; every failure leaves as an `openai_skill.errors`
exception (mapped here, in one place, by `error_map`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from ..config import Settings
from ..errors import APIConnectionError, APIError, APITimeoutError, UnexpectedResponseError
from ..secret import REDACTED, Secret
from . import body, deadline, error_map
from .error_map import HEADER_REQUEST_ID
from .request import ApiRequest
from .session import Sessions, default_sessions
from .tls import pin_of
from ..urls import host_of, safe_url

# Seam for tests: patch to skip real waits (the clock is `deadline._clock`).
_sleep = time.sleep

# A deadline this close is as good as passed (a read timeout cut to the time left fires
# a hair before the watchdog would).
DEADLINE_SLACK = 0.05

log = logging.getLogger("openai_skill.transport")


def _transport_errors() -> tuple:
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error

    return (requests.RequestException, Urllib3Error, OSError)


class Call:
    """One logical call: its attempts share the deadline and the retry count. Close it (or
    use it as a context manager) when done reading, so the watchdog lets the socket go."""

    def __init__(self, request: ApiRequest, auth, settings: Settings, *,
                 max_bytes: int | None = None, hint: str = "",
                 deadline_at: float | None = None, what: str = "the answer", data=None,
                 observe=None, sessions: Sessions | None = None):
        # `data`: a body other than the request's JSON: an open binary file (an upload),
        # rewound before every attempt. `observe(status, headers)` sees every attempt's
        # answer, with lower-case header names (the bulk engine's rate limiter learns from it).
        self.request = request
        self.sessions = sessions or default_sessions()
        self.data = data
        self.observe = observe
        self.url = request.url
        self.auth = auth
        # An origin-bound key fixes who may vouch for the server (tls.py); None: the environment.
        self.pin = pin_of(getattr(auth, "key", None))
        self.settings = settings
        self.max_bytes = body.MAX_BODY_BYTES if max_bytes is None else max_bytes
        self.hint = hint
        self.what = what
        if deadline_at is None and settings.deadline:
            deadline_at = deadline._clock() + settings.deadline
        self.deadline_at = deadline_at
        self.watch = deadline.Watchdog(deadline_at)

    def __enter__(self) -> Call:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.watch.close()

    def run(self, *, read_body: bool, accept_redirects: bool = False):
        """Attempt until success or a final failure; return (response, body or None)."""
        import requests

        errors = _transport_errors()
        attempt = 0
        error: APIError | APIConnectionError | APITimeoutError  # an answer's error, or the transport's
        while True:
            if self.watch.fired == deadline.CANCELLED:
                raise self._cancelled_error()
            timeouts = self._timeouts()
            self.watch.phase = None
            if hasattr(self.data, "seek"):
                self.data.seek(0)
            try:
                with deadline.watching(self.watch):
                    response = self.sessions.for_url(self.url, self.pin).request(
                        self.request.method, self.url, headers=self.request.headers,
                        data=self.request.encoded_body() if self.data is None else self.data,
                        auth=self.auth, timeout=timeouts, stream=True, allow_redirects=False)
                    status = response.status_code
                    if self.observe is not None:
                        self.observe(status, error_map.lower_keys(response.headers))
                    if 200 <= status < 300 or (accept_redirects and 300 <= status < 400):
                        if log.isEnabledFor(logging.DEBUG):  # (safe_url parses the URL: not for nothing)
                            log.debug("%s %s -> %s (request id %s)", self.request.method,
                                      safe_url(self.url), status, response.headers.get(HEADER_REQUEST_ID))
                        return response, (self._read(response) if read_body else None)
                    error = self._status_error(response)
                from .. import retry  # only a failed attempt asks (a success never imports it)

                retryable = retry.should_retry(status, response.headers,
                                               error={"code": error.code, "type": error.api_type})
                delay = retry.retry_delay(attempt, response.headers)
            except body.TooLarge as exc:
                raise self._too_large(exc.limit) from None
            except errors as exc:
                error = self.map_error(exc)
                if isinstance(error, APITimeoutError) and self._deadline_passed():
                    raise error from None
                retryable = not isinstance(exc, (requests.exceptions.SSLError,
                                                 requests.exceptions.InvalidURL))
                from .. import retry

                delay = retry.retry_delay(attempt, None)
            self.watch.detach()
            if self.watch.fired == deadline.CANCELLED:
                raise self._cancelled_error() from None    # never retried; said as what it is
            if not retryable or attempt >= self.settings.max_retries:
                raise error
            self._wait(delay, error)
            attempt += 1
            log.info("retry %d of %d for %s %s after: %s", attempt, self.settings.max_retries,
                     self.request.method, safe_url(self.url), error.message)

    def pieces(self, response) -> Iterator[bytes]:
        """The body as it arrives, within the deadline; failures as our errors."""
        try:
            yield from body.iter_pieces(response, self._check_deadline)
        except _transport_errors() as exc:
            raise self.map_error(exc) from None
        self._raise_if_cut()  # a body without a length "ends" when the watchdog shuts it

    def read(self, response) -> bytearray:
        """The whole body within the deadline and the size cap; failures as our errors."""
        try:
            return self._read(response)
        except body.TooLarge as exc:
            raise self._too_large(exc.limit) from None
        except _transport_errors() as exc:
            raise self.map_error(exc) from None

    def map_error(self, exc: BaseException) -> APIConnectionError | APITimeoutError:
        """A transport exception as our error; the deadline or idle timeout when the watchdog
        (or a read timeout cut to the time left) is what ended it."""
        return self._cut_error() or error_map.transport_error(exc, self.url, self.settings)

    def _raise_if_cut(self) -> None:
        error = self._cut_error() if self.watch.fired else None
        if error is not None:
            raise error

    def _cut_error(self) -> APIConnectionError | APITimeoutError | None:
        if self.watch.fired == deadline.CANCELLED:
            return self._cancelled_error()
        if self.watch.fired == deadline.IDLE:
            return APITimeoutError(
                f"no event from {host_of(self.url)} for {self.settings.stream_idle_timeout:g} s "
                "(OPENAI_SKILL_STREAM_IDLE_TIMEOUT / stream_idle_timeout option)")
        if self.watch.fired == deadline.DEADLINE or self._deadline_passed():
            # The step the connection was in (a lookup, the TLS handshake), else the answer.
            return self.deadline_error(self.watch.phase or f"while waiting for {self.what}")
        return None

    def _cancelled_error(self) -> APIConnectionError:
        return APIConnectionError(f"the call to {host_of(self.url)} was cancelled; its connection is closed")

    def deadline_error(self, when: str) -> APITimeoutError:
        return APITimeoutError(
            f"the {self.settings.deadline:g} s deadline for {self.request.method} "
            f"{host_of(self.url)} passed {when} (OPENAI_SKILL_DEADLINE / deadline option; "
            "0 disables it)")

    def _read(self, response) -> bytearray:
        try:
            data = body.read_capped(response, self.max_bytes, check=self._check_deadline)
            self._raise_if_cut()
        except BaseException:
            self.watch.detach()
            response.close()
            raise
        self.watch.detach()
        response.raw.release_conn()  # read to the end: the connection can be reused
        return data

    def _status_error(self, response) -> APIError:
        try:
            data = body.read_capped(response, body.MAX_ERROR_BODY_BYTES, truncate=True,
                                    check=self._check_deadline)
        except (APITimeoutError, *_transport_errors()):
            data = bytearray()
        finally:
            self.watch.detach()
            response.close()
        return error_map.api_error(response, data, self.url, hint=self.hint)

    def _deadline_passed(self) -> bool:
        return (self.deadline_at is not None
                and deadline._clock() >= self.deadline_at - DEADLINE_SLACK)

    def _check_deadline(self) -> None:
        if self.deadline_at is not None and deadline._clock() > self.deadline_at:
            raise self.deadline_error(f"while reading {self.what}")

    def _timeouts(self) -> tuple[float, float]:
        connect, read = self.settings.connect_timeout, self.settings.read_timeout
        if self.deadline_at is None:
            return connect, read
        remaining = self.deadline_at - deadline._clock()
        if remaining <= 0:
            raise self.deadline_error("before the next attempt")
        return min(connect, remaining), min(read, remaining)

    def _wait(self, delay: float, error: Exception) -> None:
        if self.deadline_at is not None and deadline._clock() + delay >= self.deadline_at:
            raise self.deadline_error(
                f"during the {delay:.1f} s wait before retrying after: {error}") from error
        log.debug("waiting %.2f s before retrying", delay)
        switch = self.watch.cancel_switch
        if switch is None:
            _sleep(delay)
        elif switch.wait(delay):
            raise self._cancelled_error()

    def _too_large(self, limit: int) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"{self.what} from {host_of(self.url)} is larger than the {limit / 1024 / 1024:g} MiB "
            "cap; nothing of it was kept")


class BearerAuth:
    """Sets the Authorization header per request: the one place the key is revealed. Passing
    an auth object also stops requests from replacing the header with ~/.netrc credentials."""

    def __init__(self, api_key: Secret):
        self._key = api_key

    @property
    def key(self) -> Secret:
        """The Secret itself (masked when printed): the call reads how to verify the server from it."""
        return self._key

    def __call__(self, prepared):
        prepared.headers["Authorization"] = "Bearer " + self._key.reveal()
        return prepared

    def __repr__(self) -> str:
        return f"BearerAuth({REDACTED})"


def no_auth(prepared):
    """No credentials at all (image downloads): also keeps ~/.netrc out."""
    prepared.headers.pop("Authorization", None)
    return prepared
