"""What the spend guard costs per call: without a cap (the default: one stat, no SQLite) and
with one (a reservation and a settlement in the SQLite ledger, each its own transaction).

- guard only, in process: `Guard.hold` + `settle` in a loop, no network; with a cap the ledger
  grows by one row a call, and the figure is given at a small and a large ledger (the daily
  and monthly sums read the period's rows);
- in-process invoke: N chat calls with and without a cap, interleaved best of 3;
- cold CLI: `openai-skill chat hi` with and without a cap, fresh processes interleaved.

Run alone (`python benchmarks/spend_guard.py [--quick]`) or from benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import clean_env, median_ms, run, start_server, tool  # noqa: E402

GUARD_ONLY = r"""
import json, os, sys, time
from openai_skill.spend import Cost, Guard
n, prefill = int(sys.argv[1]), int(sys.argv[2])
guard = Guard(os.environ)
worst, real = Cost(0.0006, "worst_case", "2026-12-02", "gpt-4o-mini"), Cost(0.0000027, "usage", "2026-12-02")
def once():
    with guard.hold(worst, surface="bench", action="chat-completion", hold_seconds=600) as held:
        held.settle(real, "req")
for _ in range(prefill):     # a ledger that already holds this many of today's calls
    once()
once()
start = time.perf_counter()
for _ in range(n):
    once()
print(json.dumps({"us_per_call": (time.perf_counter() - start) / n * 1e6,
                  "sqlite3": "sqlite3" in sys.modules}))
"""

INVOKE = r"""
import json, sys, time
import openai_skill
n = int(sys.argv[1])
chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
openai_skill.invoke("chat-completion", chat)
start = time.perf_counter()
for _ in range(n):
    openai_skill.invoke("chat-completion", chat)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

CAP = ["budget", "set", "--daily", "100000", "--per-call", "1"]


def _homes(server, work: Path) -> dict:
    """Two config folders: one without a cap (the default), one with caps stored."""
    envs = {}
    for name in ("no cap", "cap set"):
        home = work / name.replace(" ", "-")
        home.mkdir()
        envs[name] = clean_env(server, home, OPENAI_SKILL_HOME=str(home / "cfg"))
    run([tool("openai-skill"), *CAP], envs["cap set"])
    return envs


def measure(server, work: Path, *, calls: int, cold_runs: int, guard_calls: int, big_ledger: int) -> dict:
    envs = _homes(server, work)
    py = sys.executable
    out: dict = {"calls": calls, "cold_runs": cold_runs}
    # Guard only (no network): the default, then a cap at a fresh and at a grown ledger.
    guard = {"no cap": json.loads(run([py, "-c", GUARD_ONLY, str(guard_calls), "0"], envs["no cap"]).stdout)}
    guard["cap set"] = json.loads(run([py, "-c", GUARD_ONLY, str(guard_calls), "0"], envs["cap set"]).stdout)
    grown = json.loads(run([py, "-c", GUARD_ONLY, str(guard_calls), str(big_ledger)], envs["cap set"]).stdout)
    guard[f"cap set, {big_ledger + 2 * guard_calls + 2:,} rows today"] = grown
    out["guard_only_us_per_call"] = {k: round(v["us_per_call"], 1) for k, v in guard.items()}
    out["sqlite3_imported"] = {k: v["sqlite3"] for k, v in guard.items()}
    # In-process invoke, interleaved, best of 3 each.
    best: dict = {"no cap": [], "cap set": []}
    for _ in range(3):
        for name, env in envs.items():
            best[name].append(json.loads(run([py, "-c", INVOKE, str(calls)], env).stdout)["seconds"])
    per_call = {name: min(s) / calls * 1000 for name, s in best.items()}
    out["invoke_ms_per_call"] = {k: round(v, 3) for k, v in per_call.items()}
    out["invoke_guard_ms_per_call"] = round(per_call["cap set"] - per_call["no cap"], 3)
    # Cold CLI, fresh processes interleaved (after a warm-up each).
    skill = tool("openai-skill")
    samples: dict = {name: [] for name in envs}
    for env in envs.values():
        run([skill, "chat", "hi"], env)
    for _ in range(cold_runs):
        for name, env in envs.items():
            samples[name].append(run([skill, "chat", "hi"], env).seconds)
    cold = {name: median_ms(s) for name, s in samples.items()}
    out["cold_chat_median_ms"] = cold
    out["cold_chat_guard_share"] = round((cold["cap set"] - cold["no cap"]) / cold["no cap"], 4)
    out["targets"] = {"in_process_ms_at_most": 1.0, "cold_share_at_most": 0.03}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    sizes = (dict(calls=300, cold_runs=7, guard_calls=300, big_ledger=10_000) if args.quick
             else dict(calls=1000, cold_runs=15, guard_calls=1000, big_ledger=50_000))
    server = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="openai-skill-bench-spend-") as tmp:
            print(json.dumps(measure(server, Path(tmp), **sizes), indent=1))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
