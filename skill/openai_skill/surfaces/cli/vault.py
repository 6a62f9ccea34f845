"""Commands for the encrypted vault: `setup` (store a key once), `vault list|remove|rotate|
path|verify|allow-origin|revoke-origin`, and `secret-provider` (OpenClaw's exec SecretRef
protocol on stdin/stdout).

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
    """Store a secret (default: your OpenAI API key) in the encrypted vault, from a hidden prompt or stdin."""
    from ...secrets.sources import credential, looks_like_api_key
    from ...redaction import remember
    from ...secrets.names import check_name
    from ...secrets.store import VaultStore

    if args.argv_secret:  # caught here so argparse never echoes it in "unrecognized arguments"
        raise InputError("setup never takes the secret as an argument (other processes and shell history "
                         "can read it): type it at the prompt or pipe it on stdin. Nothing was stored; if "
                         "that was a real key, treat it as exposed")
    check_name(args.name)
    secret = _read_secret(args.name)
    remember(secret)
    if args.name == credential()["name"] and not looks_like_api_key(secret):
        raise InputError("that does not look like an OpenAI API key (expected sk-... with no spaces); "
                         "nothing was stored")
    base_url = _base_url(args.base_url)  # the API base the key is for (origin binding)
    result = {"stored": args.name}
    if args.verify:  # before storing: a rejected key is not kept
        from ...client import Client

        models = Client(api_key=secret, base_url=args.base_url).invoke("list-models", {})
        result["verified"] = {"models_seen": len(models.get("models") or [])}
    store = VaultStore()
    vault = store.put(args.name, secret, passphrase=args.passphrase, origin=base_url)
    result.update(vault=str(store.paths.vault), fingerprint=vault.fingerprint(args.name),
                  master_key=store.mode(vault), origins=list(vault.origins(args.name)))
    env_name = credential()["env"]
    if args.name == credential()["name"] and os.environ.get(env_name) and os.environ[env_name].strip() != secret:
        result["warning"] = (f"{env_name} is set in this environment and wins over the vault: unset it "
                             f"(`unset {env_name}`) to use the key you just stored")
        sys.stderr.write(f"openai-skill: warning: {result['warning']}\n")
    emit(result)
    return 0


def _base_url(given: str | None) -> str:
    """The API base in effect: --base-url, else what Settings takes (OPENAI_BASE_URL, else the default)."""
    from ...config import Settings

    return Settings.from_env(base_url=given).base_url


def cmd_list(args) -> int:
    """List the vault's entries: name, created, updated and a short fingerprint (never the value)."""
    store, vault = _open()
    entries = [] if vault is None else [
        {"name": e.name, "created": e.created, "updated": e.updated, "fingerprint": vault.fingerprint(e.name),
         "origins": list(e.origins)}
        for e in vault.entries.values()]
    emit({"vault": str(store.paths.vault), "entries": entries})
    return 0


def cmd_remove(args) -> int:
    """Remove one entry from the vault."""
    from ...secrets.names import check_name
    from ...secrets.store import VaultStore

    check_name(args.name)
    store = VaultStore()
    if not store.remove(args.name):
        raise InputError(f"the vault has no entry named {args.name!r}")
    emit({"removed": args.name, "vault": str(store.paths.vault)})
    return 0


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
    """Let a vault entry be sent to one more origin (scheme://host[:port]), e.g. your API gateway."""
    from ...secrets.store import VaultStore

    store = VaultStore()
    emit({"name": args.name, "origins": list(store.allow_origin(args.name, args.origin))})
    return 0


def cmd_revoke_origin(args) -> int:
    """Stop sending a vault entry to an origin (an entry keeps at least one)."""
    from ...secrets.store import VaultStore

    store = VaultStore()
    emit({"name": args.name, "origins": list(store.revoke_origin(args.name, args.origin))})
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


def _read_secret(name: str) -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        secret = getpass.getpass(f"Value for {name} (input hidden): ")
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


def register(subparsers) -> None:
    p = add_command(subparsers, cmd_setup)
    from ...secrets.sources import credential

    entry = credential()["name"]
    p.add_argument("--name", default=entry, help=f"entry name (default: {entry})")
    p.add_argument("--verify", action="store_true", help="first prove the key works with one list-models call")
    p.add_argument("--passphrase", action="store_true",
                   help="protect a new vault with a passphrase (prompt, or OPENAI_SKILL_VAULT_PASSPHRASE) "
                        "instead of a key file")
    p.add_argument("--base-url", metavar="URL",
                   help="the API base this key is for (default: OPENAI_BASE_URL, else https://api.openai.com/v1); "
                        "the vault sends the key only to this origin and those you allow")
    p.add_argument("argv_secret", nargs="*", help=argparse.SUPPRESS)

    v = subparsers.add_parser("vault", help="manage the encrypted credential vault",
                              description="Manage the encrypted credential vault.")
    v.set_defaults(func=_vault_help(v))
    vsub = v.add_subparsers(dest="vault_command", metavar="SUBCOMMAND")
    add_command(vsub, cmd_list)
    sp = add_command(vsub, cmd_remove)
    sp.add_argument("name", metavar="NAME", help="entry to remove")
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

    add_command(subparsers, cmd_secret_provider)
