"""Processes that start a race together: each waits at a gate until all are ready and the
parent says go, however slowly each started (a gate, not a time of day).

    outputs = race(SCRIPT, [arg, ...], count=8, folder=tmp_path)

SCRIPT runs with `sys.argv[1:]` = the given arguments; it calls `wait_for_go()` (GATE below,
prepended to it) before racing. `race` returns each process's (stdout, stderr) once all
ended, and asserts none failed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from support.timing import wait_until

GATE = textwrap.dedent("""
    import os as _os, sys as _sys, time as _time
    from pathlib import Path as _Path
    _gate = _Path(_sys.argv.pop())

    def wait_for_go():
        (_gate / f"ready-{_os.getpid()}").touch()
        give_up = _time.monotonic() + 120
        while not (_gate / "go").exists():
            if _time.monotonic() > give_up:
                _sys.exit("never told to go")
            _time.sleep(0.005)
""")


def race(script: str, args: list[str], *, count: int, folder: Path, timeout: float = 120) -> list[tuple[str, str]]:
    gate = folder / "gate"
    gate.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", GATE + textwrap.dedent(script), *map(str, args), str(gate)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    try:
        wait_until(lambda: len(list(gate.glob("ready-*"))) == count or any(p.poll() is not None for p in procs),
                   f"the {count} racers to be ready")
        (gate / "go").touch()
        outcomes = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:          # also when the test failed: never a racer left running
            if p.poll() is None:
                p.kill()
                p.wait(timeout=60)
    assert [p.returncode for p in procs] == [0] * count, [err[-300:] for _, err in outcomes]
    return outcomes
