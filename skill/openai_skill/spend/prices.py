"""The price table (prices.yaml, bundled beside skill.yaml) and what a call costs by it.

Two questions, one table:
- `cost_of(action, params, answer)`: the cost of a call from the usage the API returned;
- `worst_case(action, params)`: an upper bound before anything is sent (`estimate.py`).

A `Cost` with `usd=None` is *unknown*: the model has no row, or the answer carried no usage.
It is never replaced by a guess; the reason says why.
"""

from __future__ import annotations

from functools import lru_cache

from ..manifest import load_manifest, load_prices

FREE = "free"            # an action's `price` in skill.yaml when it is not billed
SECTIONS = ("chat", "embeddings", "images")  # the sections of prices.yaml an action's `price` may name
PER_TOKENS = 1_000_000   # the table's prices are per 1M tokens
IMAGE_AREA = 1024 * 1024  # the table's per-image prices are for one 1024x1024 image
USD_DIGITS = 8           # results carry USD rounded to 1e-8 (a token of the cheapest model is 2e-8)


class Cost:
    """What a call costs (basis "usage"), could cost at most ("worst_case"), or "free".
    `usd` None: unknown, with `unknown` saying why. Immutable, compared by value; a plain class,
    not a dataclass: `dataclasses` imports `inspect` (~6 ms) on the start-up path of every CLI
    call, and every call prices itself."""

    __slots__ = ("usd", "basis", "as_of", "model", "unknown", "batch", "details")
    usd: float | None
    basis: str
    as_of: str
    model: str | None
    unknown: str | None
    batch: bool
    details: dict

    def __init__(self, usd: float | None, basis: str, as_of: str, model: str | None = None,
                 unknown: str | None = None, batch: bool = False, details: dict | None = None):
        # Set one by one, not in a loop over __slots__: every call builds two Costs (~3 us less).
        put = object.__setattr__
        put(self, "usd", usd)
        put(self, "basis", basis)
        put(self, "as_of", as_of)
        put(self, "model", model)
        put(self, "unknown", unknown)
        put(self, "batch", batch)
        put(self, "details", {} if details is None else details)

    def __setattr__(self, name, value):
        raise AttributeError("a Cost is immutable")

    def __delattr__(self, name):
        raise AttributeError("a Cost is immutable")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return self._values() == other._values() if other.__class__ is self.__class__ else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # unhashable: details is a dict

    def __repr__(self) -> str:
        return f"Cost({', '.join(f'{name}={getattr(self, name)!r}' for name in self.__slots__)})"

    def to_dict(self) -> dict:
        out = {"usd": None if self.usd is None else round(self.usd, USD_DIGITS), "basis": self.basis,
               "prices_as_of": self.as_of}
        if self.model:
            out["model"] = self.model
        if self.batch:
            out["batch"] = True
        if self.unknown:
            out["unknown"] = self.unknown
        out.update(self.details)
        return out


class PriceTable:
    """prices.yaml as lookups. Rows apply by exact model id (any origin)."""

    def __init__(self, data: dict):
        self.data = data
        self.as_of = str(data["as_of"])
        self.sections = {name: data.get(name) or {} for name in SECTIONS}
        self.vision = data.get("vision_max_tokens") or {}
        self.long_context = data.get("long_context") or {}
        self.batch_multiplier = float(data["batch"]["multiplier"])

    @staticmethod
    def section(action: str) -> str | None:
        """The section that prices `action` (its `price` in skill.yaml): chat, embeddings,
        images or free; None when the action declares none (its cost is then unknown)."""
        spec = load_manifest().actions.get(action)
        return spec.price if spec is not None else None

    def row(self, section: str | None, model) -> dict | None:
        rows = self.sections.get(section or "", {})
        return rows.get(model) if isinstance(model, str) else None

    def unknown(self, action: str, section: str | None, model, *, basis: str, batch: bool) -> Cost:
        why = (f"model {model!r} has no price in the table of {self.as_of}" if section in self.sections
               else f"action {action!r} names no section of the price table (its `price` in skill.yaml)")
        return Cost(None, basis, self.as_of, model if isinstance(model, str) else None, unknown=why, batch=batch)

    def multipliers(self, row: dict, input_tokens: int) -> tuple[float, float]:
        """(input, output) multipliers: the long-context surcharge when the input passes it."""
        rule = self.long_context.get(row.get("long_context")) if row.get("long_context") else None
        if rule and input_tokens > int(rule["above"]):
            return float(rule["input_multiplier"]), float(rule["output_multiplier"])
        return 1.0, 1.0

    def chat_usd(self, row: dict, prompt: int, cached: int, output: int) -> float:
        """Input (cached at the cached price, or the full input price when none is sourced)
        plus output, with the long-context surcharge."""
        cached = max(0, min(cached, prompt))
        cached_price = row.get("cached_input", row["input"])
        in_mult, out_mult = self.multipliers(row, prompt)
        usd = ((prompt - cached) * row["input"] + cached * cached_price) * in_mult + output * row["output"] * out_mult
        return usd / PER_TOKENS


@lru_cache(maxsize=1)
def table() -> PriceTable:
    return PriceTable(load_prices())


def _int(value) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0


def cost_of(action: str, params: dict, answer: dict, *, batch: bool = False) -> Cost:
    """The cost of a call from the usage in OpenAI's answer (a chat completion, an embeddings
    list, an images answer); unknown when the model has no row or the answer has no usage."""
    prices = table()
    model = params.get("model")
    section = prices.section(action)
    if section == FREE:
        return Cost(0.0, "free", prices.as_of)
    row = prices.row(section, model)
    if row is None:
        return prices.unknown(action, section, model, basis="usage", batch=batch)
    usage = answer.get("usage") if isinstance(answer, dict) else None
    if not isinstance(usage, dict):
        return Cost(None, "usage", prices.as_of, model, batch=batch,
                    unknown="the answer carried no usage, so its cost cannot be computed")
    multiplier = prices.batch_multiplier if batch else 1.0
    if section == "chat":
        prompt, output = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        cached = _int((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        reasoning = _int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens"))
        usd = prices.chat_usd(row, prompt, cached, output)
        details = {"input_tokens": prompt, "cached_tokens": cached, "output_tokens": output}
        if reasoning:
            details["reasoning_tokens"] = reasoning
    elif section == "embeddings":
        prompt = _int(usage.get("prompt_tokens"))
        usd, details = prompt * row["input"] / PER_TOKENS, {"input_tokens": prompt}
    else:  # images: token rates for text in, image in and image out
        input_tokens, output = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        split = usage.get("input_tokens_details")
        if isinstance(split, dict):
            text, image = _int(split.get("text_tokens")), _int(split.get("image_tokens"))
        else:  # no split: every input token at the dearer rate (an upper bound)
            text, image = 0, input_tokens
            if row["text_input"] > row["image_input"]:
                text, image = input_tokens, 0
        usd = (text * row["text_input"] + image * row["image_input"] + output * row["image_output"]) / PER_TOKENS
        details = {"input_tokens": input_tokens, "output_tokens": output}
    return Cost(usd * multiplier, "usage", prices.as_of, model, batch=batch, details=details)


def render_markdown(data: dict | None = None) -> str:
    """docs/prices.md: the table as people read it (a test keeps the file equal to this)."""
    from ..lifecycle.table import Table

    data = table().data if data is None else data
    manifest = load_manifest()
    free = [action.id for action in manifest.actions.values() if action.price == FREE]
    lifecycle = Table.of(manifest.lifecycle)
    sources = data["sources"]

    def source(key: str) -> str:
        return sources[key]["title"] + (" (3P)" if sources[key]["third_party"] else "")

    def ends(model: str) -> str:
        """Its shutdown day from skill.yaml's lifecycle: a price is worth knowing until then."""
        shutdown = lifecycle.built_in(model)
        return shutdown.date.isoformat() if shutdown else "—"

    lines = ["# Prices", "", f"Generated from `prices.yaml` (as of {data['as_of']}; USD per 1M tokens, standard tier). "
             "3P marks a figure only third parties report. A model not listed has an unknown price; a row "
             "without a cached price charges cached tokens at the input price.", "",
             "| model | input | cached input | output | shuts down | source | as of |", "|---|---|---|---|---|---|---|"]
    for model, row in data["chat"].items():
        cached = f"{row['cached_input']:.2f}" if "cached_input" in row else "= input"
        if row.get("cached_input_source"):
            cached += " (3P)" if sources[row["cached_input_source"]]["third_party"] else ""
        lines.append(f"| {model} | {row['input']:.2f} | {cached} | {row['output']:.2f} | {ends(model)} "
                     f"| {source(row['source'])} | {row['as_of']} |")
    for model, row in data["embeddings"].items():
        lines.append(f"| {model} | {row['input']:.2f} | — | — | {ends(model)} | {source(row['source'])} "
                     f"| {row['as_of']} |")
    lines += ["", "| image model | text in | image in | image out | 1024x1024 low / medium / high | shuts down "
                  "| source | as of |", "|---|---|---|---|---|---|---|---|"]
    for model, row in data["images"].items():
        each = " / ".join(f"${row['per_image_1024'][q]}" for q in ("low", "medium", "high"))
        lines.append(f"| {model} | {row['text_input']:.2f} | {row['image_input']:.2f} | {row['image_output']:.2f} "
                     f"| {each} | {ends(model)} | {source(row['source'])} | {row['as_of']} |")
    for name, rule in data["long_context"].items():
        lines += ["", f"Long context ({name} rows): above {rule['above']:,} input tokens, input costs "
                      f"{rule['input_multiplier']}x and output {rule['output_multiplier']}x "
                      f"({source(rule['source'])})."]
    lines += ["", f"Batch API: {data['batch']['multiplier']:g} x the standard price "
                  f"({source(data['batch']['source'])}).",
              "", f"Most input tokens one image part can count (detail high, the largest image; "
                  f"{source('openai-vision-guide')}). Other models: an image part makes the call unpriced.",
              "", "| model | tokens | shuts down |", "|---|---|---|"]
    lines += [f"| {m} | {r['tokens']:,} | {ends(m)} |" for m, r in data["vision_max_tokens"].items()]
    lines += ["", f"Free: {', '.join(free)}.", ""]
    return "\n".join(lines)
