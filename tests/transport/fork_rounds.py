"""Run by tests/transport/test_fork.py in its own process, which forks.

    python fork_rounds.py ROUNDS CALLS   call, fork, and call from both processes at once over
                                         what was one pooled connection; report every answer
                                         that is not the caller's own (OPENAI_BASE_URL and
                                         OPENAI_API_KEY set)
    python fork_rounds.py held-locks     fork while a thread holds the key source's and the
                                         redaction's locks, and while the parent's watchdog
                                         runs: the child must neither hang nor outlive its
                                         deadline (no key anywhere)
"""

from __future__ import annotations

import json
import os
import sys

import openai_skill
from openai_skill.client import Client


def ask(call, who: str) -> list[str]:
    """`CALLS` chat calls; the problems (a wrong, cut or failed answer), one string each."""
    problems = []
    for number in range(CALLS):
        question = f"{who} {number}"
        try:
            content = call("chat-completion", {"messages": [{"role": "user", "content": question}]})["content"]
        except Exception as exc:  # a cut answer, a hang to the deadline: all count
            problems.append(f"{who}: {type(exc).__name__}: {exc}"[:200])
            continue
        if content != f"echo: {question}":
            problems.append(f"{who}: asked {question!r}, got {content!r}")
    return problems


def one_round(call, label: str) -> list[str]:
    call("chat-completion", {"messages": [{"role": "user", "content": "warm up"}]})  # a pooled connection
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        problems = ask(call, f"child {label}")
        os.write(write_end, json.dumps(problems).encode())
        os._exit(0)
    os.close(write_end)
    problems = ask(call, f"parent {label}")
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    return problems + (json.loads(child) if child else ["child: no report"])


def held_locks() -> list[str]:
    """A thread holds the vault source's and the redaction's locks (mid vault read, mid
    remember) when the process forks: the child must not hang on them. No key anywhere, so the
    child's lookup ends, promptly, in CredentialsError."""
    import signal
    import threading

    from openai_skill import redaction
    from openai_skill.errors import CredentialsError

    client = Client(cache_vault=True)
    vault = next(source for source in client.keys.sources if type(source).__name__ == "VaultKey")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with vault._lock, redaction._lock:
            held.set()
            release.wait()

    threading.Thread(target=hold, daemon=True).start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        signal.alarm(int(os.environ.get("FORK_DEADLINE", "10")))  # a hang ends in SIGALRM
        try:
            client.key_for(client.base_url)
        except CredentialsError:
            pass
        redaction.remember("a-secret-the-child-learns-0123456789")
        os._exit(0)
    release.set()
    _, status = os.waitpid(pid, 0)
    return _verdict(status)


def child_deadline() -> list[str]:
    """The parent's watchdog thread is running at the fork; a call in the child to a server that
    never answers must still end at the child's own deadline."""
    import signal
    import socket
    import time

    from openai_skill.errors import APITimeoutError

    silent = socket.create_server(("127.0.0.1", 0))  # accepts; nobody ever answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
    client = Client(base_url=url, api_key="sk-test-fork-0123456789abcdefghij", max_retries=0, deadline=60)
    parent_call = __import__("threading").Thread(
        target=lambda: _swallow(client.invoke, "list-models", {}), daemon=True)
    parent_call.start()
    # Fork once the parent's call is connected (its imports done, its watchdog watching): a
    # fork while another thread is in the middle of a first import can hang any Python child.
    connection, _ = silent.accept()
    pid = os.fork()
    if pid == 0:
        signal.alarm(int(os.environ.get("FORK_DEADLINE", "10")))
        started = time.monotonic()
        try:
            Client(base_url=url, api_key="sk-test-fork-0123456789abcdefghij", max_retries=0,
                   deadline=1.0).invoke("list-models", {})
            os._exit(3)
        except APITimeoutError:
            # ends at its 1 s deadline; well before the parent's silent server would (never)
            os._exit(0 if time.monotonic() - started < 20 else 4)
    _, status = os.waitpid(pid, 0)
    return _verdict(status)


def _swallow(call, *args) -> None:
    try:
        call(*args)
    except Exception:
        pass


def _verdict(status: int) -> list[str]:
    if os.WIFSIGNALED(status):
        return [f"child: killed by signal {os.WTERMSIG(status)} (hung on a lock held at the fork)"]
    return [] if os.WEXITSTATUS(status) == 0 else [f"child: exit {os.WEXITSTATUS(status)}"]


if __name__ == "__main__":
    if sys.argv[1] == "held-locks":
        print(json.dumps({"problems": held_locks() + child_deadline()}))
        sys.exit(0)
    ROUNDS, CALLS = int(sys.argv[1]), int(sys.argv[2])
    client = Client(max_retries=0, deadline=float(os.environ.get("FORK_DEADLINE", "10")))
    found = []
    for round_ in range(ROUNDS):
        found += one_round(client.invoke, f"client round {round_}")
        found += one_round(lambda action, data: openai_skill.invoke(action, data), f"default round {round_}")
        if found:
            break  # one crossed or lost answer is proof enough
    print(json.dumps({"rounds": ROUNDS * 2, "calls": ROUNDS * 2 * CALLS * 2, "problems": found}))
