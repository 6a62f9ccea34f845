"""The pipeline behind `openai_skill.invoke`: validate → model rules → key → build → send →
shape → finish. Every step before `send` is pure and runs before any socket is opened; what
differs between actions lives in the action's module (`actions/`), never in an `if` here."""

from __future__ import annotations

from . import actions
from .config import Settings
from .input.model_rules import apply_model_rules
from .input.validation import validate_input
from .manifest import load_manifest
from .transport.request import ApiRequest, build_request


def prepare(action_name: str, data: dict | None, settings: Settings) -> tuple:
    """Validate and shape the input; return (action, params, request). Never touches the network."""
    manifest = load_manifest()
    action = manifest.action(action_name)
    params, explicit = validate_input(action, data)
    params = apply_model_rules(action.id, params, explicit, manifest.model_rules.get(action.id, []))
    request = build_request(action, params, settings)
    return action, params, request


def invoke(action: str, data: dict | None = None, *, api_key: str | None = None, dry_run: bool = False,
           on_text=None, inline_images: bool = False, download_images: bool = False,
           **settings) -> dict:
    """Run one action and return its normalized result (see schemas/<action>.output.json).

    Options: api_key; dry_run (return the request instead of sending it); on_text (called
    with each piece of streamed text); inline_images (keep base64 in the result instead of
    saving files); download_images (save URL images to files too); and the Settings fields
    (see `config.Settings`), which override the environment for this call.
    """
    settings_ = Settings.from_env(**settings)
    # Building the request judges its URL (transport.urls), so a URL the key must not go to
    # is refused here, before the key is looked up (no vault prompt for a refused URL).
    action_, params, request = prepare(action, data, settings_)
    # The local side too (an output folder that cannot be written), before a paid call.
    actions.check(action_.id, params, settings_, inline_images=inline_images,
                  download_images=download_images)
    if dry_run:
        return {"dry_run": True, "action": action_.id, "request": request.describe()}

    from .secrets.keys import resolve_api_key

    key = resolve_api_key(api_key, url=request.url)  # a vault key goes only where its entry allows
    response_data, request_id = _send(action_.id, request, key, settings_, on_text)
    result = actions.shape(action_.id, response_data, request_id, params)
    return actions.finish(action_.id, result, settings_, inline_images=inline_images,
                          download_images=download_images)


def _send(action_id: str, request: ApiRequest, key: str, settings: Settings, on_text) -> tuple[dict, str | None]:
    from .transport import http

    if not request.stream:
        response = http.send(request, key, settings)
        return response.data, response.request_id
    handler = actions.module(action_id)
    stream = http.stream(request, key, settings)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if on_text:
            piece = handler.stream_text(chunk)
            if piece:
                on_text(piece)
    return handler.accumulate(chunks), stream.request_id
