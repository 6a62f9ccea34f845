"""Process hardening for the CLI: no core dumps while keys may be in memory.

Every command may hold a secret (OPENAI_API_KEY, a vault master key, a passphrase, a
decrypted entry), so the CLI turns core dumps off once at start: RLIMIT_CORE 0, soft and
hard (nothing later in the process can raise it again), and on Linux a coredump_filter of 0,
because a core handler piped from /proc/sys/kernel/core_pattern (systemd-coredump, apport)
is not bound by RLIMIT_CORE but is by the filter: no anonymous or file-backed memory, so no
heap holding a key. (prctl(PR_SET_DUMPABLE, 0) would need ctypes, ~15 ms of start-up on
every call.) The library never does this: a process that embeds it decides for itself.
"""

from __future__ import annotations

COREDUMP_FILTER = "/proc/self/coredump_filter"


def disable_core_dumps() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not on this platform: nothing to turn off
        pass
    try:
        with open(COREDUMP_FILTER, "w") as f:
            f.write("0")
    except OSError:  # not Linux, or no /proc
        pass
