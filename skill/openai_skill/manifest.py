"""Loading skill.yaml and the JSON Schemas it names: the one source of truth for action
names, HTTP routes, MCP tool names, schemas, defaults and model rules.

An installed wheel carries `_bundle.json` (skill.yaml and the schemas as one JSON document,
made at build time) so the CLI starts without a YAML parser; a source checkout reads
skill.yaml itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .errors import InputError

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "skill.yaml"
PRICES_NAME = "prices.yaml"   # the dated price table beside skill.yaml (`openai_skill.spend`)
BUNDLE_NAME = "_bundle.json"


@dataclass(frozen=True)
class Action:
    id: str
    method: str
    path: str
    mcp_tool: str
    summary: str
    input_schema: dict
    output_schema: dict
    annotations: dict = field(default_factory=dict)
    stream_extras: dict = field(default_factory=dict)  # added to the body of a streamed request
    batch: bool = False       # OpenAI's Batch API runs it (`openai-skill batch create`)
    # The prices.yaml section that prices it (chat, embeddings, images), or "free". None (not
    # declared): its cost is unknown, never free.
    price: str | None = None


@dataclass(frozen=True)
class SetupTool:
    """A tool that is not an OpenAI action (`setup_integration`): served by the MCP server and
    listed by the exports, never reachable through `run`, `invoke` or the Batch API."""

    name: str
    title: str
    summary: str
    input_schema: dict
    output_schema: dict
    annotations: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    description: str
    credential: dict
    actions: dict  # id -> Action, in skill.yaml's order
    model_rules: dict  # action id -> list of rule dicts
    raw: dict
    setup_tools: dict = field(default_factory=dict)  # name -> SetupTool, in skill.yaml's order
    defaults: dict = field(default_factory=dict)   # action id -> {"models": [...], "setting": ENV}
    lifecycle: dict = field(default_factory=dict)  # skill.yaml's `lifecycle` (shutdowns, warn_days)
    schemas: dict = field(default_factory=dict)    # file name -> the schema as the file has it

    def action(self, name: str) -> Action:
        """Look an action up by id (`chat-completion`) or MCP tool name (`openai_chat_completion`)."""
        if name in self.actions:
            return self.actions[name]
        for action in self.actions.values():
            if action.mcp_tool == name:
                return action
        raise InputError(
            f"unknown action {name!r}; expected one of: {', '.join(self.actions)}",
            field="action", expected=list(self.actions), given=name,
        )


def source_root() -> Path:
    """Where skill.yaml and schemas/ are: inside the installed package, or the checkout."""
    if (PACKAGE_DIR / MANIFEST_NAME).is_file():
        return PACKAGE_DIR
    return PACKAGE_DIR.parent.parent  # the checkout: skill/openai_skill/ -> the repo


def bundle_from_sources(root: Path) -> dict:
    """Read skill.yaml and every schema it names under `root` into one JSON-able document."""
    import yaml  # only on the slow path: source checkouts and the wheel build

    manifest = yaml.safe_load((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    schemas = {}
    for spec in [*manifest["actions"].values(), *(manifest.get("setup_tools") or {}).values()]:
        for key in ("input", "output"):
            rel = spec[key]
            schemas[rel] = json.loads((root / rel).read_text(encoding="utf-8"))
    prices = yaml.safe_load((root / PRICES_NAME).read_text(encoding="utf-8"))
    return {"manifest": manifest, "schemas": schemas, "prices": prices}


def _from_bundle(bundle: dict, today=None) -> Manifest:
    data, schemas = bundle["manifest"], bundle["schemas"]
    defaults = data.get("defaults") or {}
    lifecycle = data.get("lifecycle") or {}
    actions = {
        action_id: Action(
            id=action_id,
            method=spec["method"],
            path=spec["path"],
            mcp_tool=spec["mcp_tool"],
            summary=spec["summary"],
            input_schema=_with_default_model(schemas[spec["input"]], defaults.get(action_id), lifecycle, today),
            output_schema=schemas[spec["output"]],
            annotations=spec.get("annotations", {}),
            stream_extras=spec.get("stream_extras", {}),
            batch=bool(spec.get("batch", False)),
            price=spec.get("price"),
        )
        for action_id, spec in data["actions"].items()
    }
    return Manifest(
        name=data["name"],
        version=str(data["version"]),
        description=data["description"],
        credential=data["credential"],
        actions=actions,
        model_rules=data.get("model_rules", {}),
        raw=data,
        defaults=defaults,
        lifecycle=lifecycle,
        schemas=schemas,
        setup_tools={
            name: SetupTool(name=name, title=spec["title"], summary=spec["summary"],
                            input_schema=schemas[spec["input"]], output_schema=schemas[spec["output"]],
                            annotations=spec.get("annotations", {}))
            for name, spec in (data.get("setup_tools") or {}).items()
        },
    )


def _with_default_model(schema: dict, default: dict | None, lifecycle: dict, today) -> dict:
    """The input schema with its `model` default taken from skill.yaml's `defaults`: the one
    in force today (by the built-in lifecycle; a call re-resolves it for its own origin and
    date), and the dated list in the description. The schema file names no default model, so
    the list lives in one place."""
    if not default:
        return schema
    import os

    from .errors import InputError
    from .lifecycle.table import Table, today_from, utc_today

    if today is None:
        try:
            today = today_from(os.environ)
        except InputError:  # a malformed OPENAI_SKILL_TODAY: every call says so; the schema still loads
            today = utc_today()
    table = Table.of(lifecycle)
    model = dict(schema["properties"]["model"])
    model["default"] = table.first_live(default["models"], today)
    model["description"] = (f"{model.get('description', '').rstrip()} Default: {table.dated_list(default['models'])} "
                            f"(or ${default['setting']}).").strip()
    return {**schema, "properties": {**schema["properties"], "model": model}}


@cache
def _bundle() -> dict:
    bundled = PACKAGE_DIR / BUNDLE_NAME
    if bundled.is_file():
        return json.loads(bundled.read_text(encoding="utf-8"))
    return bundle_from_sources(source_root())


@cache
def load_manifest() -> Manifest:
    return _from_bundle(_bundle())


def load_prices() -> dict:
    """prices.yaml as data (the same bundle as the manifest: one read per process)."""
    return _bundle()["prices"]
