"""Cold-start benchmark: how long an agent waits for one `openai-skill` call.

Rerunnable, not a test: `python tests/bench/cold_start.py [--runs 20]` with the package
installed (`pip install '.[test]'`). It starts a loopback server that answers GET
/v1/models as OpenAI does, then times fresh processes, interleaved so machine noise hits
all of them alike:

  python -c pass                        the interpreter alone (floor)
  baseline                              python -c "import requests; requests.get(...)"
  openai-skill models --dry-run         validation and request building, no network
  openai-skill models                   the real call, key from OPENAI_API_KEY
  openai-skill models (vault key file)  the real call, key from the vault, key-file mode

and prints medians and ratios against the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

FAKE_KEY = "sk-bench-fake-key-not-real-0000000000"
MODELS = {"object": "list", "data": [
    {"id": f"model-{i}", "object": "model", "created": 1700000000 + i, "owned_by": "system"} for i in range(40)]}


def command_for(name: str) -> list[str]:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} is not installed; run `pip install .` first")
    return [found]


def time_once(argv, env) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines between results
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/v1/models", method="GET").respond_with_json(MODELS, headers={"x-request-id": "req_b"})
    server.start()
    home = Path(tempfile.mkdtemp(prefix="openai-skill-bench-"))
    try:
        base_url = server.url_for("/v1")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env.update({"OPENAI_BASE_URL": base_url, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
        with_key = {**env, "OPENAI_API_KEY": FAKE_KEY}
        skill_cli = command_for("openai-skill")

        vault_env = {**env, "OPENAI_SKILL_HOME": str(home / "vault")}
        setup = subprocess.run([*skill_cli, "setup"], input=FAKE_KEY + "\n", text=True, env=vault_env,
                               capture_output=True)
        cases = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "baseline: python -c 'import requests; requests.get(...)'": ([sys.executable, "-c", (
                "import requests; r = requests.get(%r, headers={'Authorization': 'Bearer %s'}, timeout=(5, 600));"
                " r.raise_for_status(); print(r.json()['data'][0]['id'])") % (base_url + "/models", FAKE_KEY)], env),
            "openai-skill models --dry-run": ([*skill_cli, "models", "--dry-run"], env),
            "openai-skill models": ([*skill_cli, "models"], with_key),
        }
        if setup.returncode == 0:
            cases["openai-skill models (key from vault, key-file mode)"] = ([*skill_cli, "models"], vault_env)
        else:
            print(f"(vault case skipped: setup failed: {setup.stderr.strip()[-200:]})", file=sys.stderr)

        for argv, case_env in cases.values():  # warm the page cache and .pyc files once
            time_once(argv, case_env)
        samples = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (argv, case_env) in cases.items():
                samples[name].append(time_once(argv, case_env))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    baseline_name = next(n for n in cases if n.startswith("baseline"))
    baseline = statistics.median(samples[baseline_name])
    figures = {name: {"median_ms": round(statistics.median(s) * 1000, 1), "min_ms": round(min(s) * 1000, 1),
                      "ratio_to_baseline": round(statistics.median(s) / baseline, 2)} for name, s in samples.items()}
    if args.json:
        print(json.dumps({"runs": args.runs, "python": sys.version.split()[0], "figures": figures}, indent=2))
        return
    print(f"{args.runs} runs each, interleaved; Python {sys.version.split()[0]}; medians")
    for name, fig in figures.items():
        print(f"  {name:<58} {fig['median_ms']:>7.1f} ms  (min {fig['min_ms']:>6.1f})  {fig['ratio_to_baseline']:.2f}x")


if __name__ == "__main__":
    main()
