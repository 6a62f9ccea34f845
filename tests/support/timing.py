"""Waiting in tests without racing a clock.

A test waits for an event (a request arrived, a file appeared, a thread ended) and gives up
only after a cap that a machine ten times slower than an idle one stays far inside: the cap
decides only how long a broken build takes to fail, never whether a working one passes.
Bounds on how long something took are stated as "well before the stall that would follow if
the behaviour under test broke" (a server stalling for minutes, a call bounded by seconds).
"""

from __future__ import annotations

import threading
import time

CAP = 60.0   # seconds: how long a test waits for an event before it fails


def wait_until(condition, what: str = "the condition", cap: float = CAP, every: float = 0.02) -> None:
    """Poll `condition()` until true; AssertionError naming `what` after `cap` seconds."""
    give_up = time.monotonic() + cap
    pause = threading.Event()
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting {cap:g} s for {what}")
        pause.wait(every)
