"""How OpenAI's API answers today (REFERENCE.md section 8), for the loopback fakes: the
requests it refuses, with the status and error body it refuses them with.

Written from the API's behaviour, not from the skill's rules, so a fake built on it catches the
skill sending what the live API would refuse: a retired model (404 `model_not_found`),
`max_tokens` or a sampling temperature to a GPT-6 model, a reasoning effort outside a model's
range, a Responses-only model on Chat Completions, or a size, field or count gpt-image-2 does
not take. Which models are retired comes from skill.yaml's lifecycle table (the data the
README's lifecycle section and the keeping-current test watch) as of the day given."""

from __future__ import annotations

from datetime import date
from fnmatch import fnmatchcase

from openai_skill.lifecycle.table import Table
from openai_skill.manifest import load_manifest

RESPONSES_ONLY = ("o1-pro*", "o3-pro*", "o3-deep-research*", "o4-mini-deep-research*", "computer-use-preview*",
                  "gpt-5-pro*", "gpt-5.5-pro*", "*-codex", "*-codex-*")
EFFORTS = {("gpt-6.2-sol*", "gpt-6.2-astra*"): ("low", "medium", "high", "xhigh", "max"),
           ("gpt-6-luna*", "gpt-6.1-terra*"): ("none", "minimal", "low", "medium", "high", "xhigh", "max")}
GPT_IMAGE_2_QUALITY = ("low", "medium", "high", "auto")


def error(status: int, message: str, param: str | None = None, code: str | None = None,
          kind: str = "invalid_request_error") -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": kind, "param": param, "code": code}}


def refusal(method: str, path: str, body, today: date, serves: frozenset = frozenset()):
    """(status, error body) the API answers this request with today, or None if it accepts it.
    `serves`: models this server still serves whatever the lifecycle says (a gateway)."""
    route = path.removeprefix("/v1")
    if method != "POST" or not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return None
    model = body["model"]
    gone = Table(load_manifest().lifecycle).built_in(model)
    if gone is not None and gone.begun(today) and model not in serves:
        return error(404, f"The model `{model}` has been deprecated, learn more here: "
                          "https://platform.openai.com/docs/deprecations", None, "model_not_found")
    if route == "/chat/completions":
        return _chat(model, body)
    if route == "/images/generations" and model.startswith("gpt-image-2"):
        return _gpt_image_2(body)
    return None


def as_served_by(base_url: str):
    """`refusal` as a loopback server at `base_url` answers on the data's day: what that
    origin's own model list (the skill's learned cache, support/lifecycle.serve) carries with
    no shutdown date it still serves, as a gateway or dedicated capacity does. The fake's
    `refuse` hook (support/fake_openai.py)."""
    from openai_skill.lifecycle import learned
    from openai_skill.urls import origin_of
    from support.lifecycle import DATA_DAY

    origin = origin_of(base_url)

    def refuse(method: str, path: str, body):
        refused = refusal(method, path, body, DATA_DAY)
        if refused is None or refused[0] != 404:
            return refused
        listed = learned.load(origin)  # read only when a retired model is asked for
        serves = frozenset(m for m, day in (listed.shutdowns.items() if listed else ()) if day is None)
        return refusal(method, path, body, DATA_DAY, serves)

    return refuse


def _matches(model: str, globs) -> bool:
    return any(fnmatchcase(model, glob) for glob in globs)


def _chat(model: str, body: dict):
    if _matches(model, RESPONSES_ONLY):
        return error(400, "This model is only supported in v1/responses and not in v1/chat/completions.", "model")
    if not model.startswith("gpt-6"):
        return None
    if body.get("max_tokens") is not None:
        return error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                          "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
    effort = body.get("reasoning_effort")
    for globs, allowed in EFFORTS.items():
        if _matches(model, globs) and effort is not None and effort not in allowed:
            return error(400, f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this "
                              f"model. Supported values are: {', '.join(repr(a) for a in allowed)}.",
                         "reasoning_effort", "unsupported_value")
    if body.get("temperature") is not None and effort != "none":
        return error(400, "Unsupported value: 'temperature' is only supported with reasoning_effort 'none' "
                          "for this model.", "temperature", "unsupported_value")
    if model.startswith("gpt-6-luna") and body.get("tools") and effort != "none":
        return error(400, "Function tools with reasoning_effort are not supported for gpt-6-luna in "
                          "/v1/chat/completions. Use reasoning_effort 'none'.", "reasoning_effort",
                     "unsupported_value")
    return None


def _gpt_image_2(body: dict):
    for field in ("response_format", "style"):
        if field in body:
            return error(400, f"Unknown parameter: '{field}'.", field, "unknown_parameter")
    if body.get("quality") not in (None, *GPT_IMAGE_2_QUALITY):
        return error(400, f"Invalid value: '{body['quality']}'. Supported values are: "
                          f"{', '.join(repr(q) for q in GPT_IMAGE_2_QUALITY)}.", "quality", "invalid_value")
    n = body.get("n")
    if n is not None and not 1 <= n <= 10:
        return error(400, f"Invalid 'n': integer above maximum value. Expected a value <= 10, but got {n} "
                          "instead.", "n", "integer_above_max_value")
    size = body.get("size")
    if size is not None and size != "auto" and not _size_ok(size):
        return error(400, f"Invalid size '{size}'. Requested resolution must have both edges divisible by 16, "
                          "a long edge of at most 3840 and at most 3 times the short edge, and 655,360 to "
                          "8,294,400 pixels.", "size", "invalid_value")
    return None


def _size_ok(size: str) -> bool:
    try:
        width, height = (int(part) for part in size.split("x"))
    except ValueError:
        return False
    return (width % 16 == 0 and height % 16 == 0 and max(width, height) <= 3840
            and max(width, height) <= 3 * min(width, height) and 655_360 <= width * height <= 8_294_400)
