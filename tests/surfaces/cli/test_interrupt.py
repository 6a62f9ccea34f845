"""Ctrl-C stops `embed --file` promptly (issue 17, item 10), even while the server is slow:
the requests in flight are ended (their connections close), the run exits 130, and the finished
chunks stay checkpointed for the rerun. A real CLI process, a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


TEXTS = [f"text number {i}" for i in range(200)]
BOUND = 30.0        # seconds: generous for a loaded machine; the old code ran to the 900 s deadline


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {BOUND:g} s for {what}")
        time.sleep(0.02)


def test_sigint_ends_a_run_stuck_on_a_slow_server_with_exit_130_keeping_the_checkpoint(openai, tmp_path):
    release = threading.Event()
    answered = []
    real = openai.embeddings

    def slow_after_two(body):
        answered.append(1)
        if len(answered) > 2:
            release.wait(BOUND * 2)     # the server stalls (until the test ends)
        return real(body)

    openai.embeddings = slow_after_two
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in TEXTS))
    out = tmp_path / "o.jsonl"
    args = [str(Path(sys.executable).parent / "openai-skill"), "embed", "--file", str(source), "--out", str(out),
            "--dimensions", "8", "--batch-size", "10", "-k", "3", "--no-cache"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        journal = tmp_path / "o.jsonl.partial" / "journal"
        _wait_for(lambda: journal.exists() and journal.read_text().count("\n") >= 3, "two finished chunks")
        _wait_for(lambda: openai.in_flight >= 3, "three requests stuck on the server")
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _stdout, stderr = proc.communicate(timeout=BOUND)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        release.set()
    assert proc.returncode == 130, stderr
    assert b"interrupted" in stderr and b"a bug" not in stderr
    assert took < BOUND
    assert len(journal.read_text().splitlines()) == 3           # the header and the two finished chunks

    openai.embeddings = real
    again = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ), timeout=BOUND)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed_texts"] == 20
