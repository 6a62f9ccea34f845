"""The OS keychain as a key source, through the `keyring` library (the `keychain` extra).

`openai-skill setup --keychain` stores the key in the system keychain (service
`openai-skill`, user = the entry name) and writes a small record beside the vault,
`keychain.json`, naming the entry and the origins it may be sent to: a keychain key is
origin-bound like a vault key. The chain consults `keyring` only when that record exists,
so no other path pays for importing it (and a headless box without a keyring backend never
sees an error it did not ask for).

Record format (JSON, 0600, written atomically, at most 64 KiB):
    {"version": 1, "entries": {"openai_api_key": {"origins": ["https://api.openai.com"]}}}

The record never holds the key. It is rewritten under the vault's writers' lock: the vault's
writers sweep leftover temp files in the folder, and must not sweep ours mid-write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..errors import CredentialsError, InputError, VaultError
from ..secret import Secret
from ..urls import is_origin, origin_of
from . import disk, locking
from .binding import KEYCHAIN, check_origin
from .names import is_name

SERVICE = "openai-skill"
RECORD_NAME = "keychain.json"
RECORD_VERSION = 1
MAX_RECORD_BYTES = 64 * 1024
INSTALL_HINT = "pip install 'openai-skill[keychain]'"
WHERE = KEYCHAIN  # the source's name: `vault list`, Client.key_source, errors


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
        if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
            raise ValueError(f"expected version {RECORD_VERSION}")
        if not isinstance(record.get("entries"), dict):
            raise ValueError("expected an `entries` object")
        entries = {}
        for name, entry in record["entries"].items():
            origins = entry.get("origins") if isinstance(entry, dict) else None
            if not is_name(name) or not isinstance(origins, list) or not origins \
                    or not all(is_origin(o) for o in origins):
                raise ValueError("expected each entry to be a valid name with a non-empty list of origins")
            entries[name] = tuple(origins)
        return entries
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        # Only our own wording: the file is not ours to quote (someone may have pasted a key in it).
        why = str(exc) if str(exc).startswith("expected") else "not JSON in UTF-8"
        raise VaultError(f"the keychain record {path} is not valid ({why}); store the key again with "
                         "`openai-skill setup --keychain`, or delete the file to stop using the keychain",
                         reason="keychain_record_invalid", path=str(path)) from None


def write_record(env: Mapping[str, str], entries: Mapping[str, Sequence[str]]) -> None:
    """Replace the record with `entries` (under the writers' lock)."""
    def replace(current: dict) -> None:
        current.clear()
        current.update(entries)

    _change_record(env, replace)


def _write_record(env: Mapping[str, str], entries: Mapping[str, Sequence[str]]) -> None:
    """Write the record (delete it when no entry is left). Call with the writers' lock held."""
    path = record_path(env)
    if not entries:
        disk.remove(path)
        return
    body = {"version": RECORD_VERSION,
            "entries": {name: {"origins": sorted(set(origins))} for name, origins in sorted(entries.items())}}
    disk.atomic_write(path, (json.dumps(body, indent=1) + "\n").encode("utf-8"))


def _change_record(env: Mapping[str, str], change: Callable[[dict], None]) -> dict[str, tuple[str, ...]]:
    """Read, change and write the record under the vault's writers' lock; the record after."""
    paths = disk.Paths.from_env(env)
    disk.prepare_folder(paths.folder)
    with locking.exclusive(paths):
        entries = dict(read_record(env))
        change(entries)
        _write_record(env, entries)
        return entries


def _keyring(needed_for: str):
    """The `keyring` module, or CredentialsError naming the extra that installs it."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise CredentialsError(f"{needed_for} needs the `keyring` package, which is not installed: "
                               f"{INSTALL_HINT}", reason="keyring_missing", fix=INSTALL_HINT) from None
    return keyring


def _ask(keyring, doing: str, call: Callable):
    """Run one keyring call; whatever the backend raises becomes a CredentialsError.

    Backends are third-party code (D-Bus, the macOS Security framework, Windows' Credential
    Manager, plug-ins) and raise more than keyring.errors.KeyringError: every one of them is
    the keychain failing, and is reported by its type only (a backend's message may quote
    what it was given)."""
    try:
        return call()
    except keyring.errors.NoKeyringError:
        raise CredentialsError(f"{doing}: `keyring` found no usable system keychain on this machine (a "
                               "headless Linux box has no Secret Service); keep the key in the vault instead: "
                               "`openai-skill setup`", reason="no_keychain") from None
    except Exception as exc:
        raise CredentialsError(f"{doing}: the system keychain failed ({type(exc).__name__}); unlock it and "
                               "try again, or keep the key in the vault instead: `openai-skill setup`",
                               reason="keychain_failed") from None


def available() -> None:
    """Raise the install hint now if `keyring` is missing (before a key is asked for)."""
    _keyring("--keychain")


def store(env: Mapping[str, str], name: str, secret: Secret, origin: str) -> tuple[str, ...]:
    """Put `secret` in the keychain under `name`, bound to `origin` (joined to the origins it
    already has); return the entry's origins. Nothing is recorded if the keychain refuses."""
    if not is_origin(origin):
        raise InputError(f"{origin!r} is not an origin (https://host[:port])", field="origin")
    keyring = _keyring("--keychain")
    before = read_record(env)  # a broken record is reported before the keychain is touched
    _ask(keyring, "the key was not stored", lambda: keyring.set_password(SERVICE, name, secret.reveal()))
    try:
        entries = _change_record(env, lambda entries: entries.update(
            {name: tuple(sorted(set(entries.get(name, ())) | {origin}))}))
    except BaseException:
        if name not in before:  # a key no record names would sit in the keychain unseen: take it out
            try:
                keyring.delete_password(SERVICE, name)
            except Exception:
                pass  # the record error below is the one to report
        raise
    return entries[name]


def remove(env: Mapping[str, str], name: str) -> bool:
    """Delete the entry from the keychain and the record; False if the record has no such entry."""
    if name not in read_record(env):
        return False
    keyring = _keyring(f"removing the keychain entry {name!r}")

    def delete():
        try:
            keyring.delete_password(SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            pass  # already gone from the keychain (deleted by hand): the record line goes too

    _ask(keyring, "the key was not removed", delete)
    _change_record(env, lambda entries: entries.pop(name, None))
    return True


def allow_origin(env: Mapping[str, str], name: str, origin: str) -> tuple[str, ...]:
    """Let the keychain entry be sent to `origin` too (a base URL is cut to its origin)."""
    origin = origin_of(origin)

    def change(entries):
        _known(entries, name)
        entries[name] = tuple(sorted(set(entries[name]) | {origin}))

    return _change_record(env, change)[name]


def revoke_origin(env: Mapping[str, str], name: str, origin: str) -> tuple[str, ...]:
    """Stop sending the keychain entry to `origin`; an entry keeps at least one origin."""
    origin = origin_of(origin)

    def change(entries):
        origins = set(_known(entries, name))
        if origin not in origins:
            raise InputError(f"the keychain entry {name!r} is not allowed to go to {origin} "
                             f"(it may go to: {', '.join(sorted(origins))})", field="origin")
        if origins == {origin}:
            raise InputError(f"{origin} is the last origin of the keychain entry {name!r}; an entry keeps at "
                             f"least one (remove it with `openai-skill vault remove {name} --keychain`)",
                             field="origin")
        entries[name] = tuple(sorted(origins - {origin}))

    return _change_record(env, change)[name]


def _known(entries: Mapping[str, Sequence[str]], name: str) -> Sequence[str]:
    if name not in entries:
        raise InputError(f"the OS keychain has no entry named {name!r} (`openai-skill vault list` lists them)",
                         field="name")
    return entries[name]


class KeychainKey:
    """The keychain entry, bound to the origins the record names; silent without a record."""

    name = WHERE

    def __init__(self, env: Mapping[str, str], entry: str):
        self.env, self.entry = env, entry

    def key_for(self, origin: str) -> Secret | None:
        origins = read_record(self.env).get(self.entry)
        if origins is None:
            return None  # no record: keyring is never imported
        check_origin(WHERE, self.entry, origins, origin)
        keyring = _keyring(f"the key in the OS keychain (named by {record_path(self.env)})")
        value = _ask(keyring, "the key could not be read", lambda: keyring.get_password(SERVICE, self.entry))
        if value is None:
            raise CredentialsError(f"the keychain record names {self.entry!r}, but the system keychain has no "
                                   "such key; store it again with `openai-skill setup --keychain`, or remove the "
                                   f"record line with `openai-skill vault remove {self.entry} --keychain`",
                                   reason="keychain_entry_missing")
        return Secret(value, WHERE, bound=True)  # origin-bound: verified with certifi (transport/tls.py)


__all__ = ["KeychainKey", "SERVICE", "INSTALL_HINT", "WHERE", "available", "read_record", "write_record", "record_path",
           "store",
           "remove", "allow_origin", "revoke_origin"]
