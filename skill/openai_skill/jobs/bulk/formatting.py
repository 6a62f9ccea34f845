"""Turning finished chunks into JSONL bytes, on a second core when that pays.

Writing floats as text is the bulk path's own CPU cost: about 0.3 µs a float in CPython, so a
chunk of 2048 vectors of 256 dimensions takes ~0.15 s of one core, while the answers it comes
from took a fraction of that to receive and decode. With more than one core and vectors wide
enough, a helper process formats chunk N while this process receives and decodes the next
ones. Results come back in the order chunks went in; at most MAX_PENDING are in the helper.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator

from .vectors import jsonl_line

MIN_DIMENSIONS_FOR_HELPER = 128   # below this, sending the bytes over costs about what formatting does
MIN_TEXTS_FOR_HELPER = 256        # a small chunk is formatted here (starting the helper is ~0.1 s)
MAX_PENDING = 3
FLOAT32_BYTES = 4


PARENT_CHECK_SECONDS = 0.5


def exit_with_parent(parent: int) -> None:
    """In the helper: end when the run that started it is gone (killed with SIGKILL, say),
    instead of lingering as an orphan."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="openai-skill-parent-watch").start()


def format_chunk(first: int, ids: list, blob: bytes, width: int) -> bytes:
    """JSONL lines for consecutive vectors packed in `blob` (`width` bytes each)."""
    return "".join(jsonl_line(first + i, ident, blob[i * width:(i + 1) * width])
                   for i, ident in enumerate(ids)).encode("utf-8")


def _finished(chunk, vectors: list, future) -> tuple:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return chunk, vectors, future.result()
    except BrokenProcessPool:  # the helper died (killed, out of memory): format here instead
        return chunk, vectors, format_chunk(chunk.first, [t.id for t in chunk.texts], b"".join(vectors),
                                            len(vectors[0]))


def _wants_helper(chunk, vectors: list) -> bool:
    return ((os.cpu_count() or 1) > 1 and len(chunk.texts) >= MIN_TEXTS_FOR_HELPER
            and len(vectors[0]) >= MIN_DIMENSIONS_FOR_HELPER * FLOAT32_BYTES)


def jsonl_payloads(results: Iterable[tuple], *, helper: bool = True) -> Iterator[tuple]:
    """(chunk, vectors, JSONL bytes) for each (chunk, vectors) of `results`, in the same order."""
    pool = None
    pending: deque = deque()
    try:
        for chunk, vectors in results:
            ids = [text.id for text in chunk.texts]
            width = len(vectors[0])
            if pool is None and helper and _wants_helper(chunk, vectors):
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # spawn, not fork: this process has worker threads, which a fork would copy mid-flight
                pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=exit_with_parent, initargs=(os.getpid(),))
            if pool is None:
                yield chunk, vectors, format_chunk(chunk.first, ids, b"".join(vectors), width)
                continue
            pending.append((chunk, vectors, pool.submit(format_chunk, chunk.first, ids, b"".join(vectors), width)))
            while len(pending) > MAX_PENDING:
                yield _finished(*pending.popleft())
        while pending:
            yield _finished(*pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
