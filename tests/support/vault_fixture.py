"""The frozen vault fixtures' recipe: fixed master key, passphrase, values, origins, clock and
random bytes. tests/secrets/fixtures/vault/{keyfile,passphrase} hold the v1 files (frozen when v1
was the format; they must keep opening), tests/secrets/fixtures/vault/v2/ the bytes this recipe produces
with the v2 writer: test_vault_format checks that they open AND that the writer reproduces them.

All key material here is fake test data ("fake"/"canary" in every value)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "secrets" / "fixtures" / "vault"
FIXTURES_V2 = FIXTURES / "v2"
CONTENTS = json.loads((FIXTURES / "contents.json").read_text(encoding="utf-8"))


def counter_rand(seed: str):
    """A deterministic stand-in for os.urandom: SHA-256(seed | counter) blocks."""
    state = {"n": 0}

    def rand(size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(f"{seed}|{state['n']}".encode()).digest()
            state["n"] += 1
        return out[:size]

    return rand


def build(kind: str) -> bytes:
    """Rebuild fixtures/vault/v2/<kind>/vault ("keyfile" or "passphrase") from the recipe."""
    from openai_skill.secrets.vault_format import ScryptParams, Vault, derive_passphrase_key

    rand = counter_rand(CONTENTS["seed"] + "|v2|" + kind)
    if kind == "keyfile":
        master, kdf = base64.b64decode(CONTENTS["master_key_b64"]), None
    else:
        p = CONTENTS["scrypt"]
        kdf = ScryptParams(p["log_n"], p["r"], p["p"], rand(16))
        master = derive_passphrase_key(CONTENTS["passphrase"], kdf)
    vault = Vault.create(master, kdf, rand=rand)
    for i, (name, value) in enumerate(sorted(CONTENTS["entries"].items())):
        vault.set(name, value, origins=CONTENTS["v2_origins"][name], now=CONTENTS["now"] + i, rand=rand)
    vault.generation = CONTENTS["generation"]
    return vault.to_bytes()
