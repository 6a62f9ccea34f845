"""The OS keychain as a key source, through the `keyring` library (the `keychain` extra).

`openai-skill setup --keychain` stores the key in the system keychain (service
`openai-skill`, user = the entry name) and writes a small record beside the vault,
`keychain.json`, naming the entry and the origins it may be sent to: a keychain key is
origin-bound like a vault key. The chain consults `keyring` only when that record exists,
so no other path pays for importing it (and a headless box without a keyring backend never
sees an error it did not ask for).

Record format (JSON, 0600, written atomically, at most 64 KiB):
    {"version": 1, "entries": {"openai_api_key": {"origins": ["https://api.openai.com"]}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import CredentialsError, InputError, VaultError
from ..secret import Secret
from ..urls import is_origin
from . import disk
from .binding import check_origin

SERVICE = "openai-skill"
RECORD_NAME = "keychain.json"
RECORD_VERSION = 1
MAX_RECORD_BYTES = 64 * 1024
INSTALL_HINT = "pip install 'openai-skill[keychain]'"


def record_path(env: Mapping[str, str]) -> Path:
    return disk.Paths.from_env(env).folder / RECORD_NAME


def read_record(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """{entry name: its origins} from the record; {} when there is no record."""
    path = record_path(env)
    data = disk.read_file(path, MAX_RECORD_BYTES, "the keychain record")
    if data is None:
        return {}
    try:
        record = json.loads(data.decode("utf-8"))
        if record.get("version") != RECORD_VERSION:
            raise ValueError("unknown version")
        entries = {}
        for name, entry in record["entries"].items():
            origins = tuple(entry["origins"])
            if not origins or not all(is_origin(o) for o in origins):
                raise ValueError("bad origins")
            entries[str(name)] = origins
        return entries
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise VaultError(f"the keychain record {path} is not valid; store the key again with "
                         "`openai-skill setup --keychain`, or delete the file") from None


def write_record(env: Mapping[str, str], entries: Mapping[str, Sequence[str]]) -> None:
    path = record_path(env)
    disk.prepare_folder(path.parent)
    body = {"version": RECORD_VERSION,
            "entries": {name: {"origins": sorted(set(origins))} for name, origins in sorted(entries.items())}}
    disk.atomic_write(path, (json.dumps(body, indent=1) + "\n").encode("utf-8"))


def _keyring():
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise CredentialsError(f"the keychain holds the API key (its record is in the config folder), but the "
                               f"`keyring` package is not installed: {INSTALL_HINT}") from None
    return keyring


def store(env: Mapping[str, str], name: str, secret: Secret, origin: str) -> tuple[str, ...]:
    """Put `secret` in the keychain under `name`, bound to `origin` (joined to the origins it
    already has); return the entry's origins."""
    if not is_origin(origin):
        raise InputError(f"{origin!r} is not an origin (https://host[:port])")
    keyring = _keyring()
    try:
        keyring.set_password(SERVICE, name, secret.reveal())
    except keyring.errors.KeyringError as exc:
        raise CredentialsError(f"the system keychain refused the key ({type(exc).__name__}); nothing was "
                               "recorded. Use the vault instead: `openai-skill setup`") from None
    entries = dict(read_record(env))
    entries[name] = tuple(sorted(set(entries.get(name, ())) | {origin}))
    write_record(env, entries)
    return entries[name]


def remove(env: Mapping[str, str], name: str) -> bool:
    entries = dict(read_record(env))
    if name not in entries:
        return False
    keyring = _keyring()
    try:
        keyring.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        pass  # already gone from the keychain: the record goes too
    except keyring.errors.KeyringError as exc:
        raise CredentialsError(f"the system keychain refused to delete the key ({type(exc).__name__})") from None
    del entries[name]
    if entries:
        write_record(env, entries)
    else:
        disk.remove(record_path(env))
    return True


class KeychainKey:
    """The keychain entry, bound to the origins the record names; silent without a record."""

    name = "the OS keychain"

    def __init__(self, env: Mapping[str, str], entry: str):
        self.env, self.entry = env, entry

    def key_for(self, origin: str) -> Secret | None:
        origins = read_record(self.env).get(self.entry)
        if origins is None:
            return None  # no record: keyring is never imported
        check_origin("the OS keychain", self.entry, origins, origin)
        keyring = _keyring()
        try:
            value = keyring.get_password(SERVICE, self.entry)
        except keyring.errors.KeyringError as exc:
            raise CredentialsError(f"the system keychain could not be read ({type(exc).__name__}); "
                                   "unlock it, or store the key in the vault: `openai-skill setup`") from None
        if value is None:
            raise CredentialsError(f"the keychain record names {self.entry!r}, but the system keychain has no "
                                   "such key; store it again with `openai-skill setup --keychain`")
        return Secret(value, "the OS keychain")


__all__ = ["KeychainKey", "SERVICE", "read_record", "store", "remove", "record_path"]
