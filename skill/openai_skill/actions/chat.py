"""chat-completion: the result shape, and how a streamed answer is read and folded.

Pure functions: `shape` turns a `chat.completion` into the action's result; `stream_text`
picks the text out of one streamed chunk; `accumulate` folds the chunks into the
`chat.completion` a non-streamed call would have returned.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import UnexpectedResponseError


def stream_text(chunk: dict) -> str:
    """The text a streamed chunk adds (all choices), or "" when it adds none."""
    pieces = []
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    for choice in choices if isinstance(choices, list) else ():  # malformed: `accumulate` says so
        delta = choice.get("delta") if isinstance(choice, dict) else None
        piece = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(piece, str):
            pieces.append(piece)
    return "".join(pieces)


def shape(data: dict, request_id, params) -> dict:
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


def warnings(result: dict, params: dict) -> list[str]:
    """A reasoning model that spent the whole budget thinking: the result keeps the empty
    text, `finish_reason: length` and `reasoning_tokens`; the user hears why and what to do."""
    usage = result.get("usage") or {}
    if result.get("finish_reason") != "length" or result.get("content") or result.get("tool_calls") \
            or not usage.get("reasoning_tokens"):
        return []
    budget = params.get("max_completion_tokens") or params.get("max_tokens")
    of = f" of {budget} tokens" if budget else ""
    return [f"reasoning used the whole budget{of} ({usage['reasoning_tokens']} reasoning tokens) and left "
            "no answer; raise it with --max-tokens (max_tokens) or lower --reasoning-effort"]


def _chat_usage(usage: dict | None) -> dict | None:
    if not usage:
        return None
    out = {name: int(usage[name]) for name in ("prompt_tokens", "completion_tokens", "total_tokens")}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning is not None:
        out["reasoning_tokens"] = int(reasoning)
    return out


def accumulate(chunks: Iterable[dict]) -> dict:
    """Fold `chat.completion.chunk` dicts into one `chat.completion` response.

    Per choice index: the role, the concatenated `content` (and `refusal`), `tool_calls`
    assembled by their `index` with `function.arguments` (and `name`) concatenated, the last
    `finish_reason`, and logprobs lists extended. `usage` comes from the last chunk that
    carries one (with `stream_options.include_usage` that is a final chunk with `choices: []`).
    The result has the fields `CreateChatCompletionResponse` requires; `content` is None
    when no text arrived (a pure tool call), as in a non-streamed response.
    """
    response: dict = {"id": None, "object": "chat.completion", "created": None, "model": None}
    choices: dict[int, dict] = {}
    usage = None
    for number, chunk in enumerate(chunks):
        where = f"chunk {number}"
        _expect(chunk, dict, where)
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None and response.get(key) is None:
                response[key] = chunk[key]
        if chunk.get("usage"):
            usage = _expect(chunk["usage"], dict, f"{where}.usage")
        for i, part in enumerate(_expect(chunk.get("choices"), list, f"{where}.choices") or ()):
            path = f"{where}.choices[{i}]"
            _expect(part, dict, path)
            index = _expect(part.get("index", 0), int, f"{path}.index")
            _expect(part.get("finish_reason"), str, f"{path}.finish_reason")
            _expect(part.get("logprobs"), dict, f"{path}.logprobs")
            choice = choices.get(index)
            if choice is None:
                choice = choices[index] = {"index": index, "_parts": [], "_refusal": [],
                                           "_tools": {}, "_function": None, "role": None,
                                           "finish_reason": None, "logprobs": None}
            _apply_delta(choice, _expect(part.get("delta"), dict, f"{path}.delta") or {}, path)
            if part.get("finish_reason") is not None:
                choice["finish_reason"] = part["finish_reason"]
            _extend_logprobs(choice, part.get("logprobs"))
    response["choices"] = [_finish_choice(choices[i]) for i in sorted(choices)]
    if usage is not None:
        response["usage"] = usage
    return {k: v for k, v in response.items()
            if v is not None or k in ("id", "created", "model")}


def _expect(value, kind: type, path: str):
    """`value` if it is None or a `kind` (bool is not an int here); else the answer is
    malformed: UnexpectedResponseError naming the field, never a TypeError later."""
    if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        return value
    raise UnexpectedResponseError(
        f"a streamed chat chunk is malformed: {path} is {type(value).__name__}, "
        f"expected {'object' if kind is dict else 'array' if kind is list else kind.__name__}")


def _apply_delta(choice: dict, delta: dict, path: str) -> None:
    path += ".delta"
    for key in ("role", "content", "refusal"):
        _expect(delta.get(key), str, f"{path}.{key}")
    _expect(delta.get("function_call"), dict, f"{path}.function_call")
    for i, call in enumerate(_expect(delta.get("tool_calls"), list, f"{path}.tool_calls") or ()):
        where = f"{path}.tool_calls[{i}]"
        _expect(call, dict, where)
        _expect(call.get("index", 0), int, f"{where}.index")
        for key in ("id", "type"):
            _expect(call.get(key), str, f"{where}.{key}")
        for key in ("name", "arguments"):
            _expect((_expect(call.get("function"), dict, f"{where}.function") or {}).get(key),
                    str, f"{where}.function.{key}")
    for key in ("name", "arguments"):
        _expect((delta.get("function_call") or {}).get(key), str, f"{path}.function_call.{key}")
    if delta.get("role"):
        choice["role"] = delta["role"]
    if delta.get("content") is not None:
        choice["_parts"].append(delta["content"])
    if delta.get("refusal") is not None:
        choice["_refusal"].append(delta["refusal"])
    for call in delta.get("tool_calls") or ():
        slot = choice["_tools"].setdefault(call.get("index", 0), {
            "id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        if call.get("id"):
            slot["id"] = call["id"]
        if call.get("type"):
            slot["type"] = call["type"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""
    legacy = delta.get("function_call")
    if legacy:
        if choice["_function"] is None:
            choice["_function"] = {"name": "", "arguments": ""}
        choice["_function"]["name"] += legacy.get("name") or ""
        choice["_function"]["arguments"] += legacy.get("arguments") or ""


def _extend_logprobs(choice: dict, logprobs: dict | None) -> None:
    if not logprobs:
        return
    if choice["logprobs"] is None:
        choice["logprobs"] = {"content": None, "refusal": None}
    for key in ("content", "refusal"):
        if logprobs.get(key):
            _expect(logprobs[key], list, f"logprobs.{key}")
            choice["logprobs"][key] = (choice["logprobs"][key] or []) + list(logprobs[key])


def _finish_choice(choice: dict) -> dict:
    message: dict = {
        "role": choice["role"] or "assistant",
        "content": "".join(choice["_parts"]) if choice["_parts"] else None,
        "refusal": "".join(choice["_refusal"]) if choice["_refusal"] else None,
    }
    if choice["_tools"]:
        message["tool_calls"] = [choice["_tools"][i] for i in sorted(choice["_tools"])]
    if choice["_function"] is not None:
        message["function_call"] = choice["_function"]
    return {"index": choice["index"], "message": message,
            "finish_reason": choice["finish_reason"], "logprobs": choice["logprobs"]}


