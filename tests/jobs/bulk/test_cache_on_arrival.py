"""Every answer paid for is cached when it arrives (issue 17, item 8), not when the run gets
round to taking it: a run whose output is blocked (a reader that stopped reading its pipe) and
is then killed with SIGKILL has every answered text in the cache, so the rerun pays only for
the rest. A real CLI process, its stdout a one-page pipe nobody reads."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


TEXTS = [f"text number {i}" for i in range(400)]
WAIT = 30.0


def _cached(home: Path) -> int:
    path = home / ".config" / "openai-skill" / "embeddings.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        except sqlite3.OperationalError:   # the table is not there yet
            return 0


def test_answers_are_cached_on_arrival_so_a_killed_run_never_pays_twice(openai, tmp_path):
    import openai_skill.jobs.bulk.cache as cache

    home = Path(os.environ["HOME"])
    assert cache.default_path() == home / ".config" / "openai-skill" / "embeddings.sqlite3"
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in TEXTS))
    args = [str(Path(sys.executable).parent / "openai-skill"), "embed", "--file", str(source), "--dimensions", "8",
            "--batch-size", "10", "-k", "4"]
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)      # a few rows fill it; nobody reads them
    proc = subprocess.Popen(args, stdout=write_end, stderr=subprocess.DEVNULL, env=dict(os.environ))
    os.close(write_end)
    try:
        # Blocked on its pipe, the run stops starting chunks; the ones it started are answered.
        deadline = time.monotonic() + WAIT
        answered = -1
        while time.monotonic() < deadline:
            answered = openai.embedding_inputs
            if answered >= 50 and _cached(home) == answered and openai.in_flight == 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the server answered {answered} texts, the cache holds {_cached(home)} "
                        f"after {WAIT:g} s")
        assert answered < len(TEXTS)                       # the run is still blocked, not finished
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=WAIT)
        os.close(read_end)
    assert _cached(home) == answered                       # nothing paid for was lost with the kill

    paid = openai.embedding_inputs
    again = subprocess.run(args + ["--out", str(tmp_path / "o.jsonl")], capture_output=True, text=True,
                           env=dict(os.environ), timeout=WAIT)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["cached_texts"] == answered and openai.embedding_inputs - paid == len(TEXTS) - answered
