"""Streamable-HTTP MCP sessions are capped and expire (issue 16, item 9).

1,500 sessions took +61 MB and the server still accepted more. Now at most MAX_SESSIONS live
at once (another `initialize` is answered 503, nothing else is disturbed), an ended session
frees its place, and an idle one is ended (its id answers 404). Driven over raw HTTP against
the real app (small caps here, so the test stays small)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

TOKEN = "test-token-0123456789"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "session-test", "version": "1"}}}


SHORT_IDLE = 1.0     # seconds: the expiry test waits for it
LONG_IDLE = 600.0    # the cap test: no session may expire while it runs, however slowly


@pytest.fixture
def http_server(request):
    """The server's app (`http.build_app`) on 127.0.0.1 with 3 sessions at most, idle after
    `request.param` seconds."""
    import uvicorn

    from openai_skill.surfaces.mcp.http import build_app
    from openai_skill.surfaces.mcp.server import build_server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = build_app(build_server(), port, TOKEN, max_sessions=3, idle_timeout=request.param)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(15)


def _post(port: int, body: dict, session: str | None = None, method: str = "POST"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    headers = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["Mcp-Session-Id"] = session
    conn.request(method, "/mcp", body=json.dumps(body) if method == "POST" else None, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("mcp-session-id")


def _open(port: int):
    return _post(port, INITIALIZE)


@pytest.mark.parametrize("http_server", [LONG_IDLE], indirect=True)
def test_sessions_are_capped_and_an_ended_one_frees_its_place(http_server):
    port = http_server
    opened = [_open(port) for _ in range(3)]
    assert [status for status, _ in opened] == [200, 200, 200] and all(sid for _, sid in opened)
    status, sid = _open(port)
    assert status == 503 and sid is None                         # the fourth waits for room

    first = opened[0][1]
    assert _post(port, {}, first, method="DELETE")[0] == 200       # a client that ends its session...
    assert _open(port)[0] == 200                                   # ...makes room for another
    assert _open(port)[0] == 503                                   # (and only for one)


@pytest.mark.parametrize("http_server", [SHORT_IDLE], indirect=True)
def test_idle_sessions_expire_and_free_their_place(http_server):
    """Idle sessions end on their own (waiting touches none of them: a refused initialize is no
    request of a session), and their room is free again. (Split from the cap test: with a 1 s
    idle timeout, a slow machine could see a session expire before the cap was reached.)"""
    port = http_server
    opened = [_open(port) for _ in range(3)]
    assert [status for status, _ in opened] == [200, 200, 200]
    deadline = time.monotonic() + 60
    while _open(port)[0] != 200:
        assert time.monotonic() < deadline, "no idle session was ever ended"
        time.sleep(0.2)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert _post(port, ping, opened[1][1])[0] == 404               # the ended one is gone for good


def test_the_defaults_are_small():
    from openai_skill.surfaces.mcp import http

    assert http.MAX_SESSIONS <= 64 and http.SESSION_IDLE_TIMEOUT <= 30 * 60
