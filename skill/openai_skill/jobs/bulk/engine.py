"""The bulk embedding engine: chunks in, vectors out, K requests in flight.

The calling thread reads and packs the input, answers what it can from the cache, and hands
the rest to a pool of `concurrency` workers over the core's shared session. A worker stores
its answer in the cache the moment it arrives (checked first, see vectors.Shape), not when the
caller gets round to taking it: a run killed while its caller is busy writing (or blocked on
a full pipe) has every answer it paid for in the cache. A worker waits for
the rate limiter before each request; a 429 that outlasts the core's own retries pauses every
worker for the retry policy's backoff and the chunk is tried again, up to `rate_rounds` times.
A chunk's `deadline` (the settings' deadline: OPENAI_SKILL_DEADLINE) starts when its worker
starts waiting for it, so rate-limit waits, pauses and rounds all count against it; when it
passes, the run ends with APITimeoutError (exit 5) and the finished chunks stay checkpointed.

`run` yields (chunk, vectors) as chunks finish, in any order; `in_order` restores input order
with a buffer bounded by the dispatch window (at most `window` chunks past the oldest
unfinished one are ever started), so memory stays flat whatever the input size.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ...errors import BadRequestError, InputError, QuotaExceededError, RateLimitError
from .packing import MAX_TOKENS_PER_INPUT, Chunk, token_bound
from .ratelimit import RateLimiter

DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
DEFAULT_RATE_ROUNDS = 8      # rounds of backoff after the core's retries, for a 429 storm
WINDOW_PER_WORKER = 2        # chunks started ahead per worker: keeps workers fed, memory bounded

log = logging.getLogger(__name__)

# send(texts[, deadline_at]) -> (vectors as float32 bytes in input order, the answer's headers);
# deadline_at is on the limiter's clock (time.monotonic, the transport's, outside tests)
Sender = Callable[..., tuple[list, Mapping]]


@dataclass
class Stats:
    texts: int = 0
    chunks: int = 0
    requests: int = 0
    sent_texts: int = 0
    cached_texts: int = 0
    resumed_texts: int = 0
    rate_limited: int = 0
    dimensions: int | None = None
    extra: dict = field(default_factory=dict)


class Cached:
    """The engine's view of the cache: lookups and stores keyed by text."""

    def __init__(self, cache, model: str, dimensions: int | None, shape=None):
        from .cache import text_key
        from .vectors import Shape

        self.cache, self.model, self.dimensions, self.key = cache, model, dimensions, text_key
        self.shape = shape if shape is not None else Shape(dimensions)
        self.refused = 0   # cached vectors not used: wrong width or not finite (fetched again)

    def lookup(self, texts: list[str]) -> dict[str, bytes]:
        keys = {self.key(text): text for text in texts}
        found = self.cache.get_many(self.model, self.dimensions, keys)
        usable = {keys[key]: vector for key, vector in found.items() if self.shape.fits(vector)}
        self.refused += len(found) - len(usable)  # an older version's bad entry: asked for again
        return usable

    def store(self, pairs: Iterable[tuple[str, bytes]]) -> None:
        self.cache.put_many(self.model, self.dimensions, [(self.key(text), vector) for text, vector in pairs])


def run(chunks: Iterable[Chunk], send: Sender, *, concurrency: int = DEFAULT_CONCURRENCY,
        limiter: RateLimiter | None = None, cached: Cached | None = None,
        skip: Callable[[Chunk], bool] | None = None, stats: Stats | None = None,
        rate_rounds: int = DEFAULT_RATE_ROUNDS, backoff=None,
        label: str = "line", deadline: float | None = None,
        abort: Callable[[], None] | None = None) -> Iterator[tuple[Chunk, list]]:
    """Yield (chunk, [float32 bytes per text]) for every chunk not skipped, as each finishes.
    When the run stops with requests in flight (Ctrl-C, an error, the caller closing the
    generator), `abort()` ends them (their connections close) instead of waiting them out."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputError(f"concurrency: expected 1..{MAX_CONCURRENCY}, got {concurrency}")
    limiter = limiter or RateLimiter()
    stats = stats if stats is not None else Stats()
    if backoff is None:
        from ...retry import retry_delay as backoff
    window = concurrency * WINDOW_PER_WORKER
    pending: dict[Future, tuple[Chunk, dict]] = {}
    unfinished: set[int] = set()   # numbers of chunks started and not yet finished
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="embed")
    stop = threading.Event()

    def finish(future: Future) -> tuple[Chunk, list]:
        chunk, known = pending.pop(future)
        fresh = future.result()  # raises the worker's error; its answer is already cached
        known.update(fresh)
        vectors = [known[text.text] for text in chunk.texts]
        unfinished.discard(chunk.number)
        return chunk, vectors

    try:
        for chunk in chunks:
            stats.chunks += 1
            stats.texts += len(chunk.texts)
            if skip is not None and skip(chunk):
                stats.resumed_texts += len(chunk.texts)
                continue
            texts = [text.text for text in chunk.texts]
            known = cached.lookup(texts) if cached is not None else {}
            missing = list(dict.fromkeys(text for text in texts if text not in known))
            stats.cached_texts += len(texts) - sum(1 for text in texts if text not in known)
            if not missing:
                yield chunk, [known[text] for text in texts]
                continue
            unfinished.add(chunk.number)
            # Never start a chunk more than `window` past the oldest unfinished one.
            while pending and (len(pending) >= window or chunk.number - min(unfinished) >= window):
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in done:
                    yield finish(future)
            future = pool.submit(_work, chunk, missing, send, limiter, stats, rate_rounds, backoff, stop, label,
                                 deadline, cached)
            pending[future] = (chunk, known)
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                yield finish(future)
    finally:
        stop.set()
        if pending:
            limiter.close()          # workers waiting for the rate limit stop waiting
            if abort is not None:
                abort()              # and those waiting for an answer stop now, not at their deadline
        pool.shutdown(wait=True, cancel_futures=True)


def _work(chunk: Chunk, texts: list, send: Sender, limiter: RateLimiter, stats: Stats,
          rate_rounds: int, backoff, stop: threading.Event, label: str, deadline: float | None,
          cached: Cached | None = None) -> dict:
    tokens = sum(map(token_bound, texts))
    clock = limiter.clock
    deadline_at = clock() + deadline if deadline else None
    for round_ in range(rate_rounds + 1):
        if stop.is_set():
            raise InterruptedError("stopped")
        reserved = limiter.acquire(tokens, deadline_at)
        headers = None
        try:
            if deadline_at is not None and clock() >= deadline_at:
                raise limiter.deadline_error("passed before the request was sent")
            vectors, headers = send(texts, deadline_at) if deadline_at is not None else send(texts)
        except QuotaExceededError:
            raise
        except RateLimitError as exc:
            stats.rate_limited += 1
            if round_ >= rate_rounds:
                raise
            delay = backoff(round_)
            log.info("429 after the core's retries (%s); every worker pauses %.2fs", exc.message, delay)
            limiter.pause(delay)
            continue
        except BadRequestError as exc:
            raise _name_lines(chunk, exc, label) from None
        finally:
            limiter.release(reserved, headers)
        if len(vectors) != len(texts):
            from ...errors import UnexpectedResponseError

            raise UnexpectedResponseError(f"asked for {len(texts)} embeddings, got {len(vectors)}")
        stats.requests += 1
        stats.sent_texts += len(texts)
        if cached is not None:
            cached.store(zip(texts, vectors, strict=True))   # on arrival: paid for, so kept whatever happens next
        return dict(zip(texts, vectors, strict=True))
    raise AssertionError("unreachable")


def _name_lines(chunk: Chunk, error: BadRequestError, label: str) -> InputError | BadRequestError:
    """A 400 for a whole chunk: name the lines it covers, and the likely culprits (long texts)."""
    long_lines = [text.line for text in chunk.texts if token_bound(text.text) > MAX_TOKENS_PER_INPUT]
    lines = f"{label}s {chunk.texts[0].line}-{chunk.texts[-1].line}"
    if long_lines:
        named = ", ".join(f"{label} {n}" for n in long_lines[:10])
        message = f"OpenAI refused the request for {lines}: {error.message} (over the token limit, probably: {named})"
        return InputError(message, problems=[
            {"path": f"{label} {n}", "expected": f"at most {MAX_TOKENS_PER_INPUT} tokens",
             "given": "a longer text", "message": f"{label} {n}: probably over the token limit"}
            for n in long_lines[:20]])
    return BadRequestError(f"{lines}: {error.message}", status=error.status, request_id=error.request_id,
                           api_type=error.api_type, code=error.code, param=error.param)


def in_order(results: Iterable[tuple[Chunk, list]], start: int = 0) -> Iterator[tuple[Chunk, list]]:
    """Re-sequence (chunk, vectors) by chunk number, starting at chunk `start`."""
    held: dict[int, tuple[Chunk, list]] = {}
    expected = start
    for chunk, vectors in results:
        held[chunk.number] = (chunk, vectors)
        while expected in held:
            yield held.pop(expected)
            expected += 1
    if held:
        raise AssertionError(f"chunks {sorted(held)[:5]} finished but chunk {expected} never did")
