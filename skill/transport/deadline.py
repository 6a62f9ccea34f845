"""The time limits of one call, held even against a server that answers one byte at a time.

A socket timeout bounds a single `recv`, but the standard library loops over many of them
(reading a status line, a header, a chunk-size line or `Content-Length` bytes), so a server
that drips a byte every second never trips it. A `Watchdog` therefore watches the socket the
call is using and shuts it down when the call's total deadline (or, for a stream, its idle
timeout) passes: whatever read is blocked then returns at once, and the call reports the
deadline. The sockets are handed over by the session's connection classes (`session.py`)
while `watching(watchdog)` is in effect.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time

# Seam for tests: the clock every deadline and wait is measured with.
_clock = time.monotonic

DEADLINE = "deadline"
IDLE = "idle"

_current: contextvars.ContextVar = contextvars.ContextVar("openai_skill_watchdog", default=None)


class Watchdog:
    """Shuts the watched socket down at `deadline_at` (monotonic seconds, None for never) or
    when `idle` seconds pass without `touch()`. `fired` says which, once one has."""

    def __init__(self, deadline_at: float | None):
        self.deadline_at = deadline_at
        self.fired: str | None = None
        self._idle: float | None = None
        self._last_touch = 0.0
        self._sock = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()

    def attach(self, sock) -> None:
        """Watch `sock` from now on (the socket of the current attempt)."""
        with self._cond:
            if self._closed:
                return
            self._sock = sock
            if self.fired:
                _shutdown(sock)
                return
            if self._thread is None and self._expiry() is not None:
                self._thread = threading.Thread(target=self._run, name="openai-skill-watchdog",
                                                 daemon=True)
                self._thread.start()
            self._cond.notify()

    def detach(self) -> None:
        """Stop watching the socket (it is going back to the pool, or was closed)."""
        with self._cond:
            self._sock = None

    def set_idle(self, seconds: float | None) -> None:
        with self._cond:
            self._idle = seconds
            self._last_touch = _clock()
            if self._thread is None and self._sock is not None and seconds is not None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="openai-skill-watchdog")
                self._thread.start()
            self._cond.notify()

    def touch(self) -> None:
        """Progress was made (a stream event arrived): the idle timeout starts again."""
        self._last_touch = _clock()  # read by the watchdog thread when it wakes

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._sock = None
            self._cond.notify()

    def _expiry(self) -> float | None:
        times = [t for t in (self.deadline_at,
                             None if self._idle is None else self._last_touch + self._idle)
                 if t is not None]
        return min(times) if times else None

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                expiry = self._expiry()
                left = None if expiry is None else expiry - _clock()
                if left is None or left > 0:
                    self._cond.wait(left)
                    continue
                passed_deadline = self.deadline_at is not None and _clock() >= self.deadline_at
                self.fired = DEADLINE if passed_deadline else IDLE
                if self._sock is not None:
                    _shutdown(self._sock)
                return


@contextlib.contextmanager
def watching(watchdog: Watchdog):
    """Sockets connected or used in this block are handed to `watchdog`."""
    token = _current.set(watchdog)
    try:
        yield watchdog
    finally:
        _current.reset(token)


def hand_over(sock) -> None:
    """Called by the session's connections with the socket a request is about to use."""
    watchdog = _current.get()
    if watchdog is not None and sock is not None:
        watchdog.attach(sock)


def _shutdown(sock) -> None:
    # shutdown, not close: the blocked reader returns (EOF) and urllib3 cleans up as usual.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed, or detached while TLS wrapped it
