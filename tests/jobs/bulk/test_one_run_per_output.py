"""Two runs on one `--out` (issue 17, item 1): the second is refused at once, exit 2, naming
the running process; the first finishes with every row its own text's vector. Real processes:
two installed CLIs with separate homes (separate caches), on one loopback OpenAI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.fake_openai import expected_vector

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")

DIMS = 8
TEXTS = [f"text number {i}" for i in range(200)]
WAIT = 60.0          # generous: a loaded machine may take seconds to start a Python process


def _cli() -> str:
    return str(Path(sys.executable).parent / "openai-skill")


def _env(home: Path) -> dict:
    (home / ".config").mkdir(parents=True, exist_ok=True)
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def _gate(openai) -> threading.Event:
    """Hold every embedding answer until the returned event is set."""
    gate = threading.Event()
    answer = openai.embeddings

    def gated(body):
        gate.wait(WAIT)
        return answer(body)

    openai.embeddings = gated
    return gate


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {WAIT:g} s for {what}")
        time.sleep(0.02)


def _holder(lock: Path) -> int | None:
    try:
        return json.loads(lock.read_text() or "{}").get("pid")
    except (OSError, ValueError):
        return None


def test_a_second_run_on_the_same_out_is_refused_at_once_naming_the_first(openai, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in TEXTS))
    out = tmp_path / "out.jsonl"
    gate = _gate(openai)
    args = [_cli(), "embed", "--file", str(source), "--out", str(out), "--dimensions", str(DIMS),
            "--batch-size", "20", "-k", "2"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path / "a"))
    try:
        _wait_for(lambda: openai.in_flight > 0, "the first run's first request")
        assert _holder(tmp_path / "out.jsonl.partial" / "lock") == first.pid

        for extra in ([], ["--restart"]):       # --restart must not pull the folder from under it
            second = subprocess.run(args + extra, capture_output=True, text=True, env=_env(tmp_path / "b"),
                                    timeout=WAIT)
            assert second.returncode == 2, second.stderr
            assert f"pid {first.pid}" in second.stderr and "writing this output" in second.stderr
            assert first.poll() is None        # refused while the first is still running
        assert openai.embedding_inputs == 0      # the refused runs sent nothing (the first is held)
    finally:
        gate.set()
    stdout, stderr = first.communicate(timeout=WAIT)
    assert first.returncode == 0, stderr
    assert json.loads(stdout)["texts"] == len(TEXTS)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["index"] for row in rows] == list(range(len(TEXTS)))
    assert all(row["embedding"] == pytest.approx(expected_vector(text, DIMS), rel=1e-6)
               for row, text in zip(rows, TEXTS, strict=True))
    assert openai.embedding_inputs == len(TEXTS)
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_the_python_api_is_refused_too_and_a_finished_or_killed_run_lets_the_next_in(openai, tmp_path):
    from openai_skill.jobs.bulk import embed_file
    from openai_skill.jobs.bulk.checkpoint import Checkpoint
    from openai_skill.jobs.bulk.run_lock import OutputBusyError

    source = tmp_path / "in.txt"
    source.write_text("a\nb\n")
    out = tmp_path / "o.jsonl"
    held = Checkpoint(out, {"input": "elsewhere"})
    with pytest.raises(OutputBusyError, match=f"pid {os.getpid()}") as caught:
        embed_file(source, out, dimensions=DIMS, cache=False)
    assert caught.value.exit_code == 2 and caught.value.details["holder_pid"] == os.getpid()
    held.close()                               # the checkpoint stays (for a resume), the lock goes
    assert (tmp_path / "o.jsonl.partial" / "journal").exists()
    summary = embed_file(source, out, dimensions=DIMS, cache=False, restart=True)
    assert summary["texts"] == 2 and not (tmp_path / "o.jsonl.partial").exists()

    # A run refused for its input leaves no folder behind.
    source.write_text("a\n\n")
    from openai_skill.errors import InputError

    with pytest.raises(InputError, match="line 2"):
        embed_file(source, tmp_path / "p.jsonl", dimensions=DIMS, cache=False)
    assert not (tmp_path / "p.jsonl.partial").exists()

    # A holder killed with SIGKILL holds nothing: the kernel drops its lock.
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path;"
                               "from openai_skill.jobs.bulk.checkpoint import lock_output;"
                               "lock_output(Path(sys.argv[1])); print('held', flush=True); time.sleep(120)",
                               str(tmp_path / "k.jsonl")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputBusyError, match=f"pid {holder.pid}"):
            embed_file(source.with_name("ok.txt"), tmp_path / "k.jsonl", dimensions=DIMS, cache=False)
    finally:
        holder.kill()
        holder.wait(timeout=WAIT)
    (tmp_path / "ok.txt").write_text("x\ny\n")
    assert embed_file(tmp_path / "ok.txt", tmp_path / "k.jsonl", dimensions=DIMS, cache=False)["texts"] == 2
