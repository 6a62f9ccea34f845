"""OpenClaw's exec SecretRef provider protocol, as a pure function.

OpenClaw runs `openai-skill secret-provider` with
    {"protocolVersion": 1, "provider": "<alias>", "ids": ["openai_api_key", ...]}
on stdin and reads
    {"protocolVersion": 1, "values": {"<id>": "<secret>"}, "errors": {"<id>": {"code": "NOT_FOUND"}}}
from stdout. A well-formed request always gets an answer (unknown ids are NOT_FOUND); a
malformed one raises InputError and gets no answer at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..errors import InputError
from .names import NAME_PATTERN, is_name

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 1024 * 1024   # OpenClaw caps the answer at 1 MiB; a request is far smaller
MAX_IDS = 1000
NOT_FOUND = "NOT_FOUND"


def parse_request(text: str) -> list[str]:
    """The ids asked for, in order without repeats; InputError says what is wrong."""
    if len(text.encode("utf-8", "replace")) > MAX_REQUEST_BYTES:
        raise InputError(f"secret-provider: the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any request has
        raise InputError("secret-provider: the request on stdin is not JSON") from None
    if not isinstance(request, dict):
        raise InputError("secret-provider: the request must be a JSON object")
    version = request.get("protocolVersion")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise InputError(f"secret-provider: protocolVersion must be {PROTOCOL_VERSION}, got {version!r}")
    if "provider" in request and not isinstance(request["provider"], str):
        raise InputError("secret-provider: provider must be a string")
    ids = request.get("ids")
    if not isinstance(ids, list):
        raise InputError("secret-provider: ids must be a list of strings")
    if len(ids) > MAX_IDS:
        raise InputError(f"secret-provider: at most {MAX_IDS} ids per request")
    for item in ids:
        if not is_name(item):
            shown = item if isinstance(item, str) and len(item) <= 64 else type(item).__name__
            raise InputError(f"secret-provider: invalid id {shown!r}: ids match ^{NAME_PATTERN}$")
    return list(dict.fromkeys(ids))


def answer(ids: list[str], lookup: Callable[[str], str | None]) -> dict:
    """The response object: a value for every id `lookup` knows, NOT_FOUND for the rest."""
    values, errors = {}, {}
    for secret_id in ids:
        value = lookup(secret_id)
        if value is None:
            errors[secret_id] = {"code": NOT_FOUND}
        else:
            values[secret_id] = value
    return {"protocolVersion": PROTOCOL_VERSION, "values": values, "errors": errors}


def respond(text: str, lookup: Callable[[str], str | None]) -> str:
    """Request text in, response JSON text out (raises InputError for a malformed request)."""
    return json.dumps(answer(parse_request(text), lookup), ensure_ascii=False)
