"""Loading skill.yaml and the JSON Schemas it names: the one source of truth for action
names, HTTP routes, MCP tool names, schemas, defaults and model rules.

An installed wheel carries `_bundle.json` (skill.yaml and the schemas as one JSON document,
made at build time) so the CLI starts without a YAML parser; a source checkout reads
skill.yaml itself.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from .errors import InputError

MANIFEST_NAME = "skill.yaml"
PRICES_NAME = "prices.yaml"   # the dated price table beside skill.yaml (`openai_skill.spend`)
BUNDLE_NAME = "_bundle.json"


class _Record:
    """An immutable record, compared by value. Plain classes on purpose: a dataclass imports
    `inspect` and a NamedTuple runs `exec` (~0.2 ms a class), on the start-up path of every
    CLI call. `_fields` names the attributes in order; `_defaults` makes an omitted one."""

    __slots__ = ()
    _fields: tuple = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs):
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__} takes at most {len(self._fields)} values")
        values = dict(zip(self._fields, args, strict=False))  # the rest by name or default
        for name, value in kwargs.items():
            if name not in self._fields or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {name!r}")
            values[name] = value
        for name in self._fields:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}: missing field {name!r}")
                values[name] = self._defaults[name]()
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name, value):
        raise AttributeError(f"a {type(self).__name__} is immutable")

    def __delattr__(self, name):
        raise AttributeError(f"a {type(self).__name__} is immutable")

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    __hash__ = None  # type: ignore[assignment]  # unhashable: its schemas are dicts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"


class Action(_Record):
    """One action of skill.yaml: its route, MCP tool name and schemas."""

    _fields = ("id", "method", "path", "mcp_tool", "summary", "input_schema", "output_schema",
               "annotations", "stream_extras", "batch", "price")
    __slots__ = _fields
    # stream_extras: added to the body of a streamed request; batch: OpenAI's Batch API runs it
    # (`openai-skill batch create`).
    _defaults = {"annotations": dict, "stream_extras": dict, "batch": bool, "price": lambda: None}

    id: str
    method: str
    path: str
    mcp_tool: str
    summary: str
    input_schema: dict
    output_schema: dict
    annotations: dict
    stream_extras: dict
    batch: bool
    # The prices.yaml section that prices it (chat, embeddings, images), or "free". None (not
    # declared): its cost is unknown, never free.
    price: str | None


class SetupTool(_Record):
    """A tool that is not an OpenAI action (`setup_integration`): served by the MCP server and
    listed by the exports, never reachable through `run`, `invoke` or the Batch API."""

    _fields = ("name", "title", "summary", "input_schema", "output_schema", "annotations")
    __slots__ = _fields
    _defaults = {"annotations": dict}

    name: str
    title: str
    summary: str
    input_schema: dict
    output_schema: dict
    annotations: dict


class Manifest(_Record):
    """skill.yaml: actions (id -> Action, in its order), model_rules (action id -> list of rule
    dicts), setup_tools (name -> SetupTool, in its order), the raw document, defaults (action id
    -> {"models": [...], "setting": ENV}), lifecycle (skill.yaml's `lifecycle`: shutdowns,
    warn_days) and schemas (file name -> the schema as the file has it)."""

    _fields = ("name", "version", "description", "credential", "actions", "model_rules", "raw",
               "setup_tools", "defaults", "lifecycle", "schemas")
    __slots__ = _fields
    _defaults = {"setup_tools": dict, "defaults": dict, "lifecycle": dict, "schemas": dict}

    name: str
    version: str
    description: str
    credential: dict
    actions: dict
    model_rules: dict
    raw: dict
    setup_tools: dict
    defaults: dict
    lifecycle: dict
    schemas: dict

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
    package_dir = Path(__file__).resolve().parent
    if (package_dir / MANIFEST_NAME).is_file():
        return package_dir
    return package_dir.parent.parent  # the checkout: skill/openai_skill/ -> the repo


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
    # The bundle sits beside this file in a wheel (no Path.resolve: ~0.15 ms per CLI call).
    try:
        with open(os.path.join(os.path.dirname(__file__), BUNDLE_NAME), "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:  # a source checkout: skill.yaml and the schemas themselves
        return bundle_from_sources(source_root())


@cache
def load_manifest() -> Manifest:
    return _from_bundle(_bundle())


def load_prices() -> dict:
    """prices.yaml as data (the same bundle as the manifest: one read per process)."""
    return _bundle()["prices"]
