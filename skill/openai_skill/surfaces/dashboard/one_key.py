"""The one-key page: a single-use, short-lived page that stores the OpenAI key and stops.

Started by the MCP tool `setup_integration` inside the MCP server process: the user types the
key into this page, and it goes browser -> this page -> vault, never through the MCP client
or the model. Same gate as the dashboard (`guard.Guard`); one link, one submission (or a
cancel), then the server shuts down. `outcome` says what happened, without the key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ...secrets.sources import credential
from . import pages
from .app import static_route
from .guard import FORM_KEY, SESSION_KEY, base_of
from .server import LocalPage
from .vault_access import VaultAccess, message_for, stored_text

DEFAULT_LIFETIME = 10 * 60   # seconds the link and page live
STORED, CANCELLED, TIMED_OUT = "stored", "cancelled", "timed_out"
STOP_GRACE = 1.0             # seconds between the last answer and the shutdown


@dataclass
class Outcome:
    status: str                      # stored | cancelled | timed_out
    entry: str
    fingerprint: str | None = None
    models_seen: int | None = None
    origin: str | None = None        # where the stored key may be sent (the page named it first)


class OneKeyPage:
    """Serve the page (call `start` inside a running event loop), then `await wait()`."""

    def __init__(self, access: VaultAccess | None = None, *, lifetime: float = DEFAULT_LIFETIME,
                 purpose: str = "An MCP client asked to set up the OpenAI integration.", embedded: bool = True):
        self.access = access or VaultAccess()
        self.entry = credential()["name"]
        self.lifetime = lifetime
        self.purpose = purpose
        self.outcome: Outcome | None = None
        self._claimed = False    # a submission is storing (set on the event loop, see submit)
        self.page = LocalPage(self._app(), idle_timeout=lifetime, lifetime=lifetime, embedded=embedded)
        self._task: asyncio.Future | None = None

    @property
    def url(self) -> str:
        return self.page.url

    def start(self) -> asyncio.Future:
        self._task = asyncio.ensure_future(self.page.serve())
        return self._task

    @property
    def serving(self) -> bool:
        """Started in the running event loop and not stopped yet."""
        task = self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return task is not None and not task.done() and task.get_loop() is loop

    @property
    def untouched(self) -> bool:
        """Serving, nothing stored or cancelled, and its one-time link not yet opened."""
        return self.serving and self.outcome is None and self.page.guard.link_unused

    def cancel(self) -> None:
        self._finish(Outcome(CANCELLED, self.entry))

    async def wait(self) -> Outcome:
        """Until stored, cancelled or the lifetime is over; the page is stopped when this returns."""
        await asyncio.shield(self._task if self._task is not None else self.start())
        return self.outcome or Outcome(TIMED_OUT, self.entry)

    def _finish(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
        # A moment's grace so the browser can still fetch the closing page's stylesheet.
        asyncio.get_running_loop().call_later(STOP_GRACE, self.page.stop, outcome.status)

    def _app(self) -> Starlette:
        minutes = max(1, round(self.lifetime / 60))

        def render(request: Request, flash: list) -> HTMLResponse:
            needs = self.access.needs_passphrase()
            with self.access.lock:
                where = self.access.destination(self.entry)
            return HTMLResponse(pages.one_key_page(self.purpose, self.access.path, request.scope[SESSION_KEY].csrf,
                                                   flash, minutes, credential()["prefix"], needs,
                                                   base=base_of(request), where=where, name=self.entry))

        async def form(request: Request) -> Response:
            if self.outcome is not None:
                return HTMLResponse(pages.finished_page("Already done", "This page has been used.",
                                                        base=base_of(request)), status_code=410)
            return await run_in_threadpool(render, request, [])

        async def submit(request: Request) -> Response:
            if self.outcome is not None:
                return HTMLResponse(pages.finished_page("Already done", "This page has been used.",
                                                        base=base_of(request)), status_code=410)
            if self._claimed:  # another submission is storing: what the client is told must be what is stored
                return HTMLResponse(pages.finished_page("Busy", "A key from this page is being stored right now.",
                                                        base=base_of(request)), status_code=409)
            # Claimed on the event loop, before any await: two submissions cannot both pass here.
            self._claimed = True
            data = request.scope[FORM_KEY]

            def store():
                with self.access.lock:
                    if self.access.needs_passphrase():
                        self.access.unlock(data.get("passphrase", ""))
                    return self.access.put(self.entry, data.get("value", ""), data.get("verify") == "1",
                                           data.get("confirm_origin", ""))
            try:
                done = await run_in_threadpool(store)
            except Exception as exc:  # wrong shape, wrong passphrase, key rejected: let the user retry
                self._claimed = False
                return await run_in_threadpool(render, request, [("error", message_for(exc))])
            self._finish(Outcome(STORED, self.entry, done["fingerprint"], done.get("models_seen"),
                                 ", ".join(done["origins"])))
            return HTMLResponse(pages.finished_page(
                "Key stored", f"Stored {self.entry} in the vault (fingerprint {done['fingerprint']}), "
                              f"{stored_text(done)} "
                              "Go back to your MCP client: it has been told.", base=base_of(request)))

        async def cancel(request: Request) -> Response:
            if self._claimed and self.outcome is None:  # storing now: the outcome will be "stored"
                return HTMLResponse(pages.finished_page("Busy", "A key from this page is being stored right now.",
                                                        base=base_of(request)), status_code=409)
            self.cancel()
            return HTMLResponse(pages.finished_page("Cancelled", "Nothing was stored.", base=base_of(request)))

        return Starlette(routes=[static_route(), Route("/", form, methods=["GET", "HEAD"]),
                                 Route("/submit", submit, methods=["POST"]),
                                 Route("/cancel", cancel, methods=["POST"])])
