"""Serving a local page: uvicorn on a socket bound to 127.0.0.1 at a free port, behind the Guard.

The socket is bound before the server starts, so the one-time URL (and the Host the guard
accepts) is known up front. A watchdog stops the server when it has been idle too long, when
its lifetime is over, or when a page says it is done. Embedded in another asyncio program (the
MCP server), it leaves signal handling to its host, and nothing is ever written to stdout:
uvicorn's access log is off and its own logging config is not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import uvicorn

from .guard import Guard

LOOPBACK = "127.0.0.1"
WATCH_INTERVAL = 0.25
BACKLOG = 16


class _Server(uvicorn.Server):
    def __init__(self, config, embedded: bool):
        super().__init__(config)
        self.embedded = embedded

    @contextlib.contextmanager
    def capture_signals(self):
        if self.embedded:  # the host process owns SIGINT/SIGTERM
            yield
            return
        with super().capture_signals():
            yield


class LocalPage:
    """A Starlette app behind a Guard, served on loopback until idle, expired or done."""

    def __init__(self, app, *, idle_timeout: float, lifetime: float | None = None, token_ttl: float | None = None,
                 embedded: bool = False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(BACKLOG)  # now: a browser that is quicker than the server start just waits
        self.port = self.sock.getsockname()[1]
        self.idle_timeout = idle_timeout
        self.deadline = None if lifetime is None else time.monotonic() + lifetime
        self.guard = Guard(app, port=self.port, token_ttl=token_ttl or lifetime or idle_timeout)
        config = uvicorn.Config(self.guard, log_config=None, access_log=False, lifespan="off", http="h11",
                                ws="none", server_header=False, timeout_graceful_shutdown=2,
                                limit_concurrency=32, timeout_keep_alive=5)
        self.server = _Server(config, embedded)
        self.stop_reason: str | None = None

    @property
    def url(self) -> str:
        return self.guard.start_url

    def stop(self, reason: str = "stopped") -> None:
        self.stop_reason = self.stop_reason or reason
        self.server.should_exit = True

    async def serve(self) -> str:
        """Serve until stopped; returns why it stopped ("idle", "expired", or the reason given)."""
        watchdog = asyncio.ensure_future(self._watch())
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            watchdog.cancel()
            self.sock.close()
        return self.stop_reason or "stopped"

    async def _watch(self) -> None:
        while not self.server.should_exit:
            await asyncio.sleep(WATCH_INTERVAL)
            if self.guard.idle_for() > self.idle_timeout:
                self.stop("idle")
            elif self.deadline is not None and time.monotonic() > self.deadline:
                self.stop("expired")
