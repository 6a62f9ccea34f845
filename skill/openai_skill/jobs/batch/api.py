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

import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ...client import Client, build_client
from ...errors import (APIError, ConflictError, InputError, QuotaExceededError, RateLimitError, ServerError,
                       SkillError, TransportError)
from ...retry import retry_delay
from .inputs import Limits, check_action, checked_batch, checked_id, line_of, write_parts

COMPLETION_WINDOW = "24h"            # the only window the API offers
# A batch's reservation counts as unsettled once its window (and an hour) has passed.
HOLD_SECONDS = 25 * 3600
SURFACE = "batch"                    # how the spend ledger labels batch calls
TERMINAL = ("completed", "failed", "expired", "cancelled")
POLL_FIRST, POLL_FACTOR, POLL_MAX = 2.0, 1.5, 60.0   # seconds: wait() backs off to once a minute
CREATED_BY = "openai-skill"
TAG_KEY = "create_tag"      # metadata: a random tag per create, to find a batch whose answer was lost
TAG_BYTES = 8
LOOKUP_PAGES = 5            # list pages searched for a tag (newest first; a create is recent)
LOOKUP_PAGE_SIZE = 100
CLOCK_SKEW = 300.0          # seconds of clock difference allowed between us and the server
_sleep = time.sleep   # seams for tests
_clock = time.monotonic


def _client(options: dict) -> Client:
    """The client for these options; its key is looked up (and a URL it must not go to refused)
    now, before the first request, so a missing key fails before any upload."""
    client = build_client(options, cache_vault=True)
    client.key_for(client.base_url)
    return client


def _call(client: Client, method: str, path: str, body=None, query=None, max_retries: int | None = None) -> dict:
    return client.send(client.endpoint(method, path, body=body, query=query), max_retries=max_retries).data


def create(action: str, source: str | Path, *, limits: Limits | None = None, metadata: dict | None = None,
           **options) -> list[dict]:
    """Check `source` (one input of `action` per line), upload it and create its batch(es).

    Every part is uploaded before any batch is created, so a refused upload creates nothing.
    A create is never repeated blindly: each carries a tag in its metadata, and a create that
    failed in a way that may have reached the server (a timeout, a broken connection, a 5xx)
    is looked up by that tag before it is tried again. When a create fails for good, the
    error carries the batches created before it ("created" in its details: id, status, lines):
    they run and are billed, so they are always reported.
    """
    check_action(action)
    client = build_client(options, cache_vault=True)
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="openai-skill-batch-") as folder:
        try:
            with open(source, encoding="utf-8") as handle:
                parts = write_parts(action, handle, Path(folder), client, limits or Limits())
        except OSError as exc:
            raise InputError(f"{source}: cannot read the batch input ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        client.key_for(client.base_url)  # every line checked: now the key (a missing one fails here)
        # The whole batch's worst case at the Batch price, reserved before the first upload: the
        # per-call cap bounds the whole `batch create`; results() settles it.
        held = client.hold(worst_of(parts, action), surface=SURFACE, action=action, hold_seconds=HOLD_SECONDS)
        try:
            uploaded = [checked_id(client.upload(part.path, "batch").data.get("id"), "uploaded file id",
                                   from_server=True) for part in parts]
        except BaseException as exc:
            held.fail(exc)  # no batch was created: an answered error costs nothing
            raise
    created: list[dict] = []
    try:
        for number, (part, file_id) in enumerate(zip(parts, uploaded, strict=True), start=1):
            tags = {**(metadata or {}), "created_by": CREATED_BY, "action": action, "source": source.name[:200],
                    "lines": f"{part.first_line}-{part.last_line}", "part": f"{number} of {len(parts)}",
                    TAG_KEY: secrets.token_hex(TAG_BYTES)}   # ours win: results count lines from them
            body = {"input_file_id": file_id, "endpoint": request_line_endpoint(action),
                    "completion_window": COMPLETION_WINDOW, "metadata": tags}
            created.append(_create_once(client, body, tags))
    except BaseException as exc:
        # A create that failed may still have made its batch (its lookup can fail too): the
        # reservation keeps its worst case, named by what was surely created (results settle it).
        if created:
            held.attach(spend_ref(b["id"] for b in created))
        else:
            held.keep(exc)
        if created and isinstance(exc, SkillError):
            ids = ", ".join(b["id"] for b in created)
            _annotate(exc, f"; batches created before this failure run and are billed: {ids} "
                           "(`openai-skill batch status ID`)")
            exc.details["created"] = [_brief(b) for b in created]
        raise
    held.attach(spend_ref(b["id"] for b in created))
    return created


def worst_of(parts, action: str):
    """The batch's worst case: the parts' sum, unknown when any line's is."""
    from ...spend import Cost, table

    unpriced = next((p.unpriced for p in parts if p.unpriced), None)
    if unpriced:
        return Cost(None, "worst_case", table().as_of, unknown=unpriced, batch=True)
    return Cost(sum(p.worst_usd for p in parts), "worst_case", table().as_of, batch=True)


def spend_ref(batch_ids) -> str:
    """The ledger's name for one `batch create`'s reservation: its batch ids, sorted."""
    return "batch:" + ",".join(sorted(batch_ids))


def _create_once(client: Client, body: dict, tags: dict) -> dict:
    """POST /batches, never sent twice for one batch: after a failure that may have created it,
    the tag is looked up first; only a create that did not happen is tried again."""
    started = time.time()
    retries = client.settings.max_retries
    for attempt in range(retries + 1):
        try:
            return checked_batch(_call(client, "POST", "/batches", body=body, max_retries=0))
        except QuotaExceededError:
            raise
        except (TransportError, ServerError, RateLimitError, ConflictError) as exc:
            try:
                found = _find_tagged(client, tags[TAG_KEY], started)
            except SkillError as lookup:
                _annotate(exc, f"; whether the batch for lines {tags['lines']} was created could not be "
                               f"checked ({lookup.message}): before creating it again, look for metadata "
                               f"{TAG_KEY}={tags[TAG_KEY]} in `openai-skill batch list`")
                raise exc from None
            if found is not None:
                return checked_batch(found)   # it was created: the answer was lost, not the batch
            if attempt >= retries:
                raise
            _sleep(retry_delay(attempt))
    raise AssertionError("unreachable")


def _find_tagged(client: Client, tag: str, since: float) -> dict | None:
    """The batch whose metadata carries `tag`, among those created since `since` (newest first)."""
    after = None
    for _ in range(LOOKUP_PAGES):
        page = _call(client, "GET", "/batches", query={"limit": LOOKUP_PAGE_SIZE, "after": after})
        batches = [b for b in page.get("data") or [] if isinstance(b, dict)]
        for batch in batches:
            if (batch.get("metadata") or {}).get(TAG_KEY) == tag:
                return batch
        if not page.get("has_more") or not batches:
            return None
        oldest = batches[-1].get("created_at")
        if isinstance(oldest, (int, float)) and oldest < since - CLOCK_SKEW:
            return None                # past the time of our create: it is not there
        after = checked_id(batches[-1].get("id"), "batch id in the list", from_server=True)
    return None


def _brief(batch: dict) -> dict:
    return {"id": batch.get("id"), "status": batch.get("status"),
            "lines": (batch.get("metadata") or {}).get("lines"), "input_file_id": batch.get("input_file_id")}


def _annotate(exc: SkillError, more: str) -> None:
    """Add to an error's message (it stays the same class, with the same exit code)."""
    exc.message = exc.message + more
    exc.args = (exc.message,)


def request_line_endpoint(action: str) -> str:
    from ...manifest import load_manifest

    return "/v1" + load_manifest().action(action).path


def status(batch_id: str, **options) -> dict:
    """The batch object (status, request_counts, file ids, ...)."""
    client = _client(options)
    return checked_batch(_call(client, "GET", f"/batches/{checked_id(batch_id)}"), batch_id)


def cancel(batch_id: str, **options) -> dict:
    client = _client(options)
    return checked_batch(_call(client, "POST", f"/batches/{checked_id(batch_id)}/cancel"), batch_id)


def list_batches(limit: int = 20, after: str | None = None, **options) -> dict:
    """A page of the account's batches, newest first (`after`: the last id of the previous page)."""
    if not 1 <= int(limit) <= 100:
        raise InputError(f"limit: expected 1..100, got {limit}")
    client = _client(options)
    page = _call(client, "GET", "/batches", query={"limit": int(limit), "after": after})
    for batch in page.get("data") or []:
        checked_batch(batch)  # ids a user copies into the next command
    return page


def wait(batch_id: str, *, timeout: float | None = None, on_progress: Callable[[dict], None] | None = None,
         **options) -> dict:
    """Poll until the batch ends (completed, failed, expired or cancelled); return it.

    Polls back off from POLL_FIRST to POLL_MAX seconds; `on_progress(batch)` sees each poll.
    A batch that ends other than `completed` is returned all the same (its status says so).
    """
    client = _client(options)
    path = f"/batches/{checked_id(batch_id)}"
    started, delay = _clock(), POLL_FIRST
    while True:
        batch = checked_batch(_call(client, "GET", path), batch_id)
        if on_progress is not None:
            on_progress(batch)
        if batch.get("status") in TERMINAL:
            return batch
        if timeout is not None and _clock() - started + delay > timeout:
            from ...errors import APITimeoutError

            raise APITimeoutError(f"batch {batch_id} is still {batch.get('status')} after {timeout:g} s "
                                  f"({progress_text(batch)}); `openai-skill batch wait {batch_id}` again later")
        _sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX)


def progress_text(batch: dict) -> str:
    counts = batch.get("request_counts") or {}
    total = counts.get("total") or 0
    done = (counts.get("completed") or 0) + (counts.get("failed") or 0)
    return f"{batch.get('status')}: {done}/{total} requests, {counts.get('failed') or 0} failed"


def results(batch_ids, out: str | Path | None = None, *, inputs: str | Path | None = None, **options):
    """Download the batches' output and error files and join them to the inputs by custom_id.

    Each joined line: {"line": N, "custom_id", "result": <the action's result> | null,
    "error": <the error object> | null} (and "input" when `inputs` is given), in line order.
    Written atomically to `out`; without `out`, the lines are returned as a list.
    Returns (for `out`) a summary: lines, succeeded, failed, missing.
    """
    from .joining import collect

    if isinstance(batch_ids, str):
        batch_ids = [batch_ids]
    client = _client(options)
    batches = [checked_batch(_call(client, "GET", f"/batches/{checked_id(b)}"), b) for b in batch_ids]
    unfinished = [b["id"] for b in batches if b.get("status") not in TERMINAL]
    if unfinished:
        raise APIError(f"batch {', '.join(unfinished)} has not ended yet; `openai-skill batch wait` first")
    joined, cost = collect(batches, client, out=Path(out) if out else None,
                           inputs=Path(inputs) if inputs else None)
    # Settle the create's reservation when these are all its batches and every line's cost is
    # known; otherwise it stays at its worst case (an upper bound, never an underestimate).
    if cost.usd is not None:
        client.guard.settle_ref(spend_ref(batch_ids), cost)
    if isinstance(joined, dict):
        joined["cost"] = cost.to_dict()
    return joined


__all__ = ["create", "status", "wait", "results", "cancel", "list_batches", "Limits", "line_of"]
