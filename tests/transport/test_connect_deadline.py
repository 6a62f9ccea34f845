"""The deadline covers setting up a connection too (issue 16, item 14): a host name lookup that
never answers and a TLS handshake the server drips one byte at a time both end at the call's
deadline, with our own timeout error saying which step it was in.

Only loopback: `socket.getaddrinfo` is replaced by one that blocks on an event for the test's
names (under `.invalid`) and refuses any other name that is not an address or `localhost`, so
nothing here asks a real DNS server. The TLS server is a TCP server on 127.0.0.1.

The bounds are generous (a machine ten times slower passes): each stalling party would stall
for STALL seconds; a call must end within CAP (20 times its deadline), and not before the
deadline (it waited for the lookup, it did not give up at once).
"""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest

import openai_skill
from openai_skill.errors import APIConnectionError, APITimeoutError
from openai_skill.transport import call, resolve

from support.canary import CANARY_KEY
from support.misbehaving import RawServer, drip, timed

DEADLINE = 1.0
CAP = 20 * DEADLINE      # a call still running by then ignored its deadline
STALL = 120.0            # how long the stuck resolver and the dripping server would go on
SLOW = ".slow-dns.invalid"
REAL_GETADDRINFO = socket.getaddrinfo


def _is_address(host) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, str(host))
            return True
        except OSError:
            pass
    return False


@pytest.fixture
def stuck_resolver(monkeypatch):
    """Names ending in SLOW hang (until `release` is set, at most STALL s); addresses and
    `localhost` resolve as usual; any other name fails the test."""
    release = threading.Event()
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(SLOW):
            asked.append(host)
            release.wait(STALL)
            raise socket.gaierror(socket.EAI_AGAIN, "the stuck test resolver was released")
        if host is None or _is_address(host) or host == "localhost":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        raise AssertionError(f"a real DNS lookup of {host!r} in a test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    state = SimpleNamespace(release=release, asked=asked)
    yield state
    release.set()


@pytest.fixture(params=["timeouts cut to the deadline", "the watchdog alone"])
def bounds(request, monkeypatch):
    """A call cuts its connect timeout to the time left; with "the watchdog alone" it does not,
    so only the deadline's watchdog can end a stalled step."""
    if request.param == "the watchdog alone":
        monkeypatch.setattr(call.Call, "_timeouts",
                            lambda self: (self.settings.connect_timeout, self.settings.read_timeout))
    return request.param


def run_capped(fn, cap: float = CAP):
    """Run `fn` in a thread: (seconds, error, result), or None if it is still running at `cap`."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("outcome", timed(fn)), daemon=True)
    thread.start()
    thread.join(cap)
    return box.get("outcome")


def list_models(base_url: str, deadline: float = DEADLINE):
    # Socket timeouts far beyond the deadline: only the deadline can end these calls.
    return lambda: openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=base_url,
                                       deadline=deadline, connect_timeout=STALL, read_timeout=STALL,
                                       max_retries=0)


def resolver_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(resolve.THREAD_NAME)]


def wait_until(condition, cap: float = CAP) -> bool:
    done = threading.Event()
    for _ in range(int(cap / 0.05)):
        if condition():
            return True
        done.wait(0.05)
    return condition()


@pytest.mark.timeout(90)
def test_a_host_name_lookup_that_never_answers_ends_at_the_deadline(stuck_resolver, bounds):
    host = "api" + SLOW
    outcome = run_capped(list_models(f"https://{host}/v1"))
    stuck_resolver.release.set()    # (before the fix, the call ends only now)
    assert outcome is not None, f"the call was still looking up {host} {CAP:g} s after it began"
    seconds, error, _ = outcome
    assert stuck_resolver.asked == [host]
    assert isinstance(error, APITimeoutError), repr(error)
    assert f"{DEADLINE:g} s deadline" in error.message
    assert f"looking up {host}" in error.message
    assert seconds >= DEADLINE - 0.1   # it waited for the resolver until the deadline


@pytest.mark.timeout(90)
def test_stuck_lookups_hold_a_bounded_number_of_daemon_threads(stuck_resolver):
    """Three times as many stuck names as resolver threads, at once: every call still ends at
    its deadline, at most MAX_THREADS threads are ever stuck, and they go when the resolver
    answers. Calls for one name share one lookup."""
    hosts = [f"h{i}{SLOW}" for i in range(3 * resolve.MAX_THREADS)] + ["h0" + SLOW] * 4
    outcomes: list = [None] * len(hosts)
    most = [0]

    def call(i):
        outcomes[i] = run_capped(list_models(f"https://{hosts[i]}/v1"))

    callers = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(hosts))]
    for caller in callers:
        caller.start()
    while any(caller.is_alive() for caller in callers):
        most[0] = max(most[0], len(resolver_threads()))
        callers[0].join(0.02)
    stuck = resolver_threads()
    stuck_resolver.release.set()

    assert all(outcome is not None for outcome in outcomes), "a call ignored its deadline"
    for _seconds, error, _ in outcomes:
        assert isinstance(error, APITimeoutError) and "looking up" in error.message, repr(error)
    assert 1 <= most[0] <= resolve.MAX_THREADS
    assert len(stuck_resolver.asked) <= resolve.MAX_THREADS          # never more lookups at once
    assert len(set(stuck_resolver.asked)) == len(stuck_resolver.asked)  # one per name
    assert stuck and all(thread.daemon for thread in stuck)          # never keeps a process alive
    assert wait_until(lambda: not resolver_threads()), "resolver threads outlived the resolver"


@pytest.mark.timeout(90)
def test_a_tls_handshake_that_drips_ends_at_the_deadline(bounds):
    """The server accepts, then answers the ClientHello with a TLS record header announcing
    16 KiB and sends one byte of it every 0.2 s. (CPython bounds a whole handshake by the
    socket timeout, which a call cuts to the time left; "the watchdog alone" shows the deadline
    holds without that, and the message names the step either way.)"""
    record = b"\x16\x03\x03\x40\x00" + b"\x02"     # handshake record, 16384 bytes: ServerHello...
    server = RawServer(drip(record, every=0.2, byte=b"\x00"), read_head=False)
    try:
        outcome = run_capped(list_models(server.url(scheme="https")))
    finally:
        server.close()              # (before the fix, the handshake ends only now)
    assert outcome is not None, f"the TLS handshake was still running {CAP:g} s after the call began"
    seconds, error, _ = outcome
    assert server.accepted == 1
    assert isinstance(error, APITimeoutError), repr(error)
    assert f"{DEADLINE:g} s deadline" in error.message
    assert "TLS" in error.message and "127.0.0.1" in error.message
    assert seconds >= DEADLINE - 0.1


@pytest.mark.timeout(90)
def test_a_cancelled_call_stops_waiting_for_a_stuck_lookup(stuck_resolver):
    """A `Cancel` ends a call waiting for the resolver at once, long before its deadline, and
    the call is not retried."""
    from openai_skill.client import Cancel, Client, cancelling

    host = "cancel" + SLOW
    client = Client(api_key=CANARY_KEY, base_url=f"https://{host}/v1", deadline=STALL,
                    connect_timeout=STALL, max_retries=2)
    switch = Cancel()

    def cancelled_call():
        with cancelling(switch):
            return client.invoke("list-models", {})

    box: dict = {}
    caller = threading.Thread(target=lambda: box.setdefault("outcome", timed(cancelled_call)), daemon=True)
    caller.start()
    assert wait_until(lambda: stuck_resolver.asked), "the lookup never began"
    switch.cancel()
    caller.join(CAP)
    stuck_resolver.release.set()
    assert "outcome" in box, f"the cancelled call was still waiting {CAP:g} s later"
    _, error, _ = box["outcome"]
    assert isinstance(error, APIConnectionError) and "cancelled" in error.message, repr(error)
    assert stuck_resolver.asked == [host]      # not retried


def _tunnel_then_drip(record: bytes, every: float):
    """A proxy's handler: answer CONNECT with 200, then drip the inner TLS handshake."""
    def handler(conn, head, stop):
        assert head.startswith(b"CONNECT 127.0.0.1:"), head[:60]   # tests never leave 127.0.0.1
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        drip(record, every=every, byte=b"\x00")(conn, head, stop)
    return handler


@pytest.mark.timeout(90)
@pytest.mark.parametrize("proxy_scheme", ["http", "https"])
def test_a_tls_handshake_dripped_through_a_proxy_tunnel_ends_at_the_deadline(proxy_scheme, bounds, monkeypatch,
                                                                             tmp_path):
    """Through HTTPS_PROXY, the handshake with the API host runs inside the proxy's CONNECT
    tunnel (and, with an https:// proxy, inside TLS to the proxy as well): the watchdog holds
    the tunnel's socket for the whole connect, so a dripped inner handshake ends at the
    deadline like a direct one."""
    from support.tls_pki import Authority

    record = b"\x16\x03\x03\x40\x00" + b"\x02"
    tls = None
    if proxy_scheme == "https":
        authority = Authority("proxy", tmp_path)
        tls = authority.server_context()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_pem))   # the caller's own CA trusts the proxy
    proxy = RawServer(_tunnel_then_drip(record, every=0.2), tls=tls)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url(path="", scheme=proxy_scheme))
    try:   # the API's own port is never dialled: the proxy answers for it
        outcome = run_capped(list_models("https://127.0.0.1:9/v1"))
    finally:
        proxy.close()
    assert outcome is not None, f"the tunnelled handshake was still running {CAP:g} s after the call began"
    seconds, error, _ = outcome
    assert proxy.accepted == 1 and proxy.heads[0].startswith(b"CONNECT 127.0.0.1:9 ")
    assert isinstance(error, APITimeoutError), repr(error)
    assert f"{DEADLINE:g} s deadline" in error.message and "TLS" in error.message
    assert seconds >= DEADLINE - 0.1
