"""The benchmarked install: the repository built as a wheel and installed into a fresh venv,
as a user gets it from `pip install openai-skill`.

Why not the running environment: a development install (`pip install -e .`) reads skill.yaml
with a YAML parser on every start, where the wheel reads the precomputed `_bundle.json`, so an
editable install measures a start-up no user has. Every timed process (the floor included)
runs on this venv's interpreter, so both sides of a ratio import from the same site-packages.

The venv gets the wheel with its `mcp` and `bench` extras (the MCP SDK, the pinned `openai`
and `llm` baselines) from the configured package index, the same way a user installs it.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from common import REPO


def wheel_venv(work: Path) -> Path:
    """Build the wheel, install it (with the mcp and bench extras) into `work`/venv; its python."""
    wheels = work / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("openai_skill-*.whl")
    target = work / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    # pip >= 22.3 installs into another interpreter's environment (`--python`): no pip copy needed.
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                           f"{wheel}[mcp,bench]"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"installing the wheel into {target} failed:\n{done.stderr[-2000:]}")
    check = subprocess.run([str(python), "-c", "import openai_skill, pathlib; "
                            "print(pathlib.Path(openai_skill.__file__).parent / '_bundle.json')"],
                           capture_output=True, text=True, check=True).stdout.strip()
    if not Path(check).is_file():
        raise SystemExit(f"the installed package has no {check}: not the wheel build")
    return python
