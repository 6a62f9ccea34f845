"""Finding the real agent clients (OpenClaw, skills-ref) that `.ci/install-agent-clients`
installs. It exports their paths as environment variables; under CI a missing tool fails the
test (a proof that did not run is not a pass), elsewhere it skips with the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV_NAMES = {"openclaw": "AGENT_CLIENTS_OPENCLAW", "skills-ref": "AGENT_CLIENTS_SKILLS_REF"}
HOW = 'eval "$(bash .ci/install-agent-clients)"  # Node 24, openclaw@2026.9.6, skills-ref@0.1.5'


def agent_tool(name: str) -> str:
    """The absolute path of `name` from its environment variable; fail under CI, else skip."""
    variable = ENV_NAMES[name]
    path = os.environ.get(variable, "")
    if path and Path(path).is_file() and os.access(path, os.X_OK):
        return path
    reason = f"{name} not found: {variable}={path!r}; install it with: {HOW}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_module(name: str):
    """Import `name` (a test-extra package such as the MCP SDK); fail under CI, else skip, when absent."""
    try:
        return __import__(name)
    except ImportError:
        reason = f"{name} is not installed: pip install '.[test]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)
