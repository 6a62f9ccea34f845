"""Where the spend caps live, and reading them, without SQLite.

The caps a person stores (`openai-skill budget set`) are a small JSON file in the config
folder, `budget.json` (0600), which exists only while a cap or the unpriced allowance is
stored. The spend ledger (`ledger.py`, SQLite) sits beside it. Keeping the caps out of the
ledger gives two things:

- The default (no cap stored, none in the environment) costs one `stat` per call: no SQLite
  import, no reservation; the call's row is one line of the journal (`journal.py`).
- A broken ledger (a full disk, a file size limit, a damaged file) can be told apart from a
  cap: with no cap the call goes on unrecorded; with a cap it is refused. Were the caps inside
  the broken file, neither could be known.

The caps file is read again under the lock of each reservation (the running totals' lock,
`totals.py`, which every ledger transaction takes first), and `budget set` replaces it under
the same lock, so a check and its reservation see one set of caps. `check` is the one place a
reservation is judged, from the totals or from the ledger. Caps in the environment
(OPENAI_SKILL_BUDGET_*) can only lower the stored ones.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import BudgetError, InputError

LEDGER_NAME = "spend.sqlite3"
CAPS_NAME = "budget.json"
TOTALS_NAME = "spend.totals"   # the running totals the caps count (`totals.py`)
CAPS = ("per_call", "daily", "monthly")
CAP_LABELS = {"per_call": "per-call", "daily": "daily", "monthly": "monthly"}
ENV_CAPS = {"per_call": "OPENAI_SKILL_BUDGET_PER_CALL", "daily": "OPENAI_SKILL_BUDGET_DAILY",
            "monthly": "OPENAI_SKILL_BUDGET_MONTHLY"}
ALLOW_UNPRICED = "allow_unpriced"
FILE_MODE = 0o600
EPSILON = 1e-9               # float sums: a cap met to the nano-dollar is met, not passed


def ledger_path(env: Mapping | None = None) -> Path:
    from ..config import config_folder

    return config_folder(env)[0] / LEDGER_NAME


def caps_path(ledger: Path) -> Path:
    """The caps file beside a ledger file."""
    return ledger.with_name(CAPS_NAME)


def totals_path(ledger: Path) -> Path:
    """The running totals' file beside a ledger file (`totals.py`)."""
    return ledger.with_name(TOTALS_NAME)


def usd(value: float) -> str:
    """Dollars as people read them: cents, or more digits for sub-cent amounts."""
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.6f}".rstrip("0")


def parse_usd(raw, where: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{where}: expected an amount in USD (a number >= 0, e.g. 5 or 0.25), got {raw!r}",
                         field=where, expected="a number >= 0", given=str(raw))
    return value


def env_caps(env: Mapping) -> dict:
    """The caps the environment sets (they can only lower the stored ones)."""
    caps = {}
    for name, variable in ENV_CAPS.items():
        raw = env.get(variable)
        if raw:
            caps[name] = parse_usd(raw, variable)
    return caps


def read_caps(path: Path) -> dict:
    """{"caps": {name: usd}, "allow_unpriced": bool} stored in the caps file; none when there
    is none. A file that exists but cannot be read or is not what `budget set` writes is a
    BudgetError: a cap may be in it, so no call may pass unchecked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"caps": {}, "allow_unpriced": False}
    except OSError as exc:
        raise _unreadable(path, exc.strerror or type(exc).__name__) from None
    try:
        data = json.loads(raw)
        caps = {name: float(data["caps"][name]) for name in CAPS if name in data["caps"]}
        allow = data.get(ALLOW_UNPRICED, False)
        if not isinstance(allow, bool) or not all(math.isfinite(v) and v >= 0 for v in caps.values()):
            raise ValueError("a cap is not an amount >= 0, or allow_unpriced is not true or false")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _unreadable(path, f"not a caps file ({type(exc).__name__})") from None
    return {"caps": caps, "allow_unpriced": allow}


def write_caps(path: Path, caps: Mapping[str, float], allow_unpriced: bool) -> None:
    """Replace the caps file atomically (`atomic.atomic_write`: 0600, fsynced, the folder too);
    remove it when nothing is stored, so its absence means "no cap" and calls skip the ledger.
    OSError goes to the caller."""
    if not caps and not allow_unpriced:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    data = json.dumps({"caps": dict(caps), ALLOW_UNPRICED: allow_unpriced}, indent=1, sort_keys=True) + "\n"
    from ..atomic import atomic_write  # on use: only `budget set` writes; every call reads this module

    atomic_write(path, data.encode("utf-8"), mode=FILE_MODE)


def effective(stored: Mapping, env: Mapping) -> dict:
    """The caps in force: the stored ones, each lowered (never raised) by the environment's."""
    caps = dict(stored["caps"])
    for name, value in env_caps(env).items():
        caps[name] = min(value, caps.get(name, value))
    return caps


def check(worst_usd: float | None, unknown: str | None, what: str, caps: Mapping[str, float], allow_unpriced: bool,
          spent: Callable[[str], float]) -> None:
    """Refuse (BudgetError naming the cap, what is spent and what is left) a call whose worst
    case would pass a cap, or whose price is unknown while a cap is set and unpriced calls are
    not allowed. `spent("daily" | "monthly")`: what that UTC period has charged (asked only for
    a cap that is set). The ledger and the running totals (`totals.py`) both check here."""
    if worst_usd is None:
        if caps and not allow_unpriced:
            name = next(iter(caps))
            raise BudgetError(
                f"refused before sending: the cost of this call is unknown ({unknown}) and a "
                f"{CAP_LABELS[name]} cap of {usd(caps[name])} is set; a person can allow unpriced "
                "calls with `openai-skill budget set --allow-unpriced`", cap=name, reason="unpriced")
        return
    if "per_call" in caps and worst_usd > caps["per_call"] + EPSILON:
        raise BudgetError(
            f"refused before sending: the per-call cap is {usd(caps['per_call'])} and this call "
            f"could cost up to {usd(worst_usd)} ({what}); {usd(0)} spent, {usd(caps['per_call'])} "
            "left for one call", cap="per_call", cap_usd=caps["per_call"], worst_usd=worst_usd)
    for name, when in (("daily", "today (UTC)"), ("monthly", "this month (UTC)")):
        if name not in caps:
            continue
        so_far = spent(name)
        if so_far + worst_usd > caps[name] + EPSILON:
            left = max(0.0, caps[name] - so_far)
            raise BudgetError(
                f"refused before sending: the {name} cap is {usd(caps[name])}; {usd(so_far)} spent "
                f"{when}, {usd(left)} left; this call could cost up to {usd(worst_usd)} ({what})",
                cap=name, cap_usd=caps[name], spent_usd=round(so_far, 8), left_usd=round(left, 8),
                worst_usd=worst_usd)


def _unreadable(path: Path, why: str) -> BudgetError:
    return BudgetError(f"the spend caps file {path} cannot be read ({why}), so whether a cap is set is unknown; "
                       "nothing was sent. Fix its permissions, or a person removes it to drop the stored caps",
                       reason="caps_unreadable", file=str(path))
