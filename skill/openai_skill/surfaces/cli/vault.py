"""Commands for the encrypted vault: `setup` (store a key once; `--keychain`: in the OS keychain
instead), `vault list|remove|rotate|path|verify|allow-origin|revoke-origin` (the keychain's entries
too, with `--keychain`), and `secret-provider` (OpenClaw's exec SecretRef protocol on stdin/stdout).

Secrets are read from a hidden prompt or stdin, never from argv (other processes and shell
history can read argv). The vault modules load inside the commands, keeping startup light.
"""

from __future__ import annotations

import argparse
import os
import sys

from ...errors import InputError
from .commands import add_command
from .output import emit

MAX_SECRET_CHARS = 64 * 1024


def cmd_setup(args) -> int:
    """Store a secret (default: your OpenAI API key) in the encrypted vault (--keychain: the OS
    keychain), from a hidden prompt or stdin."""
    from ...secrets.sources import credential, looks_like_api_key
    from ...redaction import remember
    from ...secrets.names import check_name

    if args.argv_secret:  # caught here so argparse never echoes it in "unrecognized arguments"
        raise InputError("setup never takes the secret as an argument (other processes and shell history "
                         "can read it): type it at the prompt or pipe it on stdin. Nothing was stored; if "
                         "that was a real key, treat it as exposed")
    check_name(args.name)
    from . import trust
    from ...secrets.store import VaultStore
    from ...urls import origin_of
    if args.keychain:
        _check_keychain_setup(args.name)  # before the prompt: nobody types a key for nothing
    base_url = _base_url(args.base_url)  # the API base the key is for (origin binding)
    store = VaultStore()
    ca_bundle = trust.confirm_before_storing(args.name, base_url, args.ca_bundle,  # a person, first
                                             None if args.keychain else store)
    secret = _read_secret(args.name, origin_of(base_url))
    remember(secret)
    if args.name == credential()["name"] and not looks_like_api_key(secret):
        raise InputError("that does not look like an OpenAI API key (expected sk-... with no spaces); "
                         "nothing was stored")
    result = {"stored": args.name}
    if args.verify:  # before storing: a rejected key is not kept
        result["verified"] = {"models_seen": trust.verify(secret, args.base_url, args.name, ca_bundle,
                                                          None if args.keychain else store)}
    if args.keychain:
        result.update(_store_in_keychain(args.name, secret, base_url))
    else:
        vault = store.put(args.name, secret, passphrase=args.passphrase, origin=base_url)
        vault = store.set_ca_bundle(args.name, ca_bundle) if ca_bundle else vault
        result.update(trust.shown_ca_bundle(vault, args.name))
        result.update(vault=str(store.paths.vault), fingerprint=vault.fingerprint(args.name),
                      master_key=store.mode(vault), origins=list(vault.entries[args.name].origins))
    warning = _who_wins_instead(args.name, secret, keychain=args.keychain)
    if warning:
        result["warning"] = warning
        sys.stderr.write(f"openai-skill: warning: {warning}\n")
    emit(result)
    return 0


def _check_keychain_setup(name: str) -> None:
    from ...secrets import keychain
    from ...secrets.sources import credential

    entry = credential()["name"]
    if name != entry:  # the chain reads only the API key's entry: another would sit there unused
        raise InputError(f"--keychain stores the OpenAI API key only (entry {entry!r}), not {name!r}; keep other "
                         "secrets in the vault (`openai-skill setup --name NAME` without --keychain)", field="name")
    keychain.available()


def _store_in_keychain(name: str, secret: str, base_url: str) -> dict:
    """keychain.store, bound to the origin of the base URL in effect; the result's fields."""
    from ...secret import Secret
    from ...secrets import keychain
    from ...urls import origin_of

    origins = keychain.store(os.environ, name, Secret(secret, "the key given to setup"), origin_of(base_url))
    return {"where": keychain.WHERE, "service": keychain.SERVICE, "record": str(keychain.record_path(os.environ)),
            "origins": list(origins)}


def _who_wins_instead(name: str, secret: str, *, keychain: bool) -> str | None:
    """A source earlier in the chain that holds another key wins over the one just stored: say so."""
    from ...secrets.sources import credential

    spec = credential()
    if name != spec["name"]:
        return None
    env_name = spec["env"]
    if os.environ.get(env_name) and os.environ[env_name].strip() != secret:
        return (f"{env_name} is set in this environment and wins over the {'OS keychain' if keychain else 'vault'}:"
                f" unset it (`unset {env_name}`) to use the key you just stored")
    if keychain:
        from ...secrets.store import VaultStore

        if name in VaultStore().listed_names():  # unauthenticated names: advice only
            return (f"the vault also holds {name!r} and wins over the OS keychain: remove it "
                    f"(`openai-skill vault remove {name}`) to use the key you just stored")
    return None


def _base_url(given: str | None) -> str:
    """The API base in effect: --base-url, else what Settings takes (OPENAI_BASE_URL, else the default)."""
    from ...config import Settings

    return Settings.from_env(base_url=given).base_url


def cmd_list(args) -> int:
    """List the vault's and the OS keychain's entries (names, origins, never a value) and which
    key source answers for the base URL in effect."""
    from ...secrets.store import CA_SUFFIX
    from .trust import shown_ca_bundle

    store, vault = _open()
    entries = [] if vault is None else [
        {"name": e.name, "created": e.created, "updated": e.updated, "fingerprint": vault.fingerprint(e.name),
         "origins": list(e.origins), **shown_ca_bundle(vault, e.name)}
        for e in vault.entries.values() if not e.name.endswith(CA_SUFFIX)]
    result = {"vault": str(store.paths.vault), "entries": entries, "keychain": _keychain_listing()}
    result.update(_answering(store))
    emit(result)
    return 0


def _keychain_listing() -> dict:
    """The keychain record's entries (no keyring call: the record names them); a broken record
    is reported here rather than hiding the vault's entries."""
    from ...errors import VaultError
    from ...secrets import keychain

    listing: dict = {"record": str(keychain.record_path(os.environ))}
    try:
        listing["entries"] = [{"name": name, "origins": list(origins)}
                              for name, origins in keychain.read_record(os.environ).items()]
    except VaultError as exc:
        listing.update(entries=[], error=exc.message)
    return listing


def _answering(store) -> dict:
    """Which source a call would take its key from (for the base URL in effect), and the error
    it would answer with, if any (a key bound elsewhere, a locked keychain, ...)."""
    from ...errors import SkillError
    from ...secrets.sources import KeyChain
    from ...urls import origin_of

    try:
        base_url = _base_url(None)
        source, problem = KeyChain.default(os.environ, vault_store=store).consult(origin_of(base_url))
    except SkillError as exc:  # a bad OPENAI_BASE_URL: the listing is still worth having
        return {"key_source": None, "key_source_problem": exc.message}
    answer = {"base_url": base_url, "key_source": source}
    if problem is not None:
        answer["key_source_problem"] = problem.message
    return answer


def cmd_remove(args) -> int:
    """Remove one entry from the vault (with --keychain: from the OS keychain and its record)."""
    from ...secrets.names import check_name
    from ...secrets.store import VaultStore

    check_name(args.name)
    if args.keychain:
        from ...secrets import keychain

        if not keychain.remove(os.environ, args.name):
            raise InputError(f"the OS keychain has no entry named {args.name!r} (`openai-skill vault list` lists "
                             "them)", field="name")
        emit({"removed": args.name, "where": keychain.WHERE, "record": str(keychain.record_path(os.environ))})
        return 0
    store = VaultStore()
    if not store.remove(args.name):
        raise InputError(f"the vault has no entry named {args.name!r}"
                         + _in_keychain_hint(args.name, f"remove {args.name}"), field="name")
    emit({"removed": args.name, "vault": str(store.paths.vault)})
    return 0


def _in_keychain_hint(name: str, command: str) -> str:
    """For a name the vault lacks: point at the keychain entry of that name, if there is one
    (`command`: the vault command and its arguments, as the user gave them)."""
    from ...errors import VaultError
    from ...secrets import keychain

    try:
        listed = name in keychain.read_record(os.environ)
    except VaultError:
        return ""  # a broken record is reported where it is used, not in this hint
    return f"; the OS keychain has one: add --keychain (`openai-skill vault {command} --keychain`)" if listed else ""


def cmd_rotate(args) -> int:
    """Re-encrypt every entry under a new data key; optionally change how the vault is unlocked."""
    from ...secrets.master_key import ENV_KEY, ENV_NEW_KEY
    from ...secrets.store import VaultStore

    store = VaultStore()
    vault = store.rotate(args.to)
    mode = store.mode(vault)  # what the rotated file records, not a guess from the environment
    result = {"rotated": True, "vault": str(store.paths.vault), "entries": len(vault.entries), "master_key": mode}
    if mode != "env-key" and os.environ.get(ENV_KEY):
        result["warning"] = (f"the vault no longer opens with {ENV_KEY} ({mode} now): unset it "
                             f"(`unset {ENV_KEY}`) and remove it wherever you set it")
    elif args.to == "env-key":
        result["warning"] = f"from now on, set {ENV_KEY} to the key that was in {ENV_NEW_KEY}"
    if "warning" in result:
        sys.stderr.write(f"openai-skill: warning: {result['warning']}\n")
    emit(result)
    return 0


def cmd_allow_origin(args) -> int:
    """Let a vault entry (--keychain: the OS keychain's) be sent to one more origin
    (scheme://host[:port]), e.g. your API gateway; a person confirms it on the terminal."""
    return _change_origins(args, "allow_origin")


def cmd_revoke_origin(args) -> int:
    """Stop sending a vault entry (--keychain: the OS keychain's) to an origin (an entry keeps at least one)."""
    return _change_origins(args, "revoke_origin")


def _change_origins(args, change: str) -> int:
    from ...secrets.names import check_name

    check_name(args.name)
    if change == "allow_origin":  # a person, at the terminal: no flag, no pipe
        from .trust import confirm_new_origin
        confirm_new_origin(args.name, args.origin, keychain=args.keychain)
    if args.keychain:
        from ...secrets import keychain

        origins = getattr(keychain, change)(os.environ, args.name, args.origin)
        emit({"name": args.name, "where": keychain.WHERE, "origins": list(origins)})
        return 0
    from ...secrets.store import VaultStore

    try:
        origins = getattr(VaultStore(), change)(args.name, args.origin)
    except InputError as exc:
        if exc.details.get("reason") != "no_such_entry":
            raise
        hint = _in_keychain_hint(args.name, f"{change.replace('_', '-')} {args.name} {args.origin}")
        raise InputError(exc.message + hint, field="name", reason="no_such_entry") from None
    emit({"name": args.name, "origins": list(origins)})
    return 0


def cmd_path(args) -> int:
    """Print the vault file's path, then its key file and lock file."""
    from ...secrets.store import VaultStore

    paths = VaultStore().paths
    sys.stdout.write(f"{paths.vault}\n{paths.key}\n{paths.lock}\n")
    return 0


def cmd_verify(args) -> int:
    """Check that the whole vault authenticates and every entry decrypts."""
    store, vault = _open()
    if vault is None:
        from ...errors import VaultError

        raise VaultError(f"there is no vault at {store.paths.vault}; create one with `openai-skill setup`")
    for name in vault.entries:
        vault.get(name)
    emit({"ok": True, "vault": str(store.paths.vault), "entries": len(vault.entries),
          "generation": vault.generation, "master_key": store.mode(vault)})
    return 0


def cmd_secret_provider(args) -> int:
    """OpenClaw exec SecretRef provider: answer {"protocolVersion":1,"ids":[...]} on stdin from the vault."""
    from ...secrets.provider import MAX_REQUEST_BYTES, answer, parse_request

    try:
        text = sys.stdin.read(MAX_REQUEST_BYTES + 1)
    except UnicodeDecodeError:  # a strict stdin (PYTHONIOENCODING=utf-8:strict) and bytes that are not UTF-8
        raise InputError("secret-provider: the request on stdin is not UTF-8") from None
    ids = parse_request(text)
    store, vault = _open() if ids else (None, None)
    response = answer(ids, lambda name: vault.get(name) if vault else None)
    if response["errors"]:  # OpenClaw shows only "NOT_FOUND": say where we looked, for its log
        sys.stderr.write(_where_looked(store, vault, sorted(response["errors"])) + "\n")
    import json

    # Not through emit(): the values are the point here, and emit() masks known secrets.
    sys.stdout.write(json.dumps(response, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0


def _where_looked(store, vault, missing: list[str]) -> str:
    """One line for a NOT_FOUND: the vault file we read, which variables chose it, and the usual cause."""
    from ...secrets import store as vault_store

    env = store.env
    chosen_by = [f"{name}={env[name]}" for name in (vault_store.ENV_HOME, "XDG_CONFIG_HOME", "HOME") if env.get(name)]
    found = (f"it has no entry {', '.join(map(repr, missing))}" if vault is not None
             else "there is no vault file there")
    line = (f"openai-skill secret-provider: NOT_FOUND {', '.join(missing)}: looked in {store.paths.vault} "
            f"({', '.join(chosen_by) or 'no OPENAI_SKILL_HOME, XDG_CONFIG_HOME or HOME set'}); {found}.")
    if not chosen_by:
        line += (" OpenClaw starts exec providers with an empty environment: name the variables the vault needs "
                 "(HOME or OPENAI_SKILL_HOME, and OPENAI_SKILL_VAULT_PASSPHRASE for a passphrase vault) in the "
                 "provider's passEnv.")
    return line


def _open():
    from ...secrets.store import VaultStore

    store = VaultStore()
    return store, store.open()


def _read_secret(name: str, origin: str | None = None) -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        where = f", to be sent only to {origin}" if origin else ""
        secret = getpass.getpass(f"Value for {name}{where} (input hidden): ")
    else:
        secret = sys.stdin.read(MAX_SECRET_CHARS + 1) if sys.stdin else ""
    from ...secrets.sources import credential

    secret = secret.strip() if name == credential()["name"] else secret.rstrip("\r\n")
    if not secret:
        raise InputError("no secret given: type it at the prompt, or pipe it on stdin "
                         "(it is never read from the command line)")
    if len(secret) > MAX_SECRET_CHARS:
        raise InputError(f"the secret is longer than {MAX_SECRET_CHARS} characters")
    return secret


def _vault_help(parser):
    def show(args) -> int:
        parser.print_help(sys.stderr)
        return 2
    return show


def register(subparsers, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    p = add_command(subparsers, cmd_setup)
    from ...secrets.sources import credential

    entry = credential()["name"]
    p.add_argument("--name", default=entry, help=f"entry name (default: {entry})")
    p.add_argument("--verify", action="store_true", help="first prove the key works with one list-models call")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--passphrase", action="store_true",
                       help="protect a new vault with a passphrase (prompt, or OPENAI_SKILL_VAULT_PASSPHRASE) "
                            "instead of a key file")
    where.add_argument("--keychain", action="store_true",
                       help="store the API key in the OS keychain (macOS Keychain, Windows Credential Locker, "
                            "Secret Service) instead of the vault; needs pip install 'openai-skill[keychain]'")
    p.add_argument("--base-url", metavar="URL",
                   help="the API base this key is for (default: OPENAI_BASE_URL, else https://api.openai.com/v1); "
                        "the vault sends the key only to this origin and those you allow")
    p.add_argument("--ca-bundle", metavar="FILE", help="your TLS-inspecting proxy's CA (PEM), trusted besides "
                   "certifi's for this key (never the environment's); a person confirms it")
    p.add_argument("argv_secret", nargs="*", help=argparse.SUPPRESS)

    v = subparsers.add_parser("vault", help="manage the encrypted credential vault",
                              description="Manage the encrypted credential vault.")
    v.set_defaults(func=_vault_help(v))
    vsub = v.add_subparsers(dest="vault_command", metavar="SUBCOMMAND")
    add_command(vsub, cmd_list)
    sp = add_command(vsub, cmd_remove)
    sp.add_argument("name", metavar="NAME", help="entry to remove")
    sp.add_argument("--keychain", action="store_true", help="remove the OS keychain's entry, not the vault's")
    sp = add_command(vsub, cmd_rotate)
    to = sp.add_mutually_exclusive_group()
    to.add_argument("--new-passphrase", dest="to", action="store_const", const="passphrase",
                    help="unlock with a new passphrase (prompt, or OPENAI_SKILL_VAULT_NEW_PASSPHRASE)")
    to.add_argument("--to-keyfile", dest="to", action="store_const", const="key-file",
                    help="unlock with a new random key file beside the vault")
    to.add_argument("--to-env-key", dest="to", action="store_const", const="env-key",
                    help="unlock with the key in OPENAI_SKILL_VAULT_NEW_KEY (base64 of 32 bytes); "
                         "set it as OPENAI_SKILL_VAULT_KEY afterwards")
    add_command(vsub, cmd_path)
    add_command(vsub, cmd_verify)
    for func in (cmd_allow_origin, cmd_revoke_origin):
        sp = add_command(vsub, func)
        sp.add_argument("name", metavar="NAME", help="vault entry (e.g. openai_api_key)")
        sp.add_argument("origin", metavar="ORIGIN", help="https://host[:port] (a base URL is cut to its origin)")
        sp.add_argument("--keychain", action="store_true", help="the OS keychain's entry, not the vault's")

    add_command(subparsers, cmd_secret_provider)
