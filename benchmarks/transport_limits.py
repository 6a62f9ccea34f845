"""What the transport's limits cost at their real sizes: peak memory (VmHWM of a fresh
process) and time on oversized answers, and how far past the deadline a slow-drip call ends.

    python benchmarks/transport_limits.py

Rerunnable, not a test (the tests use small caps through their seams). Every server is a
loopback one started here (tests/support/misbehaving.py); nothing leaves the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support/misbehaving.py lives there
from support.misbehaving import RawServer, drip  # noqa: E402

MiB = 1024 * 1024
KEY = "sk-bench-0000000000000000000000000000"

CHILD = r"""
import json, sys, time
import openai_skill
kind, url, deadline = sys.argv[1], sys.argv[2], float(sys.argv[3])
started = time.monotonic()
try:
    if kind == "chat":
        openai_skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}],
                            "stream": True}, api_key=sys.argv[4], base_url=url, deadline=deadline,
                            max_retries=0)
    else:
        openai_skill.invoke("list-models", {}, api_key=sys.argv[4], base_url=url,
                            deadline=deadline, max_retries=0)
    outcome = "ok"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"[:110]
# VmHWM, not ru_maxrss: ru_maxrss survives exec and would count the parent's memory.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": time.monotonic() - started, "outcome": outcome,
                  "maxrss_mib": hwm / 1024}))
"""


def chunked_handler(head: bytes, pieces):
    def handler(conn, _request, stop):
        conn.sendall(head)
        for piece in pieces():
            if stop.is_set():
                return
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
    return handler


def run(name: str, handler, kind: str = "models", deadline: float = 60):
    server = RawServer(handler)
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, kind, server.url(), str(deadline), KEY],
                              capture_output=True, text=True, timeout=300)
    finally:
        server.close()
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name:44} {result['seconds']:7.2f} s  peak RSS {result['maxrss_mib']:7.1f} MiB  "
          f"{result['outcome']}")
    return result


def main():
    print(f"{'case':44} {'time':>9}  {'memory':>20}  outcome")
    body = json.dumps({"object": "list", "data": []}).encode()
    run("baseline: a small answer", chunked_handler(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        lambda: [body]))

    pad = b"x" * MiB

    def big():
        yield b'{"object": "list", "data": [], "pad": "'
        for _ in range(400):
            yield pad
        yield b'"}'
    run("400 MiB JSON answer (chunked), 256 MiB cap", chunked_handler(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        big))

    run("400 MB declared Content-Length", lambda conn, r, stop: (conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400000000\r\n\r\n{"),
        stop.wait(5)))

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    zeros = b"0" * (16 * MiB)
    bomb = compressor.compress(b'{"object": "list", "data": [], "pad": "')
    for _ in range(64):   # 1 GiB
        bomb += compressor.compress(zeros)
    bomb += compressor.compress(b'"}') + compressor.flush()
    print(f"  (gzip bomb: {len(bomb) / MiB:.1f} MiB on the wire, 1 GiB inflated)")
    run("gzip bomb 1 GiB, 256 MiB cap", chunked_handler(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        lambda: [bomb[i:i + 65536] for i in range(0, len(bomb), 65536)]))

    line = b"data: " + b"x" * (40 * MiB) + b"\n\n"
    run("40 MB SSE line, 16 Mi-character line cap", chunked_handler(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        lambda: [line[i:i + 65536] for i in range(0, len(line), 65536)]), kind="chat")

    page = b"<html><body>" + b"<script" * (300 * 1024 // 7)
    run("502 page of 300 KiB unclosed <script", lambda conn, r, stop: conn.sendall(
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(page)).encode() + b"\r\n\r\n" + page))

    for deadline in (6.0,):
        result = run(f"Content-Length 100000, 1 byte / 2 s, deadline {deadline:g}",
                     drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100000\r\n\r\n{", every=2.0), deadline=deadline)
        print(f"  overshoot {result['seconds'] - deadline:+.3f} s")
        result = run(f"chunked SSE event, 1 byte / 2 s, deadline {deadline:g}",
                     drip(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n186a0\r\ndata: {", every=2.0),
                     kind="chat", deadline=deadline)
        print(f"  overshoot {result['seconds'] - deadline:+.3f} s")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"total {time.monotonic() - started:.0f} s")
