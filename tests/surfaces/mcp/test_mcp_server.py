"""`openai-skill mcp` driven by the MCP SDK's own client, against a loopback OpenAI: the four
tools with their schemas, a real call to each, isError for bad arguments and API failures,
progress for long calls, concurrency, the vault reused and reopened, and the canary key
never in a result or in the server's stderr."""

import base64
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

from support.agent_clients import require_module  # noqa: E402

require_module("mcp")  # the MCP SDK is in the test extra: under CI its absence fails, never skips

from support.canary import CANARY_KEY  # noqa: E402
from support.fake_openai import Answer  # noqa: E402
from contract.spec import load_fixture  # noqa: E402
from support.mcp_client import openai_skill_exe, run_session, server_env, texts  # noqa: E402
from support.skill_files import published_tools, without_the_default_model  # noqa: E402

CHAT = load_fixture("chat-completion.json")
MODELS = load_fixture("models-list.json")
EMBEDDING = load_fixture("embeddings-float.json")
IMAGE = load_fixture("images-gpt-image-1-b64.json")


@pytest.fixture
def run(openai, tmp_path):
    """run(body, **env) -> body's value; the server's stderr is checked for the canary after each test."""
    stderr = tmp_path / "server-stderr.txt"

    def go(body, env=None, args=("mcp",)):
        return run_session(body, env or server_env(openai.url), tmp_path, stderr, args)

    yield go
    if stderr.exists():
        assert CANARY_KEY not in stderr.read_text()


def test_lists_the_four_tools_with_the_manifest_schemas(run):
    async def body(session):
        return await session.list_tools()

    listed = run(body)
    got = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in listed.tools]
    assert [t["name"] for t in got] == ["openai_chat_completion", "openai_generate_image",
                                       "openai_list_models", "openai_create_embedding", "setup_integration",
                                       "openai_usage"]
    # each with the schemas of its files in schemas/ (header dropped), as skill.yaml names them
    sources = published_tools()
    # The server adds each action's model default in force on its own (real) date, one of
    # skill.yaml's dated list, and names the list and its setting; the rest is the files'.
    assert [(without_the_default_model(t["name"], t["inputSchema"]), t["outputSchema"]) for t in got] == [
        (s["input"], s["output"]) for s in sources.values()]


def test_calls_each_tool_against_loopback(run, openai, tmp_path):
    openai.reply("POST", "/chat/completions", CHAT)
    openai.reply("GET", "/models", MODELS)
    openai.reply("POST", "/embeddings", EMBEDDING)
    openai.reply("POST", "/images/generations", IMAGE)

    async def body(session):
        return [await session.call_tool("openai_chat_completion", {"messages": [{"role": "user", "content": "Hi"}]}),
                await session.call_tool("openai_list_models", {}),
                await session.call_tool("openai_create_embedding", {"input": "hello"}),
                await session.call_tool("openai_generate_image", {"prompt": "a fox", "model": "gpt-image-2"})]

    chat, models, embedding, image = run(body)
    assert not any(r.is_error for r in (chat, models, embedding, image))
    assert texts(chat) == CHAT["choices"][0]["message"]["content"]
    assert chat.structured_content["content"] == CHAT["choices"][0]["message"]["content"]
    assert chat.structured_content["request_id"] == "req_200_chat/completions"
    # The cost travels in the structured content (the SDK's client validated it against the schema).
    assert chat.structured_content["cost"]["basis"] == "usage" and models.structured_content["cost"]["usd"] == 0
    assert [m["id"] for m in models.structured_content["models"]] == sorted(m["id"] for m in MODELS["data"])
    assert json.loads(texts(models)) == models.structured_content
    assert embedding.structured_content["embedding"] == EMBEDDING["data"][0]["embedding"]
    saved = Path(image.structured_content["images"][0]["path"])
    assert saved.parent == tmp_path / "openai-images"
    assert saved.read_bytes() == base64.b64decode(IMAGE["data"][0]["b64_json"])
    inline = [c for c in image.content if c.type == "image"]
    assert len(inline) == 1 and base64.b64decode(inline[0].data) == saved.read_bytes()
    assert inline[0].mime_type == "image/png" and f"saved to {saved}" in texts(image)
    assert [r.headers["Authorization"] for r in openai.requests] == [f"Bearer {CANARY_KEY}"] * 4
    for result in (chat, models, embedding, image):
        assert CANARY_KEY not in result.model_dump_json()


def test_invalid_arguments_and_api_failures_are_is_error_results(run, openai):
    openai.reply("GET", "/models", load_fixture("error-401-invalid-api-key.json"), status=401)
    openai.reply("POST", "/chat/completions", load_fixture("error-429-insufficient-quota.json"), status=429)

    async def body(session):
        return {
            "empty messages": await session.call_tool("openai_chat_completion", {"messages": []}),
            "wrong type": await session.call_tool("openai_generate_image", {"prompt": 5}),
            "key as argument": await session.call_tool("openai_list_models", {"api_key": CANARY_KEY}),
            "unknown tool": await session.call_tool("openai_nope", {}),
            "rejected key": await session.call_tool("openai_list_models", {}),
            "no quota": await session.call_tool("openai_chat_completion",
                                                {"messages": [{"role": "user", "content": "Hi"}]}),
        }

    results = run(body)
    assert all(r.is_error for r in results.values())
    assert texts(results["empty messages"]).startswith(
        "openai-skill: chat-completion: messages: expected at least 1 item")
    assert "prompt" in texts(results["wrong type"]).splitlines()[0]
    assert "api_key" in texts(results["key as argument"]).splitlines()[0]
    assert "unknown tool 'openai_nope'" in texts(results["unknown tool"])
    rejected = json.loads(results["rejected key"].content[1].text)["error"]
    assert rejected["type"] == "authentication" and rejected["status"] == 401
    assert json.loads(results["no quota"].content[1].text)["error"]["type"] == "quota_exceeded"
    # invalid input never reached the network: only the two API calls did
    assert [(r.method, r.path) for r in openai.requests] == [("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    for result in results.values():
        assert CANARY_KEY not in result.model_dump_json()


WAIT_CAP = 30.0   # seconds an event may take before the test fails (a machine 10x slower passes)


def test_long_calls_report_progress_when_asked(run, openai):
    # The image call is answered once its client has seen two progress reports (or after
    # WAIT_CAP s, when the assertion below fails): an event, not a race against a clock.
    reported = threading.Event()

    def answer_once_reported(request):
        reported.wait(WAIT_CAP)
        return Answer.of_json(IMAGE, headers={"x-request-id": "req_slow"})

    openai.reply_with("POST", "/images/generations", answer_once_reported)
    chunks = [line for line in load_fixture("chat-completion-stream.sse").split("\n\n") if line.strip()]

    def slow_stream(request):
        def generate():
            for chunk in chunks:
                time.sleep(0.15)
                yield (chunk + "\n\n").encode()
        return Answer(200, generate(), "text/event-stream", {"x-request-id": "req_s"})

    openai.reply_with("POST", "/chat/completions", slow_stream)
    seen = {"image": [], "chat": []}

    async def body(session):
        async def on_image(progress, total, message):
            seen["image"].append((progress, message))
            if len(seen["image"]) >= 2:
                reported.set()

        async def on_chat(progress, total, message):
            seen["chat"].append((progress, message))

        image = await session.call_tool("openai_generate_image", {"prompt": "a fox", "model": "gpt-image-2"},
                                        progress_callback=on_image)
        chat = await session.call_tool("openai_chat_completion",
                                       {"messages": [{"role": "user", "content": "Hi"}], "stream": True},
                                       progress_callback=on_chat)
        quiet = await session.call_tool("openai_generate_image", {"prompt": "a fox", "model": "gpt-image-2"})
        return image, chat, quiet

    image, chat, quiet = run(body, args=("mcp", "--progress-interval", "0.3"))
    assert not image.is_error and not chat.is_error and not quiet.is_error
    assert len(seen["image"]) >= 2, seen
    assert [p for p, _ in seen["image"]] == list(range(1, len(seen["image"]) + 1))  # strictly increasing
    assert all(re.fullmatch(r"working for \d+ s", m) for _, m in seen["image"])
    streamed = [int(m.split()[0]) for _, m in seen["chat"] if re.fullmatch(r"\d+ characters received", m)]
    assert streamed and streamed == sorted(streamed)  # keep-alives before the first text are fine
    assert streamed[-1] <= len(chat.structured_content["content"])


def test_concurrent_calls_run_side_by_side(run, openai):
    # The fake answers each request on its own thread, and answers none before all three are
    # in: calls run one after another would never fill the barrier (each fails after WAIT_CAP s).
    all_in = threading.Barrier(3, timeout=WAIT_CAP)

    def answer_when_all_in(request):
        all_in.wait()
        return Answer.of_json(MODELS, headers={"x-request-id": "req_slow"})

    openai.reply_with("GET", "/models", answer_when_all_in)

    async def body(session):
        results = []

        async def one():
            results.append(await session.call_tool("openai_list_models", {}))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(one)
        return results

    results = run(body)
    assert [r.is_error for r in results] == [False] * 3, "the calls did not run side by side"
    assert openai.max_in_flight == 3


def test_vault_key_is_used_and_a_rewrite_by_another_process_is_picked_up(run, openai, installed_cli):
    openai.reply("GET", "/models", MODELS)
    newer = CANARY_KEY.replace("CANARY0", "CANARY1")
    assert installed_cli("setup", stdin=CANARY_KEY).code == 0

    async def body(session):
        first = await session.call_tool("openai_list_models", {})
        assert installed_cli("setup", stdin=newer).code == 0  # another process rewrites the vault
        second = await session.call_tool("openai_list_models", {})
        return first, second

    first, second = run(body, env=server_env(openai.url, key=None))
    assert not first.is_error and not second.is_error
    assert [r.headers["Authorization"] for r in openai.requests] == [f"Bearer {CANARY_KEY}", f"Bearer {newer}"]


def test_streamable_http_on_loopback_with_token_host_and_origin_checks(openai, tmp_path):
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    openai.reply("GET", "/models", MODELS)
    token = "test-token-0123456789"
    env = {**server_env(openai.url), "OPENAI_SKILL_MCP_TOKEN": token,
           "PATH": str(Path(openai_skill_exe()).parent)}
    err = (tmp_path / "http-stderr.txt").open("w+")
    proc = subprocess.Popen([openai_skill_exe(), "mcp", "--transport", "streamable-http", "--port", "0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not (match := re.search(r"serving (http://127\.0\.0\.1:(\d+)/mcp)", Path(err.name).read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, Path(err.name).read_text()
            time.sleep(0.05)
        url, port = match.group(1), match.group(2)
        assert token not in Path(err.name).read_text()  # a token from the environment is not echoed

        async def client():
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                async with streamable_http_client(url, http_client=http) as streams:
                    async with ClientSession(streams[0], streams[1]) as session:
                        await session.initialize()
                        tools = await session.list_tools()
                        return [t.name for t in tools.tools], await session.call_tool("openai_list_models", {})

        names, result = anyio.run(client)
        assert len(names) == 6 and not result.is_error and result.structured_content["count"] == len(MODELS["data"])

        ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        base = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        cases = {
            "no token": ({**base}, 401),
            "wrong token": ({**base, "authorization": "Bearer nope"}, 401),
            "foreign origin": ({**base, "authorization": f"Bearer {token}", "origin": "http://evil.example"}, 403),
            "foreign host": ({**base, "authorization": f"Bearer {token}", "host": "evil.example"}, 421),
        }
        for name, (headers, status) in cases.items():
            answer = httpx2.post(url, headers=headers, content=ping, timeout=10)
            assert answer.status_code == status, name
        assert [r.path for r in openai.requests] == ["/v1/models"]
        assert f"127.0.0.1:{port}" in url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        err.close()
    assert CANARY_KEY not in Path(err.name).read_text()


SDK_SERVER_IMPORTS = "import anyio, mcp_types, mcp.server.lowlevel, mcp.server.stdio"


def test_initialize_answers_well_within_openclaws_five_seconds(openai, tmp_path):
    """OpenClaw gives a server 5 s to initialize; on an idle 2-core machine ours takes well under
    1 s, most of it the SDK's imports. A fixed bound fails on a loaded machine, so the test holds
    the ratio: initializing costs at most 3 times a bare process importing what any server on
    this SDK imports, measured in the same test (best of two each; 0.98x measured under load)."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=openai_skill_exe(), args=["mcp"], env=server_env())

    async def main():
        with open(tmp_path / "err.txt", "w") as errlog:
            start = time.monotonic()
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return time.monotonic() - start

    def bare_sdk() -> float:
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", SDK_SERVER_IMPORTS], check=True, timeout=120)
        return time.monotonic() - start

    ours = min(anyio.run(main) for _ in range(2))
    baseline = min(bare_sdk() for _ in range(2))
    print(f"\ninitialize {ours:.2f} s, the SDK's imports alone {baseline:.2f} s: {ours / baseline:.2f}x")
    assert ours < 3 * baseline
