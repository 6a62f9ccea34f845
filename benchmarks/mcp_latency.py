"""MCP tool-call latency: our tool against a no-op tool on the same SDK server, over the same client.

    python benchmarks/mcp_latency.py [--calls 500] [--starts 3] [--base-url URL]

Measures, with the installed package and a loopback OpenAI (tests/support/fake_openai.py, started here
unless --base-url names one):
- `openai_chat_completion` through `openai-skill mcp`, and `noop` and `bare_http` through
  benchmarks/mcp_noop_server.py (the same SDK's low-level Server: `noop` is the SDK's own
  cost, `bare_http` that plus the same chat request on a bare `requests.Session`), all over
  stdio with the SDK's `ClientSession`, both sessions open at once and the calls in turn, so
  load on the machine falls on all alike: p50/p99 of each, the ratios of the p50s. Ours vs
  `noop` is the target as issue 14 states it; ours vs `bare_http` is the fair one (a chat
  tool cannot answer without its HTTP round trip, which alone costs about as much as the
  whole no-op call: docs/CONTRIBUTING.md, Benchmarks);
- the same chat call in-process on one reused `openai_skill.Client` (what the server runs per
  call, without MCP): p50/p99;
- the server's start-to-initialize time (spawn until the initialize result arrives), over S starts.
Prints one JSON object. Talks to nothing but the loopback server; bounded by --calls and --starts.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FAKE_KEY, percentile, start_server  # noqa: E402

TOOL = "openai_chat_completion"
ARGUMENTS = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
NOOP_SERVER = Path(__file__).resolve().parent / "mcp_noop_server.py"


def summary(name: str, seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"what": name, "n": len(ms), "p50_ms": round(statistics.median(ms), 3),
            "p99_ms": round(percentile(ms, 0.99), 3), "mean_ms": round(statistics.fmean(ms), 3)}


def in_process(calls: int) -> list[float]:
    import openai_skill

    client = openai_skill.Client()
    client.invoke("chat-completion", ARGUMENTS)  # warm: imports, session, connection
    gc.collect()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        client.invoke("chat-completion", ARGUMENTS)
        out.append(time.perf_counter() - start)
    return out


def through_mcp(calls: int, starts: int, env: dict) -> dict:
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    exe = str(Path(sys.executable).parent / "openai-skill")
    exe = exe if os.path.exists(exe) else shutil.which("openai-skill")
    ours = StdioServerParameters(command=exe, args=["mcp"], env=env)
    noop = StdioServerParameters(command=sys.executable, args=[str(NOOP_SERVER)], env=env)
    times: dict = {"init": [], "ours": [], "noop": [], "bare_http": []}

    async def start_only():
        start = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            async with stdio_client(ours, errlog=devnull) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    times["init"].append(time.perf_counter() - start)

    async def timed(session, name, arguments, into):
        start = time.perf_counter()
        result = await session.call_tool(name, arguments)
        into.append(time.perf_counter() - start)
        if result.is_error:
            raise SystemExit(f"{name} failed: {result.content}")

    async def both():
        with open(os.devnull, "w") as devnull:
            async with stdio_client(ours, errlog=devnull) as (r1, w1), \
                    stdio_client(noop, errlog=devnull) as (r2, w2):
                async with ClientSession(r1, w1) as mine, ClientSession(r2, w2) as floor:
                    await mine.initialize()
                    await floor.initialize()
                    await mine.list_tools()   # the client checks results against the listed schemas
                    await floor.list_tools()
                    for _ in range(3):        # warm: imports, the Client, the connection
                        await timed(mine, TOOL, ARGUMENTS, [])
                        await timed(floor, "noop", {}, [])
                        await timed(floor, "bare_http", ARGUMENTS, [])
                    gc.collect()
                    cases = [(mine, TOOL, ARGUMENTS, times["ours"]), (floor, "noop", {}, times["noop"]),
                             (floor, "bare_http", ARGUMENTS, times["bare_http"])]
                    for i in range(calls):    # the order rotates: none always runs first
                        for call in cases[i % 3:] + cases[:i % 3]:
                            await timed(*call)

    for _ in range(starts):
        anyio.run(start_only)
    anyio.run(both)
    return times


def measure(calls: int, starts: int, base_url: str) -> dict:
    env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": FAKE_KEY, "OPENAI_SKILL_MAX_RETRIES": "0"}
    os.environ.update(env)
    local = in_process(calls)
    mcp = through_mcp(calls, starts, env)
    rows = {"mcp": summary(f"MCP tools/call {TOOL} over stdio", mcp["ours"]),
            "noop": summary("MCP tools/call of a no-op tool, same SDK server and client", mcp["noop"]),
            "bare_http": summary("MCP tools/call of a tool that only makes the chat request on a bare "
                                 "requests.Session, same SDK server and client", mcp["bare_http"]),
            "in_process": summary("chat-completion on a reused Client, in-process", local),
            "start": summary("server start to initialize", mcp["init"])}
    ratios = {"mcp_vs_noop_p50": round(rows["mcp"]["p50_ms"] / rows["noop"]["p50_ms"], 3),
              "mcp_vs_noop_p99": round(rows["mcp"]["p99_ms"] / rows["noop"]["p99_ms"], 3),
              "mcp_vs_bare_http_p50": round(rows["mcp"]["p50_ms"] / rows["bare_http"]["p50_ms"], 3),
              "bare_http_vs_noop_p50": round(rows["bare_http"]["p50_ms"] / rows["noop"]["p50_ms"], 3),
              "mcp_vs_in_process_p50": round(rows["mcp"]["p50_ms"] / rows["in_process"]["p50_ms"], 3)}
    return {"calls": calls, "rows": rows, "ratios": ratios,
            "targets": {"mcp_vs_noop_p50_at_most": 1.5, "mcp_vs_bare_http_p50_at_most": 1.5},
            "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--base-url", help="a loopback fake OpenAI already running (default: start one)")
    args = parser.parse_args()
    server = None if args.base_url else start_server()
    try:
        print(json.dumps(measure(args.calls, args.starts, args.base_url or server.url)))
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
