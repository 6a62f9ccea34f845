"""TLS on loopback for the origin-binding tests: test CAs minted with `cryptography`, an https
API server on 127.0.0.1, and a proxy on 127.0.0.1 that either tunnels (CONNECT, bytes relayed
as they are) or intercepts (answers the TLS handshake itself with a certificate from its own
CA, as a TLS-inspecting proxy or an attacker does, and records what it then reads in clear).
Nothing here resolves a host name or leaves 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import json
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOOPBACK = "127.0.0.1"
MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "system"}]}


@dataclass
class Authority:
    """A test CA and the files a server needs for 127.0.0.1 (PEM paths in `folder`)."""

    name: str
    folder: Path
    ca_pem: Path = field(init=False)
    cert_pem: Path = field(init=False)
    key_pem: Path = field(init=False)
    leaf_pem: Path = field(init=False)   # the server certificate alone (not a CA)

    def __post_init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} test CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, encipher_only=False,
                                           decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_pem = self.folder / f"{self.name}-ca.pem"
        self.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.leaf_pem = self.folder / f"{self.name}-leaf.pem"
        self.leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self.cert_pem = self.folder / f"{self.name}-chain.pem"
        self.cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                  + ca.public_bytes(serialization.Encoding.PEM))
        self.key_pem = self.folder / f"{self.name}-key.pem"
        self.key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_pem), str(self.key_pem))
        return context


def _read_request(stream) -> tuple[str, dict]:
    """(request line, lower-cased headers) of one HTTP request read from a file-like stream."""
    line = stream.readline(65536).decode("latin-1").rstrip("\r\n")
    headers = {}
    while True:
        raw = stream.readline(65536).decode("latin-1").rstrip("\r\n")
        if not raw:
            return line, headers
        name, _, value = raw.partition(":")
        headers[name.strip().lower()] = value.strip()


class ApiServer:
    """https://127.0.0.1:<port>/v1/models, served with `authority`'s certificate; records the
    Authorization header of every request it gets."""

    def __init__(self, authority: Authority):
        self.authorizations: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.authorizations.append(self.headers.get("Authorization", ""))
                body = json.dumps(MODELS).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-request-id", "req_tls")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass   # a client that refuses our certificate is the point of some tests

        self.server = Server((LOOPBACK, 0), Handler)
        self.server.socket = authority.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.origin = f"https://{LOOPBACK}:{self.port}"
        self.base_url = self.origin + "/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Proxy:
    """An HTTP proxy on 127.0.0.1 speaking CONNECT. `intercept` = an Authority: it answers the
    TLS handshake itself with that CA's certificate and records every request it can read
    (`seen_in_clear`); None: it relays the bytes both ways (`relayed`: everything that passed)."""

    def __init__(self, intercept: Authority | None = None):
        self.intercept = intercept
        self.connects: list[str] = []
        self.seen_in_clear: list[dict] = []
        self.relayed = bytearray()
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.sock.close()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        client.settimeout(10)
        try:
            stream = client.makefile("rb")
            line, _headers = _read_request(stream)
            method, target, _ = (line.split(" ") + ["", "", ""])[:3]
            with self._lock:
                self.connects.append(line)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            assert host == LOOPBACK, f"the proxy was asked for {host!r}: tests never leave 127.0.0.1"
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if self.intercept is None:
                self._relay(client, int(port))
            else:
                self._read_in_clear(client)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            client.close()

    def _relay(self, client: socket.socket, port: int):
        upstream = socket.create_connection((LOOPBACK, port), timeout=10)
        with upstream:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 10)
                if not ready:
                    return
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    with self._lock:
                        self.relayed += data
                    (upstream if source is client else client).sendall(data)

    def _read_in_clear(self, client: socket.socket):
        tls = self.intercept.server_context().wrap_socket(client, server_side=True)
        stream = tls.makefile("rb")
        line, headers = _read_request(stream)
        with self._lock:
            self.seen_in_clear.append({"line": line, "authorization": headers.get("authorization", "")})
        body = json.dumps(MODELS).encode()
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        tls.close()
