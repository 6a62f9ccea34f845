"""Bulk embeddings: a file, stdin or any iterable of texts to vectors, within the rate limit.
The job (`job.py`) reads and checks the texts, packs them (`packing.py`), sends them through
the client (`sender.py`) from a pool of workers (`engine.py`, `ratelimit.py`), and writes
ordered, resumable output (`checkpoint.py`, `formatting.py`, `vectors.py`, `cache.py`)."""

from .job import embed_file, embed_many

__all__ = ["embed_file", "embed_many"]
