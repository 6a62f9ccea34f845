"""The time limits of one call, held even against a server that answers one byte at a time.

A socket timeout bounds a single `recv`, but the standard library loops over many of them
(reading a status line, a header, a chunk-size line or `Content-Length` bytes), so a server
that drips a byte every second never trips it. A `Watchdog` therefore watches the socket the
call is using and shuts it down when the call's total deadline (or, for a stream, its idle
timeout) passes: whatever read is blocked then returns at once, and the call reports the
deadline. The sockets are handed over by the session's connection classes (`session.py`)
while `watching(watchdog)` is in effect, from the moment the connection is made: a TLS
handshake the server drips is cut like a body (a host name lookup is handed over as well, as
a wait that "shutting down" ends: `resolve.py`). `note()` records the step a connection is in,
so the deadline's message can name it.

A `Cancel` ends calls from outside: every call made under `cancelling(cancel)` registers its
watchdog with it, and `cancel.cancel()` (from any thread) shuts their sockets at once and
fails their next attempt, instead of leaving them to run until their deadline. The MCP server
cancels a tool call its client cancelled; the bulk engine, the requests in flight when it
stops (Ctrl-C, another chunk's failure).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import threading
import time
import weakref

# Seam for tests: the clock every deadline and wait is measured with.
_clock = time.monotonic

DEADLINE = "deadline"
IDLE = "idle"
CANCELLED = "cancelled"

_current: contextvars.ContextVar = contextvars.ContextVar("openai_skill_watchdog", default=None)
_cancel: contextvars.ContextVar = contextvars.ContextVar("openai_skill_cancel", default=None)


class Abandoned(OSError):
    """A wait that is not a socket read (a host name lookup) was ended by the call's watchdog:
    its deadline passed, or it was cancelled."""


class Cancel:
    """A switch for the calls made under `cancelling(self)`: `cancel()` ends them now."""

    def __init__(self):
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._dogs: weakref.WeakSet[Watchdog] = weakref.WeakSet()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Shut the sockets of every call under this switch, and refuse their next attempts."""
        with self._lock:
            self._event.set()
            dogs = list(self._dogs)
        for dog in dogs:
            dog.cancel()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when cancelled meanwhile."""
        return self._event.wait(seconds)

    def _join(self, dog: Watchdog) -> None:
        with self._lock:
            if not self._event.is_set():
                self._dogs.add(dog)
                return
        dog.cancel()


@contextlib.contextmanager
def cancelling(cancel: Cancel):
    """Calls started in this block (this thread, or this context) end when `cancel` is cancelled."""
    token = _cancel.set(cancel)
    try:
        yield cancel
    finally:
        _cancel.reset(token)


def current_cancel() -> Cancel | None:
    return _cancel.get()


class _Monitor:
    """The one thread that watches every live `Watchdog` in the process.

    A thread per call cost more than the rest of the client's overhead on a loopback call
    (starting one blocks until it runs); one shared thread sleeps until the earliest expiry
    of the dogs it holds, and holds only dogs that are attached and not closed, so a
    long-lived process (the MCP server, the bulk engine) keeps no state that grows.
    """

    def __init__(self):
        self.cond = threading.Condition()
        self.dogs: set = set()
        self.thread: threading.Thread | None = None
        self.wakes_at: float | None = None  # when the thread wakes by itself (None: only when told)

    def wake(self, dog: Watchdog) -> None:
        """(Re)consider `dog`; called with `cond` held."""
        expiry = None if dog._closed or dog._sock is None else dog._expiry()
        if expiry is None:
            self.dogs.discard(dog)
            return
        self.dogs.add(dog)
        if self.thread is None or not self.thread.is_alive():  # first use, or after a fork
            self.thread = threading.Thread(target=self._run, name="openai-skill-watchdog", daemon=True)
            self.thread.start()
        # The thread looks at every dog whenever it wakes, and it wakes by `wakes_at` anyway: a
        # dog that expires later needs no wake-up call. (With one per request, every call of a
        # reused client switched to this thread and back, for nothing.) A `wakes_at` already
        # past is no promise (the thread is late, or the clock it was computed with was not
        # this one): then it is woken.
        wakes_at = self.wakes_at
        if wakes_at is None or expiry < wakes_at or wakes_at <= _clock():
            self.cond.notify()

    def _run(self) -> None:
        with self.cond:
            while True:
                now = _clock()
                soonest = None
                for dog in list(self.dogs):
                    expiry = dog._expiry()
                    if expiry is None:
                        self.dogs.discard(dog)
                    elif expiry <= now:
                        dog._fire(now)
                        self.dogs.discard(dog)
                    elif soonest is None or expiry < soonest:
                        soonest = expiry
                self.wakes_at = soonest
                self.cond.wait(None if soonest is None else soonest - now)


_monitor = _Monitor()


def _reset_after_fork() -> None:
    # The child has no monitor thread, and the lock may have been held by it at the fork.
    global _monitor
    _monitor = _Monitor()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class Watchdog:
    """Shuts the watched socket down at `deadline_at` (monotonic seconds, None for never) or
    when `idle` seconds pass without `touch()`. `fired` says which, once one has. The
    shared monitor thread does the watching; a dog without a socket or a limit costs nothing."""

    def __init__(self, deadline_at: float | None):
        self.deadline_at = deadline_at
        self.fired: str | None = None
        self.phase: str | None = None   # the step the call was in, for the message ("while ...")
        self._idle: float | None = None
        self._last_touch = 0.0
        self._sock = None
        self._closed = False
        self.cancel_switch = _cancel.get()
        if self.cancel_switch is not None:
            self.cancel_switch._join(self)

    @property
    def _thread(self) -> threading.Thread | None:
        """The thread watching this dog, if any (the shared monitor's)."""
        with _monitor.cond:
            return _monitor.thread if self in _monitor.dogs else None

    def attach(self, sock) -> None:
        """Watch `sock` from now on (the socket of the current attempt)."""
        with _monitor.cond:
            if self._closed:
                return
            self._sock = sock
            if self.fired:
                _shutdown(sock)
                return
            _monitor.wake(self)

    def detach(self) -> None:
        """Stop watching the socket (it is going back to the pool, or was closed)."""
        with _monitor.cond:
            self._sock = None
            _monitor.dogs.discard(self)

    def let_go(self, sock) -> None:
        """Stop watching `sock` if it is still the one watched (it is about to be closed)."""
        with _monitor.cond:
            if self._sock is sock:
                self._sock = None
                _monitor.dogs.discard(self)

    def set_idle(self, seconds: float | None) -> None:
        with _monitor.cond:
            self._idle = seconds
            self._last_touch = _clock()
            _monitor.wake(self)

    def touch(self) -> None:
        """Progress was made (a stream event arrived): the idle timeout starts again."""
        self._last_touch = _clock()  # read by the monitor when it wakes; later is always safe

    def cancel(self) -> None:
        """End the call now (its Cancel was cancelled): shut the socket it uses, if any."""
        with _monitor.cond:
            self.fired = CANCELLED
            if self._sock is not None:
                _shutdown(self._sock)

    def close(self) -> None:
        with _monitor.cond:
            self._closed = True
            self._sock = None
            _monitor.dogs.discard(self)

    def _expiry(self) -> float | None:
        times = [t for t in (self.deadline_at,
                             None if self._idle is None else self._last_touch + self._idle)
                 if t is not None]
        return min(times) if times else None

    def _fire(self, now: float) -> None:
        """Called by the monitor, with its lock held, once this dog's time has passed."""
        if self.fired == CANCELLED:
            return
        passed_deadline = self.deadline_at is not None and now >= self.deadline_at
        self.fired = DEADLINE if passed_deadline else IDLE
        if self._sock is not None:
            _shutdown(self._sock)


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


def let_go(sock) -> None:
    """Called before closing a socket handed over earlier in this block, so that the watchdog
    never shuts down a descriptor number the system may have given to another socket."""
    watchdog = _current.get()
    if watchdog is not None:
        watchdog.let_go(sock)


def note(phase: str | None) -> None:
    """Record the step the current call is in ("while looking up api.openai.com"); None: done
    connecting (the deadline's message then names what the call was waiting for)."""
    watchdog = _current.get()
    if watchdog is not None:
        watchdog.phase = phase


def _shutdown(sock) -> None:
    # shutdown, not close: the blocked reader returns (EOF) and urllib3 cleans up as usual.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed, or detached while TLS wrapped it
