"""create-embedding: the result shape; base64 answers are decoded to floats."""

from __future__ import annotations

import base64
import struct


def shape(data: dict, request_id, params) -> dict:
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
