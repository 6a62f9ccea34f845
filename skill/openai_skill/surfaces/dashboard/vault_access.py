"""What the local pages do to the vault, through the vault's own store (never its files).

One `VaultAccess` per page process. It works on a private copy of the environment, so a
passphrase typed into the page unlocks the vault for this process only and never lands in
os.environ (children would inherit it). Vault calls block (a lock, scrypt, a verification
request): the pages run them in a worker thread, one at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping

from ...errors import InputError, SkillError
from ...redaction import remember
from ...secrets import master_key
from ...secrets.disk import read_file
from ...secrets.sources import credential, looks_like_api_key
from ...secrets.names import check_name
from ...secrets.store import VaultStore
from ...secrets.vault_format import MAX_FILE_SIZE, parse

# (key, base URL, the entry's CA bundle) -> number of models the server lists; raises SkillError
Verifier = Callable[[str, str, "str | None"], int]


def verify_with_list_models(key: str, base_url: str, ca_bundle: str | None = None) -> int:
    """One list-models call with this key, sent as the stored key will be (a bound key: TLS
    verified with certifi and the entry's CA bundle, never the environment's)."""
    from ...client import Client
    from ...secrets.sources import PendingKey

    result = Client(base_url=base_url, key_sources=[PendingKey(key, ca_bundle)]).invoke("list-models", {})
    return len(result.get("models") or [])


class VaultAccess:
    def __init__(self, env: Mapping | None = None, verifier: Verifier = verify_with_list_models):
        self.env = dict(os.environ if env is None else env)
        self.verifier = verifier
        self.lock = threading.Lock()
        self.store = VaultStore(self.env, interactive=False)

    @property
    def path(self) -> str:
        return str(self.store.paths.vault)

    def needs_passphrase(self) -> bool:
        """A passphrase vault this process has no passphrase for yet."""
        vf = self._file()
        return vf is not None and vf.kdf is not None and not self.env.get(master_key.ENV_PASSPHRASE)

    def view(self) -> dict:
        """Path, master-key mode, whether it is locked, entries with times and fingerprints."""
        vf = self._file()
        out: dict = {"path": self.path, "mode": None, "locked": False, "entries": []}
        if vf is None:
            return out
        out["mode"] = self.store.mode(vf)
        if self.needs_passphrase():
            out["locked"] = True
            out["entries"] = [{"name": e.name, "created": e.created, "updated": e.updated,
                               "fingerprint": "(locked)", "origins": list(e.origins)} for e in vf.entries]
            return out
        vault = self.store.open()
        if vault is None:  # removed since _file() read it: as if there were none
            out["mode"] = None
            return out
        out["entries"] = [{"name": e.name, "created": e.created, "updated": e.updated,
                           "fingerprint": vault.fingerprint(e.name), "origins": list(e.origins)}
                          for e in vault.entries.values()]
        return out

    def base_url(self) -> str:
        """The API base in effect (as `setup` takes it): the stored key may be sent to its origin."""
        from ...config import Settings

        return Settings.from_env(self.env).base_url

    def destination(self, name: str) -> dict:
        """Where a key stored under `name` from this page goes, for the page to say before the
        key is typed: {"origin", "is_default", "current" (the entry's origins, or []),
        "confirm" (whether the person must confirm it on the page)}. A non-default origin, or
        one the existing entry does not have yet, needs that confirmation."""
        from ...config import DEFAULT_ORIGIN
        from ...urls import origin_of

        origin = origin_of(self.base_url())
        # Read from the file's listing, which needs no key (a locked passphrase vault too); a
        # tampered listing cannot matter: storing opens and authenticates the whole vault.
        vf = self._file()
        current = next((list(e.origins) for e in (vf.entries if vf else ()) if e.name == name), [])
        adds = bool(current) and origin not in current
        return {"origin": origin, "is_default": origin == DEFAULT_ORIGIN, "current": current,
                "confirm": origin != DEFAULT_ORIGIN or adds}

    def unlock(self, passphrase: str) -> None:
        """Try the passphrase; keep it (in this process) only when it opens the vault."""
        if not passphrase:
            raise InputError("type the vault passphrase")
        remember(passphrase)
        trial = VaultStore({**self.env, master_key.ENV_PASSPHRASE: passphrase}, interactive=False)
        trial.open()  # raises VaultAuthError on a wrong passphrase
        self.env[master_key.ENV_PASSPHRASE] = passphrase
        self.store = trial

    def put(self, name: str, value: str, verify: bool, confirmed_origin: str = "") -> dict:
        """Shape-check, optionally verify, then store; returns name, fingerprint and what was checked.
        `confirmed_origin`: the origin the person confirmed on the page; required (before the
        key goes anywhere, the verification included) when `destination` says so."""
        name = check_name(name.strip())
        is_api_key = name == credential()["name"]
        value = value.strip() if is_api_key else value.rstrip("\r\n")
        if not value:
            raise InputError("the key field is empty; nothing was stored")
        remember(value)
        if is_api_key and not looks_like_api_key(value):
            raise InputError(f"that does not look like an OpenAI API key (expected {credential()['prefix']}... "
                             "with no spaces); nothing was stored")
        where = self.destination(name)
        if where["confirm"] and confirmed_origin != where["origin"]:
            adds = f"; the stored entry goes only to {', '.join(where['current'])}" if where["current"] else ""
            raise InputError(f"confirm on the page that this key may be sent to {where['origin']} (tick the box "
                             f"naming it){adds}. Nothing was sent or stored", field="confirm_origin",
                             reason="origin_not_confirmed")
        out: dict = {"name": name, "origin": where["origin"], "is_default": where["is_default"]}
        if verify:  # before storing: a rejected key is not kept
            out["models_seen"] = self.verifier(value, self.base_url(), self._ca_bundle(name))
        vault = self.store.put(name, value, origin=self.base_url())
        out["fingerprint"] = vault.fingerprint(name)
        out["mode"] = self.store.mode(vault)
        out["origins"] = list(vault.entries[name].origins)
        return out

    def _ca_bundle(self, name: str) -> str | None:
        from ...secrets.store import CA_SUFFIX

        vault = self.store.open()
        companion = name + CA_SUFFIX
        return vault.get(companion) if vault is not None and companion in vault.entries else None

    def fingerprint(self, name: str) -> str | None:
        vault = self.store.open()
        return vault.fingerprint(name) if vault is not None and name in vault.entries else None

    def remove(self, name: str) -> bool:
        return self.store.remove(check_name(name))

    def rotate(self, to: str, new_passphrase: str = "", repeat: str = "") -> dict:
        """New data key; `to` is "same", "key-file" or "passphrase" (then with the new passphrase)."""
        if to not in ("same", master_key.MODE_KEYFILE, master_key.MODE_PASSPHRASE):
            raise InputError(f"unknown choice {to!r}")
        if to != master_key.MODE_PASSPHRASE:
            vault = self.store.rotate(None if to == "same" else to)
            return {"entries": len(vault.entries), "mode": self.store.mode(vault)}
        if new_passphrase != repeat:
            raise InputError("the two new passphrases differ; nothing was changed")
        if len(new_passphrase) < master_key.MIN_PASSPHRASE_LEN:
            raise InputError(f"a vault passphrase needs at least {master_key.MIN_PASSPHRASE_LEN} characters")
        remember(new_passphrase)
        self.env[master_key.ENV_NEW_PASSPHRASE] = new_passphrase
        try:
            vault = self.store.rotate(master_key.MODE_PASSPHRASE)
        finally:
            self.env.pop(master_key.ENV_NEW_PASSPHRASE, None)
        # From now on the vault opens with the new passphrase, in this process only.
        self.env[master_key.ENV_PASSPHRASE] = new_passphrase
        self.store = VaultStore(self.env, interactive=False)
        return {"entries": len(vault.entries), "mode": master_key.MODE_PASSPHRASE}

    def _file(self):
        data = read_file(self.store.paths.vault, MAX_FILE_SIZE, "the vault")
        return None if data is None else parse(data)


def stored_text(done: dict) -> str:
    """What a page says after storing: where the key goes, and who accepted it if checked."""
    who = "OpenAI" if done.get("is_default") else done.get("origin", "the server")
    checked = f" {who} accepted it ({done['models_seen']} models visible)." if "models_seen" in done else ""
    return f"to be sent only to {', '.join(done['origins'])}.{checked}"


def message_for(exc: Exception) -> str:
    """One readable line for the page; our errors are redacted when built."""
    if isinstance(exc, SkillError):
        return exc.message
    return "something went wrong; nothing was changed"
