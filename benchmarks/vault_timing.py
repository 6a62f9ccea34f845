"""Measure what the vault costs a CLI call: open + read one entry, and the import cost.

    python benchmarks/vault_timing.py   (or as part of benchmarks/run.py)

Works in a temporary folder (never the real config). Each measurement runs in a fresh
interpreter, so imports are cold as they are for an agent calling `openai-skill` once; byte
code is cached (in a temp folder) as it is after `pip install`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

RUNS = 7
PROBE = r"""
import time, sys
import openai_skill.secrets.sources  # the caller: its cost is not the vault's
t0 = time.perf_counter()
import openai_skill.secrets.store, openai_skill.secrets.vault_format
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # imports excluded from open + read
t1 = time.perf_counter()
value = openai_skill.secrets.store.read_entry("openai_api_key")[0]
t2 = time.perf_counter()
assert value == "fake-timing-value-0123456789", value
print(f"{(t1 - t0) * 1000:.2f} {(t2 - t1) * 1000:.2f}")
"""


PYTHON = sys.executable  # run.py points it at the wheel install's interpreter


def _run(code: str, env: dict) -> str:
    return subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _median(samples):
    return statistics.median(samples)


def measure(label: str, env: dict) -> dict:
    rows = [tuple(map(float, _run(PROBE, env).split())) for _ in range(RUNS)]
    return {"import_store_ms": round(_median([r[0] for r in rows]), 2),
            "open_and_read_ms": round(_median([r[1] for r in rows]), 2)}


def import_cost(env: dict) -> float:
    code = ("import time, openai_skill.secrets.sources; t=time.perf_counter(); "
            "import openai_skill.secrets.vault_format, openai_skill.secrets.store; "
            "from cryptography.hazmat.primitives.ciphers.aead import AESGCM; print((time.perf_counter()-t)*1000)")
    return round(_median([float(_run(code, env)) for _ in range(RUNS)]), 2)


def measure_all(python: str | None = None) -> dict:
    """{mode: {import_store_ms, open_and_read_ms}} and the imports key-file mode adds."""
    global PYTHON
    PYTHON = python or PYTHON
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        for label, extra in (("key-file", {}),
                             ("env-key", {"OPENAI_SKILL_VAULT_KEY": "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="}),
                             ("passphrase", {"OPENAI_SKILL_VAULT_PASSPHRASE": "fake-timing-passphrase"})):
            env = {**base, **extra, "OPENAI_SKILL_HOME": os.path.join(tmp, label)}
            _run("from openai_skill.secrets.store import VaultStore; "
                 "VaultStore().put('openai_api_key', 'fake-timing-value-0123456789')", env)
            _run(PROBE, env)  # warm-up: writes the byte code
            out[label] = measure(label, env)
        out["key_file_imports_ms"] = import_cost({**base, "OPENAI_SKILL_HOME": os.path.join(tmp, "key-file")})
    out["targets"] = {"key_file_open_and_read_ms_at_most": 5.0}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure_all(), indent=2))
