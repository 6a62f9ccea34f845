"""Wheel build hook: bundles skill.yaml and the schemas into one JSON file inside the
package, so the installed CLI starts without importing a YAML parser. The bundle is made
from the same files at build time; skill.yaml stays the one source of truth."""

import json
import sys
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class BundleHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if version == "editable":
            return  # an editable checkout reads skill.yaml directly
        root = Path(self.root)
        sys.path.insert(0, str(root / "skill"))
        try:
            from openai_skill.manifest import bundle_from_sources
        finally:
            sys.path.pop(0)
        out = root / "build" / "_bundle.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(bundle_from_sources(root), separators=(",", ":")))
        build_data["force_include"][str(out)] = "openai_skill/_bundle.json"
