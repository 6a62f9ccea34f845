"""The gate in front of every local page: nothing reaches a page unless it passes here.

A browser is the only client we serve; a hostile page in another tab, and another web app on
another 127.0.0.1 port, are the threats:
- every URL lives under an unguessable per-page path prefix (`/<32 random characters>/...`);
  a request outside it is refused with a page that does not name it. Cookies are scoped by
  host, not port, so a server on any other 127.0.0.1 port would receive a `Path=/` cookie
  (even after a cross-site navigation, that server's own sub-requests are same-site); the
  session cookie's `Path` is the prefix, so a browser sends it only to paths that server
  cannot know;
- the Host header must be exactly 127.0.0.1:<port> (DNS rebinding gives another name);
- the first visit presents a one-time token in the URL path; opening it (GET) only shows a
  button, and the click (a same-origin POST) exchanges the token for a session cookie
  (HttpOnly, SameSite=Strict, named per port, Path = the prefix), so a link previewer or
  a prefetch that fetches the link does not use it up; a used, wrong or expired token
  opens nothing;
- every other request needs that cookie; every POST also needs the session's CSRF token
  and an Origin header naming this very server (a cross-site form post has neither);
- only GET, HEAD and POST exist (no OPTIONS, so no CORS preflight can ever succeed) and no
  response carries an Access-Control header;
- form bodies are url-encoded only and capped; every response carries a CSP without
  script, `Cache-Control: no-store` and the usual anti-framing headers.
Parsed forms are handed to the page in `scope["openai_skill.form"]`, CSRF already checked;
the app sees the prefix as its `root_path` (Starlette routes below it; `base_of(request)`
gives it to pages, which write every link and form action under it).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from .pages import error_page, start_page

START_PREFIX = "/start/"      # below the page's prefix, as every other path
STATIC_PREFIX = "/static/"
FORM_KEY = "openai_skill.form"
SESSION_KEY = "openai_skill.session"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 16 * 1024     # an API key and a few short fields
MAX_SESSIONS = 4               # a few tabs; the oldest is dropped beyond that
TOKEN_BYTES = 32
PREFIX_BYTES = 24              # 32 URL-safe characters: the path prefix no other port can guess

SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),   # "no-referrer" would make Chrome send `Origin: null` on our own posts
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(TOKEN_BYTES))
    flash: list = field(default_factory=list)   # (kind, text) shown once on the next page


class Guard:
    """ASGI middleware: Host, one-time token, session cookie, CSRF, Origin, body cap, headers."""

    def __init__(self, app, *, port: int, token_ttl: float, clock=time.monotonic):
        self.app = app
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.origin = f"http://{self.host}"
        self.cookie_name = f"openai_skill_{port}"
        self.prefix = "/" + secrets.token_urlsafe(PREFIX_BYTES)
        self.clock = clock
        self._token: str | None = secrets.token_urlsafe(TOKEN_BYTES)
        self._token_expires = clock() + token_ttl
        self.sessions: dict[str, Session] = {}
        self.last_activity = clock()

    @property
    def start_url(self) -> str:
        """The one-time URL to print or hand to a client; valid until first use or expiry."""
        return f"{self.origin}{self.prefix}{START_PREFIX}{self._token or 'used'}"

    @property
    def link_unused(self) -> bool:
        """The one-time link has been neither used nor expired: handing it out again is safe."""
        return self._token is not None and self.clock() < self._token_expires

    def idle_for(self) -> float:
        return self.clock() - self.last_activity

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan is off; websockets are never accepted
            return
        headers = _headers(scope)
        send = _with_security_headers(send)
        if headers.get("host") != self.host:
            return await self._refuse(send, 421, "This page answers only at its own address.", styled=False)
        method, full_path = scope["method"], scope["path"]
        if method not in ("GET", "HEAD", "POST"):
            return await self._refuse(send, 405, "Method not allowed.", styled=False)
        head = (self.prefix + "/").encode()
        if not hmac.compare_digest(full_path.encode("utf-8", "replace")[:len(head)], head):
            # Outside the prefix: nothing here, and the answer must not name the prefix.
            return await self._refuse(send, 404, "Nothing here.", styled=False)
        path = full_path[len(self.prefix):]
        scope = {**scope, "root_path": scope.get("root_path", "") + self.prefix}
        if path.startswith(STATIC_PREFIX) and method != "POST":
            return await self.app(scope, receive, send)
        if path.startswith(START_PREFIX) and method in ("GET", "HEAD"):
            return await self._start_page(path[len(START_PREFIX):], send)
        if path.startswith(START_PREFIX) and method == "POST":
            if headers.get("origin") != self.origin or headers.get("sec-fetch-site", "same-origin") != "same-origin":
                return await self._refuse(send, 403, "Cross-origin form posts are refused.")
            return await self._start(path[len(START_PREFIX):], send)
        session_id = _cookie(headers.get("cookie", ""), self.cookie_name)
        session = self.sessions.get(session_id or "")
        if session is None:
            return await self._refuse(send, 403, "This page needs the one-time link printed when it started. "
                                                 "Start it again to get a new link.")
        if method == "POST":
            form = await self._checked_form(headers, receive, session)
            if isinstance(form, tuple):
                return await self._refuse(send, *form)
            scope[FORM_KEY] = form
        scope[SESSION_KEY] = session
        self.last_activity = self.clock()
        return await self.app(scope, receive, send)

    def _valid_token(self, token: str) -> bool:
        return (self._token is not None and self.clock() < self._token_expires
                and hmac.compare_digest(token.encode(), self._token.encode()))

    async def _start_page(self, token: str, send) -> None:
        """The link opened: a button to press, the token untouched (a previewer only GETs)."""
        if not self._valid_token(token):
            return await self._refuse(send, 403, "This link was used already or has expired. "
                                                 "Start the page again for a new link.")
        await _respond(send, 200, start_page(self.prefix, f"{self.prefix}{START_PREFIX}{token}").encode())

    async def _start(self, token: str, send) -> None:
        if not self._valid_token(token):
            return await self._refuse(send, 403, "This link was used already or has expired. "
                                                 "Start the page again for a new link.")
        self._token = None  # one use only
        session_id = secrets.token_urlsafe(TOKEN_BYTES)
        while len(self.sessions) >= MAX_SESSIONS:
            self.sessions.pop(next(iter(self.sessions)))
        self.sessions[session_id] = Session()
        self.last_activity = self.clock()
        cookie = (f"{self.cookie_name}={session_id}; Path={self.prefix}; HttpOnly; SameSite=Strict").encode()
        # A meta refresh, not a 303: a redirect chain started from another site would count as
        # cross-site and the browser would withhold the SameSite=Strict cookie on arrival.
        home = f"{self.prefix}/".encode()
        body = (b'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                b'<meta http-equiv="refresh" content="0; url=' + home + b'"><title>Opening</title></head>'
                b'<body><p><a href="' + home + b'">Continue</a></p></body></html>')
        await _respond(send, 200, body, extra=[(b"set-cookie", cookie)])

    async def _checked_form(self, headers: dict, receive, session: Session):
        """The parsed form, or (status, message) when the post must be refused."""
        if headers.get("origin") != self.origin:
            return 403, "Cross-origin form posts are refused."
        if headers.get("sec-fetch-site", "same-origin") != "same-origin":
            return 403, "Cross-site form posts are refused."
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return 415, "Forms only."
        try:
            declared = int(headers.get("content-length", "0"))
        except ValueError:
            return 400, "Bad request."
        if declared > MAX_FORM_BYTES:
            return 413, "That form is too large."
        body = await _read_body(receive, MAX_FORM_BYTES)
        if body is None:
            return 413, "That form is too large."
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                              max_num_fields=32)
        except (UnicodeDecodeError, ValueError):
            return 400, "Bad request."
        form = {name: values[0] for name, values in parsed.items()}
        if not hmac.compare_digest(form.pop(CSRF_FIELD, "").encode(), session.csrf.encode()):
            return 403, "This form has expired or did not come from this page. Reload the page and try again."
        return form

    async def _refuse(self, send, status: int, message: str, *, styled: bool = True) -> None:
        # Only a request that already named the prefix gets a page that links under it.
        base = self.prefix if styled else None
        await _respond(send, status, error_page(status, message, base=base).encode())


def base_of(request) -> str:
    """The page's path prefix (the guard's), to put before every link and form action."""
    return request.scope.get("root_path", "")


def _headers(scope) -> dict:
    """Lower-cased header names; a repeated header keeps its first value."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _read_body(receive, cap: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _with_security_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", [])
                    if not k.lower().startswith(b"access-control-")]
            message = {**message, "headers": kept + list(SECURITY_HEADERS)}
        await send(message)
    return wrapped


async def _respond(send, status: int, body: bytes, extra: list | None = None) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
