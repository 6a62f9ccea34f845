"""Helpers for the local-page tests: serve a page in a thread, speak raw HTTP to it."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import re
import threading
from pathlib import Path
from urllib.parse import urlencode

# The one-time link: the port, then the path (the page's secret prefix, /start/, the token).
START = re.compile(r"http://127\.0\.0\.1:(\d+)(/[A-Za-z0-9_-]{32}/start/[A-Za-z0-9_-]+)")


def base_of(start_path: str) -> str:
    """The page's path prefix, from its start path (every page URL lives under it)."""
    return start_path.split("/start/", 1)[0]


@contextlib.contextmanager
def serving(page, timeout: float = 10.0):
    """Run `page.serve()` (a LocalPage) on its own event loop in a thread; stop it on exit."""
    result = {}

    def run():
        result["reason"] = asyncio.run(page.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        page.stop("test over")
        thread.join(timeout)
        assert not thread.is_alive(), "the page did not stop"


def call(port: int, method: str, path: str, *, headers: dict | None = None, form: dict | None = None,
         body: bytes | None = None, host: str | None = None):
    """One request; returns (status, headers as a lower-cased dict, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {"Host": f"127.0.0.1:{port}" if host is None else host}
    if form is not None:
        body = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    sent.update(headers or {})
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in sent.items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read().decode("utf-8", "replace")
    out_headers = {}
    for name, value in response.getheaders():
        out_headers.setdefault(name.lower(), value)
    conn.close()
    return response.status, out_headers, data


def login(port: int, start_path: str) -> dict:
    """Open the one-time link and press its button (a same-origin POST spends the token);
    returns the headers to send with the session cookie."""
    status, _, html = call(port, "GET", start_path)
    assert status == 200 and "Open the page" in html, status
    status, headers, _ = call(port, "POST", start_path, form={}, headers={"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200, status
    cookie = headers["set-cookie"].split(";")[0]
    return {"Cookie": cookie}


def csrf_of(page_html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert match, "no CSRF field on the page"
    return match.group(1)


class DashboardProcess:
    """`openai-skill dashboard --no-browser` in a subprocess; `url` is the one-time link it printed."""

    def __init__(self, *args: str, env: dict | None = None):
        import os
        import shutil
        import subprocess
        import sys

        beside = Path(sys.executable).parent / "openai-skill"
        exe = str(beside) if beside.exists() else shutil.which("openai-skill")
        assert exe, "openai-skill is not installed"
        self.proc = subprocess.Popen([exe, "dashboard", "--no-browser", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        first = self.proc.stdout.readline()   # the server prints its link before serving
        match = START.search(first)
        assert match, f"no link in {first!r}; stderr: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        self.url = match.group(0)
        self.port = int(match.group(1))
        self.start = match.group(2)
        self.base = base_of(self.start)
        self.out = first

    def finish(self, timeout: float = 15) -> tuple[int, str, str]:
        """Wait for the exit; returns (exit code, all stdout, all stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        self.result = (self.proc.returncode, self.out + out, err)
        return self.result

    def kill(self) -> tuple[int, str, str]:
        """Stop it now (if still running); returns (exit code, all stdout, all stderr)."""
        if not hasattr(self, "result"):
            if self.proc.poll() is None:
                self.proc.terminate()
            out, err = self.proc.communicate(timeout=10)
            self.result = (self.proc.returncode, self.out + out, err)
        return self.result


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket in LISTEN state on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found
