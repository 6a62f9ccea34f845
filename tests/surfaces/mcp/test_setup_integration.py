"""`setup_integration` on `openai-skill mcp`, through the MCP SDK's own client, with a real browser following the URL.

The key goes browser -> one-key page -> vault. Every MCP message in both directions, every
tool result and the server's stderr are recorded and searched for the canary.
"""

from __future__ import annotations

import os
import sys
import threading

import anyio
import mcp_types as types
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from support.browser import browser, fill_one_key_page  # noqa: F401  (fixture)
from support.canary import CANARY_KEY
from support.local_pages import call
from support.mcp_client import openai_skill_exe

def _server_params() -> StdioServerParameters:
    """`openai-skill mcp` itself; the SDK passes only a handful of variables: give it the vault's folder."""
    keep = ("HOME", "XDG_CONFIG_HOME", "OPENAI_BASE_URL", "OPENAI_SKILL_HOME")
    return StdioServerParameters(command=openai_skill_exe(), args=["mcp"],
                                 env={k: os.environ[k] for k in keep if k in os.environ})


def _vault():
    from openai_skill.secrets.store import VaultStore

    return VaultStore()


class Recorder:
    """Every JSON-RPC message between client and server, as the JSON that crossed the pipe."""

    def __init__(self):
        self.messages: list[str] = []

    def dump(self, message) -> str:
        inner = getattr(message, "message", message)
        text = inner.model_dump_json(by_alias=True) if hasattr(inner, "model_dump_json") else repr(inner)
        self.messages.append(text)
        return text

    async def session(self, read, write, stack_tg, **kwargs) -> ClientSession:
        to_client_send, to_client = anyio.create_memory_object_stream(100)
        from_client, from_client_recv = anyio.create_memory_object_stream(100)

        async def pump_in():
            async with to_client_send:
                async for message in read:
                    self.dump(message)
                    await to_client_send.send(message)

        async def pump_out():
            async for message in from_client_recv:
                self.dump(message)
                await write.send(message)

        stack_tg.start_soon(pump_in)
        stack_tg.start_soon(pump_out)
        return ClientSession(to_client, from_client, **kwargs)


async def _run(callback_driver, arguments: dict | None = None, *, accept: bool = True, errlog=None, recorder=None,
               with_callback: bool = True):
    """One setup_integration call over stdio; returns (result, elicitations seen, notifications seen)."""
    seen, notes, browsing = [], [], []

    async def elicit(ctx, params):
        seen.append(params)
        if accept:  # the user agrees to open the page; the browser does the rest on its own
            thread = threading.Thread(target=lambda: browsing.append(
                fill_one_key_page(callback_driver, params.url, CANARY_KEY, shot="one-key.png")))
            thread.start()
        return types.ElicitResult(action="accept" if accept else "decline")

    async def on_message(message):
        if isinstance(message, types.ServerNotification):
            notes.append(message)

    kwargs = {"message_handler": on_message}
    if with_callback:
        kwargs["elicitation_callback"] = elicit
    async with stdio_client(_server_params(), errlog=errlog or sys.stderr) as (read, write):
        async with anyio.create_task_group() as tg:
            session = await recorder.session(read, write, tg, **kwargs)
            async with session:
                await session.initialize()
                result = await session.call_tool("setup_integration", arguments or {})
            tg.cancel_scope.cancel()
    return result, seen, notes, browsing


def test_url_elicitation_stores_the_key_through_the_browser(browser, tmp_path):  # noqa: F811
    recorder = Recorder()
    with open(tmp_path / "server-stderr.txt", "w") as errlog:
        result, seen, notes, browsing = anyio.run(lambda: _run(browser, errlog=errlog, recorder=recorder))
    assert not result.is_error, result.content
    fingerprint = _vault().open().fingerprint("openai_api_key")
    assert result.structured_content == {
        "status": "stored", "entry": "openai_api_key", "fingerprint": fingerprint,
        "message": result.content[0].text}
    assert _vault().lookup("openai_api_key") == CANARY_KEY
    assert len(seen) == 1 and seen[0].mode == "url" and seen[0].url.startswith("http://127.0.0.1:")
    completions = [n for n in notes if isinstance(n, types.ElicitCompleteNotification)]
    assert [c.params.elicitation_id for c in completions] == [seen[0].elicitation_id]
    assert "Key stored" in browsing[0] and fingerprint in browsing[0]
    # single use: the page is gone once the key is stored
    port = int(seen[0].url.split(":")[2].split("/")[0])
    with pytest.raises(OSError):
        call(port, "GET", "/")
    everything = "\n".join(recorder.messages) + (tmp_path / "server-stderr.txt").read_text() + repr(result)
    assert CANARY_KEY not in everything and CANARY_KEY[8:30] not in everything
    assert len(recorder.messages) >= 6   # initialize, initialized, call, elicitation + answer, completion, result


def test_declining_stores_nothing_and_closes_the_page(browser, tmp_path):  # noqa: F811
    result, seen, _, _ = anyio.run(lambda: _run(browser, accept=False, recorder=Recorder()))
    assert result.structured_content["status"] == "cancelled" and not _vault().exists()
    port = int(seen[0].url.split(":")[2].split("/")[0])
    with pytest.raises(OSError):
        call(port, "GET", "/")


def test_without_url_elicitation_the_result_carries_the_link(browser):  # noqa: F811
    result, seen, _, _ = anyio.run(lambda: _run(browser, with_callback=False, recorder=Recorder()))
    assert seen == [] and not result.is_error
    data = result.structured_content
    assert data["status"] == "link" and data["url"].startswith("http://127.0.0.1:")
    assert data["url"] in result.content[0].text and "openai-skill setup" in result.content[0].text
    # The server process has exited with the session, and its page with it: the link is
    # for a user whose client keeps the server running. Proven in-process below.


@pytest.mark.parametrize("arguments", [{"api_key": CANARY_KEY}, {CANARY_KEY: "x"}, {"key": "anything"}])
def test_a_key_passed_as_an_argument_is_refused_and_never_echoed(arguments, tmp_path):
    recorder = Recorder()
    with open(tmp_path / "server-stderr.txt", "w") as errlog:
        result, seen, _, _ = anyio.run(lambda: _run(None, arguments, errlog=errlog, recorder=recorder))
    assert result.is_error and seen == [] and not _vault().exists()
    text = result.content[0].text
    assert "takes no arguments" in text and "treat it as exposed" in text
    logged = (tmp_path / "server-stderr.txt").read_text()
    assert CANARY_KEY not in text + logged and "api_key" not in text
    # Only the request itself carries it (the client sent it); no answer repeats it.
    answers = [m for m in recorder.messages if '"method":"tools/call"' not in m]
    assert not [m for m in answers if CANARY_KEY in m]


def test_the_2026_revision_input_required_round_trip(browser):  # noqa: F811
    from mcp import Client

    async def main():
        browsing = []

        async def elicit(ctx, params):
            threading.Thread(target=lambda: browsing.append(
                fill_one_key_page(browser, params.url, CANARY_KEY))).start()
            return types.ElicitResult(action="accept")

        async with Client(_server_params(), elicitation_callback=elicit) as client:
            assert client.protocol_version == "2026-07-28"
            return await client.call_tool("setup_integration", {}), browsing

    result, browsing = anyio.run(main)
    assert result.structured_content["status"] == "stored", result
    assert result.structured_content["fingerprint"] == _vault().open().fingerprint("openai_api_key")
    assert _vault().lookup("openai_api_key") == CANARY_KEY
    assert CANARY_KEY not in repr(result)


def test_no_key_points_to_setup_integration_which_fixes_it_in_the_same_session(browser, openai, tmp_path):  # noqa: F811
    from support.openai_data import MODELS

    openai.reply("GET", "/models", MODELS)
    recorder = Recorder()

    async def main():
        async def elicit(ctx, params):
            threading.Thread(target=lambda: fill_one_key_page(browser, params.url, CANARY_KEY)).start()
            return types.ElicitResult(action="accept")

        with open(tmp_path / "server-stderr.txt", "w") as errlog:
            async with stdio_client(_server_params(), errlog=errlog) as (read, write):
                async with anyio.create_task_group() as tg:
                    session = await recorder.session(read, write, tg, elicitation_callback=elicit)
                    async with session:
                        await session.initialize()
                        before = await session.call_tool("openai_list_models", {})
                        setup = await session.call_tool("setup_integration", {})
                        after = await session.call_tool("openai_list_models", {})
                    tg.cancel_scope.cancel()
        return before, setup, after

    before, setup, after = anyio.run(main)
    assert before.is_error and "setup_integration tool" in before.content[0].text
    assert "openai-skill setup" in before.content[0].text
    assert setup.structured_content["status"] == "stored"
    assert not after.is_error and after.structured_content["count"] == len(MODELS["data"])
    assert openai.requests[-1].headers["Authorization"] == f"Bearer {CANARY_KEY}"
    everything = "\n".join(recorder.messages) + (tmp_path / "server-stderr.txt").read_text()
    assert CANARY_KEY not in everything
