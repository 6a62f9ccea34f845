"""Run-time settings: named defaults, overridden by environment, overridden by the caller.

Like requests' adapters, every layer is explicit: DEFAULT_* constants here, then the
environment (`Settings.from_env`), then keyword options passed to `invoke`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from collections.abc import Mapping

from .errors import InputError

# Where requests go unless OPENAI_BASE_URL or base_url says otherwise. A vault entry stored
# without an origin is bound to DEFAULT_ORIGIN (`urls.origin_of(DEFAULT_BASE_URL)`).
DEFAULT_ORIGIN = "https://api.openai.com"
DEFAULT_BASE_URL = DEFAULT_ORIGIN + "/v1"
DEFAULT_CONNECT_TIMEOUT = 5.0     # seconds, as the official SDK
DEFAULT_READ_TIMEOUT = 600.0      # seconds, as the official SDK
DEFAULT_DEADLINE = 900.0          # seconds for a whole call, retries and waits included; 0: none
DEFAULT_STREAM_IDLE_TIMEOUT = 600.0  # seconds a stream may go without an event
DEFAULT_MAX_RETRIES = 2           # 3 attempts in all, as the official SDK
DEFAULT_OUTPUT_DIR = "openai-images"  # relative to the working directory

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_ORG = "OPENAI_ORG_ID"
ENV_PROJECT = "OPENAI_PROJECT_ID"
ENV_MAX_RETRIES = "OPENAI_SKILL_MAX_RETRIES"
ENV_TIMEOUT = "OPENAI_SKILL_TIMEOUT"
ENV_DEADLINE = "OPENAI_SKILL_DEADLINE"
ENV_STREAM_IDLE_TIMEOUT = "OPENAI_SKILL_STREAM_IDLE_TIMEOUT"
ENV_OUTPUT_DIR = "OPENAI_SKILL_OUTPUT_DIR"
# The variables Settings.from_env reads (a default client is rebuilt when one changes).
SETTINGS_ENV = (ENV_BASE_URL, ENV_ORG, ENV_PROJECT, ENV_MAX_RETRIES, ENV_TIMEOUT, ENV_DEADLINE,
                ENV_STREAM_IDLE_TIMEOUT, ENV_OUTPUT_DIR)
ENV_HOME = "OPENAI_SKILL_HOME"     # the config folder (vault, keychain record, caches)
APP_FOLDER = "openai-skill"


class Settings:
    """The settings of a client: immutable (`with_values` makes a checked copy), compared by value.

    A plain class, not a dataclass: `dataclasses` imports `inspect` (~6 ms) and builds each
    class with `exec`, on the start-up path of every CLI call."""

    FIELDS = ("base_url", "organization", "project", "connect_timeout", "read_timeout", "deadline",
              "stream_idle_timeout", "max_retries", "output_dir")
    __slots__ = FIELDS

    base_url: str
    organization: str | None
    project: str | None
    connect_timeout: float
    read_timeout: float
    deadline: float | None  # total seconds for a call; 0 or None: no deadline
    stream_idle_timeout: float
    max_retries: int
    output_dir: Path

    def __init__(self, base_url: str = DEFAULT_BASE_URL, organization: str | None = None,
                 project: str | None = None, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, deadline: float | None = DEFAULT_DEADLINE,
                 stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT,
                 max_retries: int = DEFAULT_MAX_RETRIES, output_dir: Path | None = None):
        values = (base_url, organization, project, connect_timeout, read_timeout, deadline,
                  stream_idle_timeout, max_retries, Path(DEFAULT_OUTPUT_DIR) if output_dir is None else output_dir)
        for name, value in zip(self.FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"Settings are immutable: use with_values({name}=...) for a changed copy")

    def __delattr__(self, name):
        self.__setattr__(name, None)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{name}={getattr(self, name)!r}' for name in self.FIELDS)})"

    def __reduce__(self):
        return (self.__class__, self._values())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /, **overrides) -> Settings:
        """Defaults, then the environment, then non-None `overrides`."""
        env = os.environ if env is None else env
        values: dict = {}
        if env.get(ENV_BASE_URL):
            values["base_url"] = env[ENV_BASE_URL]
        if env.get(ENV_ORG):
            values["organization"] = env[ENV_ORG]
        if env.get(ENV_PROJECT):
            values["project"] = env[ENV_PROJECT]
        if env.get(ENV_MAX_RETRIES):
            values["max_retries"] = _number(ENV_MAX_RETRIES, env[ENV_MAX_RETRIES], int)
        if env.get(ENV_TIMEOUT):
            values["read_timeout"] = _number(ENV_TIMEOUT, env[ENV_TIMEOUT], float)
        if env.get(ENV_DEADLINE):
            values["deadline"] = _number(ENV_DEADLINE, env[ENV_DEADLINE], float)
        if env.get(ENV_STREAM_IDLE_TIMEOUT):
            values["stream_idle_timeout"] = _number(ENV_STREAM_IDLE_TIMEOUT,
                                                    env[ENV_STREAM_IDLE_TIMEOUT], float)
        if env.get(ENV_OUTPUT_DIR):
            values["output_dir"] = env[ENV_OUTPUT_DIR]
        for key, value in overrides.items():
            if key not in cls.FIELDS:
                raise InputError(f"unknown option {key!r}; expected one of: {', '.join(sorted(cls.FIELDS))}")
            if value is not None:
                values[key] = value
        return cls().with_values(**values)

    def with_values(self, **values) -> Settings:
        """A copy with `values` applied and checked."""
        if "output_dir" in values:
            if not isinstance(values["output_dir"], (str, os.PathLike)):
                raise InputError(f"output_dir: expected a folder path, got {values['output_dir']!r}")
            values["output_dir"] = Path(values["output_dir"]).expanduser()
        for name in ("base_url", "organization", "project"):
            if values.get(name) is not None and not isinstance(values[name], str):
                raise InputError(f"{name}: expected a string, got {values[name]!r}")
        if "base_url" in values:
            values["base_url"] = str(values["base_url"]).rstrip("/")
        if values.get("deadline") == 0:
            values["deadline"] = None  # 0 disables the deadline, as documented
        new = Settings(**{name: values.get(name, getattr(self, name)) for name in self.FIELDS})
        if isinstance(new.max_retries, bool) or not isinstance(new.max_retries, int) or new.max_retries < 0:
            raise InputError(f"max_retries: expected an integer >= 0, got {new.max_retries!r}")
        for name in ("connect_timeout", "read_timeout", "deadline", "stream_idle_timeout"):
            value = getattr(new, name)
            # NaN compares false with everything: `nan <= 0` would let it through and disable
            # the timeout it stands for. Infinity is no timeout at all.
            if value is not None and (not _is_finite(value) or value <= 0):
                allowed = " (or 0 for none)" if name == "deadline" else ""
                raise InputError(f"{name}: expected a finite number of seconds > 0{allowed}, got {value!r}")
        return new


def _is_finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(name: str, raw: str, kind: type):
    expected = "an integer" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise InputError(f"{name}: expected {expected}, got {raw!r}") from None
    if not _is_finite(value):  # "nan", "inf": float() accepts them, no setting means them
        raise InputError(f"{name}: expected a finite number, got {raw!r}")
    return value


# Every variable config_folder reads: a caller may keep its answer while these are unchanged.
CONFIG_FOLDER_VARIABLES = (ENV_HOME, "XDG_CONFIG_HOME", "HOME")


def config_folder(env: Mapping | None = None) -> tuple[Path, str]:
    """(the config folder, how it was chosen): OPENAI_SKILL_HOME, else
    $XDG_CONFIG_HOME/openai-skill, else ~/.config/openai-skill. The vault, the keychain record
    and the caches live there."""
    env = os.environ if env is None else env
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser(), f"from {ENV_HOME}"
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / APP_FOLDER, "from XDG_CONFIG_HOME"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".config" / APP_FOLDER, "from HOME"
    home = os.path.expanduser("~")  # no HOME at all (OpenClaw's exec providers): the passwd entry
    return Path(home) / ".config" / APP_FOLDER, f"{ENV_HOME}, XDG_CONFIG_HOME and HOME are unset"
