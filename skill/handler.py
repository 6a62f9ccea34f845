"""The pipeline behind `skill.invoke`: validate → model rules → key → build → send →
normalize. Every step before `send` is pure and runs before any socket is opened."""

from __future__ import annotations

from .build import ApiRequest, build_request, check_transport
from .config import Settings
from .manifest import load_manifest
from .results import normalize
from .rules import apply_model_rules
from .validate import validate_input

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
           timeout: float | None = None, **options) -> dict:
    """Run one action and return its normalized result (see schemas/<action>.output.json).

    Options: api_key; dry_run (return the request instead of sending it); on_text (called
    with each piece of streamed text); inline_images (keep base64 in the result instead of
    saving files); download_images (save URL images to files too); timeout (read timeout,
    seconds); and any Settings field: base_url, organization, project, connect_timeout,
    read_timeout, deadline, max_retries, output_dir.
    """
    if timeout is not None:
        options.setdefault("read_timeout", timeout)
    settings = Settings.from_env(**options)
    action_, params, request = prepare(action, data, settings)
    check_transport(request.url)  # before the key is looked up: a refused URL needs no vault prompt
    if dry_run:
        return {"dry_run": True, "action": action_.id, "request": request.describe()}

    from .credentials import resolve_api_key

    key = resolve_api_key(api_key)
    response_data, request_id = _send(request, key, settings, on_text)
    result = normalize(action_.id, response_data, request_id, params)
    if action_.id == "generate-image" and not inline_images:
        result = _save_images(result, settings, download_images)
    return result


def _send(request: ApiRequest, key: str, settings: Settings, on_text) -> tuple[dict, str | None]:
    from . import client

    if not request.stream:
        response = client.send(request, key, settings)
        return response.data, response.request_id
    from .streaming import accumulate

    stream = client.stream(request, key, settings)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if on_text:
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    on_text(piece)
    return accumulate(chunks), stream.request_id


def _save_images(result: dict, settings: Settings, download: bool) -> dict:
    """Write base64 images (and, if asked, downloaded URL images) to files in output_dir."""
    from .images import decode_b64_image, default_stem, save_image

    images = []
    for index, image in enumerate(result["images"], start=1):
        image = dict(image)
        data = None
        if "b64_json" in image:
            data = decode_b64_image(image.pop("b64_json"))
        elif download and "url" in image:
            from .client import download as fetch

            data, _content_type = fetch(image["url"], settings)
        if data is not None:
            image.update(save_image(data, settings.output_dir, default_stem(result["created"], index)))
        images.append(image)
    return {**result, "images": images}
