"""Recording what makes a write durable: every fsync and every rename, in order."""

from __future__ import annotations

import os


def record_fsyncs_and_renames(monkeypatch) -> list[tuple[str, ...]]:
    """A list that fills, as the code under test runs, with ("fsync", the path the descriptor
    names) and ("replace", source, target) events."""
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, **kwargs):
        events.append(("replace", str(src), str(dst)))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events
