"""Turning a pipeline result or a SkillError into an MCP tool result, as plain wire dicts.

Pure functions (file reads come in as a callable), so the shapes are tested without the SDK.
- Success: `structuredContent` is the action's result, exactly as its output schema says
  (the SDK's client checks it); `content` is what a model reads: the reply text for chat,
  the JSON for the rest, a compact summary instead of megabytes of floats for big embeddings.
- Images: small ones as image content (base64) and their file path; large ones as a
  resource link and a path only, because many clients cap a tool result near 1 MB.
- Failure: `isError: true` with the CLI's one line and the error object; never a protocol
  error, and nothing unredacted (SkillError messages are redacted when built).
- Every string of a successful result is masked too, value by value as the CLI prints it
  (`redaction.redact_value`): a model may echo the key it was sent (or a tool output may
  carry it); only held secrets are masked, so model text is otherwise unchanged.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from collections.abc import Callable

from ...redaction import redact_value

# Raw image bytes inlined per result: base64 adds a third, so 512 KiB stays near 700 KB on the
# wire, under the ~1 MB tool-result cap of many clients; beyond it, a resource link only.
INLINE_IMAGES_MAX_BYTES = 512 * 1024
# Numbers shown in the text content of an embedding result; above this, a summary instead
# (the full vectors are always in structuredContent).
EMBEDDING_TEXT_MAX_NUMBERS = 1024
SUMMARY_HEAD = 4  # leading numbers of each vector shown in a summary


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Said after a failure that comes from the set-up (the key, the base URL, the network), not the
# input: one command shows every such problem with its fix.
DOCTOR_HINT = ("The user can run `openai-skill doctor` in a terminal: it checks the key, the base URL and "
               "the API, and says how to fix each problem.")


def error_result(exc) -> dict:
    """A SkillError as an `isError` result: the CLI's line, then the error object as JSON."""
    line = f"openai-skill: {exc.message}"
    problems = getattr(exc, "problems", None)
    if problems and len(problems) > 1:
        line += "".join(f"\n  - {p['message']}" for p in problems)
    if is_setup_failure(exc):
        line += f"\n{DOCTOR_HINT}"
    return {"content": [text(line), text(_json({"error": exc.to_dict()}))], "isError": True}


def is_setup_failure(exc) -> bool:
    """A missing or refused key, a base URL we will not use, the network: not the input's fault."""
    from ...errors import CredentialsError, InsecureTransportError, TransportError

    return isinstance(exc, (CredentialsError, InsecureTransportError, TransportError))


def internal_error_result(tool: str) -> dict:
    """A bug of ours, said without details (they could hold anything)."""
    return {"content": [text(f"openai-skill: internal error while running {tool}; the server's stderr has "
                             "the exception type. Nothing else was changed.")], "isError": True}


def _vectors(result: dict) -> list:
    return [result["embedding"]] if "embedding" in result else list(result.get("embeddings", []))


def embedding_summary(result: dict) -> str:
    """A few lines instead of thousands of floats: count, dimensions, model, usage, the first values."""
    vectors = _vectors(result)
    heads = "; ".join(f"[{', '.join(f'{x:.6g}' for x in v[:SUMMARY_HEAD])}, ...]" for v in vectors[:3])
    more = f" (and {len(vectors) - 3} more)" if len(vectors) > 3 else ""
    return (f"{len(vectors)} embedding vector(s) of {result.get('dimensions')} dimensions from "
            f"{result.get('model')}; usage {_json(result.get('usage'))}; request_id {result.get('request_id')}. "
            f"The full vectors are in structuredContent. First values: {heads}{more}")


def _image_blocks(result: dict, read_bytes: Callable[[str], bytes]) -> list[dict]:
    blocks, budget = [], INLINE_IMAGES_MAX_BYTES
    for index, image in enumerate(result["images"], start=1):
        path = image.get("path")
        if not path:
            continue  # a URL image: its URL is in the JSON text
        size = int(image.get("bytes") or 0)
        mime = image.get("mime_type") or "application/octet-stream"
        if 0 < size <= budget:
            budget -= size
            blocks.append({"type": "image", "data": base64.b64encode(read_bytes(path)).decode("ascii"),
                           "mimeType": mime})
            blocks.append(text(f"image {index} saved to {path}"))
        else:
            blocks.append({"type": "resource_link", "uri": Path(path).as_uri(), "name": Path(path).name,
                           "mimeType": mime, "size": size,
                           "description": f"generated image {index} ({size} bytes), saved to {path}"})
            blocks.append(text(f"image {index} saved to {path} ({size} bytes: too large to inline)"))
    return blocks


def success_result(action_id: str, result: dict,
                   read_bytes: Callable[[str], bytes] = lambda p: Path(p).read_bytes()) -> dict:
    """The MCP result for an action's result (already shaped and finished by the pipeline)."""
    result = redact_value(result)   # before any text is made from it
    if action_id == "chat-completion" and result.get("content"):
        content = [text(result["content"])]
        if result.get("tool_calls"):
            content.append(text(_json({"tool_calls": result["tool_calls"]})))
    elif action_id == "create-embedding" and sum(map(len, _vectors(result))) > EMBEDDING_TEXT_MAX_NUMBERS:
        content = [text(embedding_summary(result))]
    else:
        content = [text(_json(result))]
    if action_id == "generate-image":
        content += _image_blocks(result, read_bytes)
    content += [text(f"warning: {line}") for line in result.get("warnings") or ()]
    return {"content": content, "structuredContent": result, "isError": False}
