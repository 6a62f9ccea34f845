"""setup_integration cannot be made to start pages without end (issue 16, item 6).

In link mode every call started a fresh 10-minute page: 1,100 calls in a second used every
file descriptor, and every tool then failed for minutes. Now a link nobody opened yet is
handed out again, and at most MAX_LIVE_PAGES pages serve at once in every mode together;
beyond that the call says so (is_error) and starts nothing.
"""

from __future__ import annotations

import asyncio
import os

import mcp_types as types

from support.local_pages import START, login
from openai_skill.surfaces.mcp import setup_integration as tool

BARE = types.ClientCapabilities(elicitation=types.ElicitationCapability())          # link mode
URL = types.ClientCapabilities(elicitation=types.ElicitationCapability(url=types.UrlElicitationCapability()))


class Session:
    def __init__(self, capabilities):
        self.client_capabilities = capabilities

    async def elicit_url(self, message, url, elicitation_id, related_request_id=None):
        return types.ElicitResult(action="accept")     # the user agrees, then never types a key

    async def send_elicit_complete(self, elicitation_id, related_request_id=None):
        pass

    async def report_progress(self, progress, total=None, message=None):
        pass


class Context:
    def __init__(self, capabilities):
        self.session = Session(capabilities)
        self.protocol_version = "2025-11-25"
        self.request_id = 1


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _close_all():
    pages = list(tool._live)
    for page in pages:
        page.cancel()
    await asyncio.gather(*(page.wait() for page in pages))


def test_a_flood_of_link_calls_hands_out_one_link_and_starts_one_page():
    async def main():
        before = _fds()
        results = await asyncio.gather(*(tool.call(Context(BARE), {}) for _ in range(300)))
        during = _fds()
        live = len(tool._live)
        await _close_all()
        return results, before, during, live

    results, before, during, live = asyncio.run(main())
    urls = {r.structured_content["url"] for r in results}
    assert len(urls) == 1 and all(r.structured_content["status"] == "link" for r in results)
    assert live == 1
    assert during - before < 20, f"{during - before} file descriptors for 300 calls"


def test_opened_links_count_and_the_cap_holds_in_every_mode():
    async def main():
        seen = []
        for _ in range(tool.MAX_LIVE_PAGES):
            result = await tool.call(Context(BARE), {})
            url = result.structured_content["url"]
            seen.append(url)
            port, start = START.fullmatch(url).groups()
            await asyncio.to_thread(login, int(port), start)     # the link is opened: the page is in use
        refused_link = await tool.call(Context(BARE), {})
        refused_url = await asyncio.wait_for(tool.call(Context(URL), {}, lifetime=60), 10)
        live = len(tool._live)
        await _close_all()
        after = await tool.call(Context(BARE), {})                # room again once pages have stopped
        await _close_all()
        return seen, refused_link, refused_url, live, after

    seen, refused_link, refused_url, live, after = asyncio.run(main())
    assert len(set(seen)) == tool.MAX_LIVE_PAGES == live
    for refused in (refused_link, refused_url):
        assert refused.is_error and "setup pages are open already" in refused.content[0].text
        assert "openai-skill setup" in refused.content[0].text
    assert after.structured_content["status"] == "link"
