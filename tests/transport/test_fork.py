"""A forked child never shares a pooled connection with its parent (issue 17, item 2): both
call at once over what was one kept-alive connection, and every answer is the caller's own.
A real fork (in a child Python process) against a loopback OpenAI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


ROUNDS = 8        # each: a client's own sessions, then the default client's
CALLS = 3         # calls per process per round, at the same time as the other process's


@pytest.mark.timeout(150)
def test_parent_and_forked_child_each_get_their_own_answers(openai):
    script = Path(__file__).with_name("fork_rounds.py")
    done = subprocess.run([sys.executable, str(script), str(ROUNDS), str(CALLS)], capture_output=True,
                          text=True, env={**os.environ, "FORK_DEADLINE": "30"}, timeout=100)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["problems"] == [], report["problems"][:5]
    assert report["calls"] == ROUNDS * 2 * CALLS * 2
    assert openai.count("POST", "/v1/chat/completions", 200) == report["calls"] + ROUNDS * 2  # + warm-ups


def test_a_lock_a_parent_thread_held_at_the_fork_does_not_hang_the_child(tmp_path):
    script = Path(__file__).with_name("fork_rounds.py")
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run([sys.executable, str(script), "held-locks"], capture_output=True, text=True,
                          env={**env, "FORK_DEADLINE": "30"}, timeout=100)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["problems"] == []
