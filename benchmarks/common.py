"""What every benchmark section shares: the loopback server, fresh processes measured for
wall time and peak memory, medians, and a clean environment (no real key, no real config)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAKE_SERVER = REPO / "tests" / "support" / "fake_openai.py"
FAKE_KEY = "sk-bench-fake-key-not-real-000000000000"   # never a real key: the server is ours

# The interpreter every timed process runs on (run.py points it at the wheel install's venv,
# see install.py); its bin/ folder holds the console scripts (`openai-skill`, `llm`).
PYTHON = sys.executable


def use_python(python) -> None:
    global PYTHON
    PYTHON = str(python)


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_server() -> Server:
    """The loopback OpenAI (tests/support/fake_openai.py) in its own process, so its work does not
    share our GIL; it answers from memory with TCP_NODELAY."""
    process = subprocess.Popen([sys.executable, str(FAKE_SERVER), "--port", "0"], stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise SystemExit(f"the loopback server did not start: {url!r}")
    return Server(url, process)


def clean_env(server: Server, home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLM_"))}
    env.update({"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": FAKE_KEY, "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"), "LLM_USER_PATH": str(home / "llm")})
    env.update(extra)
    return env


def tool(name: str) -> str:
    beside = Path(PYTHON).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed; run `pip install '.[bench]'` first")
    return found


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    stdout: str
    cpu_seconds: float = 0.0   # the child's user + system time: steadier than wall time on a busy machine


def run(argv: list[str], env: dict, *, cwd: Path | None = None, stdin: str | None = None,
        timeout: float = 1800) -> Run:
    """Run `argv` in a fresh process: its wall time, its own peak RSS (os.wait4 on that child,
    blocking, so no polling skews short timings) and its stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                   stdout=out, stderr=err, text=True)
        if stdin:
            process.stdin.write(stdin)
            process.stdin.close()
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, argv))[:200]} failed ({process.returncode}): {err.read()[-800:]}")
        return Run(elapsed, round(usage.ru_maxrss / 1024, 1), out.read(), usage.ru_utime + usage.ru_stime)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def pair_ratio(ours: list[float], floor: list[float]) -> float:
    """The median of the per-pair ratios ours[i] / floor[i]: each pair ran back to back, so a
    load spike that slows one pair does not move the others'."""
    return round(statistics.median(a / b for a, b in zip(ours, floor, strict=True)), 3)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]
