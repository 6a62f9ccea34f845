"""An MCP server whose client closed its stdout exits, quietly and promptly (issue 17, item 12),
instead of running until stdin ends and then reporting "unexpected ExceptionGroup ... a bug".
Real server processes; stdin stays open throughout, as a client that died would leave it."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from support.agent_clients import require_module

require_module("mcp")

from support.mcp_client import openai_skill_exe, server_env  # noqa: E402

BOUND = 30.0
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}


@pytest.mark.parametrize("then", ["a request it must answer", "nothing"])
def test_a_closed_stdout_ends_the_server_quietly(tmp_path, then):
    read_end, write_end = os.pipe()
    server = subprocess.Popen([openai_skill_exe(), "mcp"], stdin=subprocess.PIPE, stdout=write_end,
                              stderr=subprocess.PIPE, env=server_env("http://127.0.0.1:9/v1"), cwd=tmp_path)
    os.close(write_end)
    try:
        os.close(read_end)                          # the client's end of stdout is gone
        if then == "a request it must answer":
            server.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
            server.stdin.flush()
        started = time.monotonic()
        server.wait(timeout=BOUND)                   # stdin is still open: this is the server's own doing
        took = time.monotonic() - started
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdin.close()
    stderr = server.stderr.read().decode()
    assert server.returncode == 141, stderr
    assert stderr == "" and took < BOUND
