"""The sessions and the watchdog: lazy, bounded, closable; kept-alive connections are reused
and still watched; a call without a deadline starts no watchdog thread."""

from __future__ import annotations

import threading
import time

import pytest

import openai_skill
from openai_skill.errors import APITimeoutError
from openai_skill.transport import deadline, session

from support.canary import CANARY_KEY
from support.misbehaving import RawServer, read_next_request

BODY = b'{"object": "list", "data": []}'
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def keep_alive_then_drip(conn, _head, stop):
    """Answer the first request on the connection, then drip the second answer's headers
    (read by the standard library in a loop no per-read check can interrupt)."""
    conn.sendall(ANSWER)
    if not read_next_request(conn):
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(0.5):
        conn.sendall(b"a")


@pytest.mark.timeout(90)
def test_a_kept_alive_connection_is_reused_and_still_watched():
    """The drip never ends, and each byte resets the read timeout: only the watchdog can end
    the second call (bounded well before the 60 s read timeout, not against a clock)."""
    server = RawServer(keep_alive_then_drip)
    try:
        first = openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url())
        assert first["models"] == []
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="1.5 s deadline"):
            openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url(),
                                deadline=1.5, read_timeout=60, max_retries=0)
        assert time.monotonic() - started < 30
        assert server.accepted == 1   # the second call went over the first call's connection
    finally:
        server.close()


def test_sessions_are_lazy_bounded_and_closable():
    sessions = session.Sessions()
    assert sessions._sessions == {}
    direct = sessions.for_url("http://127.0.0.1:1/v1")
    proxied = sessions.for_url("https://api.openai.com/v1")
    assert direct is sessions.for_url("http://localhost:2/v1") and direct is not proxied
    assert (direct.trust_env, proxied.trust_env) == (False, True)
    adapter = proxied.get_adapter("https://api.openai.com/v1")
    assert adapter._pool_maxsize == session.POOL_CONNECTIONS
    assert adapter._pool_connections == session.POOL_HOSTS
    sessions.close()
    assert sessions._sessions == {}
    assert sessions.for_url("https://api.openai.com/v1") is not proxied


def test_a_watchdog_without_a_deadline_starts_no_thread():
    before = threading.active_count()
    watch = deadline.Watchdog(None)
    a, b = __import__("socket").socketpair()
    try:
        watch.attach(a)
        assert watch._thread is None and threading.active_count() == before
    finally:
        watch.close()
        a.close()
        b.close()


def test_a_watchdog_shuts_the_socket_at_its_deadline_and_says_so():
    import socket

    a, b = socket.socketpair()
    a.settimeout(60)                        # a watchdog that never fires fails, it does not hang
    watch = deadline.Watchdog(deadline._clock() + 0.2)
    try:
        watch.attach(a)
        started = time.monotonic()
        assert a.recv(10) == b""            # the blocked read returns at the deadline...
        assert time.monotonic() - started > 0.15   # ...not before it (a slow machine is only later)
        assert watch.fired == deadline.DEADLINE
    finally:
        watch.close()
        a.close()
        b.close()


def test_a_closed_watchdog_lets_its_socket_be():
    import socket

    a, b = socket.socketpair()
    watch = deadline.Watchdog(deadline._clock() + 0.1)
    watch.attach(a)
    watch.close()
    time.sleep(0.3)                         # past the deadline it would have had (a slow machine: later still)
    b.sendall(b"x")
    assert a.recv(10) == b"x" and watch.fired is None
    a.close()
    b.close()


def test_watchdogs_share_one_thread_however_many_calls():
    """A thread per call cost more than the rest of the client on a loopback call; one
    monitor watches every live watchdog, and a closed one is forgotten (bounded state)."""
    import socket

    pairs = [socket.socketpair() for _ in range(20)]
    dogs = [deadline.Watchdog(deadline._clock() + 30) for _ in pairs]
    try:
        for dog, (a, _b) in zip(dogs, pairs, strict=True):
            dog.attach(a)
        watchers = [t for t in threading.enumerate() if t.name == "openai-skill-watchdog"]
        assert len(watchers) == 1
        assert {dog._thread for dog in dogs} == {watchers[0]}
    finally:
        for dog, (a, b) in zip(dogs, pairs, strict=True):
            dog.close()
            a.close()
            b.close()
    assert not any(dog in deadline._monitor.dogs for dog in dogs)


def test_a_forked_child_gets_its_own_monitor():
    import os
    import socket

    parent_dog = deadline.Watchdog(deadline._clock() + 30)
    a, b = socket.socketpair()
    parent_dog.attach(a)
    pid = os.fork()
    if pid == 0:  # the child: a deadline still fires, though the parent's thread is not here
        code = 1
        try:
            c, d = socket.socketpair()
            dog = deadline.Watchdog(deadline._clock() + 0.2)
            dog.attach(c)
            c.settimeout(60)  # a monitor that never fires fails the test instead of hanging it
            code = 0 if c.recv(10) == b"" and dog.fired == deadline.DEADLINE else 1
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    finally:
        parent_dog.close()
        a.close()
        b.close()
