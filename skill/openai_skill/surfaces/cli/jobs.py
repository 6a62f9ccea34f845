"""Commands for work bigger than one call: `embed --file` (bulk embeddings), `cache stats|clear`
and `batch create|status|wait|results|cancel|list` (OpenAI's Batch API).

Results go to stdout (JSONL vectors, or a summary JSON when `--out` is given); progress goes
to stderr only: a bar with rate and ETA on a terminal, a plain count every few seconds
otherwise."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ...errors import SkillError
from .commands import add_command, seconds
from .output import emit, write_text

PLAIN_PROGRESS_EVERY = 10.0   # seconds between count lines when stderr is not a terminal


def add_bulk_options(parser) -> None:
    """The `embed` options that switch it to the bulk engine (registered by actions.py)."""
    group = parser.add_argument_group("bulk (with --file)")
    group.add_argument("--file", "-f", metavar="PATH",
                       help="texts to embed: .txt (one per line), .jsonl, or - for stdin")
    group.add_argument("--out", "-o", metavar="PATH", help="write vectors here (.jsonl or .npy), atomically; "
                       "resumable. Default: JSONL on stdout")
    group.add_argument("--field", default="text", help="the text field of .jsonl lines (default text)")
    group.add_argument("--format", dest="input_format", choices=["txt", "jsonl"],
                       help="input format (default: from the name)")
    group.add_argument("--output-format", choices=["jsonl", "npy"], help="default: from --out's name")
    group.add_argument("--concurrency", "-k", type=int, default=4, metavar="K", help="requests in flight (default 4)")
    group.add_argument("--batch-size", type=int, default=2048, metavar="N",
                       help="texts per request, at most 2048 (default); a token budget applies too")
    group.add_argument("--no-cache", action="store_true", help="neither read nor fill the local embedding cache")
    group.add_argument("--restart", action="store_true", help="discard an unfinished run's checkpoint")


def cmd_bulk_embed(args) -> int:
    from ...jobs.bulk.job import embed_file

    if args.texts:
        from ...errors import InputError

        raise InputError("embed: give texts as arguments or --file, not both")
    options = {"model": args.model, "dimensions": args.dimensions,
               "concurrency": args.concurrency, "cache": not args.no_cache, "max_inputs": args.batch_size,
               "read_timeout": args.timeout, "max_retries": args.max_retries}
    if args.dry_run:
        return _dry_run(options)
    options["notice"] = lambda message: write_text(sys.stderr, f"openai-skill: {message}\n")
    with _Progress() as progress:
        summary = embed_file(args.file, args.out, input_format=args.input_format, field=args.field,
                             output_format=args.output_format, restart=args.restart,
                             progress=progress, **options)
    from .actions import print_warnings

    print_warnings(summary)
    if args.out:
        emit(summary)
    else:
        sys.stderr.write(f"openai-skill: embedded {summary['texts']} texts "
                         f"({summary['sent_texts']} sent, {summary['cached_texts']} from the cache)\n")
    return 0


def _dry_run(options: dict) -> int:
    from ...jobs.bulk.job import _Job

    from .actions import print_warnings

    job = _Job(**options)
    result = {"dry_run": True, "action": "create-embedding", "request": job.request.describe(),
              "note": "one such request per chunk of up to 2048 texts; nothing was read or sent"}
    if job.warnings:
        result["warnings"] = job.warnings
    print_warnings(result)
    emit(result)
    return 0


class _Progress:
    """progress(done, total): tqdm on a terminal, plain counts otherwise."""

    def __init__(self):
        self.bar = None
        self.last = time.monotonic()   # the first plain count after PLAIN_PROGRESS_EVERY
        self.tty = sys.stderr.isatty()

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int | None) -> None:
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=done, unit="text", file=sys.stderr, dynamic_ncols=True)
            else:
                self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if now - self.last >= PLAIN_PROGRESS_EVERY or (total is not None and done == total):
            self.last = now
            of = f"/{total}" if total is not None else ""
            sys.stderr.write(f"openai-skill: embedded {done}{of} texts\n")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


# --- cache --------------------------------------------------------------------------------

def cmd_cache_stats(args) -> int:
    """Show the embedding cache: where it is, how many vectors per model, its size."""
    from ...jobs.bulk.cache import EmbeddingCache, default_path

    path = default_path()
    if not path.exists():
        emit({"path": str(path), "entries": 0, "bytes_on_disk": 0, "by_model": []})
        return 0
    cache = EmbeddingCache(path)
    try:
        emit(cache.stats())
    finally:
        cache.close()
    return 0


def cmd_cache_clear(args) -> int:
    """Remove every cached embedding."""
    from ...jobs.bulk.cache import EmbeddingCache, default_path

    path = default_path()
    removed = 0
    if path.exists():
        cache = EmbeddingCache(path)
        try:
            removed = cache.clear()
        finally:
            cache.close()
    emit({"path": str(path), "removed": removed})
    return 0


# --- batch ----------------------------------------------------------------------------------

def cmd_batch_create(args) -> int:
    """Check every line of --file (one input of ACTION per line), upload it and create the batch(es)."""
    from ...jobs import batch
    from ...jobs.batch import Limits

    limits = Limits(requests=args.max_requests) if args.max_requests else Limits()
    try:
        created = batch.create(args.action, args.file, limits=limits, **_settings(args))
    except SkillError as exc:
        # Batches created before the failure run and are billed: their ids go where the ids of
        # a success go (with --json, in the error object's "created" instead).
        if exc.details.get("created") and not getattr(args, "json", False):
            emit({"batches": exc.details["created"], "complete": False})
        raise
    emit({"batches": [_brief(b) for b in created]})
    return 0


def _brief(b: dict) -> dict:
    return {"id": b["id"], "status": b.get("status"), "lines": (b.get("metadata") or {}).get("lines"),
            "input_file_id": b.get("input_file_id")}


def cmd_batch_status(args) -> int:
    """Show a batch: status, request counts, file ids."""
    from ...jobs import batch

    emit(batch.status(args.id, **_settings(args)))
    return 0


def cmd_batch_wait(args) -> int:
    """Wait until each batch ends, polling with backoff; progress on stderr."""
    from ...errors import APIError
    from ...jobs import batch

    def report(found: dict) -> None:
        sys.stderr.write(f"openai-skill: {found.get('id')} {batch.progress_text(found)}\n")

    ended = [batch.wait(batch_id, timeout=args.timeout, on_progress=report, **_settings(args))
             for batch_id in args.ids]
    emit({"batches": ended})
    failed = [b["id"] for b in ended if b.get("status") != "completed"]
    if failed:
        raise APIError(f"batch {', '.join(failed)} ended without completing "
                       f"({', '.join(b['status'] for b in ended if b['id'] in failed)})")
    return 0


def cmd_batch_results(args) -> int:
    """Download the batches' output and error files, joined to the inputs by line, in line order."""
    from ...jobs import batch

    found = batch.results(args.ids, args.out, inputs=args.input, **_settings(args))
    if args.out:
        emit(found)
    else:
        for entry in found:
            sys.stdout.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return 0


def cmd_batch_cancel(args) -> int:
    """Cancel a batch (lines already run keep their results)."""
    from ...jobs import batch

    emit(batch.cancel(args.id, **_settings(args)))
    return 0


def cmd_batch_list(args) -> int:
    """List your batches, newest first."""
    from ...jobs import batch

    emit(batch.list_batches(args.limit, args.after, **_settings(args)))
    return 0


def _settings(args) -> dict:
    return {k: v for k, v in {"read_timeout": args.request_timeout, "max_retries": args.max_retries}.items()
            if v is not None}


def _register_batch(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="on failure, print the error object as JSON on stdout")
    common.add_argument("--request-timeout", type=seconds, metavar="SECONDS",
                        help="read timeout per request (default 600)")
    common.add_argument("--max-retries", type=int, metavar="N", help="retries on 429/5xx/network errors (default 2)")
    group = sub.add_parser("batch", help="OpenAI's Batch API: create, status, wait, results, cancel, list",
                           description="OpenAI's Batch API (24-hour window, half the price): "
                                       "chat-completion or create-embedding inputs, one per line.")
    batch_sub = group.add_subparsers(dest="batch_command", metavar="COMMAND", parser_class=type(group))
    batch_sub.required = True

    def add(name, func):
        return add_command(batch_sub, func, name=name, parents=[common])

    p = add("create", cmd_batch_create)
    p.add_argument("action", help="an action that skill.yaml marks `batch: true` (see `openai-skill actions`)")
    p.add_argument("--file", "-f", required=True, metavar="PATH", help="inputs, one JSON object per line")
    p.add_argument("--max-requests", type=int, metavar="N", help=argparse.SUPPRESS)  # tests: a smaller split
    add("status", cmd_batch_status).add_argument("id", help="a batch id (from `batch create` or `batch list`)")
    p = add("wait", cmd_batch_wait)
    p.add_argument("ids", nargs="+", metavar="ID", help="one or more batch ids")
    p.add_argument("--timeout", type=seconds, metavar="SECONDS", help="give up after this long (default: never)")
    p = add("results", cmd_batch_results)
    p.add_argument("ids", nargs="+", metavar="ID", help="the batch ids of one input file (all its parts)")
    p.add_argument("--out", "-o", metavar="PATH", help="write the joined JSONL here (default: stdout)")
    p.add_argument("--input", "-i", metavar="PATH", help="the inputs file, to include each input in its line")
    add("cancel", cmd_batch_cancel).add_argument("id", help="the batch id")
    p = add("list", cmd_batch_list)
    p.add_argument("--limit", type=int, default=20, metavar="N", help="batches per page, 1-100 (default 20)")
    p.add_argument("--after", metavar="ID", help="the last id of the previous page")


def register(sub, only: str | None = None) -> None:
    # `only` (the command a call names) goes unused: this module's parsers are few and cheap to build
    cache = sub.add_parser("cache", help="the local embedding cache (stats, clear)",
                           description="The local embedding cache (SQLite in the config folder).")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="COMMAND", parser_class=type(cache))
    cache_sub.required = True
    add_command(cache_sub, cmd_cache_stats, name="stats")
    add_command(cache_sub, cmd_cache_clear, name="clear")
    _register_batch(sub)
