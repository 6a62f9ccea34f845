"""Single calls: a cold CLI process against a bare `requests` process (the floor) and the SDK;
in-process chat calls per second against a bare `requests.Session` and the SDK client; the
import cost of `openai_skill`.

Fresh processes are interleaved run by run, so machine noise hits every case alike; each
case is warmed once first (page cache, byte code), as it is after `pip install`.
"""

from __future__ import annotations

import json
import sys

from common import FAKE_KEY, median_ms, run, tool

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}

BARE_MODELS = ("import requests, sys; r = requests.get(sys.argv[1] + '/models', headers={'Authorization': "
               "'Bearer ' + sys.argv[2]}, timeout=(5, 600)); r.raise_for_status(); print(r.json()['data'][0]['id'])")
BARE_CHAT = ("import json, requests, sys; r = requests.post(sys.argv[1] + '/chat/completions', json=" + repr(CHAT) +
             ", headers={'Authorization': 'Bearer ' + sys.argv[2]}, timeout=(5, 600)); r.raise_for_status(); "
             "print(r.json()['choices'][0]['message']['content'])")
SDK_MODELS = "import openai; print(next(iter(openai.OpenAI().models.list())).id)"
SDK_CHAT = ("import openai; print(openai.OpenAI().chat.completions.create(model='gpt-4o-mini', "
            "messages=[{'role': 'user', 'content': 'hi'}]).choices[0].message.content)")

# In-process: N sequential chat calls in one interpreter, after one warm-up call each.
IN_PROCESS = r"""
import json, os, sys, time
n, which = int(sys.argv[1]), sys.argv[2]
base, key = os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"]
chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
if which == "session":
    import requests
    session = requests.Session()
    def call():
        r = session.post(base + "/chat/completions", json=chat, headers={"Authorization": "Bearer " + key},
                         timeout=(5, 600))
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]
elif which == "invoke":
    import openai_skill
    def call():
        return openai_skill.invoke("chat-completion", chat)["content"]
else:
    import openai
    client = openai.OpenAI()
    def call():
        return client.chat.completions.create(**chat).choices[0].message.content
call()
start = time.perf_counter()
for _ in range(n):
    call()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

IMPORT_COST = r"""
import sys, time
start = time.perf_counter()
__import__(sys.argv[1])
print(time.perf_counter() - start)
"""


def _interleaved(cases: dict, env: dict, runs: int) -> dict:
    for argv in cases.values():
        run(argv, env)                                  # warm-up
    samples = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            samples[name].append(run(argv, env).seconds)
    return samples


def cold_cli(env: dict, url: str, runs: int) -> dict:
    skill = tool("openai-skill")
    py = sys.executable
    cases = {
        "floor: python -c 'requests.get(/models)'": [py, "-c", BARE_MODELS, url, FAKE_KEY],
        "openai-skill models": [skill, "models"],
        "SDK: python -c 'OpenAI().models.list()'": [py, "-c", SDK_MODELS],
        "floor: python -c 'requests.post(/chat/completions)'": [py, "-c", BARE_CHAT, url, FAKE_KEY],
        "openai-skill chat hi": [skill, "chat", "hi"],
        "SDK: python -c 'chat.completions.create()'": [py, "-c", SDK_CHAT],
    }
    samples = _interleaved(cases, env, runs)
    medians = {name: median_ms(s) for name, s in samples.items()}
    names = list(cases)
    return {
        "runs": runs, "median_ms": medians,
        "ratios": {
            "cold_models_vs_floor": round(medians[names[1]] / medians[names[0]], 2),
            "cold_models_vs_sdk": round(medians[names[1]] / medians[names[2]], 2),
            "cold_chat_vs_floor": round(medians[names[4]] / medians[names[3]], 2),
            "cold_chat_vs_sdk": round(medians[names[4]] / medians[names[5]], 2),
        },
        "targets": {"cold_vs_floor_at_most": 1.3},
    }


def in_process(env: dict, calls: int) -> dict:
    seconds = {}
    for which in ("session", "invoke", "sdk"):
        best = min(json.loads(run([sys.executable, "-c", IN_PROCESS, str(calls), which], env).stdout)["seconds"]
                   for _ in range(3))
        seconds[which] = best
    per_s = {which: round(calls / s, 1) for which, s in seconds.items()}
    return {
        "calls": calls, "calls_per_s": per_s,
        "ratios": {"invoke_time_vs_session": round(seconds["invoke"] / seconds["session"], 3),
                   "invoke_time_vs_sdk": round(seconds["invoke"] / seconds["sdk"], 3)},
        "targets": {"invoke_time_vs_session_at_most": 1.10},
    }


def import_cost(env: dict, runs: int) -> dict:
    out = {}
    for module in ("openai_skill", "requests", "openai"):
        run([sys.executable, "-c", IMPORT_COST, module], env)
        out[module] = median_ms([float(run([sys.executable, "-c", IMPORT_COST, module], env).stdout)
                                 for _ in range(runs)])
    return {"median_ms": out}
