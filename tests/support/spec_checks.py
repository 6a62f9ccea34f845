"""The official spec's checks in the shape the loopback OpenAI (support/fake_openai.py) takes
them: `check_request` for every body it gets, `check_answer` for every success answer it
gives. The fake itself stays free of them: the benchmarks run it without the spec."""

from __future__ import annotations

import base64
import re
import struct

# Concrete paths -> the spec's templated operation paths.
_TEMPLATES = [
    (re.compile(r"^/files/[^/]+/content$"), "/files/{file_id}/content"),
    (re.compile(r"^/files/[^/]+$"), "/files/{file_id}"),
    (re.compile(r"^/batches/[^/]+/cancel$"), "/batches/{batch_id}/cancel"),
    (re.compile(r"^/batches/[^/]+$"), "/batches/{batch_id}"),
]


def spec_path(path: str) -> str:
    path = path.removeprefix("/v1")
    for pattern, template in _TEMPLATES:
        if pattern.match(path):
            return template
    return path


def check_request(method: str, path: str, body) -> None:
    from contract.spec import validate_request

    validate_request(method, spec_path(path), body)


def check_answer(method: str, path: str, data) -> None:
    from contract.spec import validate_response

    if spec_path(path) == "/embeddings":
        # The spec models only float embeddings; a base64 answer is checked as its floats.
        data = {**data, "data": [{**item, "embedding": _floats(item["embedding"])} for item in data["data"]]}
    validate_response(method, spec_path(path), data)


def _floats(embedding):
    if not isinstance(embedding, str):
        return embedding
    raw = base64.b64decode(embedding)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))

