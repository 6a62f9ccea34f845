"""Single calls: a cold CLI process against a bare `requests` process (the floor) and the SDK;
chat calls in-process on a reused `openai_skill.Client` against a bare `requests.Session`
(the floor) and the SDK client; the import cost of `openai_skill`.

Cold processes run in pairs, ours and the floor back to back (alternating which goes first),
and a ratio is the median of the per-pair ratios, so a load spike that slows one pair does
not move the figure; each case is warmed once first (page cache, byte code), as it is after
`pip install`. In-process cases run in one interpreter, one call per case in turn, each
call timed: the ratio is of the per-call medians.
"""

from __future__ import annotations

import json
import statistics

import common
from common import FAKE_KEY, median_ms, pair_ratio, run, tool

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}

BARE_MODELS = ("import requests, sys; r = requests.get(sys.argv[1] + '/models', headers={'Authorization': "
               "'Bearer ' + sys.argv[2]}, timeout=(5, 600)); r.raise_for_status(); print(r.json()['data'][0]['id'])")
BARE_CHAT = ("import json, requests, sys; r = requests.post(sys.argv[1] + '/chat/completions', json=" + repr(CHAT) +
             ", headers={'Authorization': 'Bearer ' + sys.argv[2]}, timeout=(5, 600)); r.raise_for_status(); "
             "print(r.json()['choices'][0]['message']['content'])")
# The floor as ours ends a plain call (surfaces/cli: `gc.freeze()` once the call is done, so
# Python's collection at exit walks nothing): what is left between the two is our own code.
BARE_CHAT_FROZEN = BARE_CHAT + "; import gc; gc.freeze()"
SDK_MODELS = "import openai; print(next(iter(openai.OpenAI().models.list())).id)"
SDK_CHAT = ("import openai; print(openai.OpenAI().chat.completions.create(model='gpt-4o-mini', "
            "messages=[{'role': 'user', 'content': 'hi'}]).choices[0].message.content)")

# In-process: every case built and warmed once (imports, connection), then N rounds in which
# each case makes one chat call, the order rotating each round; every call is timed on its
# own. A call takes about a millisecond, so a load spike on a busy machine slows a few calls
# of every case alike instead of a whole batch of one: the medians stay comparable.
IN_PROCESS = r"""
import gc, json, os, sys, time
rounds = int(sys.argv[1])
base, key = os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"]
chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}

import requests
session = requests.Session()
def bare():
    r = session.post(base + "/chat/completions", json=chat, headers={"Authorization": "Bearer " + key},
                     timeout=(5, 600))
    r.raise_for_status()
    return r.json()["choices"][0]["message"]["content"]

import openai_skill
client = openai_skill.Client()
def reused_client():
    return client.invoke("chat-completion", chat)["content"]
def facade():
    return openai_skill.invoke("chat-completion", chat)["content"]

import openai
sdk_client = openai.OpenAI()
def sdk():
    return sdk_client.chat.completions.create(**chat).choices[0].message.content

cases = {"session": bare, "client": reused_client, "facade": facade, "sdk": sdk}
for call in cases.values():
    for _ in range(20):
        call()
seconds = {name: [] for name in cases}
names = list(cases)
clock = time.perf_counter
gc.collect()
for r in range(rounds):
    for name in names[r % len(names):] + names[:r % len(names)]:
        call = cases[name]
        start = clock()
        call()
        seconds[name].append(clock() - start)
print(json.dumps(seconds))
"""

IMPORT_COST = r"""
import sys, time
start = time.perf_counter()
__import__(sys.argv[1])
print(time.perf_counter() - start)
"""


def cold_cli(env: dict, url: str, pairs: int, sdk_runs: int) -> dict:
    skill = tool("openai-skill")
    py = common.PYTHON
    duos = {
        "chat": ([py, "-c", BARE_CHAT, url, FAKE_KEY], [skill, "chat", "hi"]),
        "models": ([py, "-c", BARE_MODELS, url, FAKE_KEY], [skill, "models"]),
    }
    sdk = {"chat": [py, "-c", SDK_CHAT], "models": [py, "-c", SDK_MODELS]}
    frozen = [py, "-c", BARE_CHAT_FROZEN, url, FAKE_KEY]
    for argv in [*(a for duo in duos.values() for a in duo), frozen, *sdk.values()]:
        run(argv, env)                                   # warm-up: page cache, byte code
    wall = {f"{side} {name}": [] for name in duos for side in ("floor", "ours")}
    wall["floor chat, frozen at exit"] = []
    cpu = {key: [] for key in wall}
    for i in range(pairs):
        for name, (floor, ours) in duos.items():
            order = [("floor", floor), ("ours", ours)]
            if name == "chat":   # the third in the round: the same order rotation
                order.append(("floor", frozen))
            order = order[i % len(order):] + order[:i % len(order)]
            for side, argv in order:
                key = "floor chat, frozen at exit" if argv is frozen else f"{side} {name}"
                done = run(argv, env)
                wall[key].append(done.seconds)
                cpu[key].append(done.cpu_seconds)
    sdk_wall = {name: [run(argv, env).seconds for _ in range(sdk_runs)] for name, argv in sdk.items()}
    medians = {key: median_ms(samples) for key, samples in wall.items()}
    medians.update({f"sdk {name}": median_ms(samples) for name, samples in sdk_wall.items()})
    return {
        "pairs": pairs, "sdk_runs": sdk_runs, "median_ms": medians,
        "cpu_median_ms": {key: median_ms(samples) for key, samples in cpu.items()},
        "ratios": {
            "cold_chat_vs_floor": pair_ratio(wall["ours chat"], wall["floor chat"]),
            "cold_chat_vs_floor_cpu": pair_ratio(cpu["ours chat"], cpu["floor chat"]),
            "cold_chat_vs_frozen_floor": pair_ratio(wall["ours chat"], wall["floor chat, frozen at exit"]),
            "cold_chat_vs_frozen_floor_cpu": pair_ratio(cpu["ours chat"], cpu["floor chat, frozen at exit"]),
            "cold_models_vs_floor": pair_ratio(wall["ours models"], wall["floor models"]),
            "cold_models_vs_floor_cpu": pair_ratio(cpu["ours models"], cpu["floor models"]),
            "cold_chat_vs_sdk": round(medians["ours chat"] / medians["sdk chat"], 3),
            "cold_models_vs_sdk": round(medians["ours models"] / medians["sdk models"], 3),
        },
        "commands": {"floor chat": "python -c 'requests.post(/chat/completions)'", "ours chat": "openai-skill chat hi",
                     "floor chat, frozen at exit": "the floor chat, then gc.freeze()",
                     "floor models": "python -c 'requests.get(/models)'", "ours models": "openai-skill models"},
        "targets": {"cold_chat_vs_floor_at_most": 1.10},
    }


def in_process(env: dict, rounds: int) -> dict:
    seconds = json.loads(run([common.PYTHON, "-c", IN_PROCESS, str(rounds)], env).stdout)
    p50 = {name: statistics.median(s) for name, s in seconds.items()}
    mean = {name: statistics.fmean(s) for name, s in seconds.items()}
    return {
        "calls": rounds, "p50_us": {name: round(v * 1e6, 1) for name, v in p50.items()},
        "mean_us": {name: round(v * 1e6, 1) for name, v in mean.items()},
        "ratios": {"client_vs_session": round(p50["client"] / p50["session"], 3),
                   "client_vs_session_mean": round(mean["client"] / mean["session"], 3),
                   "facade_vs_session": round(p50["facade"] / p50["session"], 3),
                   "client_vs_sdk": round(p50["client"] / p50["sdk"], 3)},
        "targets": {"client_vs_session_at_most": 1.10, "client_vs_session_goal": 1.05},
    }


def import_cost(env: dict, runs: int) -> dict:
    out = {}
    for module in ("openai_skill", "requests", "openai"):
        run([common.PYTHON, "-c", IMPORT_COST, module], env)
        out[module] = median_ms([float(run([common.PYTHON, "-c", IMPORT_COST, module], env).stdout)
                                 for _ in range(runs)])
    return {"median_ms": out}
