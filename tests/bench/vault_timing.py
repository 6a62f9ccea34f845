"""Measure what the vault costs a CLI call: open + read one entry, and the import cost.

    python tests/bench/vault_timing.py

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
import openai_skill.secrets.keys  # the caller: its cost is not the vault's
t0 = time.perf_counter()
import openai_skill.secrets.store
t1 = time.perf_counter()
value = openai_skill.secrets.store.lookup_secret("openai_api_key")
t2 = time.perf_counter()
assert value == "fake-timing-value-0123456789", value
print(f"{(t1 - t0) * 1000:.2f} {(t2 - t1) * 1000:.2f}")
"""


def _run(code: str, env: dict) -> str:
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _median(samples):
    return statistics.median(samples)


def measure(label: str, env: dict) -> None:
    rows = [tuple(map(float, _run(PROBE, env).split())) for _ in range(RUNS)]
    print(f"{label:<11} import openai_skill.secrets.store {_median([r[0] for r in rows]):6.2f} ms | open + read one entry "
          f"(first call: lazy imports + scrypt if any) {_median([r[1] for r in rows]):7.2f} ms | "
          f"together {_median([r[0] + r[1] for r in rows]):7.2f} ms")


def import_cost(env: dict) -> None:
    code = ("import time, openai_skill.secrets.keys; t=time.perf_counter(); import openai_skill.secrets.vault_format, openai_skill.secrets.store; "
            "from cryptography.hazmat.primitives.ciphers.aead import AESGCM; print((time.perf_counter()-t)*1000)")
    cost = _median([float(_run(code, env)) for _ in range(RUNS)])
    print(f"imports the vault adds in key-file mode (openai_skill.secrets.vault_format, openai_skill.secrets.store, hashlib, AESGCM): {cost:.1f} ms")


def main() -> None:
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        base["PYTHONPATH"] = src + os.pathsep + base.get("PYTHONPATH", "")
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        for label, extra in (("key-file", {}),
                             ("env-key", {"OPENAI_SKILL_VAULT_KEY": "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="}),
                             ("passphrase", {"OPENAI_SKILL_VAULT_PASSPHRASE": "fake-timing-passphrase"})):
            env = {**base, **extra, "OPENAI_SKILL_HOME": os.path.join(tmp, label)}
            _run("from openai_skill.secrets.store import VaultStore; "
                 "VaultStore().put('openai_api_key', 'fake-timing-value-0123456789')", env)
            _run(PROBE, env)  # warm-up: writes the byte code
            measure(label, env)
        import_cost({**base, "OPENAI_SKILL_HOME": os.path.join(tmp, "key-file")})


if __name__ == "__main__":
    main()
