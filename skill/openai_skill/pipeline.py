"""The pure steps before a call: validate -> model rules -> build the request. Nothing here
opens a socket or looks for a key; `client.Client` adds the key, sends, and shapes the answer.
What differs between actions lives in the action's module (`actions/`), never in an `if` here."""

from __future__ import annotations

from .config import Settings
from .input.model_rules import apply_model_rules
from .input.validation import validate_input
from .manifest import load_manifest
from .transport.request import build_request


def prepare(action_name: str, data: dict | None, settings: Settings) -> tuple:
    """Validate and shape the input; return (action, params, request). Never touches the network.

    Building the request judges its URL (`urls.check_transport`), so a URL the key must not go
    to is refused here, before any key source is asked."""
    manifest = load_manifest()
    action = manifest.action(action_name)
    params, explicit = validate_input(action, data)
    params = apply_model_rules(action.id, params, explicit, manifest.model_rules.get(action.id, []))
    request = build_request(action, params, settings)
    return action, params, request
