"""What the spend guard and the call log cost per call, against the guard with the log off
(OPENAI_SKILL_CALL_LOG=0, no cap: one stat per call), in one run:

- "no cap" (the default): each call appends one line to the journal (no SQLite); a writer
  folds the journal into the ledger each time it passes 256 KB (included, amortized);
- "cap set": a reservation through the running totals (spend/totals.py: a lock, the journal's
  new lines counted, one line appended) and a settlement (one more line); no SQLite unless the
  totals cannot vouch (the first capped call of a UTC day).

Rows:
- guard only, in process: `Guard.hold` + `settle` in a loop, no network (with a cap, also at a
  ledger grown by tens of thousands of today's rows);
- first call of a fresh process: the same hold + settle + close timed inside a new process
  (`openai_skill.spend` already imported, as every CLI call does): what the guard adds to a
  cold CLI call, without the noise of timing whole processes; its share of a cold `chat`;
- in-process invoke: N chat calls per process, best of 3;
- cold CLI: `openai-skill chat hi`, fresh processes interleaved, wall and CPU medians, and each
  case's share over the floor as the median of per-round ratios.

Run alone: `python benchmarks/spend_guard.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
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

# The guard's first call in a fresh process, closed as a CLI process closes it at exit. A CLI
# call has imported `datetime` before its hold (the model lifecycle table does): imported here
# too, or `import sqlite3` would be charged for it.
FIRST = r"""
import datetime, json, os, sys, time
import openai_skill.spend
from openai_skill.spend import Cost, Guard
worst, real = Cost(0.0006, "worst_case", "2026-12-02", "gpt-4o-mini"), Cost(0.0000027, "usage", "2026-12-02")
start = time.perf_counter()
guard = Guard(os.environ)
with guard.hold(worst, surface="bench", action="chat-completion", hold_seconds=600) as held:
    held.settle(real, "req")
guard.close()
print(json.dumps({"ms": (time.perf_counter() - start) * 1000, "sqlite3": "sqlite3" in sys.modules}))
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
FLOOR = "log off"
CASES = (FLOOR, "no cap", "cap set")


def _homes(server, work: Path) -> dict:
    """Three config folders: the log off (the floor), the default (log on, no cap), a cap stored."""
    envs = {}
    for name in CASES:
        home = work / name.replace(" ", "-")
        home.mkdir()
        extra = {"OPENAI_SKILL_CALL_LOG": "0"} if name == FLOOR else {}
        envs[name] = clean_env(server, home, OPENAI_SKILL_HOME=str(home / "cfg"), **extra)
        # Users run from compiled modules: a shell's PYTHONDONTWRITEBYTECODE would have every
        # process compile the modules edited since the last compile (ms, on one case more than another).
        envs[name].pop("PYTHONDONTWRITEBYTECODE", None)
    run([tool("openai-skill"), *CAP], envs["cap set"])
    return envs


def _over_floor(figures: dict, digits: int = 3) -> dict:
    return {name: round(figures[name] - figures[FLOOR], digits) for name in CASES if name != FLOOR}


def measure(server, work: Path, *, calls: int, cold_runs: int, guard_calls: int, big_ledger: int,
            first_runs: int) -> dict:
    envs = _homes(server, work)
    py = sys.executable
    out: dict = {"calls": calls, "cold_runs": cold_runs, "floor": f"{FLOOR}: OPENAI_SKILL_CALL_LOG=0, no cap"}
    # Guard only (no network): each case, then a cap at a grown ledger.
    guard = {name: json.loads(run([py, "-c", GUARD_ONLY, str(guard_calls), "0"], env).stdout)
             for name, env in envs.items()}
    grown = json.loads(run([py, "-c", GUARD_ONLY, str(guard_calls), str(big_ledger)], envs["cap set"]).stdout)
    out["guard_only_us_per_call"] = {k: round(v["us_per_call"], 1) for k, v in guard.items()}
    out["guard_only_us_per_call"][f"cap set, {big_ledger + 2 * guard_calls + 2:,} rows today"] = round(
        grown["us_per_call"], 1)
    out["sqlite3_imported"] = {k: v["sqlite3"] for k, v in guard.items()}
    # The first call of a fresh process, interleaved.
    first: dict = {name: [] for name in envs}
    for _ in range(first_runs):
        for name, env in envs.items():
            first[name].append(json.loads(run([py, "-c", FIRST], env).stdout)["ms"] / 1000)
    out["first_call_ms_median"] = {name: median_ms(s) for name, s in first.items()}
    # In-process invoke, interleaved, best of 3 each.
    best: dict = {name: [] for name in envs}
    for _ in range(3):
        for name, env in envs.items():
            best[name].append(json.loads(run([py, "-c", INVOKE, str(calls)], env).stdout)["seconds"])
    per_call = {name: min(s) / calls * 1000 for name, s in best.items()}
    out["invoke_ms_per_call"] = {k: round(v, 3) for k, v in per_call.items()}
    out["invoke_guard_and_log_ms_per_call"] = _over_floor(per_call)
    # Cold CLI, fresh processes interleaved (after a warm-up each), the order rotating each round;
    # a share is the median of the per-round ratios to the floor, so a load spike that slows one
    # round does not move it (as benchmarks/calls.py pairs the cold CLI with its floor).
    skill = tool("openai-skill")
    wall: dict = {name: [] for name in envs}
    cpu: dict = {name: [] for name in envs}
    for env in envs.values():
        run([skill, "chat", "hi"], env)
    names = list(envs)
    for r in range(cold_runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            done = run([skill, "chat", "hi"], envs[name])
            wall[name].append(done.seconds)
            cpu[name].append(done.cpu_seconds)
    cold = {name: median_ms(s) for name, s in wall.items()}
    cold_cpu = {name: median_ms(s) for name, s in cpu.items()}
    out["cold_chat_median_ms"] = cold
    out["cold_chat_cpu_median_ms"] = cold_cpu
    for key, samples in (("cold_chat_share_measured", wall), ("cold_chat_cpu_share_measured", cpu)):
        out[key] = {name: round(statistics.median(a / b for a, b in zip(samples[name], samples[FLOOR],
                                                                          strict=True)) - 1, 4)
                    for name in CASES if name != FLOOR}
    # The first call's own cost over a cold chat: the steadier estimate of the same share.
    first_ms = out["first_call_ms_median"]
    out["cold_chat_share_of_first_call"] = {k: round(v / cold[FLOOR], 4) for k, v in _over_floor(first_ms).items()}
    out["targets"] = {"in_process_ms_at_most": 1.0, "cold_share_at_most": 0.03}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    sizes = (dict(calls=300, cold_runs=7, guard_calls=300, big_ledger=10_000, first_runs=7) if args.quick
             else dict(calls=1000, cold_runs=41, guard_calls=1000, big_ledger=50_000, first_runs=21))
    server = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="openai-skill-bench-spend-") as tmp:
            print(json.dumps(measure(server, Path(tmp), **sizes), indent=1))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
