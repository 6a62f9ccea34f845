"""`openai-skill doctor`: the one command to run when something is off.

It says where the key comes from (never its value), which base URL and origin calls go to and
whether a stored key may go there, whether the API answers (one `list-models` call, which also
refreshes the lifecycle cache; skipped with --offline), the model each action uses by default
with its shutdown date, and every problem with its fix. Exit 0 when all is well, else the exit
code of the first problem (3 the key, 4 the API, 5 the network, 2 a setting); `--json` prints
the same report as one JSON object for agents.
"""

from __future__ import annotations

import argparse
import sys

from ...errors import (EXIT_OK, EXIT_USAGE, CredentialsError, InputError, SkillError)
from .commands import add_command
from .output import emit, write_text


class Report:
    def __init__(self):
        self.data: dict = {"ok": True, "problems": [], "warnings": []}
        self.exit_code = EXIT_OK

    def problem(self, what: str, fix: str, code: int) -> None:
        self.data["problems"].append({"problem": what, "fix": fix})
        if self.exit_code == EXIT_OK:
            self.exit_code = code
        self.data["ok"] = False


def cmd_doctor(args) -> int:
    """Check the set-up: key source, base URL and origin, the API (one models call), the default models
    and their shutdown dates."""
    from ...client import Client

    report = Report()
    client = Client(cache_vault=True)  # the vault read (and any passphrase asked) once
    data = report.data
    data["base_url"] = client.base_url
    origin = _origin(client, report)
    if origin:
        usable = _key(client, origin, report)
        if not args.offline and usable:  # without a key it may send, the call could only fail
            _api(client, report)
        _defaults(client, origin, report)
    if getattr(args, "json", False):
        emit(data)
    else:
        _print(data)
    return report.exit_code


def _origin(client, report: Report) -> str | None:
    from ...urls import check_transport

    try:
        check_transport(client.base_url)
        origin = client.origin
    except InputError as exc:
        report.problem(exc.message, "set OPENAI_BASE_URL to the API root, e.g. https://api.openai.com/v1",
                       exc.exit_code)
        return None
    report.data["origin"] = origin
    return origin


def _key(client, origin: str, report: Report) -> bool:
    """Record where the key comes from; whether there is one this origin may receive."""
    from ...secrets.sources import VaultKey, missing_key_error

    try:
        source = client.key_source()
    except SkillError as exc:  # a vault that cannot be opened says why
        report.data["key"] = {"source": None}
        report.problem(exc.message, "see the message; `openai-skill vault verify` checks the vault", exc.exit_code)
        return False
    found: dict = {"source": source}
    report.data["key"] = found
    if source is None:
        report.problem(missing_key_error().message.split(":")[0],
                       "run `openai-skill setup` in a terminal (or set OPENAI_API_KEY)", CredentialsError.exit_code)
        return False
    vault = next((s for s in client.keys.sources if isinstance(s, VaultKey) and s.name == source), None)
    if vault is not None:
        found["allowed_origins"] = list(vault.origins() or ())
    try:
        client.key_for(client.base_url)
    except CredentialsError as exc:  # bound to other origins: the message names the allow-origin fix
        report.problem(exc.message, f"`openai-skill vault allow-origin {vault.entry if vault else 'NAME'} {origin}`"
                                    " if you trust that origin with the key", exc.exit_code)
        return False
    return True


def _api(client, report: Report) -> None:
    try:
        result = client.invoke("list-models", {})
    except SkillError as exc:
        report.data["api"] = {"answered": False, "error": exc.to_dict()}
        report.problem(exc.message, _api_fix(exc), exc.exit_code)
        return
    report.data["api"] = {"answered": True, "models": result["count"], "request_id": result["request_id"]}
    report.data["listed"] = [m["id"] for m in result["models"]]


def _api_fix(exc: SkillError) -> str:
    from ...errors import AuthenticationError, PermissionDeniedError, TransportError

    if isinstance(exc, AuthenticationError):
        return "the key was rejected: store a valid one with `openai-skill setup` (or fix OPENAI_API_KEY)"
    if isinstance(exc, CredentialsError):
        return "see above: the key is missing or may not go to this origin"
    if isinstance(exc, PermissionDeniedError):
        return "the key lacks permission: check its project and restrictions at platform.openai.com"
    if isinstance(exc, TransportError):
        return "check the network and OPENAI_BASE_URL; `--offline` skips this check"
    return "see the message; `openai-skill models` repeats the call"


def _defaults(client, origin: str, report: Report) -> None:
    from ...lifecycle import learned
    from ...manifest import load_manifest
    from ...pipeline import lifecycle_table

    table, known = lifecycle_table(), learned.load(origin)
    today = client.today()
    listed = report.data.pop("listed", None)
    models: dict = {}
    for action_id, spec in load_manifest().defaults.items():
        try:
            choice = client.default_model(action_id)
        except InputError as exc:
            models[action_id] = {"model": None, "problem": exc.message}
            report.problem(exc.message, f"set {spec['setting']} to a model that is still served, or unset it",
                           EXIT_USAGE)
            continue
        entry = {"model": choice.model, "chosen_by": choice.chosen_by}  # "default", or the setting
        found = table.shutdown(choice.model, known)
        entry["shutdown_date"] = found.date.isoformat() if found else None
        if choice.chosen_by == "default":
            later = spec["models"][spec["models"].index(choice.model) + 1:]
            if later and found:
                entry["then"] = later[0]
        report.data["warnings"] += choice.warnings
        if listed is not None and choice.model not in listed:
            report.problem(f"{action_id}: {choice.model} is not in this server's model list",
                           f"set {spec['setting']} to a model `openai-skill models` lists", EXIT_USAGE)
        models[action_id] = entry
    report.data["defaults"] = models
    report.data["lifecycle"] = {"checked": table_checked(), "today": today.isoformat(),
                                "origin_list_seen": known.seen if known else None}


def table_checked() -> str:
    from ...manifest import load_manifest

    return str(load_manifest().lifecycle.get("checked", ""))


def _print(data: dict) -> None:
    lines = ["openai-skill doctor"]
    key = data.get("key")
    if key is not None:
        shown = key["source"] or "none found"
        if key.get("allowed_origins"):
            shown += f" (may go to {', '.join(key['allowed_origins'])})"
        lines.append(f"  key           {shown}; its value is never shown")
    lines.append(f"  base URL      {data['base_url']}" + (f" (origin {data['origin']})" if data.get("origin") else ""))
    api = data.get("api")
    if api is not None:
        lines.append(f"  API           answered: {api['models']} models (request {api['request_id']})"
                     if api["answered"] else "  API           did not answer (see the problems)")
    for action_id, entry in (data.get("defaults") or {}).items():
        if entry["model"] is None:
            continue
        by = entry["chosen_by"]
        text = f"{entry['model']} (" + ("the skill's default" if by == "default" else f"from {by}")
        if entry.get("then"):
            text += f"; until {entry['shutdown_date']}, then {entry['then']}"
        elif entry["shutdown_date"]:
            text += f"; shuts down {entry['shutdown_date']}"
        lines.append(f"  {action_id:<17} {text})")
    lifecycle = data.get("lifecycle")
    if lifecycle:
        seen = lifecycle["origin_list_seen"]
        lines.append(f"  lifecycle     built-in dates checked {lifecycle['checked']}"
                     + (", and this origin's own from its model list" if seen
                        else "; `openai-skill models` adds this origin's own"))
    lines += [f"  warning: {w}" for w in data["warnings"]]
    if data["problems"]:
        lines.append("problems:")
        lines += [f"  - {p['problem']}\n    fix: {p['fix']}" for p in data["problems"]]
    else:
        lines.append("all good")
    write_text(sys.stdout, "\n".join(lines) + "\n")


def register(sub, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    p = add_command(sub, cmd_doctor)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print the report as one JSON object")
    p.add_argument("--offline", action="store_true", help="skip the one list-models call")
