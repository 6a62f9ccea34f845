"""Server-sent events and chat-completion chunks: pure parsing, no I/O.

`iter_lines` splits raw body pieces into lines, `iter_events` turns lines into event data
(the SSE rules: `data:` fields joined by newlines, `:` comments skipped, a blank line ends an
event), and `accumulate` folds `chat.completion.chunk` objects into the response a
non-streamed call would have returned.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

DONE = "[DONE]"
_EOL = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


def iter_lines(pieces: Iterable[bytes | str]) -> Iterator[str]:
    """Yield the lines of a body that arrives in `pieces` of any size, without line endings.

    Lines end at CRLF, LF or CR only (not at the other characters `str.splitlines` knows,
    such as U+2028, which may sit unescaped inside JSON), also when a CRLF or a multi-byte
    UTF-8 character is split across two pieces. A last line without an ending is yielded.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    skip_lf = False  # the previous piece ended in CR: a LF starting this one belongs to it
    for piece in pieces:
        text = decoder.decode(piece) if isinstance(piece, bytes) else piece
        if not text:
            continue
        if skip_lf:
            text = text.removeprefix("\n")
        buffer += text
        start = 0
        for match in _EOL.finditer(buffer):
            yield buffer[start:match.start()]
            start = match.end()
        skip_lf = start > 0 and start == len(buffer) and buffer.endswith("\r")
        buffer = buffer[start:]
    buffer += decoder.decode(b"", final=True)
    if buffer:
        yield buffer


def iter_events(lines: Iterable[bytes | str]) -> Iterator[str]:
    """Yield the data of each server-sent event in `lines` (str or bytes, endings optional).

    `data:` with or without the space after the colon; several `data:` lines in one event are
    joined with newlines; lines starting with `:` are comments; other fields (`event`, `id`,
    `retry`) are ignored. An event still open when the lines run out is yielded as well
    (lenient: some servers omit the blank line after `data: [DONE]`).
    """
    data: list[str] = []
    first = True
    for raw in lines:
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        line = _strip_ending(line)
        if first:
            line = line.removeprefix(_BOM)
            first = False
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


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
    for chunk in chunks:
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None and response.get(key) is None:
                response[key] = chunk[key]
        if chunk.get("usage"):
            usage = chunk["usage"]
        for part in chunk.get("choices") or ():
            index = part.get("index", 0)
            choice = choices.get(index)
            if choice is None:
                choice = choices[index] = {"index": index, "_parts": [], "_refusal": [],
                                           "_tools": {}, "_function": None, "role": None,
                                           "finish_reason": None, "logprobs": None}
            _apply_delta(choice, part.get("delta") or {})
            if part.get("finish_reason") is not None:
                choice["finish_reason"] = part["finish_reason"]
            _extend_logprobs(choice, part.get("logprobs"))
    response["choices"] = [_finish_choice(choices[i]) for i in sorted(choices)]
    if usage is not None:
        response["usage"] = usage
    return {k: v for k, v in response.items()
            if v is not None or k in ("id", "created", "model")}


def _apply_delta(choice: dict, delta: dict) -> None:
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


def _strip_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line
