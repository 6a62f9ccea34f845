"""The HTTP sessions: created on first use (so `--dry-run` never imports `requests`), bounded
(a few pooled connections per host) and closable (`close()`, for long-lived servers).

Sessions by where the key may travel:
- https URLs with a key the caller gave (OPENAI_API_KEY, `api_key=`) use a session that
  honours the environment (HTTPS_PROXY, NO_PROXY, CA bundles): the caller's own setup;
- https URLs with an origin-bound key (vault, keychain) use a pinned session, one per pin
  (`tls.Pin`): proxies still apply, but the server is verified against certifi's bundle or
  the entry's own CA bundle only, never the environment's, and no TLS key log is written;
- plain http (only ever loopback, see `urls.check_transport`) uses a session that ignores
  the environment: an HTTP_PROXY would otherwise receive the request, Authorization
  header included, in clear.
All hand every socket to the call's deadline watchdog (`deadline.hand_over`) from the moment
it connects, TLS handshake included, and look host names up under the call's bounds
(`resolve.py`), so no step of setting up a connection can outlast the deadline.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import sys
import threading
import weakref

from . import deadline
from ..urls import uses_plain_http

POOL_HOSTS = 4            # hosts whose connections are kept
POOL_CONNECTIONS = 64     # kept-alive connections per host: the bulk engine's most workers

_peer_rule: contextvars.ContextVar = contextvars.ContextVar("openai_skill_peer_rule", default=None)

PROXIED = "proxied"       # may use the environment's proxy settings
DIRECT = "direct"         # never uses a proxy
PINNED = "pinned"         # may use a proxy; verifies TLS with a pin, never the environment's CAs


class Sessions:
    """The pooled sessions of a client (one set per process by default). A forked child
    forgets what it inherited: a pooled connection shared by two processes would hand one
    process's answer to the other."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sessions: dict = {}
        _all.add(self)

    def for_url(self, url: str, pin=None):
        """The session for `url`; `pin` (a `tls.Pin`, for an origin-bound key) fixes who may
        vouch for an https server."""
        plain = uses_plain_http(url)
        kind = DIRECT if plain else PROXIED if pin is None else (PINNED, pin.key)
        session = self._sessions.get(kind)
        if session is None:
            with self._lock:
                session = self._sessions.get(kind)
                if session is None:
                    session = self._sessions[kind] = _new_session(trust_env=not plain,
                                                                  pin=None if plain else pin)
        return session

    def close(self) -> None:
        """Close every pooled connection; the next call opens new ones."""
        with self._lock:
            sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.close()


    def _forget(self) -> None:
        # In a forked child: drop (never close: the sockets are the parent's too) the sessions.
        self._lock = threading.Lock()
        self._sessions = {}


_all: weakref.WeakSet[Sessions] = weakref.WeakSet()
_default = Sessions()


def _after_fork_in_child() -> None:
    for sessions in list(_all):
        sessions._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def default_sessions() -> Sessions:
    """The process's sessions (what a Client uses unless given its own)."""
    return _default


def session_for(url: str):
    """The process's session for `url`."""
    return _default.for_url(url)


def close() -> None:
    _default.close()


@contextlib.contextmanager
def peer_rule(check):
    """New connections made in this block call `check(peer IP)` once connected, before
    anything is sent; it raises to refuse the peer (downloads: no private addresses)."""
    token = _peer_rule.set(check)
    try:
        yield
    finally:
        _peer_rule.reset(token)


def _connected(connection, sock):
    """A fresh socket: checked against the current peer rule (unless it goes to a proxy,
    which resolves the name itself), then handed to the watchdog."""
    check = _peer_rule.get()
    if check is not None and getattr(connection, "proxy", None) is None:
        try:
            check(sock.getpeername()[0])
        except BaseException:
            sock.close()
            raise
    deadline.hand_over(sock)
    return sock


def _open(connection):
    """urllib3's `HTTPConnection._new_conn`, with the host name looked up under the call's
    bounds (`resolve.lookup`) rather than by a `getaddrinfo` nothing can interrupt. The connect
    timeout covers the lookup and the connect together; failures are urllib3's, as before."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.util.connection import allowed_gai_family

    host = connection._dns_host
    if host.startswith("["):
        host = host.strip("[]")
    timeout = connection.timeout
    if not isinstance(timeout, (int, float)):   # None, or urllib3's "the default" sentinel
        timeout = socket.getdefaulttimeout()
    started = deadline._clock()
    try:
        deadline.note(f"while looking up {connection.host}")
        infos = _addresses(host, connection.port, allowed_gai_family(), timeout)
        deadline.note(f"while connecting to {connection.host}")
        if timeout is not None:
            timeout -= deadline._clock() - started
            if timeout <= 0:
                raise TimeoutError("the connect timeout passed during the lookup")
        sock = _connect_any(infos, timeout, connection.source_address, connection.socket_options)
    except socket.gaierror as exc:
        raise NameResolutionError(connection.host, connection, exc) from exc
    except deadline.Abandoned as exc:
        raise NewConnectionError(connection, str(exc)) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(connection, f"Connection to {connection.host} timed out. "
                                  f"(connect timeout={connection.timeout})") from exc
    except OSError as exc:
        raise NewConnectionError(connection, f"Failed to establish a new connection: {exc}") from exc
    sys.audit("http.client.connect", connection, connection.host, connection.port)
    return sock


def _addresses(host: str, port: int, family: int, timeout: float | None) -> list:
    """An address as it is (no thread, no import: the loopback calls of tests and benchmarks);
    a name through `resolve.lookup`, bounded."""
    for kind in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(kind, host)
        except (OSError, ValueError):
            continue
        return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    from . import resolve

    return resolve.lookup(host, port, family, timeout)


def _connect_any(infos: list, timeout: float | None, source_address, options):
    """Connect to the first address that answers (urllib3's `create_connection` loop)."""
    error: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(address)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error if error is not None else OSError("getaddrinfo returned no address")


def _new_session(*, trust_env: bool, pin=None):
    import requests

    session = requests.Session()
    session.trust_env = trust_env
    # requests' adapter does not retry (max_retries=0 by default): retries are ours.
    adapter = _watched_adapter_class()(pool_connections=POOL_HOSTS, pool_maxsize=POOL_CONNECTIONS,
                                       pinned_context=None if pin is None else pin.context())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


_adapter_class = None


def _watched_adapter_class():
    """An HTTPAdapter whose connections hand their sockets to the current watchdog, and, given
    a `pinned_context` (an origin-bound key's, tls.py), whose TLS is verified with that context
    whatever `verify` says: requests turns REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (and any
    `verify=`) into the pool's `ca_certs`, which urllib3 would load into the context, so
    `send`, `cert_verify` and the pool key drop it; the context goes to direct pools and to
    pools behind a proxy (CONNECT tunnels) alike.
    Built on first use, so that importing this module does not import requests."""
    global _adapter_class
    if _adapter_class is not None:
        return _adapter_class
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class WatchedHTTPConnection(HTTPConnection):
        def _new_conn(self):
            return _connected(self, _open(self))

        def connect(self):
            super().connect()
            deadline.note(None)

        def getresponse(self, *args, **kwargs):
            deadline.hand_over(self.sock)  # also a kept-alive connection's socket
            return super().getresponse(*args, **kwargs)

    class WatchedHTTPSConnection(HTTPSConnection):
        _guard = None

        def _new_conn(self):
            sock = _connected(self, _open(self))
            # Wrapping the socket in TLS (in `connect`) detaches it, so the watchdog would hold
            # a dead socket while the handshake runs: it watches a duplicate until then, whose
            # shutdown ends the handshake as well (one connection, two descriptors).
            self._guard = sock.dup()
            deadline.hand_over(self._guard)
            deadline.note(f"during the TLS handshake with {self._tunnel_host or self.host}")
            return sock

        def connect(self):
            try:
                super().connect()
                deadline.note(None)
                deadline.hand_over(self.sock)   # the TLS socket: sending the request is watched too
            finally:
                guard, self._guard = self._guard, None
                if guard is not None:
                    deadline.let_go(guard)
                    guard.close()

        def getresponse(self, *args, **kwargs):
            deadline.hand_over(self.sock)
            return super().getresponse(*args, **kwargs)

    class WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTPConnection

    class WatchedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPSConnection

    pools = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}

    class WatchedAdapter(HTTPAdapter):
        def __init__(self, *args, pinned_context=None, **kwargs):
            self.pinned_context = pinned_context  # before super().__init__, which builds the pool manager
            super().__init__(*args, **kwargs)

        def init_poolmanager(self, *args, **kwargs):
            if self.pinned_context is not None:
                kwargs["ssl_context"] = self.pinned_context
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy, **kwargs):
            if self.pinned_context is not None:
                kwargs["ssl_context"] = self.pinned_context
            manager = super().proxy_manager_for(proxy, **kwargs)
            manager.pool_classes_by_scheme = pools
            return manager

        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            if self.pinned_context is not None:
                verify, cert = True, None
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)

        def cert_verify(self, conn, url, verify, cert):
            if self.pinned_context is None:
                return super().cert_verify(conn, url, verify, cert)
            conn.cert_reqs = "CERT_REQUIRED"
            conn.ca_certs = None
            conn.ca_cert_dir = None

        def build_connection_pool_key_attributes(self, request, verify, cert=None):
            if self.pinned_context is None:
                return super().build_connection_pool_key_attributes(request, verify, cert)
            host, pool = super().build_connection_pool_key_attributes(request, True, None)
            kept = {k: v for k, v in pool.items() if k not in ("ca_certs", "ca_cert_dir", "cert_file", "key_file")}
            return host, {**kept, "cert_reqs": "CERT_REQUIRED"}

    _adapter_class = WatchedAdapter
    return _adapter_class
