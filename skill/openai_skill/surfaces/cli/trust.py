"""What `setup` and `vault allow-origin` ask a person before they widen where a stored key may go.

- a new origin for an existing entry (`vault allow-origin`, or `setup` with another API base):
  the person is shown where the key goes now and where it would go too;
- a CA bundle (`setup --ca-bundle FILE`, for a corporate proxy that inspects TLS): the person
  is shown each certificate's subject, SHA-256 fingerprint and expiry, like an origin.
Both go through `surfaces.confirm.ask_person` (a word typed back on the terminal; no pipe or
flag can answer). `verify` sends the one check call the way the stored key will be sent.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import InputError
from ..confirm import ask_person

MAX_CA_BUNDLE_BYTES = 64 * 1024   # a vault value's cap: a proxy's CA or two, not a whole system bundle
PERSON_ELSE = "or store the key from the dashboard (`openai-skill dashboard`), which asks on its page"


def confirm_before_storing(name: str, base_url: str, ca_bundle_path: str | None, store) -> str | None:
    """`setup`'s questions, before the key is asked for: a new origin for a stored entry, a CA
    bundle (`store` None: the keychain, which records none). Returns the CA bundle's PEM."""
    from ...urls import origin_of

    if ca_bundle_path and store is None:
        raise InputError("--ca-bundle is recorded with a vault entry; the keychain's key is verified against "
                         "certifi's bundle only (store the key in the vault to record a CA bundle)", field="ca_bundle")
    pem, certificates = read_ca_bundle(ca_bundle_path) if ca_bundle_path else (None, None)
    confirm_new_origin(name, base_url, keychain=store is None, store=store)
    if certificates:
        confirm_ca_bundle(name, certificates, [origin_of(base_url)])
    return pem


def confirm_new_origin(name: str, origin: str, *, keychain: bool = False, store=None) -> None:
    """Ask a person before `name` (if stored already) may go to `origin` too; nothing to ask
    for a new entry or an origin it has. The vault's entry (`store`, or the default vault), or
    with `keychain` the OS keychain's."""
    from ...urls import origin_of

    origin = origin_of(origin)
    if keychain:
        from ...secrets.keychain import read_record

        current = read_record(os.environ).get(name)
    else:
        if store is None:
            from ...secrets.store import VaultStore

            store = VaultStore()
        vault = store.open()
        current = vault.entries[name].origins if vault is not None and name in vault.entries else None
    if not current or origin in current:
        return
    where = "the OS keychain's entry" if keychain else "the vault entry"
    ask_person(f"let {where} {name!r} be sent to {origin}",
               details=[f"it is sent only to: {', '.join(current)}",
                        f"from now on it would also go to {origin}: only say yes if you trust that server with it"],
               how_else=PERSON_ELSE)


def read_ca_bundle(path: str) -> tuple[str, list[dict]]:
    """(the PEM text, its certificates to show) from `path`, or InputError naming the file."""
    from ...transport.tls import check_ca_bundle

    try:
        with open(Path(path).expanduser(), "rb") as handle:
            data = handle.read(MAX_CA_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"--ca-bundle {path}: cannot read it ({exc.strerror})", field="ca_bundle") from None
    if len(data) > MAX_CA_BUNDLE_BYTES:
        raise InputError(f"--ca-bundle {path}: larger than {MAX_CA_BUNDLE_BYTES // 1024} KiB; give only your "
                         "proxy's CA certificate(s), not a whole system bundle (certifi's stays trusted)",
                         field="ca_bundle")
    try:
        pem = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"--ca-bundle {path}: not PEM text", field="ca_bundle") from None
    return pem, check_ca_bundle(pem)


def recorded_ca_bundle(store, name: str) -> str | None:
    """The CA bundle the entry records already (kept when `setup` replaces the key)."""
    from ...secrets.store import CA_SUFFIX

    vault = store.open()
    companion = name + CA_SUFFIX
    return vault.get(companion) if vault is not None and companion in vault.entries else None


def confirm_ca_bundle(name: str, certificates: list[dict], origins) -> None:
    ask_person(f"let {len(certificates)} more CA certificate(s) vouch for the servers the vault entry "
               f"{name!r} is sent to",
               details=[*(f"{c['subject']}  SHA-256 {c['sha256']}  expires {c['expires']}" for c in certificates),
                        f"the entry goes to: {', '.join(origins)}",
                        "say yes only for your own network's TLS-inspecting proxy CA"],
               how_else="with the bundle at hand")


def verify(secret: str, base_url: str | None, name: str, ca_bundle: str | None, store) -> int:
    """One list-models call with the new key, sent as the stored key will be (pinned, with the
    given or the entry's recorded CA bundle); models seen. A failure says nothing was stored."""
    from ...client import Client
    from ...errors import SkillError
    from ...secrets.sources import PendingKey

    if ca_bundle is None and store is not None:
        ca_bundle = recorded_ca_bundle(store, name)
    client = Client(base_url=base_url, key_sources=[PendingKey(secret, ca_bundle)])
    try:
        return len(client.invoke("list-models", {}).get("models") or [])
    except SkillError as exc:  # the same error, saying what did not happen
        exc.message = f"{exc.message}; nothing was stored"
        exc.args = (exc.message,)
        raise


def shown_ca_bundle(vault, name: str) -> dict:
    """{"ca_bundle": [subject and fingerprint per certificate]} for `vault list`, or {}."""
    from ...secrets.store import CA_SUFFIX

    if name + CA_SUFFIX not in vault.entries:
        return {}
    from ...transport.tls import check_ca_bundle

    try:
        return {"ca_bundle": [f"{c['subject']} (SHA-256 {c['sha256']})"
                              for c in check_ca_bundle(vault.get(name + CA_SUFFIX))]}
    except InputError:
        return {"ca_bundle": ["(not valid PEM: record it again with `openai-skill setup --ca-bundle FILE`)"]}
