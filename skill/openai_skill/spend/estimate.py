"""The worst case of a call before it is sent, without a tokenizer download.

- Text: every token is at least one UTF-8 byte, so the byte count of the JSON the model reads
  (messages, tools, format: the whole request body) bounds its input tokens from above; the
  JSON's own quotes and keys more than cover the few tokens a message's role markers add.
- An image part counts at the most tokens one image can count for that model (the table's
  `vision_max_tokens`); a part that cannot be bounded (a `file_id`, audio, a PDF, an image for
  a model with no figure) makes the call *unpriced*.
- Output: the token budget (`max_completion_tokens`, else `max_tokens`; reasoning tokens are
  output tokens and count against it); with neither, the budget skill.yaml's model rules give
  the model by default (`defaults: {max_tokens: ...}`, 25,000 for reasoning models); with no
  budget at all the output has no bound and the call is unpriced. A prepared call always has
  one (the schema's default, or the rule's).
- Images: per image by size and quality (quality auto as high; size auto as the largest).
- Embeddings: the input's bytes (a token-id array: its length).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from ..manifest import load_manifest
from .prices import FREE, IMAGE_AREA, PER_TOKENS, Cost, table

# Reply priming: the tokens that start the assistant's answer (an allowance above the bytes).
PRIMING_TOKENS = 16
# gpt-image-2's largest size (3840x2160): what `size: auto` may pick at most.
MAX_IMAGE_PIXELS = 8_294_400
TEXT_PARTS = {"text"}
IMAGE_PARTS = {"image_url"}
# `json.dumps(..., ensure_ascii=False)` builds this encoder on every call; one does.
_UTF8_JSON = json.JSONEncoder(ensure_ascii=False)


class Unbounded(Exception):
    """A part of the input whose tokens cannot be bounded: the call is unpriced."""


def worst_case(action: str, params: dict, *, batch: bool = False) -> Cost:
    """The most the call can cost by the table; `usd` None (unpriced) with the reason."""
    prices = table()
    model = params.get("model")
    section = prices.section(action)
    if section == FREE:
        return Cost(0.0, "free", prices.as_of)
    row = prices.row(section, model)
    if row is None or not isinstance(model, str):  # a row is only ever found for a str model
        return prices.unknown(action, section, model, basis="worst_case", batch=batch)
    multiplier = prices.batch_multiplier if batch else 1.0
    try:
        if section == "chat":
            usd, details = _chat(prices, row, model, params, action)
        elif section == "embeddings":
            tokens = _embedding_tokens(params.get("input"))
            usd, details = tokens * row["input"] / PER_TOKENS, {"input_tokens_at_most": tokens}
        else:
            usd, details = _images(row, params)
    except Unbounded as reason:
        return Cost(None, "worst_case", prices.as_of, model, unknown=str(reason), batch=batch)
    return Cost(usd * multiplier, "worst_case", prices.as_of, model, batch=batch, details=details)


def _default_budget(action: str, model: str) -> int | None:
    """The output budget skill.yaml's model rules give `model` when a call names none (the last
    matching rule's `defaults.max_tokens`, as the rules apply in order)."""
    budget = None
    for rule in load_manifest().model_rules.get(action) or ():
        default = (rule.get("defaults") or {}).get("max_tokens")
        if default and any(fnmatchcase(model, glob) for glob in rule.get("models") or ()):
            budget = int(default)
    return budget


def _chat(prices, row: dict, model: str, params: dict, action: str) -> tuple[float, dict]:
    images: list[dict] = []
    messages = params.get("messages")
    if type(messages) is list and not any(isinstance(m, dict) and isinstance(m.get("content"), list)
                                          for m in messages):
        text = params   # no content parts to set apart: the same JSON, keys in another order, same length
    else:
        text = {k: v for k, v in params.items() if k != "messages"}
        text["messages"] = [_text_of(message, images) for message in messages or ()]
    input_tokens = len(_UTF8_JSON.encode(text).encode("utf-8")) + PRIMING_TOKENS
    if images:
        figure = prices.vision.get(model)
        if figure is None:
            raise Unbounded(f"an image part's tokens for {model!r} have no documented maximum in the table")
        input_tokens += len(images) * int(figure["tokens"])
    budget = params.get("max_completion_tokens") or params.get("max_tokens") or _default_budget(action, model)
    if not budget:
        raise Unbounded(f"no output token budget (max_tokens / max_completion_tokens) and no default one for "
                        f"{model!r}: its output cannot be bounded")
    output_tokens = int(budget)
    usd = prices.chat_usd(row, input_tokens, 0, output_tokens)
    return usd, {"input_tokens_at_most": input_tokens, "output_tokens_at_most": output_tokens}


def _text_of(message, images: list[dict]):
    """The message with each image part replaced by a marker (counted apart); a part whose
    tokens have no bound raises Unbounded."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    parts = []
    for part in message["content"]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in TEXT_PARTS:
            parts.append(part)
        elif kind in IMAGE_PARTS:
            images.append(part)
        else:
            raise Unbounded(f"a {kind!r} content part's tokens cannot be bounded before sending")
    return {**message, "content": parts}


def _embedding_tokens(value) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list):
        if all(isinstance(item, int) for item in value):
            return len(value)  # token ids: one token each
        return sum(_embedding_tokens(item) for item in value)
    raise Unbounded("the embedding input is neither text nor token ids")


def _images(row: dict, params: dict) -> tuple[float, dict]:
    quality = params.get("quality")
    per_image = row["per_image_1024"]
    price = per_image.get(quality) if quality in per_image else max(per_image.values())
    pixels = _pixels(params.get("size"))
    n = int(params.get("n") or 1)
    scale = max(1.0, pixels / IMAGE_AREA)
    prompt_tokens = len(str(params.get("prompt") or "").encode("utf-8"))
    usd = n * price * scale + prompt_tokens * row["text_input"] / PER_TOKENS
    return usd, {"images": n, "input_tokens_at_most": prompt_tokens}


def _pixels(size) -> int:
    if isinstance(size, str) and "x" in size:
        width, _, height = size.partition("x")
        if width.isdigit() and height.isdigit():
            return int(width) * int(height)
    return MAX_IMAGE_PIXELS  # auto (or absent): the largest the model makes


__all__ = ["worst_case", "Unbounded"]
