"""Lint and types: ruff and mypy, as pyproject.toml configures them, find nothing.

Both run through this interpreter (`python -m`, not whatever PATH finds: the tools and the
packages mypy checks our calls against are this environment's) from the repository root, so
they read its pyproject.toml and check the checkout. A failure prints what they found."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# The folder with pyproject.toml above this file (wherever the tests folder puts this file).
REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
# mypy's incremental cache, outside the checkout and kept between runs of this checkout: a
# cold run takes ~7 s here, a warm one under 1 s; mypy re-checks whatever changed since.
MYPY_CACHE = Path(tempfile.gettempdir()) / f"openai-skill-mypy-{hashlib.sha256(bytes(REPO)).hexdigest()[:12]}"


def _run(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": ""})


def _found(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-8000:]}{proc.stderr[-3000:]}"


def _clean(proc: subprocess.CompletedProcess) -> None:
    """Fail with the tool's own report (no traceback: the findings are the message)."""
    if proc.returncode != 0:
        pytest.fail(_found(proc), pytrace=False)


def test_ruff_finds_nothing():
    _clean(_run("ruff", "check", "--no-cache", "--output-format", "concise"))


@pytest.mark.timeout(600)  # a cold mypy run on a busy machine
def test_mypy_finds_nothing():
    proc = _run("mypy", "--cache-dir", str(MYPY_CACHE), timeout=540)
    _clean(proc)
    assert "Success: no issues found" in proc.stdout, _found(proc)


def test_the_ruff_config_reaches_the_package():
    # A clean result means nothing if the config selected nothing or excluded the package:
    # the same invocation must flag a planted finding in a file under skill/openai_skill.
    proc = _run("ruff", "check", "--no-cache", "--output-format", "concise",
                "--stdin-filename", "skill/openai_skill/planted.py", "-", stdin="import os\n")
    assert proc.returncode == 1 and "F401" in proc.stdout, _found(proc)


@pytest.mark.timeout(600)
def test_the_mypy_config_is_the_one_that_runs(tmp_path):
    # The same for mypy: the repo's config is read (check_untyped_defs: the body of an
    # unannotated function is checked) and a type error fails the run.
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    x: int = 'text'\n    return x\n")
    proc = _run("mypy", "--cache-dir", str(MYPY_CACHE), str(planted), timeout=540)
    assert proc.returncode == 1 and "planted.py:2: error" in proc.stdout and "[assignment]" in proc.stdout, \
        _found(proc)
