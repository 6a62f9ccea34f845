"""Host name lookups that end when the call says so.

`getaddrinfo` blocks its thread until the system's resolver answers (its own timeouts and
retries add up to tens of seconds; a broken one may never answer), and nothing interrupts it.
So a name is looked up in a worker thread, and the connection waits for the answer only until
its connect timeout (which `call.py` cuts to the time left before the deadline) or until the
call's watchdog fires (the deadline, or a `Cancel`): the wait is handed to the watchdog like a
socket, and shutting it down ends the wait.

A lookup given up on keeps its thread until the resolver answers. So that stuck lookups cannot
pile up: at most MAX_THREADS run at once (daemon threads, which never keep a process alive);
connections that need the same name share one lookup; a lookup that finds no free thread
waits for one, under the same bounds. An address (`127.0.0.1`, `::1`) needs no lookup and no
thread.
"""

from __future__ import annotations

import collections
import os
import socket
import threading

from . import deadline
from .deadline import Abandoned

THREAD_NAME = "openai-skill-resolver"
MAX_THREADS = 8


class _Waiter:
    """One connection waiting for a lookup. The watchdog calls `shutdown`, as on a socket."""

    __slots__ = ("event", "aborted")

    def __init__(self):
        self.event = threading.Event()
        self.aborted = False

    def shutdown(self, _how=None) -> None:
        self.aborted = True
        self.event.set()


class _Lookup:
    __slots__ = ("key", "waiters", "started", "done", "result", "error")

    def __init__(self, key: tuple):
        self.key = key
        self.waiters: list[_Waiter] = []
        self.started = False
        self.done = False
        self.result: list | None = None
        self.error: BaseException | None = None


_lock = threading.Lock()
_pending: dict[tuple, _Lookup] = {}      # by (host, port, family): queued or running
_queue: collections.deque[_Lookup] = collections.deque()
_running = 0


def _reset_after_fork() -> None:
    # The child has none of the threads, and the lock may have been held at the fork.
    global _lock, _pending, _queue, _running
    _lock, _pending, _queue, _running = threading.Lock(), {}, collections.deque(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def is_address(host: str) -> bool:
    """An IPv4 or IPv6 address, which needs no lookup."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def lookup(host: str, port: int, family: int, timeout: float | None) -> list:
    """`getaddrinfo(host, port, family, SOCK_STREAM)`, waiting at most `timeout` seconds (None:
    only the watchdog's bound). Raises socket.gaierror (the resolver's answer), TimeoutError
    (`timeout` passed) or Abandoned (the call's watchdog ended the wait)."""
    if is_address(host):   # parsed in place: no resolver, no thread
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    waiter = _Waiter()
    deadline.hand_over(waiter)
    key = (host, port, family)
    with _lock:
        job = _pending.get(key)
        if job is None:
            job = _pending[key] = _Lookup(key)
            _queue.append(job)
            _start_queued()
        if not job.done:
            job.waiters.append(waiter)
    if not job.done:
        waiter.event.wait(timeout)
    with _lock:
        if not job.done:
            job.waiters.remove(waiter)
            if not job.waiters and not job.started:   # nobody wants it any more
                _queue.remove(job)
                del _pending[key]
    if job.done:
        if job.error is not None:
            raise _fresh(job.error)
        return list(job.result or ())
    if waiter.aborted:
        raise Abandoned(f"the lookup of {host} was given up: the call ended")
    raise TimeoutError(f"no answer from the resolver for {host} within {timeout:g} s")


def _start_queued() -> None:
    """Start queued lookups while threads are free; called with `_lock` held."""
    global _running
    while _queue and _running < MAX_THREADS:
        job = _queue.popleft()
        job.started = True
        _running += 1
        try:
            threading.Thread(target=_resolve, args=(job,), name=THREAD_NAME, daemon=True).start()
        except RuntimeError as exc:  # no thread to be had
            _running -= 1
            _finish(job, None, OSError(f"could not start a thread to look up {job.key[0]}: {exc}"))


def _resolve(job: _Lookup) -> None:
    global _running
    host, port, family = job.key
    result, error = None, None
    try:
        result = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except BaseException as exc:  # noqa: BLE001 - handed to every waiter, raised there
        error = exc
    with _lock:
        _running -= 1
        _finish(job, result, error)
        _start_queued()


def _finish(job: _Lookup, result, error) -> None:
    """Called with `_lock` held."""
    job.result, job.error, job.done = result, error, True
    if _pending.get(job.key) is job:
        del _pending[job.key]
    for waiter in job.waiters:
        waiter.event.set()


def _fresh(error: BaseException) -> BaseException:
    # Each waiter raises its own copy: one exception object raised in several threads would
    # share (and grow) one traceback.
    try:
        return type(error)(*error.args)
    except Exception:  # noqa: BLE001 - an exception type that cannot be rebuilt from its args
        return error


__all__ = ["Abandoned", "MAX_THREADS", "THREAD_NAME", "is_address", "lookup"]
