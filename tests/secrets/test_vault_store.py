"""The vault on disk (openai_skill.secrets.store): locations, permissions, master-key sources, rollback,
atomic and serialized writes, crash safety, and `lookup_secret`."""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import openai_skill as skill
import openai_skill.secrets.vault_format as v
from openai_skill.errors import InputError, VaultError
from openai_skill.redaction import redact
from openai_skill.secrets.vault_format import VaultAuthError, VaultFormatError
from support.key_lookup import lookup_secret
from openai_skill.secrets.store import Paths, VaultStore
from support.vault_fixture import CONTENTS, FIXTURES

FAKE = "fake-canary-secret-value"
ENV_KEY = base64.b64encode(b"k" * 32).decode()
SRC_ROOT = str(Path(skill.__file__).resolve().parent.parent)


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "vault-home"
    monkeypatch.setenv("OPENAI_SKILL_HOME", str(folder))
    return folder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_location_order(tmp_path):
    assert Paths.from_env({"OPENAI_SKILL_HOME": "/x/y", "XDG_CONFIG_HOME": "/c"}).vault == Path("/x/y/vault")
    assert Paths.from_env({"XDG_CONFIG_HOME": "/c", "HOME": "/h"}).folder == Path("/c/openai-skill")
    assert Paths.from_env({"HOME": "/h"}).folder == Path("/h/.config/openai-skill")


def test_default_folder_is_under_xdg_config_home():
    store = VaultStore()
    store.put("openai_api_key", FAKE)
    assert store.paths.vault == Path(os.environ["XDG_CONFIG_HOME"]) / "openai-skill" / "vault"


def test_files_are_0600_and_folder_0700(home):
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    store = VaultStore()
    store.put("openai_api_key", FAKE)
    assert mode(home) == 0o700
    for path in (store.paths.vault, store.paths.key, store.paths.lock, store.paths.generation):
        assert mode(path) == 0o600, path
    assert sorted(p.name for p in home.iterdir()) == ["vault", "vault.generation", "vault.key", "vault.lock"]


def test_lookup_secret_none_without_vault_or_entry_and_value_otherwise(home):
    assert lookup_secret("openai_api_key") is None
    assert not home.exists()  # reading creates nothing
    VaultStore().put("other", FAKE)
    assert lookup_secret("openai_api_key") is None
    VaultStore().put("openai_api_key", "fake-canary-remembered-value")
    assert lookup_secret("openai_api_key", env=dict(os.environ)) == "fake-canary-remembered-value"
    assert redact("x fake-canary-remembered-value y") == "x [REDACTED] y"


def test_lookup_secret_raises_when_a_vault_exists_but_cannot_be_opened(home):
    VaultStore().put("openai_api_key", FAKE)
    (home / "vault.key").write_text(base64.b64encode(b"w" * 32).decode())
    with pytest.raises(VaultAuthError):
        lookup_secret("openai_api_key")
    with pytest.raises(InputError):
        lookup_secret("bad name")


def test_key_file_is_created_once_and_reused(home):
    store = VaultStore()
    store.put("a", FAKE)
    key = store.paths.key.read_bytes()
    store.put("b", FAKE)
    assert store.paths.key.read_bytes() == key
    assert len(base64.b64decode(key)) == 32


def test_missing_key_file_is_a_clear_error_and_nothing_is_rewritten(home):
    store = VaultStore()
    store.put("a", FAKE)
    before = store.paths.vault.read_bytes()
    store.paths.key.unlink()
    with pytest.raises(VaultError, match="key file .* missing"):
        store.open()
    with pytest.raises(VaultError):
        store.put("b", FAKE)
    assert store.paths.vault.read_bytes() == before
    assert not store.paths.key.exists()  # no new key was made for the old vault


def test_key_file_readable_by_others_is_refused(home):
    store = VaultStore()
    store.put("a", FAKE)
    os.chmod(store.paths.key, 0o644)
    with pytest.raises(VaultError, match="chmod 600"):
        store.open()


def test_env_key_mode_needs_no_key_file_and_wrong_env_key_is_named(home):
    VaultStore({**os.environ, "OPENAI_SKILL_VAULT_KEY": ENV_KEY}).put("a", FAKE)
    assert not (home / "vault.key").exists()
    assert VaultStore({**os.environ, "OPENAI_SKILL_VAULT_KEY": ENV_KEY}).lookup("a") == FAKE
    wrong = base64.b64encode(b"w" * 32).decode()
    with pytest.raises(VaultAuthError, match="OPENAI_SKILL_VAULT_KEY: wrong key/passphrase, or the vault was"):
        VaultStore({**os.environ, "OPENAI_SKILL_VAULT_KEY": wrong}).lookup("a")
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(VaultError, match="base64 of 32"):
            VaultStore({**os.environ, "OPENAI_SKILL_VAULT_KEY": bad}).lookup("a")
    with pytest.raises(VaultError) as info:  # issue 8: say the variable is missing, not the key file
        VaultStore().lookup("a")
    assert "is unlocked with the key in OPENAI_SKILL_VAULT_KEY, which is not set" in info.value.message
    assert "missing" not in info.value.message and "backup" not in info.value.message


def test_passphrase_mode_from_env_and_wrong_passphrase(home):
    env = {**os.environ, "OPENAI_SKILL_VAULT_PASSPHRASE": "fake-canary-passphrase"}
    VaultStore(env, kdf_log_n=10).put("a", FAKE)
    assert not (home / "vault.key").exists()
    assert b"master scrypt 10 8 1 " in (home / "vault").read_bytes()
    assert VaultStore(env).lookup("a") == FAKE
    salt = v.parse((home / "vault").read_bytes()).kdf.salt
    VaultStore(env, kdf_log_n=10).rotate()  # same passphrase, new salt and data key
    assert v.parse((home / "vault").read_bytes()).kdf.salt != salt
    assert VaultStore(env).lookup("a") == FAKE
    with pytest.raises(VaultAuthError, match="passphrase: wrong key/passphrase"):
        VaultStore({**env, "OPENAI_SKILL_VAULT_PASSPHRASE": "fake-wrong-passphrase"}).lookup("a")
    with pytest.raises(VaultError, match="OPENAI_SKILL_VAULT_PASSPHRASE"):
        VaultStore(interactive=False).lookup("a")


def test_passphrase_prompt_when_interactive(home):
    answers = iter(["fake-canary-passphrase", "fake-canary-passphrase", "fake-canary-passphrase"])
    prompts = []

    def getpass(prompt):
        prompts.append(prompt)
        return next(answers)

    VaultStore(interactive=True, getpass=getpass, kdf_log_n=10).put("a", FAKE, passphrase=True)
    assert VaultStore(interactive=True, getpass=getpass).lookup("a") == FAKE
    assert prompts == ["New vault passphrase: ", "Repeat the passphrase: ", "Vault passphrase: "]
    answers = iter(["fake-canary-passphrase", "fake-pass-one", "fake-pass-two"])
    with pytest.raises(InputError, match="differ"):
        VaultStore(interactive=True, getpass=lambda prompt: next(answers), kdf_log_n=10).rotate("passphrase")


def test_short_new_passphrase_is_refused(home):
    with pytest.raises(InputError, match="at least 8"):
        VaultStore({**os.environ, "OPENAI_SKILL_VAULT_PASSPHRASE": "short"}).put("a", FAKE)
    assert not (home / "vault").exists()


def test_real_passphrase_vault_uses_owasp_or_stronger_scrypt(home):
    env = {**os.environ, "OPENAI_SKILL_VAULT_PASSPHRASE": "fake-canary-passphrase"}
    VaultStore(env).put("a", FAKE)  # default parameters: one real scrypt (~0.4 s)
    kdf = v.parse((home / "vault").read_bytes()).kdf
    assert kdf.log_n >= 17 and kdf.r >= 8 and kdf.p >= 1


def test_whole_file_rollback_is_detected_by_the_outside_counter(home):
    store = VaultStore()
    store.put("openai_api_key", "fake-canary-old")
    old = store.paths.vault.read_bytes()
    store.put("openai_api_key", "fake-canary-new")
    store.paths.vault.write_bytes(old)
    with pytest.raises(VaultError, match="rolled back"):
        store.open()
    with pytest.raises(VaultError, match="rolled back"):
        store.put("x", FAKE)  # and never written over
    assert store.paths.vault.read_bytes() == old
    store.paths.generation.unlink()  # what the spec says stays undetectable: counter lost too
    assert store.lookup("openai_api_key") == "fake-canary-old"


def test_another_vault_put_in_place_is_detected(home, tmp_path):
    store = VaultStore()
    store.put("a", FAKE)
    other = VaultStore({**os.environ, "OPENAI_SKILL_HOME": str(tmp_path / "other")})
    other.put("a", FAKE)
    shutil.copy(other.paths.vault, store.paths.vault)
    shutil.copy(other.paths.key, store.paths.key)
    with pytest.raises(VaultError, match="not the vault this folder last wrote"):
        store.open()


def test_a_vault_that_fails_to_open_is_never_overwritten(home):
    store = VaultStore()
    store.put("a", FAKE)
    for damage in (b"", b"garbage", store.paths.vault.read_bytes()[:-5],
                   store.paths.vault.read_bytes().replace(b"generation 1", b"generation 7")):
        store.paths.vault.write_bytes(damage)
        with pytest.raises(VaultError):
            store.put("b", FAKE)
        with pytest.raises(VaultError):
            store.rotate()
        with pytest.raises(VaultError):
            store.remove("a")
        assert store.paths.vault.read_bytes() == damage


def test_format_errors_name_the_file(home):
    store = VaultStore()
    store.put("a", FAKE)
    store.paths.vault.write_bytes(b"")
    with pytest.raises(VaultFormatError, match=r"empty: .*vault$") as info:
        store.open()
    assert info.value.reason == "empty"


def test_rotate_keeps_values_and_changes_every_ciphertext(home):
    store = VaultStore()
    store.put("a", "fake-canary-a")
    store.put("b", "fake-canary-b")
    before = v.parse(store.paths.vault.read_bytes())
    fp = store.open().fingerprint("a")
    store.rotate()
    after = v.parse(store.paths.vault.read_bytes())
    assert after.wrapped_key != before.wrapped_key and after.vault_id == before.vault_id
    assert {e.sealed for e in after.entries}.isdisjoint({e.sealed for e in before.entries})
    assert after.generation == before.generation + 1
    vault = store.open()
    assert (vault.get("a"), vault.get("b")) == ("fake-canary-a", "fake-canary-b")
    assert vault.fingerprint("a") == fp  # same master key: same fingerprint


def test_rotate_between_master_key_modes(home):
    store = VaultStore()
    store.put("a", FAKE)
    old_key = store.paths.key.read_bytes()
    store.rotate("key-file")
    assert store.paths.key.read_bytes() != old_key and mode(store.paths.key) == 0o600
    assert VaultStore().lookup("a") == FAKE

    env = {**os.environ, "OPENAI_SKILL_VAULT_NEW_PASSPHRASE": "fake-canary-passphrase"}
    VaultStore(env, kdf_log_n=10).rotate("passphrase")
    assert not store.paths.key.exists()
    pass_env = {**os.environ, "OPENAI_SKILL_VAULT_PASSPHRASE": "fake-canary-passphrase"}
    assert VaultStore(pass_env).lookup("a") == FAKE

    with pytest.raises(InputError, match="OPENAI_SKILL_VAULT_NEW_KEY"):
        VaultStore(pass_env).rotate("env-key")
    VaultStore({**pass_env, "OPENAI_SKILL_VAULT_NEW_KEY": ENV_KEY}).rotate("env-key")
    assert VaultStore({**os.environ, "OPENAI_SKILL_VAULT_KEY": ENV_KEY}).lookup("a") == FAKE

    VaultStore({**os.environ, "OPENAI_SKILL_VAULT_KEY": ENV_KEY}).rotate("key-file")
    assert VaultStore().lookup("a") == FAKE


def test_interrupted_key_file_rotation_still_opens_and_is_finished_by_the_next_writer(home):
    store = VaultStore()
    store.put("a", FAKE)
    old_key = store.paths.key.read_bytes()
    # The state a kill leaves between "vault written" and "key file renamed":
    new_master = os.urandom(32)
    vault = store.open().rekey(new_master, None)
    vault.generation += 5
    store.paths.pending_key.write_bytes(base64.b64encode(new_master) + b"\n")
    os.chmod(store.paths.pending_key, 0o600)
    store.paths.vault.write_bytes(vault.to_bytes())
    assert store.paths.key.read_bytes() == old_key
    assert VaultStore().lookup("a") == FAKE
    VaultStore().put("b", FAKE)
    assert not store.paths.pending_key.exists()
    assert base64.b64decode(store.paths.key.read_bytes()) == new_master
    # A stale pending key (killed before the vault was written) is simply dropped.
    store.paths.pending_key.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    os.chmod(store.paths.pending_key, 0o600)
    VaultStore().put("c", FAKE)
    assert not store.paths.pending_key.exists() and VaultStore().lookup("c") == FAKE


def test_frozen_fixture_opens_through_the_store(home):
    home.mkdir(mode=0o700)
    for name in ("vault", "vault.key"):
        shutil.copy(FIXTURES / "keyfile" / name, home / name)
    os.chmod(home / "vault.key", 0o600)
    assert lookup_secret("openai_api_key") == CONTENTS["entries"]["openai_api_key"]
    passphrase_home = home.parent / "passphrase-home"
    passphrase_home.mkdir(mode=0o700)
    shutil.copy(FIXTURES / "passphrase" / "vault", passphrase_home / "vault")
    env = {"OPENAI_SKILL_HOME": str(passphrase_home), "OPENAI_SKILL_VAULT_PASSPHRASE": CONTENTS["passphrase"]}
    assert lookup_secret("github_token", env=env) == CONTENTS["entries"]["github_token"]


# ---- several processes ---------------------------------------------------------------------

def _python(code: str, home: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_SKILL_HOME": str(home), "PYTHONPATH": SRC_ROOT}
    return subprocess.Popen([sys.executable, "-c", code], env=env, **popen)


def test_concurrent_writers_lose_no_entry(home):
    VaultStore().put("seed", FAKE)
    writers = 6
    code = ("from openai_skill.secrets.store import VaultStore\n"
            "for i in range(3):\n    VaultStore().put(f'wN-{i}', f'fake-canary-N-{i}')\n")
    procs = [_python(code.replace("N", str(n)), home) for n in range(writers)]
    assert [p.wait(timeout=60) for p in procs] == [0] * writers
    vault = VaultStore().open()
    assert sorted(vault.entries) == sorted(["seed"] + [f"w{n}-{i}" for n in range(writers) for i in range(3)])
    assert vault.get("w3-2") == "fake-canary-3-2"
    assert vault.generation == 1 + writers * 3


WRITER = """
import itertools
from openai_skill.secrets.store import VaultStore
print("ready", flush=True)
for i in itertools.count():
    store = VaultStore()
    store.put(f"k{i % 4}", f"fake-canary-{i}")
    if i % 3 == 0:
        store.rotate("key-file" if i % 2 else None)
    if i % 5 == 4:
        store.remove(f"k{(i + 1) % 4}")
"""


def test_writer_killed_at_random_moments_never_leaves_a_broken_vault(home):
    rng = random.Random(20261125)
    VaultStore().put("k0", "fake-canary-start")
    last_generation = 0
    for _ in range(int(os.environ.get("VAULT_KILL_ROUNDS", "12"))):
        proc = _python(WRITER, home, stdout=subprocess.PIPE)
        proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        vault = VaultStore().open()  # old or new state: opens, authenticates, no rollback alarm
        for name in vault.entries:
            assert vault.get(name).startswith("fake-canary-")
        assert vault.generation >= last_generation
        last_generation = vault.generation
    assert last_generation > 12  # the writers really wrote
    VaultStore().put("after", FAKE)  # and the next writer carries on (and sweeps temp files)
    assert not list(home.glob(".vault-tmp-*"))
