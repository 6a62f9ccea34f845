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
