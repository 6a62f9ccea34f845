"""OpenAI's Batch API, driven through the core: upload a request file, create the batch, follow
it, and join its output back to the inputs.

    ids = [b["id"] for b in batch.create("chat-completion", "inputs.jsonl")]
    batch.wait(ids[0])
    summary = batch.results(ids, out="results.jsonl", inputs="inputs.jsonl")

Every input is checked with the action's schema and model rules before anything is uploaded
(errors name the line); inputs beyond one file's limits become several batches. Calls use the
same key resolution, session, retries, deadline and redaction as `invoke`. Every function takes
`api_key` and the Settings fields (base_url, timeouts, max_retries, ...) as options.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Settings
from ..errors import APIError, InputError
from .batch_files import Limits, check_action, line_of, request_line, write_parts

COMPLETION_WINDOW = "24h"            # the only window the API offers
TERMINAL = ("completed", "failed", "expired", "cancelled")
POLL_FIRST, POLL_FACTOR, POLL_MAX = 2.0, 1.5, 60.0   # seconds: wait() backs off to once a minute
CREATED_BY = "openai-skill"
_sleep = time.sleep   # seams for tests
_clock = time.monotonic


def _context(options: dict) -> tuple[Settings, str]:
    from ..secrets.keys import resolve_api_key

    api_key = options.pop("api_key", None)
    settings = Settings.from_env(**options)
    from ..transport.urls import check_transport

    check_transport(settings.base_url)
    return settings, resolve_api_key(api_key, url=settings.base_url)  # a vault key only where allowed


def _call(method: str, path: str, settings: Settings, key: str, body=None, query=None) -> dict:
    from ..transport.http import send
    from ..transport.request import endpoint_request

    return send(endpoint_request(method, path, settings, body=body, query=query), key, settings).data


def create(action: str, source: str | Path, *, limits: Limits | None = None, metadata: dict | None = None,
           **options) -> list[dict]:
    """Check `source` (one input of `action` per line), upload it and create its batch(es)."""
    check_action(action)
    settings = Settings.from_env(**{k: v for k, v in options.items() if k != "api_key"})
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="openai-skill-batch-") as folder:
        try:
            with open(source, encoding="utf-8") as handle:
                parts = write_parts(action, handle, Path(folder), settings, limits or Limits())
        except OSError as exc:
            raise InputError(f"{source}: cannot read the batch input ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        settings, key = _context(dict(options))
        from ..transport.files import upload

        created = []
        for number, part in enumerate(parts, start=1):
            uploaded = upload(part.path, "batch", key, settings).data
            tags = {"created_by": CREATED_BY, "action": action, "source": source.name[:200],
                    "lines": f"{part.first_line}-{part.last_line}", "part": f"{number} of {len(parts)}",
                    **(metadata or {})}
            body = {"input_file_id": uploaded["id"], "endpoint": request_line_endpoint(action),
                    "completion_window": COMPLETION_WINDOW, "metadata": tags}
            created.append(_call("POST", "/batches", settings, key, body=body))
    return created


def request_line_endpoint(action: str) -> str:
    from ..manifest import load_manifest

    return "/v1" + load_manifest().action(action).path


def status(batch_id: str, **options) -> dict:
    """The batch object (status, request_counts, file ids, ...)."""
    settings, key = _context(options)
    return _call("GET", f"/batches/{_checked_id(batch_id)}", settings, key)


def cancel(batch_id: str, **options) -> dict:
    settings, key = _context(options)
    return _call("POST", f"/batches/{_checked_id(batch_id)}/cancel", settings, key)


def list_batches(limit: int = 20, after: str | None = None, **options) -> dict:
    """A page of the account's batches, newest first (`after`: the last id of the previous page)."""
    if not 1 <= int(limit) <= 100:
        raise InputError(f"limit: expected 1..100, got {limit}")
    settings, key = _context(options)
    return _call("GET", "/batches", settings, key, query={"limit": int(limit), "after": after})


def wait(batch_id: str, *, timeout: float | None = None, on_progress: Callable[[dict], None] | None = None,
         **options) -> dict:
    """Poll until the batch ends (completed, failed, expired or cancelled); return it.

    Polls back off from POLL_FIRST to POLL_MAX seconds; `on_progress(batch)` sees each poll.
    A batch that ends other than `completed` is returned all the same (its status says so).
    """
    settings, key = _context(options)
    path = f"/batches/{_checked_id(batch_id)}"
    started, delay = _clock(), POLL_FIRST
    while True:
        batch = _call("GET", path, settings, key)
        if on_progress is not None:
            on_progress(batch)
        if batch.get("status") in TERMINAL:
            return batch
        if timeout is not None and _clock() - started + delay > timeout:
            from ..errors import APITimeoutError

            raise APITimeoutError(f"batch {batch_id} is still {batch.get('status')} after {timeout:g} s "
                                  f"({progress_text(batch)}); `openai-skill batch wait {batch_id}` again later")
        _sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX)


def progress_text(batch: dict) -> str:
    counts = batch.get("request_counts") or {}
    total = counts.get("total") or 0
    done = (counts.get("completed") or 0) + (counts.get("failed") or 0)
    return f"{batch.get('status')}: {done}/{total} requests, {counts.get('failed') or 0} failed"


def _checked_id(batch_id: str) -> str:
    if not isinstance(batch_id, str) or not batch_id or not all(c.isalnum() or c in "_-" for c in batch_id):
        raise InputError(f"batch id: expected letters, digits, _ or -, got {batch_id!r}")
    return batch_id


def results(batch_ids, out: str | Path | None = None, *, inputs: str | Path | None = None, **options):
    """Download the batches' output and error files and join them to the inputs by custom_id.

    Each joined line: {"line": N, "custom_id", "result": <the action's result> | null,
    "error": <the error object> | null} (and "input" when `inputs` is given), in line order.
    Written atomically to `out`; without `out`, the lines are returned as a list.
    Returns (for `out`) a summary: lines, succeeded, failed, missing.
    """
    from .batch_results import collect

    if isinstance(batch_ids, str):
        batch_ids = [batch_ids]
    settings, key = _context(options)
    batches = [_call("GET", f"/batches/{_checked_id(b)}", settings, key) for b in batch_ids]
    unfinished = [b["id"] for b in batches if b.get("status") not in TERMINAL]
    if unfinished:
        raise APIError(f"batch {', '.join(unfinished)} has not ended yet; `openai-skill batch wait` first")
    return collect(batches, settings, key, out=Path(out) if out else None,
                   inputs=Path(inputs) if inputs else None)


def load_inputs_params(action: str, inputs: Path, settings: Settings) -> dict[int, tuple[object, dict]]:
    """{line: (the input as given, its checked params)} for joining (small files; see results)."""
    table = {}
    with open(inputs, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                data = json.loads(raw)
                table[number] = (data, request_line(action, number, data, settings)[2])
    return table


list = list_batches  # noqa: A001  (the public name, `batch.list`; nothing in this module calls list())

__all__ = ["create", "status", "wait", "results", "cancel", "list", "list_batches", "Limits", "line_of"]
