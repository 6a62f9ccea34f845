"""Bulk embeddings: a file (or stdin, or any iterable) of texts to vectors, within the rate limit.

    embed_file("docs.jsonl", "vectors.jsonl")           # resumable, cached, atomic output
    for vector in embed_many(texts, dimensions=256):   # the Python API: vectors in input order
        ...

Order of work: options are checked with the action's schema and model rules, the whole input
file is checked line by line (nothing is sent if a line is bad), the key is resolved, then
`engine.run` sends the chunks that the checkpoint and the cache do not already hold. The
output is assembled in input order and replaces OUT in one rename.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ...client import build_client
from ...errors import InputError
from . import engine, packing, texts as texts_
from .checkpoint import Checkpoint, folder_for, lock_output
from .private_folder import PrivateFolder
from .sender import EmbeddingSender, check_options
from .ratelimit import RateLimiter
from .formatting import jsonl_payloads
from .vectors import FLOAT32_BYTES, Shape, npy_header, to_floats

if TYPE_CHECKING:  # imported on use (it imports sqlite3): only a cached run needs it
    from .cache import EmbeddingCache

OUTPUT_FORMATS = ("jsonl", "npy")
STDIN = "-"
STDIN_SPOOL = "stdin"         # stdin's bytes, in the run's folder, checked before anything is sent
SPOOL_COPY_BYTES = 1024 * 1024
log = logging.getLogger(__name__)

# The options embed_file and embed_many take besides the Settings fields.
JOB_OPTIONS = ("model", "dimensions", "concurrency", "cache", "api_key", "max_inputs", "token_budget", "notice")


def output_format_for(out: Path | None, given: str | None = None) -> str:
    if given:
        if given not in OUTPUT_FORMATS:
            raise InputError(f"--output-format: expected one of {', '.join(OUTPUT_FORMATS)}, got {given!r}")
        return given
    return "npy" if out is not None and out.suffix.lower() == ".npy" else "jsonl"


class _Job:
    """What both entry points share: settings, sender, limiter, cache."""

    def __init__(self, *, model: str | None = None, dimensions: int | None = None,
                 concurrency: int = engine.DEFAULT_CONCURRENCY, cache: bool = True,
                 api_key: str | None = None, max_inputs: int = packing.MAX_INPUTS_PER_REQUEST,
                 token_budget: int = packing.DEFAULT_TOKEN_BUDGET,
                 notice: Callable[[str], None] | None = None, **settings):
        # One client for the run: the vault (if the key is there) is read once, not per request.
        self.client = build_client({**settings, "api_key": api_key}, cache_vault=True)
        self.settings = self.client.settings
        self.dimensions = dimensions
        self.concurrency, self.use_cache = concurrency, cache
        self.max_inputs, self.token_budget = max_inputs, token_budget
        packing.check_limits(max_inputs, token_budget)
        if not 1 <= concurrency <= engine.MAX_CONCURRENCY:
            raise InputError(f"concurrency: expected 1..{engine.MAX_CONCURRENCY}, got {concurrency}")
        # schema, lifecycle + model rules; building the request also judged its URL (transport.urls)
        prepared = check_options(model, dimensions, self.client)
        self.request, self.warnings = prepared.request, list(prepared.warnings)
        # the model in use, settled once: the default (skill.yaml `defaults`) if none was given,
        # and then named explicitly on every request, so a run never changes model midway
        self.model = prepared.params["model"]
        # What the run waits for, said as it starts waiting (the CLI: on stderr).
        self.notice = notice or (lambda message: log.info("%s", message))
        self._told_long_wait = False
        self.limiter = RateLimiter(on_wait=lambda seconds, reason: self.notice(
            f"waiting {seconds:.1f} s for {reason}"))
        self.stats = engine.Stats()
        self.shape = Shape(dimensions)   # one width, finite vectors: checked before caching or writing
        self._cache: EmbeddingCache | None = None

    def start(self) -> tuple:
        self.client.key_for(self.request.url)  # a missing key (or one bound elsewhere) fails before any work
        sender = EmbeddingSender(self.model, self.dimensions, self.client, observe=self._observe,
                                 shape=self.shape)
        cached = None
        if self.use_cache:
            from .cache import EmbeddingCache, default_path

            self._cache = EmbeddingCache(default_path())
            cached = engine.Cached(self._cache, self.model, self.dimensions, self.shape)
        return sender, cached

    def run(self, chunks, sender, cached, **options):
        """engine.run with this job's workers, limiter, stats and per-request deadline."""
        return engine.run(chunks, sender, concurrency=self.concurrency, limiter=self.limiter, cached=cached,
                          stats=self.stats, deadline=self.settings.deadline, abort=sender.switch.cancel,
                          **options)

    def _observe(self, status: int, headers) -> None:
        self.limiter.observe(headers)
        if status == 429:
            from ...retry import MAX_RETRY_AFTER, server_wait

            wait = server_wait(headers)
            if wait is not None and 0 < wait <= MAX_RETRY_AFTER:
                self.limiter.pause(wait)  # the core waits this long; the other workers too
                if wait >= 1:
                    self.notice(f"rate limited (429): waiting {wait:.1f} s, as the server asks (Retry-After)")
            elif wait is not None and wait > MAX_RETRY_AFTER and not self._told_long_wait:
                self._told_long_wait = True   # once a run: every 429 would say it again
                self.notice(f"rate limited (429): the server asks for {wait:.0f} s, more than the "
                            f"{MAX_RETRY_AFTER:.0f} s honoured; backing off instead")

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


def embed_file(source: str | Path, out: str | Path | None = None, *, input_format: str | None = None,
               field: str = texts_.DEFAULT_FIELD, output_format: str | None = None,
               restart: bool = False, progress: Callable[[int, int | None], None] | None = None,
               stdout=None, stdin=None, **options) -> dict:
    """Embed every text of `source` (a path, or "-" for stdin) into `out` (None: JSONL on stdout).

    Returns a summary: counts of texts, chunks, requests, texts sent, answered from the
    cache and resumed from the checkpoint, 429 rounds, and the output's path and format.
    """
    started = time.monotonic()
    job = _Job(**options)
    source = str(source)
    fmt = texts_.format_for(None if source == STDIN else source, input_format)
    out = Path(out) if out is not None else None
    out_format = output_format_for(out, output_format)
    if out is None and out_format == "npy":
        raise InputError("--output-format npy needs --out PATH (a .npy file is not streamed)")
    # A second run on the same OUT is refused now, before reading a byte of its input.
    lock = lock_output(out) if out is not None else None
    try:
        return _embed_file(job, source, out, lock, fmt, field, out_format, restart, progress,
                           stdout, stdin, started)
    finally:
        if lock is not None:
            lock.release()


def _embed_file(job, source, out, lock, fmt, field, out_format, restart, progress, stdout, stdin,
                started) -> dict:
    # stdin is spooled to a file first (in the run's 0700 folder), so it is checked whole, like
    # a file, before anything is sent or paid for; memory stays flat whatever its size.
    with _input_file(source, stdin, lock.files if lock is not None else None) as path:
        digest = _read(path, source, texts_.file_sha256)
        total = _read(path, source, lambda p: _scan(p, fmt, field))
        sender, cached = job.start()

        def unchanged() -> None:  # the bytes read during the run are the bytes checked
            if _read(path, source, texts_.file_sha256) != digest:
                raise InputError(f"{source} changed while it was being embedded; run again (with "
                                 "--restart if the output's checkpoint is refused)", field="file")

        try:
            with texts_.open_input(path) as handle:
                chunks = packing.pack(_decoded(texts_.read_texts(handle, fmt, field), path, source),
                                      max_inputs=job.max_inputs, token_budget=job.token_budget)
                if out is None:
                    _to_stream(job, chunks, sender, cached, stdout or sys.stdout, progress, total)
                    unchanged()
                else:
                    header = _header(job, source, path, digest, fmt, field, out_format)
                    _to_file(job, chunks, sender, cached, out, header, out_format, restart,
                             progress, total, lock, unchanged)
        finally:
            job.close()
    summary = {k: v for k, v in asdict(job.stats).items() if k != "extra"}
    summary.update({"out": str(out) if out else None, "output_format": out_format, "model": job.model,
                    "rate_limit_waits": job.limiter.waits,
                    "seconds": round(time.monotonic() - started, 3)})
    if job.warnings:
        summary["warnings"] = job.warnings
    return summary


def _scan(path: Path, fmt: str, field: str) -> int:
    with texts_.open_input(path) as handle:
        return texts_.scan(handle, fmt, field, check=packing.check_length)


def _read(path: Path, source: str, reader):
    """reader(path), with a file that cannot be read or decoded as an InputError naming it."""
    try:
        return reader(path)
    except OSError as exc:
        raise InputError(f"{source}: cannot read the input ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise texts_.undecodable(path, source) from None


def _decoded(items, path: Path, source: str):
    """`items`, with a decoding failure (the file changed after the scan) as an InputError."""
    try:
        yield from items
    except UnicodeDecodeError:
        raise texts_.undecodable(path, source) from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read the input ({exc.strerror})") from None


@contextlib.contextmanager
def _input_file(source: str, stdin, files: PrivateFolder | None):
    """The input as a file path: the file itself, or stdin spooled to STDIN_SPOOL in `files`
    (the run's private checkpoint folder) or in a private temporary folder; removed after."""
    if source != STDIN:
        yield Path(source)
        return
    made = None
    if files is None:
        made = files = PrivateFolder.open(Path(tempfile.mkdtemp(prefix="openai-skill-stdin-")))   # 0700
    try:
        _spool_stdin(stdin or sys.stdin, files, files.path / STDIN_SPOOL)
        yield files.path / STDIN_SPOOL
    finally:
        files.unlink(STDIN_SPOOL)
        if made is not None:
            made.close()
            shutil.rmtree(made.path, ignore_errors=True)


def _spool_stdin(stream, files: PrivateFolder, spool: Path) -> None:
    fd = files.open_file(STDIN_SPOOL, os.O_WRONLY | os.O_TRUNC, create=True)
    with open(fd, "wb") as handle:
        binary = getattr(stream, "buffer", None)
        try:
            if binary is not None:       # the bytes as they come: a bad one is named by line later
                shutil.copyfileobj(binary, handle, SPOOL_COPY_BYTES)
            else:                        # a text stream (tests, embedding): its text as UTF-8
                for piece in iter(lambda: stream.read(SPOOL_COPY_BYTES), ""):
                    handle.write(piece.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            raise InputError(f"cannot spool stdin to {spool} ({exc.strerror})") from None


def _header(job: _Job, source: str, path: Path, digest: str, fmt: str, field: str, out_format: str) -> dict:
    # The input is known by its content: an edit that keeps the size and restores the time
    # stamp is still another input. (The same bytes on stdin again resume, as a file does.)
    identity: dict[str, object] = {"sha256": digest, "size": path.stat().st_size}
    identity.update({"stdin": True} if source == STDIN else {"path": str(Path(source).resolve())})
    return {"input": identity, "input_format": fmt, "field": field if fmt == "jsonl" else None,
            "model": job.model, "dimensions": job.dimensions, "output_format": out_format,
            "max_inputs": job.max_inputs, "token_budget": job.token_budget}


def _to_file(job, chunks, sender, cached, out: Path, header: dict, out_format: str, restart: bool,
             progress, total, lock, unchanged) -> None:
    folder = folder_for(out)
    checkpoint = Checkpoint(out, header, restart=restart, lock=lock)
    done = sum(record["count"] for record in checkpoint.records.values())
    if checkpoint.records and job.shape.width is None:
        job.shape.width = _width_from(checkpoint.records) or None  # new chunks match the resumed ones
    if done:
        log.info("resuming: %d texts already embedded in %s", done, folder)
    if progress:
        progress(done, total)

    def skip(chunk) -> bool:
        return checkpoint.done(chunk.number, chunk.first, len(chunk.texts))

    try:
        results = job.run(chunks, sender, cached, skip=skip)
        payloads: Iterator[tuple]
        if out_format == "npy":
            payloads = ((chunk, vectors, b"".join(vectors)) for chunk, vectors in results)
        else:
            payloads = jsonl_payloads(results)
        for chunk, vectors, payload in payloads:
            checkpoint.record(chunk.number, chunk.first, len(chunk.texts), payload, len(vectors[0]))
            done += len(chunk.texts)
            if progress:
                progress(done, total)
        try:
            unchanged()                # every byte read matches the bytes checked: else no output
        except InputError:
            checkpoint.discard()       # its chunks may come from either version of the input
            raise
        rows = sum(record["count"] for record in checkpoint.records.values())
        width = job.shape.width or (_width_from(checkpoint.records) if checkpoint.records else None)
        job.stats.dimensions = width // FLOAT32_BYTES if width else None
        prefix = npy_header(rows, job.stats.dimensions or 0) if out_format == "npy" else b""
        checkpoint.assemble(job.stats.chunks, prefix)
    finally:
        checkpoint.close()


def _width_from(records: dict) -> int:
    """Bytes per vector, from a finished chunk of an earlier run (npy: raw rows)."""
    record = records[min(records)]
    return record.get("width") or 0


def _to_stream(job, chunks, sender, cached, stdout, progress, total) -> None:
    done = 0
    results = job.run(chunks, sender, cached)
    for chunk, _vectors, payload in jsonl_payloads(engine.in_order(results)):
        stdout.write(payload.decode("utf-8"))
        stdout.flush()
        done += len(chunk.texts)
        if progress:
            progress(done, total)


def embed_many(texts: Iterable[str], **options) -> Iterator[list[float]]:
    """Yield one vector (a list of floats) per text of `texts`, in order.

    Options: model, dimensions, concurrency (requests in flight, default 4), cache (default
    True), api_key, max_inputs, token_budget, and the Settings fields (base_url, timeouts,
    max_retries, ...). Texts are read lazily, so `texts` may be a generator of any length.
    Options are checked when this is called; the texts as they are read (a bad one raises
    InputError naming it: "text N", 1-based).
    """
    job = _Job(**options)
    return _embed_many(job, texts)


def _embed_many(job: _Job, texts: Iterable[str]) -> Iterator[list[float]]:
    sender, cached = job.start()
    try:
        items = (_api_text(number, text) for number, text in enumerate(texts, start=1))
        chunks = packing.pack(items, max_inputs=job.max_inputs, token_budget=job.token_budget, label="text")
        results = job.run(chunks, sender, cached, label="text")
        for _chunk, vectors in engine.in_order(results):
            for vector in vectors:
                yield to_floats(vector)
    finally:
        job.close()


def _api_text(number: int, text) -> texts_.Text:
    if not isinstance(text, str) or not text.strip():
        given = type(text).__name__ if not isinstance(text, str) else repr(text)
        message = f"text {number}: expected a non-empty string, got {given}"
        raise InputError(message, problems=[{"path": f"text {number}", "expected": "a non-empty string",
                                             "given": given, "message": message}])
    return texts_.Text(number, text)
