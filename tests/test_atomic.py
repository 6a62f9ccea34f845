"""The one atomic write (`openai_skill.atomic`), as the vault, the keychain record and the spend
caps use it: the new bytes or the old ones, never half; 0600; durable; nothing left behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from support.durability import record_fsyncs_and_renames
from openai_skill import atomic
from openai_skill.errors import VaultError
from openai_skill.secrets import disk
from openai_skill.spend.caps import CAPS_NAME, read_caps, write_caps


@pytest.fixture
def folder(tmp_path):
    """A folder of its own (the autouse fixture keeps HOME and the working folder in tmp_path)."""
    path = tmp_path / "files"
    path.mkdir()
    return path


def test_it_replaces_the_file_whole_and_private(folder):
    target = folder / "state.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    atomic.atomic_write(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the temp file's mode, not the old file's
    assert [p.name for p in folder.iterdir()] == ["state.json"]


def test_the_data_is_fsynced_before_the_rename_and_the_folder_after(folder, monkeypatch):
    events = record_fsyncs_and_renames(monkeypatch)
    target = folder / "state.json"
    atomic.atomic_write(target, b"x")
    (fsync_data, rename, fsync_folder) = events
    assert rename[0] == "replace" and rename[2] == str(target)
    assert Path(rename[1]).parent == folder and Path(rename[1]).name.startswith(".state.json.")
    assert fsync_data == ("fsync", rename[1])       # the bytes, before they take the name
    assert fsync_folder == ("fsync", str(folder))  # the rename itself


def test_every_byte_is_in_the_file_when_it_is_fsynced(folder, monkeypatch):
    """An fsync of a descriptor whose bytes still sit in a userspace buffer makes nothing durable."""
    sizes, real_fsync = [], os.fsync

    def fsync(fd):
        sizes.append(os.fstat(fd).st_size)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic.atomic_write(folder / "state.json", b"x" * 1000)
    assert sizes[0] == 1000


def test_a_temp_prefix_names_the_temp_file(folder, monkeypatch):
    events = record_fsyncs_and_renames(monkeypatch)
    atomic.atomic_write(folder / "vault", b"x", temp_prefix=disk.TEMP_PREFIX)
    assert Path(events[1][1]).name.startswith(disk.TEMP_PREFIX)


@pytest.mark.parametrize("fails", ["write", "fsync", "replace"])
def test_a_failure_leaves_the_target_as_it_was_and_no_temp_file(folder, monkeypatch, fails):
    target = folder / "state.json"
    target.write_bytes(b"old")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if fails == "write":
        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: (os.close(fd), full_disk())[1])
    else:
        monkeypatch.setattr(os, fails, full_disk)
    with pytest.raises(OSError) as caught:
        atomic.atomic_write(target, b"new")
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and [p.name for p in folder.iterdir()] == ["state.json"]


def test_an_interrupt_mid_write_removes_the_temp_file_too(folder, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write(folder / "state.json", b"new")
    monkeypatch.undo()
    assert list(folder.iterdir()) == []


def test_the_vault_turns_a_failure_into_a_vault_error(folder):
    missing = folder / "no-such-folder" / "vault"
    with pytest.raises(VaultError, match=r"cannot write .*vault: No such file or directory; it was left as it was"):
        disk.atomic_write(missing, b"x")


def test_the_caps_file_is_written_through_it(folder, monkeypatch):
    events = record_fsyncs_and_renames(monkeypatch)
    path = folder / CAPS_NAME
    write_caps(path, {"daily": 5.0}, allow_unpriced=True)
    assert read_caps(path) == {"caps": {"daily": 5.0}, "allow_unpriced": True}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"] and events[2] == ("fsync", str(folder))
    write_caps(path, {}, allow_unpriced=False)  # nothing stored: no file, so calls skip the ledger
    assert not path.exists() and list(folder.iterdir()) == []
