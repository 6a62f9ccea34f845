"""Shaping OpenAI's answers into each action's result (the output schemas in schemas/).

Pure functions of (response data, request id, the parameters sent); an answer without the
fields we rely on becomes UnexpectedResponseError instead of a KeyError deep in a caller.
"""

from __future__ import annotations

import base64
import struct

from .errors import UnexpectedResponseError

URL_LIFETIME_SECONDS = 3600  # OpenAI image URLs expire after 60 minutes


def normalize(action_id: str, data: dict, request_id: str | None, params: dict) -> dict:
    try:
        shaper = SHAPERS[action_id]
    except KeyError:
        raise UnexpectedResponseError(f"no result shape for action {action_id!r}") from None
    try:
        return shaper(data, request_id, params)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, struct.error) as exc:
        raise UnexpectedResponseError(
            f"{action_id}: OpenAI's answer is missing what we expect ({type(exc).__name__}: {exc})",
            request_id=request_id,
        ) from None


def chat_result(data: dict, request_id, params) -> dict:
    choice = data["choices"][0]
    message = choice["message"]
    result = {
        "content": message.get("content"),
        "role": "assistant",
        "finish_reason": choice.get("finish_reason"),
        "model": data["model"],
        "id": data["id"],
        "usage": _chat_usage(data.get("usage")),
        "request_id": request_id,
    }
    if message.get("tool_calls"):
        result["tool_calls"] = [
            {"id": call["id"], "type": call.get("type", "function"),
             "function": {"name": call["function"]["name"], "arguments": call["function"].get("arguments", "")}}
            for call in message["tool_calls"]
        ]
    if message.get("refusal"):
        result["refusal"] = message["refusal"]
    return result


def _chat_usage(usage: dict | None) -> dict | None:
    if not usage:
        return None
    out = {name: int(usage[name]) for name in ("prompt_tokens", "completion_tokens", "total_tokens")}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning is not None:
        out["reasoning_tokens"] = int(reasoning)
    return out


def image_result(data: dict, request_id, params) -> dict:
    """Images as returned: url or b64_json items. Saving base64 to files is `images.py`'s job."""
    images = []
    for item in data["data"]:
        image = {k: item[k] for k in ("url", "b64_json", "revised_prompt") if item.get(k)}
        if "url" not in image and "b64_json" not in image:
            raise ValueError("an image with neither url nor b64_json")
        images.append(image)
    if not images:
        raise ValueError("no images in the answer")
    created = int(data["created"])
    result = {"images": images, "created": created, "model": params.get("model") or data.get("model", ""),
              "request_id": request_id}
    if any("url" in image for image in images):
        result["expires_at"] = created + URL_LIFETIME_SECONDS
        result["note"] = "Image URLs expire 60 minutes after creation; download them to keep them."
    if data.get("usage"):
        result["usage"] = data["usage"]
    return result


def models_result(data: dict, request_id, params) -> dict:
    models = []
    for entry in sorted(data["data"], key=lambda m: m["id"]):
        model = {"id": entry["id"], "owned_by": entry["owned_by"], "created": int(entry["created"])}
        if entry.get("shutdown_date") is not None:
            model["shutdown_date"] = entry["shutdown_date"]
        models.append(model)
    return {"models": models, "count": len(models), "request_id": request_id}


def embedding_result(data: dict, request_id, params) -> dict:
    items = sorted(data["data"], key=lambda item: item["index"])
    vectors = [_vector(item["embedding"]) for item in items]
    if not vectors:
        raise ValueError("no embeddings in the answer")
    result: dict = {}
    if isinstance(params.get("input"), str):
        result["embedding"] = vectors[0]
    else:
        result["embeddings"] = vectors
    usage = data["usage"]
    result.update({
        "model": data["model"],
        "dimensions": len(vectors[0]),
        "usage": {"prompt_tokens": int(usage["prompt_tokens"]), "total_tokens": int(usage["total_tokens"])},
        "request_id": request_id,
    })
    return result


def _vector(raw) -> list[float]:
    """A float list; with encoding_format=base64 the API sends little-endian float32 bytes."""
    if isinstance(raw, str):
        packed = base64.b64decode(raw, validate=True)
        return list(struct.unpack(f"<{len(packed) // 4}f", packed))
    if not isinstance(raw, list) or not all(isinstance(x, (int, float)) for x in raw):
        raise TypeError("embedding is not a list of numbers")
    return raw


SHAPERS = {
    "chat-completion": chat_result,
    "generate-image": image_result,
    "list-models": models_result,
    "create-embedding": embedding_result,
}
