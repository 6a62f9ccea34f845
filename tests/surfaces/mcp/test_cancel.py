"""A cancelled MCP call stops (issue 17, item 9): the official SDK's client cancels calls to an
upstream that never answers; each cancelled call's upstream connection closes at once (not at
its 900 s deadline), the server keeps reading its stdin while more calls than anyio's default
40 threads hang (tool calls have a thread budget of their own), and the next call is prompt."""

from __future__ import annotations

import json
import threading
import time

import anyio
import pytest

from support.agent_clients import require_module

require_module("mcp")

from contract.spec import load_fixture  # noqa: E402
from support.mcp_client import run_session, server_env  # noqa: E402
from support.misbehaving import RawServer  # noqa: E402

CALLS = 42          # more than anyio's default thread limit (40), which the SDK's stdio shares
BOUND = 30.0        # seconds: generous for a loaded machine; the old code waited 900 s
MODELS = json.dumps(load_fixture("models-list.json")).encode()
HI = {"messages": [{"role": "user", "content": "hi"}]}


class Upstream:
    """Answers GET /v1/models at once; holds every other request, counting connections that
    come and that the client closes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.holding = self.closed = 0
        self.server = RawServer(self.handle)

    def handle(self, conn, head, stop):
        if head.startswith(b"GET /v1/models"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(MODELS) + MODELS)
            return
        with self.lock:
            self.holding += 1
        conn.settimeout(0.1)
        while not stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                with self.lock:
                    self.closed += 1
                return


async def _until(predicate, what: str) -> None:
    with anyio.fail_after(BOUND):
        while not predicate():
            await anyio.sleep(0.05)


@pytest.mark.timeout(180)
def test_cancelled_calls_close_their_connections_and_the_server_stays_responsive(tmp_path):
    upstream = Upstream()
    try:
        async def body(session):
            scopes = []

            async def hanging_call():
                with anyio.CancelScope() as scope:
                    scopes.append(scope)
                    await session.call_tool("openai_chat_completion", HI)

            async with anyio.create_task_group() as group:
                for _ in range(CALLS):
                    group.start_soon(hanging_call)
                await _until(lambda: upstream.holding >= 16, "the calls to reach the upstream")
                with anyio.fail_after(BOUND):
                    await session.send_ping()     # stdin is still read while the calls hang
                for scope in scopes:
                    scope.cancel()
            held = upstream.holding
            started = time.monotonic()
            await _until(lambda: upstream.closed == upstream.holding, "the cancelled calls' connections to close")
            closed_in = time.monotonic() - started
            started = time.monotonic()
            listed = await session.call_tool("openai_list_models", {})
            return held, closed_in, time.monotonic() - started, listed

        held, closed_in, next_call, listed = run_session(
            body, server_env(upstream.server.url()), tmp_path, tmp_path / "err.txt")
        assert not listed.is_error
        assert 16 <= held <= CALLS and upstream.closed == upstream.holding
        assert closed_in < BOUND and next_call < BOUND
    finally:
        upstream.server.close()
