"""Commands for work bigger than one call: `embed --file` (bulk embeddings), `cache stats|clear`
and `batch create|status|wait|results|cancel|list` (OpenAI's Batch API).

Results go to stdout (JSONL vectors, or a summary JSON when `--out` is given); progress goes
to stderr only: a bar with rate and ETA on a terminal, a plain count every few seconds
otherwise."""

from __future__ import annotations

import sys
import time

from .output import emit

PLAIN_PROGRESS_EVERY = 10.0   # seconds between count lines when stderr is not a terminal


def add_bulk_options(parser) -> None:
    """The `embed` options that switch it to the bulk engine (registered by actions.py)."""
    group = parser.add_argument_group("bulk (with --file)")
    group.add_argument("--file", "-f", metavar="PATH", help="texts to embed: .txt (one per line), .jsonl, or - for stdin")
    group.add_argument("--out", "-o", metavar="PATH", help="write vectors here (.jsonl or .npy), atomically; "
                       "resumable. Default: JSONL on stdout")
    group.add_argument("--field", default="text", help="the text field of .jsonl lines (default text)")
    group.add_argument("--format", dest="input_format", choices=["txt", "jsonl"], help="input format (default: from the name)")
    group.add_argument("--output-format", choices=["jsonl", "npy"], help="default: from --out's name")
    group.add_argument("--concurrency", "-k", type=int, default=4, metavar="K", help="requests in flight (default 4)")
    group.add_argument("--batch-size", type=int, default=2048, metavar="N",
                       help="texts per request, at most 2048 (default); a token budget applies too")
    group.add_argument("--no-cache", action="store_true", help="neither read nor fill the local embedding cache")
    group.add_argument("--restart", action="store_true", help="discard an unfinished run's checkpoint")


def cmd_bulk_embed(args) -> int:
    from ...jobs.bulk import embed_file

    if args.texts:
        from ...errors import InputError

        raise InputError("embed: give texts as arguments or --file, not both")
    options = {"model": args.model or "text-embedding-3-small", "dimensions": args.dimensions,
               "concurrency": args.concurrency, "cache": not args.no_cache, "max_inputs": args.batch_size,
               "read_timeout": args.timeout, "max_retries": args.max_retries}
    if args.dry_run:
        return _dry_run(options)
    with _Progress() as progress:
        summary = embed_file(args.file, args.out, input_format=args.input_format, field=args.field,
                             output_format=args.output_format, restart=args.restart,
                             progress=progress, **options)
    if args.out:
        emit(summary)
    else:
        sys.stderr.write(f"openai-skill: embedded {summary['texts']} texts "
                         f"({summary['sent_texts']} sent, {summary['cached_texts']} from the cache)\n")
    return 0


def _dry_run(options: dict) -> int:
    from ...jobs.bulk import _Job

    job = _Job(**options)
    emit({"dry_run": True, "action": "create-embedding", "request": job.request.describe(),
          "note": "one such request per chunk of up to 2048 texts; nothing was read or sent"})
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
    from ...jobs.cache import EmbeddingCache, default_path

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
    from ...jobs.cache import EmbeddingCache, default_path

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


def register(sub) -> None:
    cache = sub.add_parser("cache", help="the local embedding cache (stats, clear)",
                           description="The local embedding cache (SQLite in the config folder).")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="COMMAND", parser_class=type(cache))
    cache_sub.required = True
    for name, func in (("stats", cmd_cache_stats), ("clear", cmd_cache_clear)):
        doc = func.__doc__.strip()
        cache_sub.add_parser(name, help=doc, description=doc).set_defaults(func=func)
