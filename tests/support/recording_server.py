"""Another program on this machine: an HTTP server on its own 127.0.0.1 port that records every
request it gets (method, path, headers) and answers from a small table. The local-page tests
use it as "another local web app" (does it ever receive the page's cookie?) and as a hostile
API base (does a key typed into a page ever reach it?)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingServer:
    """`answers`: {path: (status, content type, body bytes)}; anything else is a small HTML page
    that pulls sub-resources from this same server (so its own sub-requests are same-site)."""

    PAGE = (b'<!doctype html><html><head><title>Another local app</title>'
            b'<link rel="stylesheet" href="/static/style.css"></head>'
            b'<body><p>another app</p><img src="/pixel.png" alt=""><img src="/start/x" alt="">'
            b'<iframe src="/set"></iframe></body></html>')

    def __init__(self, answers: dict | None = None):
        self.answers = dict(answers or {})
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner._lock:
                    owner.requests.append({"method": self.command, "path": self.path,
                                           "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body})
                status, ctype, data = owner.answers.get(self.path.split("?")[0], (200, "text/html", owner.PAGE))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer_json(self, path: str, data, status: int = 200) -> None:
        self.answers[path] = (status, "application/json", json.dumps(data).encode())

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def seen(self) -> list[dict]:
        with self._lock:
            return list(self.requests)

    def cookies_seen(self) -> list[str]:
        return [r["headers"]["cookie"] for r in self.seen() if "cookie" in r["headers"]]
