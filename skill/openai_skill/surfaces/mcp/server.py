"""The MCP server behind `openai-skill mcp`: the official SDK's low-level `Server`, with the
tools' schemas taken from skill.yaml (`exports.tools`), never inferred from Python types.

Why the low-level server: it publishes our exact input and output schemas and hands us the
raw arguments, which our own pipeline validates (the SDK does not); every failure becomes an
`isError` result, because an exception in a handler would become a protocol error.
Only what `initialize` needs is imported at start (OpenClaw gives a server 5 s to answer it):
the pipeline, `requests` and the vault load on the first tool call.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server

from ..._version import __version__
from ...errors import InputError, SkillError
from ...manifest import load_manifest
from ...redaction import redact
from ..exports.tools import tool_definitions
from .results import error_result, internal_error_result, success_result

SERVER_NAME = "openai-skill"
DEFAULT_PROGRESS_INTERVAL = 5.0  # seconds between keep-alive progress notifications
# Tool calls run in threads of their own budget: anyio's default limiter (40 threads) is also
# what the SDK's stdio transport reads and writes through, so calls stuck on a slow upstream
# must never be able to take all of it (the server would stop reading its own stdin).
TOOL_THREADS = 16
POLL_SECONDS = 0.1               # how often a running call is looked at for progress to report
STREAM_REPORT_GAP = 0.5          # at most two "characters received" notifications a second


def _progress_token(meta):
    """The client's progress token from the request's `_meta` (a dict in SDK 2.3, keys snake_case)."""
    if meta is None:
        return None
    if isinstance(meta, dict):
        return meta.get("progress_token", meta.get("progressToken"))
    return getattr(meta, "progress_token", None)


async def _in_thread(work, on_text, threads):
    """`work(on_text)` in a worker thread (of `threads`, the tool calls' own budget), ended with
    the call: when the client cancels, the call's connection is shut at once (a `Cancel`), so its
    thread returns now instead of at the call's deadline, and the cancellation goes on at once."""
    from ...client import Cancel, cancelling

    switch = Cancel()

    def run(on_text):
        with cancelling(switch):
            return work(on_text)

    try:
        return await anyio.to_thread.run_sync(run, on_text, abandon_on_cancel=True, limiter=threads)
    except anyio.get_cancelled_exc_class():
        switch.cancel()
        raise


async def _run_with_progress(ctx, work, interval: float, threads=None):
    """Run `work(on_text)` in a worker thread; while it runs, and only if the client asked for
    progress, send a notification when streamed text arrives or every `interval` seconds, so a
    client with a 60 s tool timeout can keep a minute-long image generation alive."""
    received = [0]

    def on_text(piece: str) -> None:  # called from the worker thread; an int add is atomic enough
        received[0] += len(piece)

    if _progress_token(ctx.meta) is None:
        return await _in_thread(work, on_text, threads)

    async def report() -> None:
        start = last = time.monotonic()
        reported, tick = 0, 0
        while True:
            await anyio.sleep(POLL_SECONDS)
            now = time.monotonic()
            streamed = received[0] != reported and now - last >= STREAM_REPORT_GAP
            if streamed or now - last >= interval:
                tick += 1
                reported, last = received[0], now
                message = (f"{reported} characters received" if reported
                           else f"working for {int(now - start)} s")
                try:
                    await ctx.session.report_progress(tick, None, message)
                except Exception:  # the client went away: the call still finishes, silently
                    return

    result = failure = None
    async with anyio.create_task_group() as group:
        group.start_soon(report)
        try:
            result = await _in_thread(work, on_text, threads)
        except Exception as exc:  # raised below, as itself: out of the group it would come wrapped
            failure = exc          # in an ExceptionGroup, and a refused input become an internal error
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result


_client_lock = threading.Lock()


class ToolRunner:
    """Runs one tool call on the server's one Client: validate, then the key for the request's
    origin (the vault read once, and again only when it changes on disk), then send."""

    def __init__(self, client=None, progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
                 threads: int = TOOL_THREADS):
        self._client = client
        self.progress_interval = progress_interval
        self.thread_budget = threads
        self._threads: anyio.CapacityLimiter | None = None   # made in the event loop, on first use
        self.actions = {tool["name"]: tool["action"] for tool in tool_definitions("json") if tool["action"]}

    @property
    def client(self):
        # Built on the first call, not at start: `initialize` must answer fast (OpenClaw: 5 s).
        if self._client is None:
            with _client_lock:
                if self._client is None:
                    from ...client import Client

                    self._client = Client(cache_vault=True)
        return self._client

    def work(self, action: str, arguments: dict):
        def run(on_text):
            # One validation, inside invoke, before any key source is asked.
            return self.client.invoke(action, arguments, on_text=on_text, surface="mcp")
        return run

    async def call(self, ctx, name: str, arguments: dict | None) -> dict:
        action = self.actions.get(name)
        try:
            if action is None:
                raise InputError(f"unknown tool {name!r}; expected one of: {', '.join(self.actions)}",
                                 field="name", expected=list(self.actions), given=name)
            if arguments is not None and not isinstance(arguments, dict):
                raise InputError("the arguments must be a JSON object", field="arguments")
            if self._threads is None:
                self._threads = anyio.CapacityLimiter(self.thread_budget)
            result = await _run_with_progress(ctx, self.work(action, arguments or {}), self.progress_interval,
                                              self._threads)
            return success_result(action, result)
        except SkillError as exc:
            return error_result(exc)
        except Exception as exc:  # a bug of ours: a clear isError, and only the type on stderr
            sys.stderr.write(f"openai-skill mcp: internal error in {name}: {type(exc).__name__}: "
                             f"{redact(str(exc))[:300]}\n")
            return internal_error_result(name)


def instructions() -> str:
    from ..exports.skill_md import description

    return (f"{description()} Tool results carry the action's JSON as structuredContent. Generated images "
            "are saved as files (their paths are in the result); the API key never passes through this server's "
            "tools' arguments: the user stores it once, through the setup_integration tool (a local page "
            "opened in their browser) or `openai-skill setup` in a terminal. Before a costly step, openai_usage "
            "shows what each spend cap leaves (read-only).")


def defaults_in_force(definitions: list[dict], runner: ToolRunner) -> list[dict]:
    """The tools with each `model` default as a call made now would resolve it: the user's
    setting, else skill.yaml's default in force today for the server's origin (a server that
    runs across a shutdown date publishes the successor from that day on)."""
    from ...errors import SkillError

    out = []
    for tool in definitions:
        action = runner.actions.get(tool["name"])
        model = tool["inputSchema"].get("properties", {}).get("model")
        if action and model is not None and "default" in model:
            try:
                chosen = runner.client.default_model(action).model
            except SkillError:  # a retired setting: the call itself says so, with the fix
                chosen = model["default"]
            if chosen != model["default"]:
                schema = tool["inputSchema"]
                tool = {**tool, "inputSchema": {**schema, "properties": {
                    **schema["properties"], "model": {**model, "default": chosen}}}}
        out.append(tool)
    return out


def build_server(runner: ToolRunner | None = None) -> Server:
    runner = runner or ToolRunner()
    definitions = tool_definitions("mcp")

    async def on_list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool.model_validate(t)
                                            for t in defaults_in_force(definitions, runner)])

    setup_tools = set(load_manifest().setup_tools)

    async def on_call_tool(ctx, params) -> types.CallToolResult | types.InputRequiredResult:
        if params.name in setup_tools:
            return await _setup_tool(ctx, params)
        return types.CallToolResult.model_validate(await runner.call(ctx, params.name, params.arguments))

    return Server(SERVER_NAME, version=__version__, instructions=instructions(),
                  on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def _setup_tool(ctx, params):
    """A setup tool of skill.yaml's `setup_tools`, dispatched by its name to the module of this
    package that bears it (setup_integration: the key goes browser -> local page -> vault)."""
    try:
        import importlib

        handler = importlib.import_module(f"{__package__}.{params.name}")
        return await handler.call(ctx, params.arguments, request_state=params.request_state,
                                  input_responses=params.input_responses)
    except Exception as exc:  # a bug of ours: an isError result, and only the type on stderr
        sys.stderr.write(f"openai-skill mcp: internal error in {params.name}: {type(exc).__name__}\n")
        return types.CallToolResult.model_validate(internal_error_result(params.name))


STDOUT_CHECK_SECONDS = 0.2   # how often a stdio server looks whether its client closed stdout
EXIT_CLIENT_GONE = 141       # as the CLI reports a reader that went away (SIGPIPE)


async def serve_stdio(server: Server) -> None:
    from mcp.server.stdio import stdio_server

    # A copy of stdout taken before the SDK moves the wire to a private descriptor: it shows
    # when the client closed its end, whether or not anything was written since.
    watched = os.dup(1)
    try:
        async with anyio.create_task_group() as outside:
            outside.start_soon(_exit_when_closed, watched)
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
            outside.cancel_scope.cancel()
    finally:
        os.close(watched)


async def _exit_when_closed(fd: int) -> None:
    """End the process, quietly, once nobody reads its stdout (the client closed it, or died).

    Waiting for the SDK to notice is no way out: its stdin reader blocks in a thread, for a
    line that may never come, and no cancellation reaches it, so the server would run on until
    stdin ends and then fail on the broken pipe. Nothing is lost by exiting: no answer can
    reach the client any more, and the vault's writes are atomic (as against a SIGKILL)."""
    import select

    if not hasattr(select, "poll"):
        return  # Windows: no poll on pipes; the broken pipe is reported when stdin ends
    poller = select.poll()
    poller.register(fd, 0)   # no events asked: POLLERR and POLLHUP are always reported
    while True:
        if any(events & (select.POLLERR | select.POLLHUP) for _fd, events in poller.poll(0)):
            sys.stderr.flush()
            os._exit(EXIT_CLIENT_GONE)
        await anyio.sleep(STDOUT_CHECK_SECONDS)
