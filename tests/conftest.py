"""Shared fixtures: every test runs with a clean environment, a private config folder and
working directory, and (where it asks) a real HTTP server on 127.0.0.1. Before any test, the
run stops if the imported openai_skill is an installed copy that is not this checkout's code."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.canary import CANARY_KEY
from support.terminal import FakeTerminal
from support.fake_openai import FakeOpenAI
from support.spec_checks import check_answer, check_request
from support.install_guard import session_problem


def pytest_sessionstart(session):
    """Stop before any test if the imported openai_skill is an installed copy that is not this
    checkout's code (support/install_guard.py says what differs and how to fix it)."""
    _children_start_with_the_default_sigint()
    found = session_problem()
    if found:
        raise pytest.UsageError(found)


def _children_start_with_the_default_sigint() -> None:
    """A shell starts a background job (`pytest &`, two suites at once) with SIGINT ignored, and
    an ignored signal stays ignored through fork and exec: the CLI, which respects a parent that
    ignores SIGINT, would then ignore the Ctrl-C the tests send it. With Python's own handler
    back in this process, every child starts with the default disposition, however the suite
    was started."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No OPENAI_* from the developer's shell, no real config folder, a scratch cwd."""
    for name in list(os.environ):
        if name.startswith("OPENAI_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    from openai_skill.redaction import forget

    forget()  # no secret remembered by an earlier test masks this one's output
    return tmp_path


@pytest.fixture(autouse=True)
def data_day(monkeypatch):
    """Lifecycle checks see the day skill.yaml's lifecycle data describes, not the real date,
    so no test changes its verdict when a shutdown date passes (tests that need another day
    pass `today=`; tests/lifecycle/test_keeping_current.py alone reads the real date)."""
    from openai_skill.lifecycle import table
    from support.lifecycle import DATA_DAY

    monkeypatch.setattr(table, "utc_today", lambda: DATA_DAY)
    return DATA_DAY


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch):
    """No test ever reads the developer's terminal: a confirmation that needs a person finds
    none (and is refused) unless the test brings one (`person`)."""
    from openai_skill.surfaces import confirm

    def none():
        raise OSError("no terminal in the tests")

    monkeypatch.setattr(confirm, "open_terminal", none)


@pytest.fixture
def person(monkeypatch):
    """A person at the terminal who confirms what they are asked (`.shown`: what they saw)."""
    from openai_skill.surfaces import confirm

    terminal = FakeTerminal()
    monkeypatch.setattr(confirm, "open_terminal", lambda: terminal)
    return terminal


@pytest.fixture
def api(httpserver, monkeypatch):
    """A loopback HTTP server speaking for api.openai.com, with OPENAI_BASE_URL pointed at it."""
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    return httpserver


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    return CANARY_KEY


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `openai-skill ARGS` in-process: cli("models", "--json", stdin="...")."""
    from openai_skill.surfaces.cli import main

    def run(*args, stdin: str | None = None) -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def installed_cli():
    """Run the installed `openai-skill` command in a subprocess (as agents do)."""
    beside = Path(sys.executable).parent / "openai-skill"  # the venv's, even when not activated
    exe = str(beside) if beside.exists() else shutil.which("openai-skill")
    if exe is None:
        pytest.fail("openai-skill is not installed on PATH; run `pip install .` first")

    def run(*args, stdin: str | None = None, env: dict | None = None, cwd=None) -> Result:
        full_env = {k: v for k, v in os.environ.items()}
        full_env.update(env or {})
        # A session of its own: no controlling terminal, as under an agent (a confirmation
        # that needs a person is refused, never asked on the developer's terminal).
        proc = subprocess.run([exe, *map(str, args)], input=stdin or "", capture_output=True,
                              text=True, env=full_env, cwd=cwd, timeout=60, start_new_session=True)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def openai(monkeypatch):
    """The loopback OpenAI (support/fake_openai.py) with OPENAI_BASE_URL pointed at it. Every
    body it receives and every success answer it gives or is given (`reply`) is checked against
    the official spec (tests/contract), and every body against what today's API accepts
    (support/todays_api.py: it answers as the live API would, 404 for a retired model, ...); a
    test that sent or served a wrong one fails."""
    fake = FakeOpenAI(validate=check_request, validate_answer=check_answer)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.start())
    from support.todays_api import as_served_by

    fake.refuse = as_served_by(fake.url)
    yield fake
    fake.stop()
    assert fake.invalid == [], "\n".join(fake.invalid)
