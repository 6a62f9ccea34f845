"""Ctrl-C in the first moments of a command is the CLI's own line and exit 130 (issue 16, item 11).

A SIGINT while the CLI was still importing its modules printed a Python traceback and exited
-2 (8 of 40 runs in the first ~75 ms). Now the entry point handles SIGINT before anything
heavy loads. To hit those moments every time rather than by luck of timing, the test makes
the command send itself SIGINT exactly while a given module is being imported (an import
hook in a `sitecustomize` of the test's own), then checks what a user would see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOOK = '''
import os, signal, sys

_TARGET = os.environ.get("OPENAI_SKILL_TEST_SIGINT_AT")


class _InterruptAt:
    """Sends this process SIGINT when the target module starts importing."""

    def find_spec(self, name, path=None, target=None):
        if name == _TARGET:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None


if _TARGET:
    sys.meta_path.insert(0, _InterruptAt())
'''


def _exe() -> str:
    beside = Path(sys.executable).parent / "openai-skill"
    return str(beside) if beside.exists() else shutil.which("openai-skill")


@pytest.mark.parametrize("module", [
    "openai_skill.surfaces.cli",            # the CLI package itself
    "openai_skill.surfaces.cli.commands",   # the command table (a plain call builds no argparse parser)
    "openai_skill.surfaces.cli.actions",    # a command group
    "openai_skill.surfaces.cli.output",     # what prints the result
    "openai_skill.manifest",                # while the command runs (the handler is the CLI's own by then)
])
@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_ctrl_c_while_the_cli_loads_is_one_line_and_exit_130(tmp_path, module, how):
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "hook"), "OPENAI_SKILL_TEST_SIGINT_AT": module}
    command = [_exe()] if how == "console script" else [sys.executable, "-m", "openai_skill"]
    proc = subprocess.run([*command, "models", "--dry-run"], capture_output=True, text=True, env=env,
                          timeout=60, start_new_session=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert (proc.returncode, proc.stderr) == (130, "openai-skill: interrupted\n"), (proc.returncode, proc.stderr)
    assert proc.stdout == ""


def test_without_a_signal_the_hook_changes_nothing(tmp_path):
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "hook"), "OPENAI_SKILL_TEST_SIGINT_AT": "no.such.module"}
    proc = subprocess.run([_exe(), "models", "--dry-run"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and '"dry_run": true' in proc.stdout, proc.stderr
