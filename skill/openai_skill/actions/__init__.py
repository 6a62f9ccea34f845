"""The action registry: one module per action, named in skill.yaml.

Each module has `shape(data, request_id, params) -> result`, a pure function from OpenAI's
answer to the action's output schema. Optional hooks, looked up here so that the pipeline
never branches on an action's name:
- `accumulate(chunks) -> answer` and `stream_text(chunk) -> str` for actions that stream;
- `check(params, settings, **options)` for checks of the local side before anything is
  sent (dry runs included): the image output folder;
- `finish(result, settings, **options) -> result` for work after shaping (image files);
- `observe(data, origin, env)` for what the skill learns from an answer (list-models: the
  origin's shutdown dates, see lifecycle/learned.py);
- `warnings(result, params) -> [str]` for what the user should hear about a result that is
  not an error (chat: reasoning spent the whole budget).
"""

from __future__ import annotations

import importlib
import struct

from ..errors import UnexpectedResponseError

# action id -> module name in this package. A test checks these against skill.yaml.
MODULES = {
    "chat-completion": "chat",
    "generate-image": "image",
    "list-models": "models",
    "create-embedding": "embedding",
}


_loaded: dict = {}  # action id -> its module, once imported (every call asks three times)


def module(action_id: str):
    """The module that handles `action_id`."""
    found = _loaded.get(action_id)
    if found is not None:
        return found
    try:
        name = MODULES[action_id]
    except KeyError:
        raise UnexpectedResponseError(f"no handler for action {action_id!r}") from None
    found = _loaded[action_id] = importlib.import_module(f"{__name__}.{name}")
    return found


def shape(action_id: str, data: dict, request_id: str | None, params: dict) -> dict:
    """OpenAI's answer as the action's result; an answer missing what we rely on becomes
    UnexpectedResponseError instead of a KeyError deep in a caller."""
    try:
        return module(action_id).shape(data, request_id, params)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, struct.error) as exc:
        raise UnexpectedResponseError(
            f"{action_id}: OpenAI's answer is missing what we expect ({type(exc).__name__}: {exc})",
            request_id=request_id,
        ) from None


def check(action_id: str, params: dict, settings, **options) -> None:
    """Run the action's before-sending check, if it has one (raises InputError)."""
    hook = getattr(module(action_id), "check", None)
    if hook:
        hook(params, settings, **options)


def finish(action_id: str, result: dict, settings, **options) -> dict:
    """Run the action's after-shaping step, if it has one."""
    hook = getattr(module(action_id), "finish", None)
    return hook(result, settings, **options) if hook else result


def observe(action_id: str, data: dict, *, origin: str | None, env) -> None:
    """Let the action learn from a successful answer, if it does."""
    hook = getattr(module(action_id), "observe", None)
    if hook:
        hook(data, origin, env)


def warnings(action_id: str, result: dict, params: dict) -> list[str]:
    """The action's warnings about a result (one line each), if it has any."""
    hook = getattr(module(action_id), "warnings", None)
    return list(hook(result, params)) if hook else []
