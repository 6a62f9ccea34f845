"""Shared by the bulk and batch tests: a loopback FakeOpenAI that checks every body it gets
(and every answer it gives) against the official spec, with OPENAI_BASE_URL pointed at it."""

from __future__ import annotations

import base64
import re
import struct

import pytest

from support.fake_openai import FakeOpenAI

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


@pytest.fixture
def fake(monkeypatch, key):
    server = FakeOpenAI(validate=check_request, validate_answer=check_answer)
    monkeypatch.setenv("OPENAI_BASE_URL", server.start())
    yield server
    server.stop()
    assert server.invalid == [], server.invalid
