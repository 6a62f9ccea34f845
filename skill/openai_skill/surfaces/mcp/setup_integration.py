"""The MCP tool `setup_integration`: store the OpenAI key without it passing through the model.

The key is typed into a one-key page on 127.0.0.1 (see dashboard/one_key.py) and goes
browser -> page -> vault. The tool only sends the user there:
- 2025-11-25 clients that declare `elicitation.url`: `elicitation/create` in URL mode, then
  wait for the page, then `notifications/elicitation/complete`;
- 2026-07-28 clients that declare it: an `InputRequiredResult` carrying the URL request; the
  client retries with the answer and the `request_state` naming the page, and we wait then;
- anyone else (a bare `elicitation: {}` means form mode, which the spec forbids for keys):
  the result carries the one-time link to open, and the terminal alternative.
The tool takes no arguments. Anything passed is refused, and never echoed (names included:
a pasted key may be a name as easily as a value).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import mcp_types as types
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

if TYPE_CHECKING:  # imported on use (_new_page): it brings in Starlette
    from ..dashboard.one_key import OneKeyPage

NAME = "setup_integration"
REQUEST_KEY = "openai_api_key"     # the key of our one request inside InputRequiredResult
PROGRESS_EVERY = 10.0              # seconds between keep-alive progress notifications while waiting
MAX_PENDING = 8                    # pages started for 2026-07-28 clients and not yet asked about
MAX_LIVE_PAGES = 4                 # pages serving at once, every mode together (each holds a socket and a server)

REFUSED_ARGUMENTS = (
    "setup_integration takes no arguments, and never the key itself: anything in a tool call passes "
    "through the model, its context and the transcripts. Nothing was stored. If you passed a real key, "
    "treat it as exposed: revoke it at platform.openai.com and create a new one. Call setup_integration "
    "with no arguments; it opens a local page where the user types the key.")

_pending: dict[str, OneKeyPage] = {}    # request_state -> OneKeyPage, between the two 2026-07-28 rounds
_background: set = set()            # link-mode pages still serving (kept referenced until done)
_live: set = set()                  # every page started here and not stopped yet (the cap counts these)


class TooManyPages(Exception):
    """MAX_LIVE_PAGES pages are serving already: a flood of calls must not use every socket."""


def supports_url_elicitation(capabilities) -> bool:
    """True only when the client declared `elicitation.url` (a bare `elicitation: {}` is form mode)."""
    elicitation = getattr(capabilities, "elicitation", None)
    return getattr(elicitation, "url", None) is not None


def _result(status: str, text: str, **fields) -> types.CallToolResult:
    structured = {"status": status, **{k: v for k, v in fields.items() if v is not None}, "message": text}
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured,
                                is_error=False)


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _outcome_result(outcome) -> types.CallToolResult:
    if outcome.status == "stored":
        checked = (f" The server accepted it ({outcome.models_seen} models visible)."
                   if outcome.models_seen is not None else "")
        where = f"; it is sent only to {outcome.origin}" if outcome.origin else ""
        return _result("stored", f"The OpenAI API key is stored in the vault as {outcome.entry} (fingerprint "
                                 f"{outcome.fingerprint}){where}.{checked} The OpenAI tools will use it from now on.",
                       entry=outcome.entry, fingerprint=outcome.fingerprint)
    if outcome.status == "cancelled":
        return _result("cancelled", "The user cancelled; nothing was stored.", entry=outcome.entry)
    return _result("timed_out", "The setup page expired before a key was stored; nothing was stored. "
                                "Call setup_integration again, or run `openai-skill setup` in a terminal.",
                   entry=outcome.entry)


def _new_page(lifetime: float | None) -> OneKeyPage:
    """A new one-key page, serving; TooManyPages when MAX_LIVE_PAGES serve already."""
    from ..dashboard.one_key import DEFAULT_LIFETIME, OneKeyPage

    _live.intersection_update({p for p in _live if p.serving})   # pages of an event loop that ended too
    if len(_live) >= MAX_LIVE_PAGES:
        raise TooManyPages()
    page = OneKeyPage(lifetime=lifetime or DEFAULT_LIFETIME)
    task = page.start()
    _live.add(page)
    task.add_done_callback(lambda _t: _live.discard(page))
    return page


def _untouched_link_page():
    """A link-mode page whose link nobody opened yet: handed out again rather than a new one."""
    return next((p for p in _background if p.untouched), None)


TOO_MANY = (f"{MAX_LIVE_PAGES} setup pages are open already, so no new one was started; nothing was stored. Open "
            "the link from an earlier answer, or run `openai-skill setup` in a terminal (each page closes "
            "itself within 10 minutes).")


async def _wait(ctx, page):
    """The page's outcome, with a progress notification now and then for clients with a tool timeout."""
    waiter = asyncio.ensure_future(page.wait())
    elapsed = 0.0
    while True:
        done, _ = await asyncio.wait({waiter}, timeout=PROGRESS_EVERY)
        if done:
            return waiter.result()
        elapsed += PROGRESS_EVERY
        try:
            await ctx.session.report_progress(elapsed, page.lifetime, "waiting for the key on the setup page")
        except Exception:  # progress is a courtesy: a client that cannot take it still gets the result
            pass


async def call(ctx, arguments: dict | None, *, request_state: str | None = None,
               input_responses: dict | None = None, lifetime: float | None = None):
    """Handle one tools/call for setup_integration; returns CallToolResult or InputRequiredResult."""
    if arguments:
        return _error(REFUSED_ARGUMENTS)
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    if modern and request_state is not None:
        return await _modern_second_round(ctx, request_state, input_responses or {})
    capabilities = ctx.session.client_capabilities
    link_mode = not supports_url_elicitation(capabilities)
    page = _untouched_link_page() if link_mode else None
    if page is not None:   # the same unopened link again: a flood of calls starts no new pages
        return _link_result(page)
    try:
        page = _new_page(lifetime)
    except TooManyPages:
        return _error(TOO_MANY)
    message = ("To connect OpenAI, open this local page and type your OpenAI API key there. The key goes "
               "straight into the encrypted vault on this computer; it never passes through this chat.")
    if link_mode:
        _background.add(page)
        page_task = asyncio.ensure_future(page.wait())
        page_task.add_done_callback(lambda _t: _background.discard(page))
        return _link_result(page)
    if modern:
        while len(_pending) >= MAX_PENDING:
            _pending.pop(next(iter(_pending))).cancel()
        state = secrets.token_urlsafe(24)
        _pending[state] = page
        request = types.ElicitRequest(params=types.ElicitRequestURLParams(message=message, url=page.url))
        return types.InputRequiredResult(input_requests={REQUEST_KEY: request}, request_state=state)
    elicitation_id = secrets.token_urlsafe(16)
    try:
        answer = await ctx.session.elicit_url(message=message, url=page.url, elicitation_id=elicitation_id,
                                              related_request_id=ctx.request_id)
    except Exception:
        page.cancel()
        return _error("The client did not answer the request to open the setup page; nothing was stored. "
                      "Run `openai-skill setup` in a terminal instead.")
    if answer.action != "accept":
        page.cancel()
        await page.wait()
        return _result("cancelled", "The user declined to open the setup page; nothing was stored.",
                       entry=page.entry)
    outcome = await _wait(ctx, page)
    try:
        await ctx.session.send_elicit_complete(elicitation_id, related_request_id=ctx.request_id)
    except Exception:  # the result below says the same thing
        pass
    return _outcome_result(outcome)


def _link_result(page) -> types.CallToolResult:
    return _result("link", f"Open this one-time link in a browser on this computer to store the OpenAI API "
                           f"key (it works once, for {round(page.lifetime / 60)} minutes): {page.url} . "
                           "Or run `openai-skill setup` in a terminal. Either way the key never passes "
                           "through this chat.", url=page.url, entry=page.entry)


async def _modern_second_round(ctx, request_state: str, input_responses: dict):
    page = _pending.pop(request_state, None)
    if page is None:
        return _error("This setup request is unknown or has expired (the server may have restarted); nothing "
                      "was stored. Call setup_integration again.")
    answer = input_responses.get(REQUEST_KEY)
    if getattr(answer, "action", None) != "accept":
        page.cancel()
        await page.wait()
        return _result("cancelled", "The user declined to open the setup page; nothing was stored.",
                       entry=page.entry)
    return _outcome_result(await _wait(ctx, page))
