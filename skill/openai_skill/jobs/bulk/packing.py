"""Packing texts into embedding requests: at most 2048 inputs and a conservative token budget
per request, every input under the per-input limit. Pure; deterministic for a given input and
limits, which is what lets a killed run resume by chunk number.

Token counts are estimated without a tokenizer (a BPE vocabulary would have to be
downloaded). Every token of OpenAI's BPE encodings covers at least one byte, so a text's
UTF-8 length is a hard upper bound on its tokens: the request budget counts that bound and
can never be exceeded. For the per-input limit the bound is useless above 8,192 bytes, so a
longer text is estimated at `BYTES_PER_TOKEN_DENSE` bytes a token (dense text — code, CJK,
digits — runs near 3; English near 4.5) and reported by line when that estimate is over the
limit. A text between the two that the API still refuses is named by the engine from the 400.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ...errors import InputError
from .texts import Text

MAX_INPUTS_PER_REQUEST = 2048      # the API's limit on `input` array length
MAX_TOKENS_PER_INPUT = 8192        # the embedding models' context length
MAX_TOKENS_PER_REQUEST = 300_000   # the API's limit summed over one request
DEFAULT_TOKEN_BUDGET = 250_000     # what we pack to: headroom under the API's limit
BYTES_PER_TOKEN_DENSE = 3


def token_bound(text: str) -> int:
    """An upper bound on the tokens of `text`: its UTF-8 length."""
    return len(text.encode("utf-8")) if not text.isascii() else len(text)


def token_estimate(text: str) -> int:
    """Tokens `text` is taken to have for the per-input limit (see the module docstring)."""
    bound = token_bound(text)
    if bound <= MAX_TOKENS_PER_INPUT:
        return bound
    return -(-bound // BYTES_PER_TOKEN_DENSE)


@dataclass(slots=True)
class Chunk:
    number: int            # 0-based, in input order
    first: int             # 0-based ordinal of its first text in the whole input
    texts: list            # list[Text]
    tokens: int            # summed token bounds (what the budget and rate limiter count)


def check_limits(max_inputs: int, token_budget: int) -> None:
    if not 1 <= max_inputs <= MAX_INPUTS_PER_REQUEST:
        raise InputError(f"batch size: expected 1..{MAX_INPUTS_PER_REQUEST}, got {max_inputs}")
    if not MAX_TOKENS_PER_INPUT <= token_budget < MAX_TOKENS_PER_REQUEST:
        raise InputError(f"token budget: expected {MAX_TOKENS_PER_INPUT}..{MAX_TOKENS_PER_REQUEST - 1}, "
                         f"got {token_budget}")


def pack(texts: Iterable[Text], *, max_inputs: int = MAX_INPUTS_PER_REQUEST,
         token_budget: int = DEFAULT_TOKEN_BUDGET, label: str = "line") -> Iterator[Chunk]:
    """Group `texts`, in order, into chunks within both limits.

    An input whose estimate exceeds MAX_TOKENS_PER_INPUT raises InputError naming its line
    (`label` N): it is reported, never truncated.
    """
    check_limits(max_inputs, token_budget)
    number = first = tokens = 0
    batch: list = []
    for text in texts:
        estimate = token_estimate(text.text)
        if estimate > MAX_TOKENS_PER_INPUT:
            raise over_long(text, estimate, label)
        cost = min(token_bound(text.text), token_budget)
        if batch and (len(batch) >= max_inputs or tokens + cost > token_budget):
            yield Chunk(number, first, batch, tokens)
            number, first, batch, tokens = number + 1, first + len(batch), [], 0
        batch.append(text)
        tokens += cost
    if batch:
        yield Chunk(number, first, batch, tokens)


def check_length(text: Text, label: str = "line") -> dict | None:
    """The problem (a dict) if `text` is over the per-input limit, else None (for `texts.scan`)."""
    estimate = token_estimate(text.text)
    return over_long(text, estimate, label).problems[0] if estimate > MAX_TOKENS_PER_INPUT else None


def over_long(text: Text, estimate: int, label: str = "line") -> InputError:
    where = f"{label} {text.line}"
    message = (f"{where}: the text is too long to embed (about {estimate} tokens; "
               f"the limit is {MAX_TOKENS_PER_INPUT}): shorten or split it")
    return InputError(message, problems=[{"path": where, "expected": f"at most {MAX_TOKENS_PER_INPUT} tokens",
                                          "given": f"about {estimate} tokens", "message": message}])
