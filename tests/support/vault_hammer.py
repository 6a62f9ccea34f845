"""Readers hammering the vault while writers store and rotate it: a reader must never see a
false alarm ("rolled back", "wrong key") or a crash because a writer is busy.

    python tests/support/vault_hammer.py [seconds] [readers] [writers]

Works in a temporary folder (never the real config). Every process is a fresh interpreter
using the installed package; readers open the vault and read one entry in a loop, as
`secret-provider` and `lookup_secret` do, and report every failure they saw.
tests/secrets/test_vault_concurrency.py runs the same thing for a few seconds.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

VALUE = "fake-canary-hammer-value-0123456789"
ENV_KEY = base64.b64encode(b"h" * 32).decode()   # fake: the env-key mode's master key

# Readers run until the writers are done (the parent creates the `done` file), at most `cap` s.
READER = r"""
import json, os, re, sys, time
from openai_skill.secrets.store import VaultStore
value, done, cap = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[4])
reads, failures = 0, {}
while not os.path.exists(done) and time.monotonic() < cap:
    try:
        vault = VaultStore().open()
        assert vault is not None and vault.get("openai_api_key") == value, "wrong value"
        reads += 1
    except BaseException as exc:
        text = re.sub(r"[0-9]+", "N", f"{type(exc).__name__}: {exc}".replace(sys.argv[3], "HOME"))
        failures[text] = failures.get(text, 0) + 1
print(json.dumps({"reads": reads, "failures": failures}))
"""

# Each writer cycles through every kind of write, the master-key changes included, for `seconds`
# and at least `least` writes (however slowly a loaded machine runs it), at most `cap` s.
WRITER = r"""
import itertools, json, re, sys, time
from openai_skill.secrets.store import VaultStore
value, stop, kinds = sys.argv[1], time.monotonic() + float(sys.argv[2]), sys.argv[3].split(",")
least, cap = int(sys.argv[5]), time.monotonic() + float(sys.argv[6])
writes, failures = 0, {}
for kind in itertools.cycle(kinds):
    if (time.monotonic() >= stop and writes >= least) or time.monotonic() >= cap:
        break
    try:
        store = VaultStore()
        if kind == "put":
            store.put("openai_api_key", value)
        else:
            store.rotate(None if kind == "rotate" else kind)
        writes += 1
    except BaseException as exc:
        text = re.sub(r"[0-9]+", "N", f"{type(exc).__name__}: {exc}".replace(sys.argv[4], "HOME"))
        failures[text] = failures.get(text, 0) + 1
print(json.dumps({"writes": writes, "failures": failures}))
"""

ALL_KINDS = ("put", "rotate", "key-file", "env-key", "rotate", "key-file")


CAP = 120.0   # seconds: no process runs longer, whatever it has done


def hammer(folder: str, seconds: float = 3.0, readers: int = 3, writers: int = 2,
           kinds=ALL_KINDS, least_writes: int = 0) -> dict:
    """Run readers and writers against a vault in `folder` for `seconds`, and until each writer
    has made `least_writes` writes; the readers read until the writers are done. The counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_SKILL_HOME=folder, OPENAI_SKILL_VAULT_KEY=ENV_KEY, OPENAI_SKILL_VAULT_NEW_KEY=ENV_KEY)
    if "env-key" not in kinds:  # key files only (the store before format v2 could run only this)
        env.pop("OPENAI_SKILL_VAULT_KEY"), env.pop("OPENAI_SKILL_VAULT_NEW_KEY")
    setup_env = {k: v for k, v in env.items() if k != "OPENAI_SKILL_VAULT_KEY"}
    subprocess.run([sys.executable, "-c", "from openai_skill.secrets.store import VaultStore; "
                    f"VaultStore().put('openai_api_key', {VALUE!r})"], env=setup_env, check=True)

    def start(code, *args):
        return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    started = time.monotonic()
    done = folder.rstrip(os.sep) + "-writers-done"      # beside the vault's folder, not in it
    if writers == 0:
        open(done, "w").close()
    procs = ([("reader", start(READER, VALUE, done, folder, CAP)) for _ in range(readers)]
             + [("writer", start(WRITER, VALUE, seconds, ",".join(kinds), folder, least_writes, CAP))
                for _ in range(writers)])
    totals = {"reads": 0, "read_failures": {}, "writes": 0, "write_failures": {}}
    outputs = {}
    for role, proc in sorted(procs, key=lambda p: p[0] != "writer"):   # the writers first
        outputs[id(proc)] = proc.communicate(timeout=seconds + CAP + 60)
        if role == "writer" and all(p.poll() is not None for r, p in procs if r == "writer"):
            open(done, "w").close()
    for role, proc in procs:
        out, err = outputs[id(proc)]
        if proc.returncode != 0:
            raise RuntimeError(f"{role} exited with {proc.returncode}: {err[-2000:]}")
        report = json.loads(out)
        if role == "reader":
            totals["reads"] += report["reads"]
            _merge(totals["read_failures"], report["failures"])
        else:
            totals["writes"] += report["writes"]
            _merge(totals["write_failures"], report["failures"])
    totals["seconds"] = round(time.monotonic() - started, 2)
    return totals


def _merge(into: dict, more: dict) -> None:
    for text, count in more.items():
        into[text] = into.get(text, 0) + count


def main() -> None:
    seconds, readers, writers = (float(sys.argv[1]) if len(sys.argv) > 1 else 10.0,
                                 int(sys.argv[2]) if len(sys.argv) > 2 else 4,
                                 int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    kinds = ALL_KINDS if os.environ.get("HAMMER_KINDS") is None else tuple(os.environ["HAMMER_KINDS"].split(","))
    with tempfile.TemporaryDirectory() as tmp:
        result = hammer(os.path.join(tmp, "vault-home"), seconds, readers, writers, kinds)
    failed = sum(result["read_failures"].values())
    print(json.dumps(result, indent=2))
    print(f"reads {result['reads']}, reader failures {failed} "
          f"({100 * failed / max(1, result['reads'] + failed):.2f} %), writes {result['writes']}")


if __name__ == "__main__":
    main()
