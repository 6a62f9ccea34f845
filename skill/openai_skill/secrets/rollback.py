"""The rollback counter kept outside the vault: `vault.generation` holds the vault id and the
last generation written in this folder (skill/secrets/VAULT-FORMAT.md, Rollback).

Writers write the vault first and the counter second; readers read the counter first and the
vault second (and under the shared lock), so a write landing between a reader's two reads can
only make the vault newer than the counter, which is accepted, never older.
"""

from __future__ import annotations

import base64

from ..errors import VaultError
from .disk import MAX_SMALL_FILE, Paths, atomic_write, read_file


def read_counter(paths: Paths) -> bytes | None:
    return read_file(paths.generation, MAX_SMALL_FILE, "the generation file")


def check(paths: Paths, counter: bytes | None, vault_id: bytes, generation: int) -> None:
    """Refuse a vault older than the counter, or another vault than the one last written."""
    if counter is None:
        return
    parts = counter.decode("ascii", "replace").split()
    if len(parts) != 2 or not parts[1].isdigit() or len(parts[1]) > 18:
        raise VaultError(f"the generation file {paths.generation} is corrupted; if you trust "
                         "the vault as it is, delete that file")
    if parts[0] != base64.b64encode(vault_id).decode():
        raise VaultError(f"the vault {paths.vault} is not the vault this folder last wrote "
                         f"(another vault was put in its place); if you did that on purpose, delete "
                         f"{paths.generation}")
    if generation < int(parts[1]):
        raise VaultError(f"the vault {paths.vault} was rolled back to an older copy "
                         f"(generation {generation}, last written {parts[1]}); if you restored "
                         f"it on purpose, delete {paths.generation}")


def write_counter(paths: Paths, vault_id: bytes, generation: int) -> None:
    """After the vault: a failure here leaves counter < generation, which readers accept."""
    try:
        atomic_write(paths.generation, f"{base64.b64encode(vault_id).decode()} {generation}\n".encode())
    except VaultError as exc:
        raise VaultError(f"the vault was written, but its rollback counter was not: {exc.message}") from None
