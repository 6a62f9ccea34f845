"""Loopback servers that misbehave on purpose: they drip bytes, stall, send huge or
compressed bodies, speak TLS with a self-signed certificate, or just count who connects.
They only ever listen on 127.x.y.z addresses of this machine."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time


class RawServer:
    """A TCP server on `host` whose `handler(conn, request_head, stop)` writes raw bytes.
    `accepted` counts connections; `heads` keeps each request's head (bytes). With
    `read_head=False` the handler starts as soon as a connection is accepted (head b""): a
    server that speaks first, such as one answering a TLS ClientHello byte by byte."""

    def __init__(self, handler=None, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
                 read_head: bool = True):
        self.handler = handler or (lambda conn, head, stop: None)
        self.host = host
        self.tls = tls
        self.read_head = read_head
        self.accepted = 0
        self.heads: list[bytes] = []
        self.stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._loop = threading.Thread(target=self._accept_loop, daemon=True)
        self._loop.start()

    def url(self, path: str = "/v1", scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn):
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            head = b""
            while self.read_head and b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    break
                head += data
            self.heads.append(head)
            self.handler(conn, head, self.stop)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self._sock.close()
        self._loop.join(2)
        for thread in self._threads:
            thread.join(2)


def read_next_request(conn) -> bool:
    """Read the next request's head on a kept-alive connection; False if the client closed it."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn.recv(4096)
        if not data:
            return False
        head += data
    return True


def drip(head: bytes, every: float, byte: bytes = b" "):
    """A handler: send `head` (status line and headers, maybe a first part of the body),
    then one `byte` every `every` seconds until the server stops or the client goes."""
    def handler(conn, _request, stop):
        conn.sendall(head)
        while not stop.wait(every):
            conn.sendall(byte)
    return handler


def respond(status_line: str, body: bytes, headers: dict | None = None, *, delay: float = 0.0):
    """A handler: wait `delay` seconds, then send a complete answer."""
    def handler(conn, _request, stop):
        if delay and stop.wait(delay):
            return
        lines = [f"HTTP/1.1 {status_line}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return handler


def self_signed_context(tmp_path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def timed(fn, *args, **kwargs):
    """(seconds, exception or None, result or None)."""
    started = time.monotonic()
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return time.monotonic() - started, exc, None
    return time.monotonic() - started, None, result
