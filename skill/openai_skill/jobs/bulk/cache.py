"""The local embedding cache: a text already embedded with the same model and dimensions is
never sent again.

One SQLite file in the config folder (`embeddings.sqlite3`), one table keyed by
(model, dimensions, SHA-256 of the UTF-8 text); the vector is stored as the little-endian
float32 bytes the API sent. `dimensions` is 0 when the request did not set it (the model's
own size). The text itself is not stored. The engine's workers store answers as they arrive
and its coordinating thread looks texts up, so every use of the one connection holds a lock;
WAL mode so a reader (`cache stats`, another run) does not block a running job.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ...errors import SkillError

FILE_NAME = "embeddings.sqlite3"
SCHEMA_VERSION = 1
LOOKUP_BATCH = 500            # keys per SELECT: under SQLite's oldest variable limit (999)
BUSY_TIMEOUT_MS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model       TEXT    NOT NULL,
    dimensions  INTEGER NOT NULL,
    text_sha256 BLOB    NOT NULL,
    vector      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (model, dimensions, text_sha256)
) WITHOUT ROWID;
"""


class CacheError(SkillError):
    """The cache file could not be opened or used."""

    kind = "cache"


def default_path() -> Path:
    """The cache file in the config folder (the vault's: $OPENAI_SKILL_HOME, else XDG)."""
    from ...config import config_folder

    return config_folder()[0] / FILE_NAME


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise CacheError(f"{self.path}: cache format {version} is newer than this version "
                                 f"understands ({SCHEMA_VERSION}); run `openai-skill cache clear`")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise CacheError(f"cannot open the embedding cache {self.path}: {exc}") from None

    def get_many(self, model: str, dimensions: int | None, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        """The cached vectors among `keys`, as {key: float32 bytes}."""
        keys = list(dict.fromkeys(keys))
        found: dict[bytes, bytes] = {}
        try:
            for start in range(0, len(keys), LOOKUP_BATCH):
                part = keys[start:start + LOOKUP_BATCH]
                marks = ",".join("?" * len(part))
                with self._lock:
                    found.update(self._db.execute(
                        f"SELECT text_sha256, vector FROM embeddings WHERE model = ? AND dimensions = ? "
                        f"AND text_sha256 IN ({marks})", (model, dimensions or 0, *part)).fetchall())
        except sqlite3.Error as exc:
            raise CacheError(f"embedding cache read failed: {exc}") from None
        return found

    def put_many(self, model: str, dimensions: int | None, items: Iterable[tuple[bytes, bytes]]) -> None:
        now = int(time.time())
        try:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)",
                    [(model, dimensions or 0, key, vector, now) for key, vector in items])
        except sqlite3.Error as exc:
            raise CacheError(f"embedding cache write failed: {exc}") from None

    def stats(self) -> dict:
        rows = self._db.execute(
            "SELECT model, dimensions, COUNT(*), SUM(LENGTH(vector)) FROM embeddings "
            "GROUP BY model, dimensions ORDER BY model, dimensions").fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {
            "path": str(self.path),
            "entries": sum(row[2] for row in rows),
            "bytes_on_disk": size,
            "by_model": [{"model": m, "dimensions": d or None, "entries": n, "vector_bytes": b or 0}
                         for m, d, n, b in rows],
        }

    def clear(self) -> int:
        with self._db:
            removed = self._db.execute("DELETE FROM embeddings").rowcount
        self._db.execute("VACUUM")
        return removed

    def close(self) -> None:
        self._db.close()
