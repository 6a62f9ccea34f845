"""The model a call uses, and what the lifecycle says about it, before anything is sent.

Three ways a model is chosen, each treated as the issue of who chose it:
- the user named it in the input: refused on its shutdown day, warned about within
  `warn_days` of it;
- the user's own default setting (OPENAI_SKILL_CHAT_MODEL, ...): the same, naming the setting;
- the skill's default (skill.yaml `defaults`): the first of the list still served that day,
  so a default moves to its successor on the date, silently; only the last of the list, with
  no successor, warns like a model the user named.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ..errors import InputError
from .table import Shutdown, Table


class Choice:
    """The model a call uses and why (a plain class, not a dataclass: see table.Shutdown)."""

    __slots__ = ("model", "chosen_by", "warnings")

    def __init__(self, model: str, chosen_by: str, warnings: list[str] | None = None):
        self.model = model
        self.chosen_by = chosen_by     # "input", a setting's name, or "default"
        self.warnings: list[str] = [] if warnings is None else warnings

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.model, self.chosen_by, self.warnings) == (other.model, other.chosen_by, other.warnings)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Choice(model={self.model!r}, chosen_by={self.chosen_by!r}, warnings={self.warnings!r})"


def choose(action_id: str, given: str | None, *, defaults: Mapping, table: Table, today: date,
           learned=None, env: Mapping | None = None) -> Choice:
    """The model for a call of `action_id` (`given`: the model the input named, or None)."""
    spec = defaults.get(action_id) or {}
    setting = spec.get("setting")
    if given is not None:
        choice = Choice(given, "input")
    elif setting and env is not None and env.get(setting):
        choice = Choice(env[setting], setting)
    else:
        models = spec.get("models") or []
        model = table.first_live(models, today, learned)
        choice = Choice(model, "default")
        if model != models[-1]:
            return choice  # a successor waits in the list: the default moves on the date
    judge(choice, table, today, learned)
    return choice


def judge(choice: Choice, table: Table, today: date, learned=None) -> None:
    """Refuse a model whose shutdown day has begun; warn within `warn_days` of it."""
    found = table.shutdown(choice.model, learned)
    if found is None:
        return
    if found.begun(today):
        raise _refusal(choice, found, table, today, learned)
    left = found.days_left(today)
    if left <= table.warn_days:
        when = "tomorrow" if left == 1 else f"in {left} days"
        choice.warnings.append(f"{_who(choice)} shuts down on {found.date.isoformat()} ({when}"
                               f"{_according(found, ', ')}){_use(found, table, today, learned, ' before then')}")


def _refusal(choice: Choice, found: Shutdown, table: Table, today: date, learned) -> InputError:
    """One line naming the field (or the setting), the model, its date and the replacement."""
    use = _use(found, table, today, learned)
    if choice.chosen_by == "input":
        where, fix = "model", ""
    elif choice.chosen_by == "default":
        where, fix = "model", " (give a model, or set your own default: `openai-skill doctor` shows how)"
    else:
        where, fix = choice.chosen_by, f" (set {choice.chosen_by} to another model, or unset it)"
    message = (f"{where}: {choice.model} was shut down on {found.date.isoformat()}{_according(found, ', ')}"
               f"{use}{fix}")
    replacements = table.replacements(found, today, learned)
    return InputError(message, problems=[{
        "path": "model", "expected": " or ".join(replacements) or "a model that is still served",
        "given": choice.model, "message": message}], field="model", shutdown_date=found.date.isoformat())


def _who(choice: Choice) -> str:
    if choice.chosen_by in ("input", "default"):
        return choice.model
    return f"{choice.model} (from {choice.chosen_by})"


def _according(found: Shutdown, sep: str) -> str:
    return f"{sep}per this server's model list" if found.learned else ""


def _use(found: Shutdown, table: Table, today: date, learned, suffix: str = "") -> str:
    replacements = table.replacements(found, today, learned)
    if not replacements:
        return f"; choose another model{suffix} (`openai-skill models` lists them)"
    return f"; use {' or '.join(replacements)}{suffix}"
