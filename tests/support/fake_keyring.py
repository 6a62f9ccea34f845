"""Keyring backends for the keychain tests: plugged into the real `keyring` library through its
backend interface, so the skill's calls go through keyring exactly as they would to the macOS
Keychain or the Secret Service.

In-process: `use(backend)` (the `keyring_backend` fixture does it). In a subprocess: set
PYTHON_KEYRING_BACKEND to `support.fake_keyring.FileKeyring` (or `...BrokenKeyring`) with
tests/ on PYTHONPATH; `subprocess_env()` builds those variables.

Every backend here has priority -1: keyring's own "no backend" (fail.Keyring, priority 0)
beats it, so it is never picked on its own, only when a test names it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

FILE_ENV = "TEST_KEYRING_FILE"        # FileKeyring's store (a JSON file)
FAILURE_ENV = "TEST_KEYRING_FAILURE"  # BrokenKeyring's failure: "locked" or "foreign"
TESTS = Path(__file__).resolve().parents[1]  # where `support` is importable from


class MemoryKeyring(KeyringBackend):
    """Passwords in a dict; `calls` records what was asked (service, user), never a value."""

    priority = -1

    def __init__(self):
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str, str]] = []

    def get_password(self, service, username):
        self.calls.append(("get", service, username))
        return self.passwords.get((service, username))

    def set_password(self, service, username, password):
        self.calls.append(("set", service, username))
        self.passwords[(service, username)] = password

    def delete_password(self, service, username):
        self.calls.append(("delete", service, username))
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class FileKeyring(MemoryKeyring):
    """MemoryKeyring kept in the JSON file $TEST_KEYRING_FILE, so a test can see what a
    subprocess stored (and hand it a keychain that already holds a key)."""

    def __init__(self, path: str | os.PathLike | None = None):
        super().__init__()
        self.path = Path(path or os.environ[FILE_ENV])
        if self.path.exists():
            self.passwords = {tuple(k.split("\n", 1)): v for k, v in json.loads(self.path.read_text()).items()}

    def _save(self):
        self.path.write_text(json.dumps({"\n".join(k): v for k, v in self.passwords.items()}))
        self.path.chmod(0o600)

    def set_password(self, service, username, password):
        super().set_password(service, username, password)
        self._save()

    def delete_password(self, service, username):
        super().delete_password(service, username)
        self._save()


class ForeignBackendError(Exception):
    """What a backend library raises that is not a keyring error (a D-Bus or OS failure);
    its message quotes what it was given, as some do."""


class BrokenKeyring(KeyringBackend):
    """Every call fails: "locked" raises keyring's KeyringLocked, "foreign" a ForeignBackendError
    whose message holds the password it was given."""

    priority = -1

    def __init__(self, failure: str | None = None):
        super().__init__()
        self.failure = failure or os.environ.get(FAILURE_ENV, "locked")

    def _fail(self, password=None):
        if self.failure == "foreign":
            raise ForeignBackendError(f"org.freedesktop.DBus.Error: could not store {password!r}")
        raise KeyringLocked("the keychain is locked")

    def get_password(self, service, username):
        self._fail()

    def set_password(self, service, username, password):
        self._fail(password)

    def delete_password(self, service, username):
        self._fail()


def use(backend: KeyringBackend, monkeypatch) -> KeyringBackend:
    """Make `backend` keyring's backend in this process until the test ends."""
    import keyring.core

    # keyring.set_keyring has no "unset": monkeypatch puts the previous one (often None,
    # "not chosen yet") back afterwards.
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
    return backend


def subprocess_env(backend: str = "FileKeyring", **extra: str) -> dict[str, str]:
    """Variables that make a subprocess's keyring use `support.fake_keyring.<backend>`."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHON_KEYRING_BACKEND": f"support.fake_keyring.{backend}", "PYTHONPATH": path, **extra}
