"""Bulk checkpoints can be neither planted nor read (issue 16, item 5).

Another user who can write the output's folder pre-creates `OUT.partial/`: a `spool` that is a
link to the victim's vault, or a journal and spool of their own. The run refuses the folder
(another owner, writable by others, holding links) or its journal (MACs under a key in the
config folder), exit 2 with one line, and changes nothing; a folder of the user's own with an
older version's loose modes is tightened; a killed run leaves 0700 / 0600. A "foreign owner" is
real when the suite runs as root (chown to nobody), simulated otherwise (another euid)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.canary import CANARY_KEY
from support.fake_openai import expected_vector

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")

DIMS = 8
VAULT = b"the victim's vault: not to be touched\n" * 8
NOBODY = 65534
WAIT = 60.0


def _embed(cli, source: Path, out: Path, *extra):
    return cli("embed", "--file", source, "--out", out, "--dimensions", DIMS, "--batch-size", 10, "-k", 1,
               "--no-cache", *extra)


def _texts(tmp_path: Path, n: int = 3) -> tuple[Path, list[str]]:
    texts = [f"text number {i}" for i in range(n)]
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in texts))
    return source, texts


def _vault(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    vault = victim / "vault"
    vault.write_bytes(VAULT)
    os.chmod(vault, 0o600)                # as a real vault: nothing about it looks loose
    return vault


def _snapshot(folder: Path) -> dict:
    """Every entry of `folder`: its kind, mode, owner and bytes (links not followed; not the
    lock file's, which names the last run that held it)."""
    found = {".": (stat.S_IMODE(folder.lstat().st_mode), folder.lstat().st_uid)}
    for entry in sorted(folder.iterdir()):
        st = entry.lstat()
        body = (os.readlink(entry) if entry.is_symlink() else None if entry.name == "lock"
                else entry.read_bytes() if entry.is_file() else None)
        found[entry.name] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, body)
    return found


def _refused(result, *words: str) -> None:
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and "a bug" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    for word in words:
        assert word in result.err, result.err


def _attacker_payload(n: int, start: int = 0) -> bytes:
    return "".join(json.dumps({"index": i, "embedding": [6.66] * DIMS}) + "\n"
                   for i in range(start, start + n)).encode()


# --- links ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["spool", "journal"])
def test_a_planted_link_in_the_folder_is_refused_and_its_target_untouched(openai, cli, tmp_path, name):
    source, _texts_ = _texts(tmp_path)
    vault = _vault(tmp_path)
    out = tmp_path / "out.jsonl"
    folder = tmp_path / "out.jsonl.partial"
    folder.mkdir(mode=0o700)
    (folder / name).symlink_to(vault)
    before = _snapshot(folder)
    _refused(_embed(cli, source, out), str(folder / name), "symbolic link", "rm -r")
    assert vault.read_bytes() == VAULT
    assert _snapshot(folder) == before and not out.exists()
    assert openai.embedding_inputs == 0


def test_a_partial_folder_that_is_a_link_is_refused_and_its_target_untouched(openai, cli, tmp_path):
    source, _texts_ = _texts(tmp_path)
    vault = _vault(tmp_path)
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").symlink_to(vault.parent)
    _refused(_embed(cli, source, out), "symbolic link")
    assert sorted(p.name for p in vault.parent.iterdir()) == ["vault"] and vault.read_bytes() == VAULT
    assert openai.embedding_inputs == 0


def test_a_hard_link_to_the_vault_is_refused_and_the_vault_untouched(openai, cli, tmp_path):
    source, _texts_ = _texts(tmp_path)
    vault = _vault(tmp_path)
    folder = tmp_path / "out.jsonl.partial"
    folder.mkdir(mode=0o700)
    os.link(vault, folder / "spool")
    before = _snapshot(folder)
    _refused(_embed(cli, source, tmp_path / "out.jsonl"), "hard link")
    assert vault.read_bytes() == VAULT and openai.embedding_inputs == 0
    assert _snapshot(folder) == before


# --- owner and modes ------------------------------------------------------------------------

def _plant_foreign(folder: Path, monkeypatch) -> None:
    """Make `folder` (and what it holds) another user's: really as root, else by our euid."""
    if os.geteuid() == 0:
        for path in (folder, *folder.iterdir()):
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    else:
        real = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real + 1)


def test_a_folder_another_user_planted_with_a_forged_run_is_refused_untouched(openai, cli, tmp_path, monkeypatch):
    """The issue's reproduction: a journal and spool claiming the 3 texts, in a folder of another
    user's (0755, as a umask 022 makes it), resumed nothing and wrote none of its vectors."""
    source, texts = _texts(tmp_path)
    out = tmp_path / "out.jsonl"
    folder = tmp_path / "out.jsonl.partial"
    folder.mkdir(mode=0o755)
    payload = _attacker_payload(3)
    (folder / "spool").write_bytes(payload)
    (folder / "journal").write_text(json.dumps({"format": "openai-skill-embed-checkpoint", "version": 1}) + "\n"
                                    + json.dumps({"chunk": 0, "first": 0, "count": 3, "offset": 0,
                                                  "length": len(payload), "mac": "0" * 64}) + "\n")
    _plant_foreign(folder, monkeypatch)
    before = _snapshot(folder)
    _refused(_embed(cli, source, out), str(folder), "another user", "pick another --out")
    assert _snapshot(folder) == before and not out.exists()
    assert openai.embedding_inputs == 0


@pytest.mark.parametrize("foreign", ["the folder", "a file in it"])
def test_an_empty_folder_of_another_user_or_a_file_of_theirs_in_ours_is_refused(openai, cli, tmp_path, foreign):
    source, _texts_ = _texts(tmp_path)
    folder = tmp_path / "out.jsonl.partial"
    folder.mkdir(mode=0o700)
    theirs = folder if foreign == "the folder" else folder / "journal"
    if foreign == "a file in it":
        theirs.write_bytes(b"")
        os.chmod(theirs, 0o600)
    if os.geteuid() != 0:
        pytest.skip("another user's file needs root (chown); the folder case is simulated elsewhere")
    os.chown(theirs, NOBODY, NOBODY)
    before = _snapshot(folder)
    _refused(_embed(cli, source, tmp_path / "out.jsonl"), str(theirs), "another user")
    assert _snapshot(folder) == before and openai.embedding_inputs == 0


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_folder_others_can_write_is_refused_untouched(openai, cli, tmp_path, mode):
    source, _texts_ = _texts(tmp_path)
    folder = tmp_path / "out.jsonl.partial"
    folder.mkdir()
    os.chmod(folder, mode)
    before = _snapshot(folder)
    _refused(_embed(cli, source, tmp_path / "out.jsonl"), "writable by other users")
    assert _snapshot(folder) == before and openai.embedding_inputs == 0


def test_an_own_folder_with_an_older_versions_modes_is_tightened_and_resumed(tmp_path):
    from openai_skill.jobs.bulk.checkpoint import Checkpoint

    out = tmp_path / "out.jsonl"
    folder = tmp_path / "out.jsonl.partial"
    header = {"input": {"sha256": "x"}, "dimensions": DIMS}
    first = Checkpoint(out, header)
    first.record(0, 0, 1, b"a\n")
    first.close()
    folder.mkdir(exist_ok=True)
    (folder / "stdin").write_bytes(b"text\n")
    os.chmod(folder, 0o755)
    for name in ("journal", "spool", "stdin"):
        os.chmod(folder / name, 0o644)
    before = _descriptors()
    again = Checkpoint(out, header)
    try:
        assert len(_descriptors() - before) == 4            # the folder, its lock, journal and spool
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {
            "journal": 0o600, "spool": 0o600, "stdin": 0o600, "lock": 0o600}
        assert sorted(again.records) == [0]
    finally:
        again.close()


def test_a_killed_run_leaves_a_0700_folder_of_0600_files(openai, tmp_path):
    texts = [f"text number {i}" for i in range(400)]
    openai.latency = 0.02
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in texts))
    folder = tmp_path / "out.jsonl.partial"
    journal = folder / "journal"
    args = [str(Path(sys.executable).parent / "openai-skill"), "embed", "--file", str(source),
            "--out", str(tmp_path / "out.jsonl"), "--dimensions", str(DIMS), "--batch-size", "10", "-k", "1",
            "--no-cache"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        deadline = time.monotonic() + WAIT
        while not (journal.exists() and journal.read_bytes().count(b"\n") >= 3):   # header + 2 chunks
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "gave up waiting for the run's first chunks"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=WAIT)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in folder.iterdir()}
    assert {"journal", "spool", "lock"} <= set(modes) and set(modes.values()) == {0o600}, modes


# --- authentication -------------------------------------------------------------------------

def _half_run(cli, openai, tmp_path) -> tuple[Path, Path, list[str]]:
    """A real run of 20 texts that fails at its last chunk (texts 10-19) once chunk 0 is in its
    journal: no request of it is still on its way when it returns."""
    source, texts = _texts(tmp_path, 20)
    out = tmp_path / "out.jsonl"
    journal = tmp_path / "out.jsonl.partial" / "journal"
    answer = openai.embeddings

    def after_chunk_0(body):
        if texts[15] in body["input"]:
            deadline = time.monotonic() + WAIT
            while not (journal.exists() and journal.read_bytes().count(b"\n") >= 2):
                assert time.monotonic() < deadline, "chunk 0 never reached the journal"
                time.sleep(0.01)
        return answer(body)

    openai.embeddings, openai.fail_texts = after_chunk_0, {texts[15]}
    assert _embed(cli, source, out).code != 0
    openai.embeddings, openai.fail_texts = answer, set()
    return source, out, texts


def _journal(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "journal").read_text().splitlines()]


@pytest.mark.parametrize("forgery", ["spool bytes", "journal line", "whole run"])
def test_a_forged_or_changed_journal_or_spool_is_refused_and_none_of_its_vectors_written(
        openai, cli, tmp_path, forgery):
    source, out, texts = _half_run(cli, openai, tmp_path)
    folder = tmp_path / "out.jsonl.partial"
    lines = _journal(folder)
    finished = [line.get("chunk") for line in lines[1:]]
    assert finished == [0]
    spool = folder / "spool"
    if forgery == "spool bytes":          # the same length: only a MAC over the bytes notices
        data = spool.read_bytes()
        spool.write_bytes(data.translate(bytes.maketrans(b"23", b"32")))
        assert spool.read_bytes() != data
    elif forgery == "journal line":       # a chunk that never ran, pointing at chunk 0's bytes
        forged = {**lines[1], "chunk": 1, "first": 10}
        with open(folder / "journal", "a") as journal:
            journal.write(json.dumps(forged) + "\n")
    else:                                 # the issue's: every text "done", the attacker's vectors
        payloads = [_attacker_payload(10, start=10 * chunk) for chunk in range(2)]
        spool.write_bytes(b"".join(payloads))
        entries, offset = [], 0
        for chunk, payload in enumerate(payloads):
            entries.append({"chunk": chunk, "first": 10 * chunk, "count": 10, "offset": offset,
                            "length": len(payload), "width": DIMS * 4, "mac": "0" * 64})
            offset += len(payload)
        (folder / "journal").write_text("".join(json.dumps(line) + "\n" for line in [lines[0], *entries]))
    paid = openai.embedding_inputs
    before = _snapshot(folder)
    _refused(_embed(cli, source, out), "cannot be verified", "--restart")
    assert not out.exists() and openai.embedding_inputs == paid
    assert _snapshot(folder) == before

    again = _embed(cli, source, out, "--restart")
    assert again.code == 0, again.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(row["embedding"] == pytest.approx(expected_vector(text, DIMS), rel=1e-6)
               for row, text in zip(rows, texts, strict=True)) and len(rows) == 20


def test_a_checkpoint_copied_from_another_output_does_not_verify(tmp_path):
    import shutil

    from openai_skill.errors import InputError
    from openai_skill.jobs.bulk.checkpoint import Checkpoint

    header = {"input": {"sha256": "x"}, "dimensions": DIMS}
    first = Checkpoint(tmp_path / "a.jsonl", header)
    first.record(0, 0, 1, b"a\n")
    first.close()
    shutil.copytree(tmp_path / "a.jsonl.partial", tmp_path / "b.jsonl.partial")
    with pytest.raises(InputError, match="cannot be verified"):
        Checkpoint(tmp_path / "b.jsonl", header)
    resumed = Checkpoint(tmp_path / "a.jsonl", header)      # where it belongs, it still verifies
    assert sorted(resumed.records) == [0]
    resumed.close()


def test_the_key_lives_in_the_config_folder_0600_and_is_never_shown(openai, cli, tmp_path):
    source, out, _texts_ = _half_run(cli, openai, tmp_path)
    key_file = tmp_path / "home" / ".config" / "openai-skill" / "checkpoint.key"
    key = key_file.read_bytes()
    assert len(key) == 32 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    folder = tmp_path / "out.jsonl.partial"
    held = b"".join(p.read_bytes() for p in folder.iterdir())
    assert key not in held and key.hex().encode() not in held
    done = _embed(cli, source, out)
    assert done.code == 0, done.err
    assert key_file.read_bytes() == key                   # made once, kept
    for text in (done.out, done.err):
        assert key.hex() not in text and CANARY_KEY not in text


@pytest.mark.parametrize("problem", ["loose", "link", "short", "folder", "cannot be made"])
def test_a_key_file_that_cannot_be_trusted_is_refused(openai, cli, tmp_path, problem):
    source, _texts_ = _texts(tmp_path)
    key_file = tmp_path / "home" / ".config" / "openai-skill" / "checkpoint.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    words = "Remove it"
    if problem == "link":
        key_file.symlink_to(_vault(tmp_path))
    elif problem == "folder":
        key_file.mkdir()
    elif problem == "cannot be made":            # the config folder is a file
        key_file.parent.rmdir()
        key_file.parent.write_text("")
        words = "cannot create the checkpoint key"
    else:
        key_file.write_bytes(os.urandom(32 if problem == "loose" else 5))
        os.chmod(key_file, 0o644 if problem == "loose" else 0o600)
    _refused(_embed(cli, source, tmp_path / "out.jsonl"), str(key_file), words)
    assert openai.embedding_inputs == 0


def test_the_key_is_made_once_even_by_racing_runs_and_one_of_another_user_is_refused(tmp_path, monkeypatch):
    from openai_skill.jobs.bulk import seal

    path = tmp_path / "home" / "deeper" / "config" / "checkpoint.key"   # missing folders are made
    before = _descriptors()
    key = seal.load_key(path)
    assert _descriptors() == before
    assert seal.load_key(path) == key and len(key) == seal.KEY_BYTES
    seal._create(path)                    # a run that also found no key: the first one's stays
    assert path.read_bytes() == key and [p.name for p in path.parent.iterdir()] == ["checkpoint.key"]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.hex() not in repr(seal.Seal(key, tmp_path / "o", {}))
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    else:
        real = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real + 1)
    with pytest.raises(seal.CheckpointError, match="another user"):
        seal.load_key(path)


# --- no descriptor left behind ----------------------------------------------------------------

def _descriptors() -> set[str]:
    import gc

    gc.collect()  # what earlier tests left to the collector must not close during the count
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_a_checkpoint_that_fails_to_open_its_spool_leaks_nothing_and_frees_the_lock(tmp_path, monkeypatch):
    from openai_skill.errors import SkillError
    from openai_skill.jobs.bulk.checkpoint import Checkpoint, lock_output

    out = tmp_path / "out.jsonl"
    header = {"input": {"sha256": "x"}}
    Checkpoint(out, header).close()
    (tmp_path / "out.jsonl.partial" / "spool").unlink()
    (tmp_path / "out.jsonl.partial" / "spool").mkdir()                 # cannot be opened as a file
    before = _descriptors()
    with pytest.raises(SkillError):
        Checkpoint(out, header)
    assert _descriptors() == before
    (tmp_path / "out.jsonl.partial" / "spool").rmdir()

    from openai_skill.jobs.bulk import private_folder

    real = private_folder.PrivateFolder.open_file

    def failing(self, name, flags, **kwargs):          # the journal opens, then the spool fails
        if name == "spool":
            raise private_folder.CheckpointError("cannot open spool: injected")
        return real(self, name, flags, **kwargs)

    monkeypatch.setattr(private_folder.PrivateFolder, "open_file", failing)
    for restart in (False, True):
        with pytest.raises(SkillError, match="injected"):
            Checkpoint(out, header, restart=restart)
        assert _descriptors() == before
    monkeypatch.undo()
    lock_output(out).release()                            # the lock was freed each time


def test_runs_starting_as_others_finish_never_lose_their_folder(tmp_path):
    """A finishing run removes the folder while the next one opens it: every run either holds a
    folder it can write or is refused as busy (no stray error, no lock file of another's removed)."""
    import threading

    from openai_skill.jobs.bulk.checkpoint import lock_output
    from openai_skill.jobs.bulk.run_lock import OutputBusyError

    out = tmp_path / "o.jsonl"
    errors: list[str] = []
    done = []

    def runs():
        for _ in range(300):
            try:
                held = lock_output(out)
            except OutputBusyError:
                continue
            except Exception as exc:  # noqa: BLE001 (any other failure is the finding)
                errors.append(repr(exc))
                continue
            try:
                os.close(held.files.open_file("journal", os.O_RDWR, create=True))
                done.append(1)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"while held: {exc!r}")
            held.files.remove()
            held.release()

    threads = [threading.Thread(target=runs) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert errors == [] and done


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
@pytest.mark.parametrize("planted", ["others can write", "a link inside", "cannot be listed"])
def test_a_refused_folder_leaves_no_descriptor_open(tmp_path, monkeypatch, planted):
    from openai_skill.errors import InputError
    from openai_skill.jobs.bulk import private_folder
    from openai_skill.jobs.bulk.checkpoint import lock_output

    folder = tmp_path / "out.jsonl.partial"
    folder.mkdir(mode=0o700)
    if planted == "others can write":
        os.chmod(folder, 0o777)
    elif planted == "a link inside":
        (folder / "spool").symlink_to(_vault(tmp_path))
    else:
        def unlistable(self):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(private_folder.PrivateFolder, "names", unlistable)
    before = _descriptors()
    with pytest.raises(InputError, match="cannot check" if planted == "cannot be listed" else "nothing in it"):
        lock_output(tmp_path / "out.jsonl")
    assert _descriptors() == before


@pytest.mark.parametrize("trouble", ["parent is a file", "open denied", "removed each time"])
def test_a_folder_that_cannot_be_made_or_opened_is_a_checkpoint_error(tmp_path, monkeypatch, trouble):
    from openai_skill.errors import InputError
    from openai_skill.jobs.bulk.checkpoint import lock_output

    out = tmp_path / "deep" / "er" / "o.jsonl"
    lock_output(out).release()                              # missing parents are made
    assert (tmp_path / "deep" / "er").is_dir()
    if trouble == "parent is a file":
        (tmp_path / "file").write_text("")
        out, words = tmp_path / "file" / "o.jsonl", "cannot create"
    else:
        real = os.open
        error = PermissionError(13, "Permission denied") if trouble == "open denied" else FileNotFoundError(2, "gone")

        def failing(path, *args, **kwargs):
            if str(path).endswith(".partial"):
                raise error
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", failing)
        words = "cannot open" if trouble == "open denied" else "removed 100 times"
    with pytest.raises(InputError, match=words):
        lock_output(out)


@pytest.mark.parametrize(("swapped", "words"), [("link", "symbolic link"), ("hard link", "hard link"),
                                                ("fifo", "not a regular file"), ("foreign", "another user")])
def test_a_file_swapped_in_after_the_folder_was_checked_is_refused_when_opened(tmp_path, swapped, words):
    from openai_skill.jobs.bulk.private_folder import CheckpointError, PrivateFolder

    if swapped == "foreign" and os.geteuid() != 0:
        pytest.skip("another user's file needs root (chown)")
    vault = _vault(tmp_path)
    folder = PrivateFolder.open(tmp_path / "out.jsonl.partial")
    try:
        name = folder.path / "spool"              # planted between the check and the open
        if swapped == "link":
            name.symlink_to(vault)
        elif swapped == "hard link":
            os.link(vault, name)
        elif swapped == "fifo":
            os.mkfifo(name, 0o600)
        else:
            name.write_bytes(b"")
            os.chown(name, NOBODY, NOBODY)
        before = _descriptors()
        with pytest.raises(CheckpointError, match=words):
            folder.open_file("spool", os.O_RDWR, create=True)
        assert _descriptors() == before and vault.read_bytes() == VAULT
    finally:
        folder.close()
