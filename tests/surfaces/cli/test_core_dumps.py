"""The CLI turns core dumps off before it reads any key (issue 8, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import resource, sys
from openai_skill.surfaces.cli import main
code = main(sys.argv[1:])
with open("/proc/self/coredump_filter") as f:
    print(resource.getrlimit(resource.RLIMIT_CORE), f.read().strip(), code)
"""


def test_cli_disables_core_dumps_for_the_whole_process(tmp_path):
    env = {**os.environ, "OPENAI_SKILL_HOME": str(tmp_path / "vault-home")}
    before = subprocess.run([sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_CORE))"],
                            capture_output=True, text=True, env=env, check=True).stdout.strip()
    out = subprocess.run([sys.executable, "-c", PROBE, "vault", "path"], capture_output=True, text=True, env=env,
                         check=True).stdout.splitlines()[-1]
    assert out == "(0, 0) 00000000 0", (before, out)
