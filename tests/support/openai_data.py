"""Data the tests serve or send again and again, shaped as OpenAI's own (every success
answer served through the `openai` fixture is checked against the official spec)."""

from __future__ import annotations

import json

# One short user turn, the smallest valid chat input.
HI = [{"role": "user", "content": "hi"}]

# GET /models as OpenAI answers it today (unsorted; results list it sorted by id): every entry
# carries `shutdown_date`, a date or null.
MODELS = {"object": "list", "data": [
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system",
     "shutdown_date": "2027-01-14"},
    {"id": "gpt-image-2", "object": "model", "created": 1776729600, "owned_by": "system", "shutdown_date": None},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system",
     "shutdown_date": None},
    {"id": "gpt-6-luna", "object": "model", "created": 1790000000, "owned_by": "system", "shutdown_date": None},
]}
MODEL_IDS = sorted(m["id"] for m in MODELS["data"])


def sse(*events, done: bool = True) -> str:
    """A server-sent event stream: each event a JSON object (or a raw `data:` string), then
    `data: [DONE]` unless done=False (a stream cut short)."""
    text = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
    return text + ("data: [DONE]\n\n" if done else "")
