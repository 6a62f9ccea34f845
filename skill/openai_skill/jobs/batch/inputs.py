"""The Batch API's request files: one line per input, checked like a single call, split over
the per-file limits.

Each input line (an action's input object) goes through the client's `prepare` — the
action's schema and model rules — and becomes the line the Batch API reads:

    {"custom_id": "line-12", "method": "POST", "url": "/v1/embeddings", "body": {...}}

`custom_id` carries the input's line number, so results join back to the inputs by it.
Lines are written straight to part files; a part closes before it would pass a limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ... import urls
from ...errors import InputError, UnexpectedResponseError
from ...client import Client

API_PREFIX = "/v1"
CUSTOM_ID_PREFIX = "line-"
MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True)
class Limits:
    """The Batch API's per-file limits (CreateBatchRequest in the spec)."""

    requests: int = 50_000
    bytes: int = 200 * 1024 * 1024
    embedding_inputs: int = 50_000     # summed over the file's requests (/v1/embeddings)


@dataclass
class Part:
    path: Path
    first_line: int = 0
    last_line: int = 0
    requests: int = 0
    bytes: int = 0
    embedding_inputs: int = 0
    worst_usd: float = 0.0          # the part's worst case at the Batch price (spend guard)
    unpriced: str | None = None     # why a line's worst case is unknown (or was not computed), if so


def custom_id(line: int) -> str:
    return f"{CUSTOM_ID_PREFIX}{line}"


def line_of(custom: object) -> int | None:
    if isinstance(custom, str) and custom.startswith(CUSTOM_ID_PREFIX) and custom[len(CUSTOM_ID_PREFIX):].isdigit():
        return int(custom[len(CUSTOM_ID_PREFIX):])
    return None


def batch_actions() -> dict[str, str]:
    """{endpoint: action id} for the actions skill.yaml marks `batch: true`."""
    from ...manifest import load_manifest

    return {API_PREFIX + a.path: a.id for a in load_manifest().actions.values() if a.batch}


def check_action(action_id: str) -> None:
    allowed = list(batch_actions().values())
    if action_id not in allowed:
        raise InputError(f"batch: the Batch API runs {' and '.join(allowed)}, not {action_id!r}",
                         problems=[{"path": "action", "expected": " or ".join(allowed),
                                    "given": repr(action_id), "message": f"unsupported action {action_id!r}"}])


def request_line(action_id: str, line: int, data, client: Client) -> tuple[bytes, int, dict]:
    """(the JSONL line, embedding inputs it holds, the checked params) for one input."""
    if isinstance(data, dict) and data.get("stream") is True:
        raise InputError("stream: the Batch API does not stream; leave `stream` out",
                         problems=[{"path": "stream", "expected": "false or absent", "given": "true",
                                    "message": "the Batch API does not stream"}])
    prepared = client.prepare(action_id, data)
    action, params, request = prepared.action, prepared.params, prepared.request
    body = request.body
    entry = {"custom_id": custom_id(line), "method": action.method, "url": API_PREFIX + action.path, "body": body}
    inputs = 0
    if action_id == "create-embedding" and body is not None:  # a POST: it always has a body
        inputs = len(body["input"]) if isinstance(body["input"], list) else 1
    return (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"), inputs, params


def read_inputs(lines: Iterable[str]) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON or an InputError) for each line of an inputs file."""
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            yield number, InputError(f"line {number}: empty line (expected one JSON input)")
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, InputError(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
        except RecursionError:
            yield number, InputError(f"line {number}: the JSON is nested too deeply")
        except ValueError as exc:  # an integer with thousands of digits (Python's int conversion limit)
            yield number, InputError(f"line {number}: not JSON ({exc})")


def write_parts(action_id: str, lines: Iterable[str], folder: Path, client: Client,
                limits: Limits = Limits()) -> list[Part]:
    """Check every input and write the request files into `folder`; return the parts.

    Every problem is collected first (up to MAX_REPORTED_PROBLEMS, each naming its line);
    if there is any, InputError lists them and the caller uploads nothing.
    """
    check_action(action_id)
    # Each line's worst case while a cap is set or the call log records it (OPENAI_SKILL_CALL_LOG=0
    # without a cap skips that work); a part left unpriced counts as unknown, so a cap set
    # meanwhile refuses the batch, never passes it.
    priced = client.guard.active() or client.guard.logging()
    problems: list[dict] = []
    bad = 0
    parts: list[Part] = []
    handle = None
    part: Part | None = None
    try:
        for number, data in read_inputs(lines):
            try:
                if isinstance(data, InputError):
                    raise data
                encoded, inputs, params = request_line(action_id, number, data, client)
            except InputError as exc:
                bad += 1
                if len(problems) < MAX_REPORTED_PROBLEMS:
                    problems.extend(_at_line(number, exc))
                continue
            if inputs > limits.embedding_inputs or len(encoded) > limits.bytes:
                bad += 1
                problems.append({"path": f"line {number}", "expected": "a request within one batch file's limits",
                                 "given": f"{inputs} inputs, {len(encoded)} bytes",
                                 "message": f"line {number}: too large for one batch file"})
                continue
            if bad:
                continue  # still checking, no point writing
            if part is None or handle is None or _would_pass(part, encoded, inputs, limits):
                if handle is not None:
                    handle.close()
                part = Part(folder / f"batch-input-{len(parts) + 1:03d}.jsonl", first_line=number)
                parts.append(part)
                handle = open(part.path, "wb")  # noqa: SIM115  (one part after another; the finally closes the last)
            handle.write(encoded)
            worst = client.worst_case(action_id, params, batch=True) if priced else None
            if worst is None:
                part.unpriced = part.unpriced or "not priced: no spend cap was set when the input was read"
            elif worst.usd is None:
                part.unpriced = part.unpriced or f"line {number}: {worst.unknown}"
            else:
                part.worst_usd += worst.usd
            part.last_line = number
            part.requests += 1
            part.bytes += len(encoded)
            part.embedding_inputs += inputs
    finally:
        if handle is not None:
            handle.close()
    if problems:
        head = (problems[0]["message"] if bad == 1
                else f"{bad} bad lines in the batch input; first: {problems[0]['message']}")
        raise InputError(head, problems=problems)
    if not parts:
        raise InputError("the batch input has no lines")
    return parts


def _would_pass(part: Part, encoded: bytes, inputs: int, limits: Limits) -> bool:
    return (part.requests + 1 > limits.requests or part.bytes + len(encoded) > limits.bytes
            or part.embedding_inputs + inputs > limits.embedding_inputs)


def _at_line(number: int, exc: InputError) -> list[dict]:
    """The problems of one input, each prefixed with its line number."""
    if not exc.problems:
        message = exc.message if exc.message.startswith(f"line {number}") else f"line {number}: {exc.message}"
        return [{"path": f"line {number}", "expected": "a valid input", "given": "", "message": message}]
    return [{**p, "path": f"line {number}: {p['path']}", "message": f"line {number}: {p['message']}"}
            for p in exc.problems]


def checked_id(value, what: str = "batch id", *, from_server: bool = False) -> str:
    """An id before it goes into a URL path or near a file name (`urls.checked_id`): a batch
    id the user gave (InputError), or one from an answer (UnexpectedResponseError)."""
    return urls.checked_id(value, what, from_server=from_server)


def checked_batch(batch, asked: str | None = None) -> dict:
    """A batch object from an answer: a JSON object whose `id` is an id (and the one asked
    for, when we asked for one), and whose file ids, when present, are ids too."""
    if not isinstance(batch, dict):
        raise UnexpectedResponseError(f"the server's answer for a batch is not an object: {repr(batch)[:80]}")
    found = checked_id(batch.get("id"), "batch id", from_server=True)
    if asked is not None and found != asked:
        raise UnexpectedResponseError(f"asked for batch {asked}, the server answered with batch {found}; "
                                      "nothing was fetched or written")
    for name in ("input_file_id", "output_file_id", "error_file_id"):
        if batch.get(name) is not None:
            checked_id(batch[name], name, from_server=True)
    return batch


def load_inputs_params(action: str, inputs: Path, client: Client) -> dict[int, tuple[object, dict]]:
    """{line: (the input as given, its checked params)} for joining (small files; see results)."""
    table = {}
    with open(inputs, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                data = json.loads(raw)
                table[number] = (data, request_line(action, number, data, client)[2])
    return table
