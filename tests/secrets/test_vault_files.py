"""The vault's files under hostile or failing conditions: not a regular file, absurdly large,
a symlinked lock, a read-only folder, a full disk; and the fsyncs that make writes durable."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from openai_skill.errors import VaultError
from openai_skill.secrets import disk as files
from support.durability import record_fsyncs_and_renames
from support.key_lookup import lookup_secret
from openai_skill.secrets.store import VaultStore

FAKE = "fake-canary-secret-value"


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "vault-home"
    monkeypatch.setenv("OPENAI_SKILL_HOME", str(folder))
    return folder


def _no_temp_files(folder: Path) -> bool:
    return not list(folder.glob(files.TEMP_PREFIX + "*"))


# ---- not a regular file, or absurdly large -------------------------------------------------

@pytest.mark.parametrize("which", ["vault", "vault.key", "vault.generation"])
def test_a_symlink_to_dev_zero_is_refused_not_read_forever(home, which):
    VaultStore().put("a", FAKE)
    (home / which).unlink()
    (home / which).symlink_to("/dev/zero")
    with pytest.raises(VaultError, match="not a regular file .a device."):
        lookup_secret("a")


@pytest.mark.parametrize("which", ["vault", "vault.key", "vault.generation"])
def test_a_fifo_is_refused_without_blocking(home, which):
    VaultStore().put("a", FAKE)
    (home / which).unlink()
    os.mkfifo(home / which, 0o600)
    outcome = {}

    def read():
        try:
            lookup_secret("a")
        except VaultError as exc:
            outcome["error"] = exc.message

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)      # refused at once; a blocked open would wait forever
    if reader.is_alive():  # unblock the thread: open the FIFO's other end
        os.close(os.open(home / which, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"reading a FIFO {which} blocked")
    assert "not a regular file (a FIFO)" in outcome["error"]


def test_a_folder_in_place_of_the_vault_is_refused(home):
    VaultStore().put("a", FAKE)
    (home / "vault").unlink()
    (home / "vault").mkdir()
    with pytest.raises(VaultError, match="not a regular file .a folder."):
        lookup_secret("a")


@pytest.mark.parametrize("which, size", [("vault", 4 * 1024 * 1024 + 1), ("vault.key", 4097),
                                         ("vault.generation", 4097)])
def test_absurdly_large_files_are_refused_before_reading(home, which, size):
    VaultStore().put("a", FAKE)
    with open(home / which, "r+b") as f:
        f.truncate(size)  # sparse: costs no disk
    with pytest.raises(VaultError, match=f"larger than {size - 1} bytes"):
        lookup_secret("a")


def test_the_lock_file_is_never_followed_through_a_symlink(home, tmp_path):
    VaultStore().put("a", FAKE)
    target = tmp_path / "elsewhere"
    target.write_text("do not touch")
    (home / "vault.lock").unlink()
    (home / "vault.lock").symlink_to(target)
    for attempt in (lambda: VaultStore().put("b", FAKE), lambda: lookup_secret("a")):
        with pytest.raises(VaultError, match="lock file .* is a symbolic link"):
            attempt()
    assert target.read_text() == "do not touch"


# ---- read-only folder, full disk ------------------------------------------------------------

def test_read_only_folder_is_a_vault_error_and_changes_nothing(home, monkeypatch):
    """Simulated (EROFS on every file created in the folder): works as root too."""
    VaultStore().put("a", FAKE)
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(home)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    for write in (lambda s: s.put("b", FAKE), lambda s: s.remove("a"), lambda s: s.rotate(),
                  lambda s: s.rotate("key-file")):
        with pytest.raises(VaultError, match="Read-only file system"):
            write(VaultStore())
    assert lookup_secret("a") == FAKE  # readers still read (without creating anything)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through a 0500 folder; the EROFS test covers root")
def test_really_read_only_folder(home):
    VaultStore().put("a", FAKE)
    os.chmod(home, 0o500)
    try:
        with pytest.raises(VaultError, match="Permission denied"):
            VaultStore().put("b", FAKE)
        assert lookup_secret("a") == FAKE
    finally:
        os.chmod(home, 0o700)


def test_full_disk_is_a_clean_error_and_the_vault_survives(home, installed_cli):
    """A real short write: RLIMIT_FSIZE makes the kernel refuse bytes past the limit (EFBIG)."""
    VaultStore().put("openai_api_key", "sk-proj-" + "f" * 40)
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    limit = len(before["vault"]) + 200

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    exe = Path(sys.executable).parent / "openai-skill"
    proc = subprocess.run([str(exe), "--json", "setup", "--name", "big"], input="fake-canary-" + "b" * 5000,
                          capture_output=True, text=True, env=dict(os.environ), preexec_fn=small_disk, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("openai-skill: cannot write ") and "File too large" in proc.stderr
    assert "Traceback" not in proc.stderr and json.loads(proc.stdout)["error"]["type"]
    assert {p.name: p.read_bytes() for p in home.iterdir()} == before and _no_temp_files(home)
    assert lookup_secret("openai_api_key") == "sk-proj-" + "f" * 40


# ---- durability -------------------------------------------------------------------------------

def test_every_write_fsyncs_the_temp_file_before_the_rename_and_the_folder_after(home, monkeypatch):
    events = record_fsyncs_and_renames(monkeypatch)
    store = VaultStore()
    store.put("a", FAKE)
    store.rotate("key-file")
    replaced = [i for i, e in enumerate(events) if e[0] == "replace"]
    targets = [Path(events[i][2]).name for i in replaced]
    assert targets == ["vault.key", "vault", "vault.generation",          # first put
                       "vault.key.new", "vault", "vault.generation", "vault.key"]  # rotate --to-keyfile
    for i in replaced:
        _, src, dst = events[i]
        if Path(src).name.startswith(files.TEMP_PREFIX):
            assert events[i - 1] == ("fsync", src), (events[i - 1], src)  # the data, before the rename
        assert events[i + 1] == ("fsync", str(home)), events[i + 1]        # the rename itself


# ---- edges found by mutation testing (tools/mutate.py) -------------------------------------

def test_a_file_that_grows_past_its_cap_while_read_is_refused():
    """/proc/self/status says size 0 and then has about 1 KiB: the cap holds on what is read."""
    with pytest.raises(VaultError, match="larger than 100 bytes"):
        files.read_file(Path("/proc/self/status"), 100, "the test file")
    assert len(files.read_file(Path("/proc/self/status"), 1 << 20, "the test file")) > 100


def test_a_symlink_loop_in_place_of_the_vault_is_a_clean_error(home):
    VaultStore().put("a", FAKE)
    (home / "vault").unlink()
    (home / "vault").symlink_to(home / "vault")
    with pytest.raises(VaultError, match="cannot read the vault .*symbolic links"):
        lookup_secret("a")


def test_an_unreadable_vault_is_reported_not_taken_for_no_vault(home, monkeypatch):
    VaultStore().put("a", FAKE)
    vault = str(home / "vault")
    real_stat, real_open = os.stat, os.open

    def denied(real):
        def call(path, *args, **kwargs):
            if str(path) == vault:
                raise PermissionError(errno.EACCES, "Permission denied", vault)
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "stat", denied(real_stat))
    monkeypatch.setattr(os, "open", denied(real_open))
    with pytest.raises(VaultError, match="cannot read the vault .*Permission denied"):
        lookup_secret("a")


def test_reading_and_writing_the_vault_leave_no_descriptor_open(home, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_VAULT_PASSPHRASE", "fake-canary-passphrase")
    VaultStore(kdf_log_n=10).put("a", FAKE)  # a passphrase vault: the header is peeked too
    for i in range(20):
        assert lookup_secret("a") == FAKE
        VaultStore().put("b", f"{FAKE}-{i}")  # writes too: temp files, the folder fsync, the lock
    # Nothing left open in the test's folders (the vault, its key, lock and temp files, the
    # folder itself). Not a count of every descriptor: other tests' servers may still be
    # closing theirs on a loaded machine (the count once differed by 4 that way).
    assert _open_under(home.parent) == []


def _open_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target == str(folder) or target.startswith(str(folder) + os.sep):
            found.append(target)
    return found


def test_a_reader_of_a_vault_copied_in_without_its_lock_file_creates_it(home):
    VaultStore().put("a", FAKE)
    (home / "vault.lock").unlink()
    assert lookup_secret("a") == FAKE
    assert (home / "vault.lock").is_file() and (home / "vault.lock").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused(home, kind):
    VaultStore().put("a", FAKE)
    (home / "vault.lock").unlink()
    os.mkfifo(home / "vault.lock") if kind == "fifo" else (home / "vault.lock").mkdir()
    for attempt in (lambda: lookup_secret("a"), lambda: VaultStore().put("b", FAKE)):
        with pytest.raises(VaultError, match="lock file .* (is not a regular file|Is a directory)"):
            attempt()


def test_a_reader_gives_up_on_a_writer_that_never_finishes_with_a_clear_error(home, monkeypatch):
    import fcntl

    from openai_skill.secrets import locking

    VaultStore().put("a", FAKE)
    monkeypatch.setattr(locking, "LOCK_TIMEOUT", 0.3)
    fd = os.open(home / "vault.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer holding the lock (another open file description)
    try:
        with pytest.raises(VaultError, match=r"could not lock .* within 0.3 s: another openai-skill is still writing"):
            lookup_secret("a")
    finally:
        os.close(fd)
    assert lookup_secret("a") == FAKE


def test_a_lock_the_system_refuses_is_a_vault_error(home, monkeypatch):
    import fcntl

    VaultStore().put("a", FAKE)

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    for attempt in (lambda: lookup_secret("a"), lambda: VaultStore().put("b", FAKE)):
        with pytest.raises(VaultError, match="could not lock .*: No locks available"):
            attempt()
