"""skill.yaml and schemas/ read straight from the checkout with yaml and json, not through
openai_skill.manifest: the independent side tests compare the package's exports with."""

from __future__ import annotations

import json

import yaml

from support import REPO

HEADER_KEYS = ("$schema", "$id")  # a document header: not part of a tool's published schema


def raw_manifest() -> dict:
    return yaml.safe_load((REPO / "skill.yaml").read_text(encoding="utf-8"))


def schema_file(rel: str) -> dict:
    return json.loads((REPO / rel).read_text(encoding="utf-8"))


def published_tools() -> dict[str, dict]:
    """Tool name -> {summary, input, output, annotations} for every action, then every setup
    tool, in skill.yaml's order; the schemas as their files hold them, minus the header."""
    manifest = raw_manifest()
    entries = [(spec["mcp_tool"], spec) for spec in manifest["actions"].values()]
    entries += list((manifest.get("setup_tools") or {}).items())
    return {name: {"summary": spec["summary"],
                   "input": {k: v for k, v in schema_file(spec["input"]).items() if k not in HEADER_KEYS},
                   "output": {k: v for k, v in schema_file(spec["output"]).items() if k not in HEADER_KEYS},
                   "annotations": spec.get("annotations", {})}
            for name, spec in entries}


def without_the_default_model(name: str, schema: dict) -> dict:
    """A published input schema as its file holds it: the package adds the `model` default in
    force (by the lifecycle, on the day it runs) and names the dated list and its setting in the
    description; that is checked here against skill.yaml's `defaults` and taken out again."""
    model = schema.get("properties", {}).get("model")
    if model is None or "default" not in model:
        return schema
    manifest = raw_manifest()
    action = next(a for a, spec in manifest["actions"].items() if spec["mcp_tool"] == name)
    default = manifest["defaults"][action]
    assert model["default"] in default["models"], (name, model["default"])
    described, added = model["description"].rsplit(" Default: ", 1)
    assert added.endswith(f"(or ${default['setting']}).") and default["models"][0] in added, added
    model = {k: v for k, v in model.items() if k != "default"}
    model["description"] = described
    return {**schema, "properties": {**schema["properties"], "model": model}}
