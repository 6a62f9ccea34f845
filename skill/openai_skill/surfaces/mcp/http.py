"""Streamable HTTP for `openai-skill mcp --transport streamable-http`: on 127.0.0.1 only,
behind a bearer token, with the `Host` and `Origin` checks the MCP security guidance asks
for (a web page the user visits must not reach a local server through DNS rebinding).

`check_request` is pure and decides every request before the SDK sees it; the SDK's own
Host/Origin protection is switched on with the same lists as a second line.

Sessions are capped and expire: at most MAX_SESSIONS at once (another `initialize` is answered
503 until one ends), and one with no request in flight for SESSION_IDLE_TIMEOUT is ended (its
id then answers 404 and the client starts anew). Without this, 1,500 sessions took 61 MB and
the server kept accepting more.
"""

from __future__ import annotations

import hmac
import secrets

HOST = "127.0.0.1"  # never another interface: the key behind this server is the user's
PATH = "/mcp"
TOKEN_BYTES = 32
MAX_SESSIONS = 32                 # a few MCP clients on one machine, each with a session or two
SESSION_IDLE_TIMEOUT = 10 * 60    # seconds; a connected client keeps its GET stream open, so is never idle


def allowed_hosts(port: int) -> list[str]:
    return [f"127.0.0.1:{port}", f"localhost:{port}"]


def allowed_origins(port: int) -> list[str]:
    return [f"http://{host}" for host in allowed_hosts(port)]


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def check_request(headers: dict, port: int, token: str) -> tuple[int, str] | None:
    """None if the request may pass, else (status, reason). `headers`: lower-case names.

    Order: a foreign Host (DNS rebinding) is 421, a foreign Origin (a web page) is 403, then a
    missing or wrong bearer token is 401. A missing Origin is fine: non-browser clients send none.
    """
    if headers.get("host") not in allowed_hosts(port):
        return 421, "Misdirected Request: Host must be 127.0.0.1 or localhost with this port"
    origin = headers.get("origin")
    if origin is not None and origin not in allowed_origins(port):
        return 403, "Forbidden: Origin not allowed"
    scheme, _, given = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return 401, "Unauthorized: send Authorization: Bearer <token>"
    return None


class Guard:
    """ASGI middleware applying `check_request` to every HTTP request."""

    def __init__(self, app, port: int, token: str):
        self.app, self.port, self.token = app, port, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            refused = check_request(headers, self.port, self.token)
            if refused is not None:
                status, reason = refused
                extra = [(b"www-authenticate", b'Bearer realm="openai-skill"')] if status == 401 else []
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *extra]})
                await send({"type": "http.response.body", "body": reason.encode()})
                return
        await self.app(scope, receive, send)


def build_app(server, port: int, token: str, *, max_sessions: int = MAX_SESSIONS,
              idle_timeout: float = SESSION_IDLE_TIMEOUT):
    from mcp.server.transport_security import TransportSecuritySettings

    security = TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                         allowed_hosts=allowed_hosts(port), allowed_origins=allowed_origins(port))
    app = server.streamable_http_app(streamable_http_path=PATH, host=HOST, transport_security=security,
                                     max_sessions=max_sessions, session_idle_timeout=idle_timeout)
    return Guard(app, port, token)


async def serve_http(server, port: int, token: str, on_ready=None) -> None:
    """Serve until cancelled. `port` 0 picks a free port; `on_ready(port)` is called once listening."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))  # bound before the app is built: the Host check needs the real port
    port = sock.getsockname()[1]
    sock.listen(128)  # connections made before uvicorn starts wait in the backlog
    config = uvicorn.Config(build_app(server, port, token), log_level="warning", lifespan="on")
    if on_ready:
        on_ready(port)
    await uvicorn.Server(config).serve(sockets=[sock])
