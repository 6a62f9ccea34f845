"""setup_integration's decisions, in-process: which clients get URL elicitation, the link for
the others (followed by a real browser), expiry, and stale 2026-07-28 retries."""

from __future__ import annotations

import asyncio

import mcp_types as types
import pytest

from support.browser import browser  # noqa: F401  (fixture)
from support.canary import CANARY_KEY
from support.browser import fill_one_key_page

from openai_skill.surfaces.mcp import setup_integration as tool


class FakeSession:
    def __init__(self, capabilities, answer="accept"):
        self.client_capabilities = capabilities
        self.answer = answer
        self.elicited, self.completed = [], []

    async def elicit_url(self, message, url, elicitation_id, related_request_id=None):
        self.elicited.append(url)
        return types.ElicitResult(action=self.answer)

    async def send_elicit_complete(self, elicitation_id, related_request_id=None):
        self.completed.append(elicitation_id)

    async def report_progress(self, progress, total=None, message=None):
        pass


class FakeContext:
    def __init__(self, capabilities, protocol_version="2025-11-25", answer="accept"):
        self.session = FakeSession(capabilities, answer)
        self.protocol_version = protocol_version
        self.request_id = 7


URL_AND_FORM = types.ClientCapabilities(elicitation=types.ElicitationCapability(
    form=types.FormElicitationCapability(), url=types.UrlElicitationCapability()))
BARE = types.ClientCapabilities(elicitation=types.ElicitationCapability())          # `elicitation: {}`
FORM_ONLY = types.ClientCapabilities(elicitation=types.ElicitationCapability(form=types.FormElicitationCapability()))


@pytest.mark.parametrize("capabilities, expected", [
    (URL_AND_FORM, True), (BARE, False), (FORM_ONLY, False), (types.ClientCapabilities(), False), (None, False)])
def test_only_a_declared_url_capability_counts(capabilities, expected):
    assert tool.supports_url_elicitation(capabilities) is expected


@pytest.mark.parametrize("capabilities", [BARE, FORM_ONLY, None])
def test_form_only_clients_get_the_link_and_the_link_stores_the_key(browser, capabilities):  # noqa: F811
    async def main():
        ctx = FakeContext(capabilities)
        result = await tool.call(ctx, {})
        assert ctx.session.elicited == []   # never form mode for a key
        # this call's page (an earlier test's may linger: its event loop ended before it did)
        page = next(p for p in tool._background if p.url == result.structured_content["url"])
        done = await asyncio.to_thread(fill_one_key_page, browser, result.structured_content["url"], CANARY_KEY)
        return result, await page.wait(), done

    result, outcome, done = asyncio.run(main())
    assert result.structured_content["status"] == "link" and "openai-skill setup" in result.content[0].text
    assert outcome.status == "stored" and "Key stored" in done
    from openai_skill.secrets.store import VaultStore

    assert VaultStore().lookup("openai_api_key") == CANARY_KEY
    assert CANARY_KEY not in repr(result)


def test_an_unvisited_page_times_out_and_stores_nothing():
    async def main():
        ctx = FakeContext(URL_AND_FORM)
        return await tool.call(ctx, None, lifetime=0.5), ctx

    result, ctx = asyncio.run(main())
    assert result.structured_content["status"] == "timed_out" and not result.is_error
    assert len(ctx.session.elicited) == 1 and ctx.session.completed != []


def test_a_stale_or_forged_request_state_is_an_error():
    async def main():
        return await tool.call(FakeContext(URL_AND_FORM, "2026-07-28"), {}, request_state="forged",
                               input_responses={tool.REQUEST_KEY: types.ElicitResult(action="accept")})

    result = asyncio.run(main())
    assert result.is_error and "unknown or has expired" in result.content[0].text


def test_the_2026_first_round_asks_for_the_url_and_a_decline_closes_the_page():
    async def main():
        ctx = FakeContext(URL_AND_FORM, "2026-07-28")
        first = await tool.call(ctx, {})
        request = first.input_requests[tool.REQUEST_KEY]
        second = await tool.call(ctx, {}, request_state=first.request_state,
                                 input_responses={tool.REQUEST_KEY: types.ElicitResult(action="decline")})
        return first, request, second

    first, request, second = asyncio.run(main())
    assert isinstance(first, types.InputRequiredResult)
    assert request.params.mode == "url" and request.params.url.startswith("http://127.0.0.1:")
    assert second.structured_content["status"] == "cancelled"
    assert first.request_state not in tool._pending
