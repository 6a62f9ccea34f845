"""The pure steps before a call: validate -> the model (lifecycle) -> model rules -> build the
request. Nothing here opens a socket or looks for a key; `client.Client` adds the key, sends,
and shapes the answer. What differs between actions lives in the action's module (`actions/`)
or in skill.yaml, never in an `if` here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

from .config import Settings
from .errors import InsecureTransportError
from .input.model_rules import apply_model_rules
from .input.validation import validate_input
from .lifecycle import learned as learned_models
from .lifecycle.choice import choose
from .lifecycle import table as _lifecycle
from .lifecycle.table import Table
from .manifest import load_manifest
from .transport.request import build_request
from . import urls


def prepare(action_name: str, data: dict | None, settings: Settings, *, today: date | None = None,
            env: Mapping | None = None, origin: str | None = None) -> tuple:
    """Validate and shape the input; return (action, params, request, warnings). Never touches
    the network.

    The model is settled first: the input's, else the user's default setting in `env`, else
    skill.yaml's default in force on `today` (UTC) for this origin; a model shut down by then
    is refused here, one within the warning window adds a warning. Building the request
    judges its URL (`urls.check_transport`), so a URL the key must not go to is refused here,
    before any key source is asked."""
    env = os.environ if env is None else env
    manifest = load_manifest()
    action = manifest.action(action_name)
    params, explicit = validate_input(action, data)
    origin = origin or _origin(settings)
    warnings: list[str] = []
    if action.id in manifest.defaults:
        choice = choose_model(action.id, params["model"] if "model" in explicit else None, settings,
                              today=today, env=env, origin=origin)
        params["model"] = choice.model
        warnings = choice.warnings
    params = apply_model_rules(action.id, params, explicit, manifest.model_rules.get(action.id, []),
                               origin=origin)
    request = build_request(action, params, settings)
    return action, params, request, warnings


def choose_model(action_id: str, given: str | None, settings: Settings, *, today: date | None = None,
                 env: Mapping | None = None, origin: str | None = None):
    """The lifecycle's `Choice` for a call of `action_id` to the settings' origin (`given`: the
    model the input names, or None); raises InputError for a model shut down by `today`."""
    env = os.environ if env is None else env
    origin = origin or _origin(settings)
    return choose(action_id, given, defaults=load_manifest().defaults, table=lifecycle_table(),
                  today=today or _lifecycle.today_from(env), learned=learned_models.load(origin, env), env=env)


def lifecycle_table() -> Table:
    """skill.yaml's lifecycle, read once per process."""
    return Table.of(load_manifest().lifecycle)


def _origin(settings: Settings) -> str | None:
    try:
        return urls.origin_of(settings.base_url)
    except InsecureTransportError:
        return None  # build_request refuses this URL with the reason
