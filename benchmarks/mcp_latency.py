"""MCP tool-call latency against a loopback OpenAI, compared with the same call in-process.

    python benchmarks/mcp_latency.py [--calls 500] [--starts 10]

Measures, with the installed package and a fake OpenAI it starts on 127.0.0.1:
- `openai_skill.invoke("list-models", {})` in-process: p50/p99 over N calls;
- `openai_list_models` through `openai-skill mcp` (stdio, the SDK's client, one session): p50/p99 over N calls;
- the server's start-to-initialize time (spawn until the initialize result arrives), over S starts.
Talks to nothing but the loopback server it starts; bounded by --calls and --starts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support/fake_openai.py lives there
from support.fake_openai import FakeOpenAI  # noqa: E402

FAKE_KEY = "sk-proj-BENCH0123456789abcdefghijklmnopqrstuvwxyzBENCH"
MODELS = json.dumps({"object": "list", "data": [
    {"id": f"gpt-model-{i}", "object": "model", "created": 1700000000 + i, "owned_by": "system"}
    for i in range(20)]}).encode()


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name, seconds):
    ms = [s * 1000 for s in seconds]
    return {"what": name, "n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(pct(ms, 99), 2), "mean_ms": round(statistics.fmean(ms), 2)}


def in_process(calls: int) -> list[float]:
    import openai_skill

    openai_skill.invoke("list-models", {})  # warm: imports, session, connection
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        openai_skill.invoke("list-models", {})
        out.append(time.perf_counter() - start)
    return out


def through_mcp(calls: int, starts: int, env: dict) -> tuple[list[float], list[float]]:
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    exe = str(Path(sys.executable).parent / "openai-skill")
    exe = exe if os.path.exists(exe) else shutil.which("openai-skill")
    params = StdioServerParameters(command=exe, args=["mcp"], env=env)
    init_times, call_times = [], []

    async def session(count: int):
        start = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            async with stdio_client(params, errlog=devnull) as (read, write):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    init_times.append(time.perf_counter() - start)
                    if count:
                        await s.list_tools()
                        await s.call_tool("openai_list_models", {})  # warm
                        for _ in range(count):
                            t = time.perf_counter()
                            result = await s.call_tool("openai_list_models", {})
                            call_times.append(time.perf_counter() - t)
                            assert not result.is_error, result.content

    for _ in range(starts):
        anyio.run(session, 0)
    anyio.run(session, calls)
    return init_times, call_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()

    server = FakeOpenAI(keep_log=False)  # the tests' loopback OpenAI, with a 20-model list scripted
    server.reply_raw("GET", "/models", MODELS, content_type="application/json", headers={"x-request-id": "req_bench"})
    base_url = server.start()
    env = {"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": FAKE_KEY, "OPENAI_SKILL_MAX_RETRIES": "0"}
    os.environ.update(env)
    try:
        local = in_process(args.calls)
        init, remote = through_mcp(args.calls, args.starts, env)
    finally:
        server.stop()
    results = [summary("invoke in-process", local), summary("MCP tools/call over stdio", remote),
               summary("server start to initialize", init)]
    for row in results:
        print(json.dumps(row))
    print(json.dumps({"ratio_p50": round(results[1]["p50_ms"] / results[0]["p50_ms"], 2),
                      "ratio_p99": round(results[1]["p99_ms"] / results[0]["p99_ms"], 2),
                      "load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
